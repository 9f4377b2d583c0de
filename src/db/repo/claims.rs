//! Claim records: the row structs of `claim_records` (read, owned write, borrowed write)
//! and the scoped reads. Writing claims (with their rollups) is `claim_writer`'s.

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::schema::claim_records;
use crate::db::{DbConnection, DbError};
use crate::domain::tenant::TenantScope;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = claim_records)]
pub struct ClaimRecord {
    pub id: i64,
    pub customer_id: i64,
    pub upload_id: i64,
    pub payer_raw: String,
    pub payer: String,
    pub cpt: String,
    pub cpt_group: String,
    pub submitted_date: NaiveDate,
    pub decided_date: NaiveDate,
    pub decision_days: i32,
    pub outcome: String,
    pub allowed_cents: Option<i64>,
    pub denial_reason_code: Option<String>,
    pub denial_reason_text: Option<String>,
    /// 835 details (NULL for CSV rows): `docs/x12-835.md`.
    pub payer_id: Option<String>,
    pub modifiers: Option<String>,
    pub remark_codes: Option<String>,
    pub adjustments: Option<String>,
    pub claim_key: Option<i64>,
    pub svc_segment: Option<i64>,
    /// The upload whose 835 reversal voided this claim (`outcome` is then REVERSED).
    pub reversed_by: Option<i64>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = claim_records)]
pub struct NewClaim {
    pub customer_id: i64,
    pub upload_id: i64,
    pub payer_raw: String,
    pub payer: String,
    pub cpt: String,
    pub cpt_group: String,
    pub submitted_date: NaiveDate,
    pub decided_date: NaiveDate,
    pub decision_days: i32,
    pub outcome: String,
    pub allowed_cents: Option<i64>,
    pub denial_reason_code: Option<String>,
    pub denial_reason_text: Option<String>,
}

/// One accepted claim, borrowing its text from the pipeline's batch arena.
#[derive(Debug, Clone, Copy)]
pub struct NewClaimRef<'a> {
    pub customer_id: i64,
    pub upload_id: i64,
    pub payer_raw: &'a str,
    pub payer: &'a str,
    pub cpt: &'a str,
    pub cpt_group: &'a str,
    pub submitted_date: NaiveDate,
    pub decided_date: NaiveDate,
    pub decision_days: i32,
    pub outcome: &'a str,
    pub allowed_cents: Option<i64>,
    pub denial_reason_code: Option<&'a str>,
    pub denial_reason_text: Option<&'a str>,
    /// 835 only (NULL for CSV rows), `docs/x12-835.md`: N1*PR04 / REF*2U.
    pub payer_id: Option<&'a str>,
    /// SVC01-3…6, space separated.
    pub modifiers: Option<&'a str>,
    /// RARCs of LQ*HE and MOA, space separated.
    pub remark_codes: Option<&'a str>,
    /// Every CAS: `CO-45:30.00 PR-2:20.00`.
    pub adjustments: Option<&'a str>,
    /// Keyed HMAC of payer + CLP01 + CLP07 (`domain::claim_key`).
    pub claim_key: Option<i64>,
    /// The SVC segment number.
    pub svc_segment: Option<i64>,
}

pub fn count_for_upload(
    conn: &mut DbConnection,
    scope: &TenantScope,
    upload_id: i64,
) -> Result<i64, DbError> {
    Ok(claim_records::table
        .filter(claim_records::customer_id.eq(scope.id()))
        .filter(claim_records::upload_id.eq(upload_id))
        .count()
        .get_result(conn)?)
}

pub fn count(conn: &mut DbConnection, scope: &TenantScope) -> Result<i64, DbError> {
    Ok(claim_records::table
        .filter(claim_records::customer_id.eq(scope.id()))
        .count()
        .get_result(conn)?)
}

/// The most recent claims by decision date (small reads for pages and tests).
pub fn list_recent(
    conn: &mut DbConnection,
    scope: &TenantScope,
    limit: i64,
) -> Result<Vec<ClaimRecord>, DbError> {
    Ok(claim_records::table
        .filter(claim_records::customer_id.eq(scope.id()))
        .order((claim_records::decided_date.desc(), claim_records::id.desc()))
        .limit(limit)
        .select(ClaimRecord::as_select())
        .load(conn)?)
}

/// The claims behind a finding (its payer, group or reason and its two windows), one
/// page at a time in the chosen order, with the total — filtered, ordered and paged in
/// SQL. Reversed claims are left out, as the analytics leave them out.
pub fn behind_finding(
    conn: &mut DbConnection,
    scope: &TenantScope,
    selection: &crate::domain::drilldown::ClaimSelection,
    sort: crate::domain::drilldown::ClaimSort,
    descending: bool,
    page: i64,
    per_page: i64,
) -> Result<super::Page<ClaimRecord>, DbError> {
    let total = match counted_from_rollups(conn, scope, selection)? {
        Some(n) => n,
        None => selected(scope, selection).count().get_result(conn)?,
    };
    let items = ordered(selected(scope, selection), sort, descending)
        .limit(per_page.max(0))
        .offset(super::offset(page, per_page))
        .select(ClaimRecord::as_select())
        .load(conn)?;
    Ok(super::Page {
        items,
        page,
        per_page,
        total,
    })
}

/// The number of claims a selection picks, from the daily rollups when they key it (a
/// payer, perhaps a CPT group: the day rows hold exactly the non-REVERSED claims per
/// payer × group × decided day × decision days, and submitted = decided − days), so a
/// page's count reads the payer's day rows of its windows instead of every claim of the
/// windows of all payers (no payer index: at 10M claims ≈ 6M index entries and 1–2 s for
/// a 74-day finding). `None` for a reason-code selection (the reason rollups key reasons
/// by code, else text): that count stays on claims.
fn counted_from_rollups(
    conn: &mut DbConnection,
    scope: &TenantScope,
    s: &crate::domain::drilldown::ClaimSelection,
) -> Result<Option<i64>, DbError> {
    if s.reason_code.is_some() {
        return Ok(None);
    }
    let ((b0, b1), (c0, c1)) = (s.baseline, s.current);
    let within = |d: NaiveDate| (b0 <= d && d < b1) || (c0 <= d && d < c1);
    // By submitted date a claim may be decided any time after its window: no upper bound.
    let to = if s.by_submitted {
        NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX)
    } else {
        b1.max(c1)
    };
    let cells =
        super::rollups::payer_cells(conn, scope, std::slice::from_ref(&s.payer), b0.min(c0), to)?;
    let mut total = 0;
    for cell in cells {
        if s.cpt_group
            .as_ref()
            .is_some_and(|g| *g != cell.key.cpt_group)
        {
            continue;
        }
        let decided = cell.key.decided;
        for (days, counts) in &cell.days {
            let day = if s.by_submitted {
                decided - chrono::Duration::days(i64::from(*days))
            } else {
                decided
            };
            if within(day) {
                total += counts.claims();
            }
        }
    }
    Ok(Some(total))
}

type Boxed<'a> = claim_records::BoxedQuery<'a, <DbConnection as diesel::Connection>::Backend>;

fn selected<'a>(scope: &TenantScope, s: &'a crate::domain::drilldown::ClaimSelection) -> Boxed<'a> {
    use claim_records as c;
    let mut q = c::table
        .filter(c::customer_id.eq(scope.id()))
        .filter(c::payer.eq(&s.payer))
        .filter(c::outcome.ne(super::analytics::REVERSED))
        .into_boxed();
    if let Some(group) = &s.cpt_group {
        q = q.filter(c::cpt_group.eq(group));
    }
    if let Some(reason) = &s.reason_code {
        q = q.filter(c::denial_reason_code.eq(reason));
    }
    let ((b0, b1), (c0, c1)) = (s.baseline, s.current);
    // `claim_records` has no payer index (dropped for ingest speed, 2026-12-05-800000):
    // the tenant's decided-date index must bound the walk, or a tenant with 10M claims is
    // read whole. Every claim is decided on or after its submission, so the windows'
    // first day bounds the decided date in both modes; by decided date the windows' end
    // bounds it too (an OR of two ranges is not a range both planners use).
    q = q.filter(c::decided_date.ge(b0.min(c0)));
    if s.by_submitted {
        q.filter(
            c::submitted_date
                .ge(b0)
                .and(c::submitted_date.lt(b1))
                .or(c::submitted_date.ge(c0).and(c::submitted_date.lt(c1))),
        )
    } else {
        q.filter(c::decided_date.lt(b1.max(c1))).filter(
            c::decided_date
                .ge(b0)
                .and(c::decided_date.lt(b1))
                .or(c::decided_date.ge(c0).and(c::decided_date.lt(c1))),
        )
    }
}

/// One keyset batch of the claims behind a finding for a streamed export: up to `limit`
/// claims in the list's order (the page's order), after `after`, the previous batch's last
/// claim. Each batch is one indexed query, so an export never holds all claims at once.
#[allow(clippy::too_many_arguments)]
pub fn batch_behind_finding(
    conn: &mut DbConnection,
    scope: &TenantScope,
    selection: &crate::domain::drilldown::ClaimSelection,
    sort: crate::domain::drilldown::ClaimSort,
    descending: bool,
    after: Option<&ClaimRecord>,
    limit: i64,
) -> Result<Vec<ClaimRecord>, DbError> {
    let mut q = selected(scope, selection);
    if let Some(last) = after {
        q = after_claim(q, sort, descending, last);
    }
    Ok(ordered(q, sort, descending)
        .limit(limit.max(0))
        .select(ClaimRecord::as_select())
        .load(conn)?)
}

/// The rows that come after `last` in the order of [`ordered`] (keyset). NULLs are the
/// smallest values, as `ordered` sorts them on both databases.
fn after_claim<'a>(
    q: Boxed<'a>,
    sort: crate::domain::drilldown::ClaimSort,
    desc: bool,
    last: &ClaimRecord,
) -> Boxed<'a> {
    use crate::domain::drilldown::ClaimSort as S;
    use claim_records as c;
    let id = last.id;
    macro_rules! after {
        ($col:expr, $v:expr) => {{
            let v = $v;
            if desc {
                q.filter($col.lt(v.clone()).or($col.eq(v).and(c::id.lt(id))))
            } else {
                q.filter($col.gt(v.clone()).or($col.eq(v).and(c::id.gt(id))))
            }
        }};
    }
    macro_rules! after_nullable {
        ($col:expr, $v:expr) => {
            match ($v, desc) {
                (Some(v), false) => q.filter($col.gt(v.clone()).or($col.eq(v).and(c::id.gt(id)))),
                (Some(v), true) => q.filter(
                    $col.lt(v.clone())
                        .or($col.eq(v).and(c::id.lt(id)))
                        .or($col.is_null()),
                ),
                (None, false) => q.filter($col.is_null().and(c::id.gt(id)).or($col.is_not_null())),
                (None, true) => q.filter($col.is_null().and(c::id.lt(id))),
            }
        };
    }
    match sort {
        S::Decided => after!(c::decided_date, last.decided_date),
        S::Submitted => after!(c::submitted_date, last.submitted_date),
        S::Days => after!(c::decision_days, last.decision_days),
        S::Cpt => after!(c::cpt, last.cpt.clone()),
        S::Amount => after_nullable!(c::allowed_cents, last.allowed_cents),
        S::Reason => after_nullable!(c::denial_reason_code, last.denial_reason_code.clone()),
    }
}

/// The list's order: the column, then the id, so pages and batches never overlap; a
/// column that may be empty sorts its NULLs as the smallest values on both databases
/// (SQLite's default; PostgreSQL's is the opposite), so the order is the same everywhere.
fn ordered(q: Boxed<'_>, sort: crate::domain::drilldown::ClaimSort, desc: bool) -> Boxed<'_> {
    use crate::domain::drilldown::ClaimSort as S;
    use claim_records as c;
    macro_rules! by {
        ($col:expr) => {
            if desc {
                q.order(($col.desc(), c::id.desc()))
            } else {
                q.order(($col.asc(), c::id.asc()))
            }
        };
    }
    macro_rules! by_nullable {
        ($col:expr) => {
            if desc {
                q.order(($col.is_null().asc(), $col.desc(), c::id.desc()))
            } else {
                q.order(($col.is_null().desc(), $col.asc(), c::id.asc()))
            }
        };
    }
    match sort {
        S::Decided => by!(c::decided_date),
        S::Submitted => by!(c::submitted_date),
        S::Days => by!(c::decision_days),
        S::Amount => by_nullable!(c::allowed_cents),
        S::Cpt => by!(c::cpt),
        S::Reason => by_nullable!(c::denial_reason_code),
    }
}
