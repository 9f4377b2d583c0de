//! A payer's scorecard (issue 19 item 2, SPEC §10 `/portal/payers/{payer}`): the figures a
//! billing lead opens before a payer meeting — month by month, and the latest period against
//! the one before and against the tenant's other payers — with the payer's current findings
//! and unresolved alerts. A payer the tenant has no claim of (another tenant's payer
//! included) is "not found".

use chrono::{Duration, NaiveDate};

use crate::db::repo::alerts::{self as alert_repo, AlertFilter, AlertWithStatus};
use crate::db::repo::analytics::{self, DriftEvent, EventFilter};
use crate::db::repo::mappings;
use crate::db::repo::scorecard::{self as repo, Split};
use crate::db::{Db, DbConnection, DbError};
use crate::domain::scorecard::{Figures, Periods, ReasonCounts, months_ending, top_reasons};
use crate::domain::tenant::TenantScope;

/// Reasons listed on the scorecard.
const TOP_REASONS: usize = 8;
/// Findings and alerts listed (the feeds and the alert list have the rest).
const LISTED: i64 = 10;

/// One payer, or all the tenant's other payers together.
#[derive(Debug, Clone, Default)]
pub struct Pair {
    pub payer: Figures,
    pub others: Figures,
}

#[derive(Debug, Clone)]
pub struct Month {
    /// `YYYY-MM`.
    pub key: String,
    pub first_day: NaiveDate,
    pub figures: Pair,
}

#[derive(Debug, Clone)]
pub struct Scorecard {
    pub payer: String,
    /// The tenant's latest decision date: the periods end with it.
    pub anchor: NaiveDate,
    pub periods: Periods,
    pub current: Pair,
    pub prior: Pair,
    /// Oldest first, the anchor's (perhaps partial) month last.
    pub months: Vec<Month>,
    /// This payer's top denial reasons in the current period.
    pub reasons: Vec<ReasonCounts>,
    /// Denials of this payer and of the others in the current period (reason shares).
    pub denied_current: (i64, i64),
    pub denied_prior: i64,
    /// Findings of this payer whose current window is the latest data's.
    pub findings: Vec<DriftEvent>,
    /// This payer's open and acknowledged alerts, newest first.
    pub alerts: Vec<AlertWithStatus>,
}

/// The tenant's payers with their claim counts, most claims first (the payer list).
pub async fn payers(db: &Db, scope: TenantScope) -> Result<Vec<(String, u64)>, DbError> {
    db.run(move |conn| mappings::payer_claim_counts(conn, &scope))
        .await
}

pub async fn scorecard(db: &Db, scope: TenantScope, payer: String) -> Result<Scorecard, DbError> {
    db.run(move |conn| build(conn, &scope, payer)).await
}

fn build(
    conn: &mut DbConnection,
    scope: &TenantScope,
    payer: String,
) -> Result<Scorecard, DbError> {
    if !repo::has_payer(conn, scope, &payer)? {
        return Err(DbError::NotFound);
    }
    let anchor = analytics::latest_decided(conn, scope)?.ok_or(DbError::NotFound)?;
    let periods = Periods::ending_on(anchor);

    let (mut current, mut prior) = (Pair::default(), Pair::default());
    for row in repo::histogram(
        conn,
        scope,
        &payer,
        Split::Periods {
            current_from: periods.current.0,
        },
        periods.prior.0,
        periods.current.1,
    )? {
        let pair = if row.bucket == "current" {
            &mut current
        } else {
            &mut prior
        };
        add(
            pair,
            row.mine,
            &row.outcome,
            row.decision_days,
            row.n,
            row.cents,
        );
    }

    let (keys, (start, end)) = months_ending(anchor);
    let mut months: Vec<Month> = keys
        .into_iter()
        .map(|(key, first_day)| Month {
            key,
            first_day,
            figures: Pair::default(),
        })
        .collect();
    for row in repo::histogram(conn, scope, &payer, Split::Months, start, end)? {
        if let Some(m) = months.iter_mut().find(|m| m.key == row.bucket) {
            add(
                &mut m.figures,
                row.mine,
                &row.outcome,
                row.decision_days,
                row.n,
                row.cents,
            );
        }
    }

    // Months before the tenant's first data are left out (a young tenant has no history).
    let first_with_data = months
        .iter()
        .position(|m| m.figures.payer.decided() + m.figures.others.decided() > 0)
        .unwrap_or(months.len().saturating_sub(1));
    months.drain(..first_with_data);

    let mut reasons: Vec<ReasonCounts> = Vec::new();
    let (mut denied_current, mut denied_prior) = ((0, 0), 0);
    for row in repo::reasons(
        conn,
        scope,
        &payer,
        periods.prior.0,
        periods.current.0,
        periods.current.1,
    )? {
        let is_current = row.bucket == "current";
        match (row.mine == 1, is_current) {
            (true, true) => denied_current.0 += row.n,
            (false, true) => denied_current.1 += row.n,
            (true, false) => denied_prior += row.n,
            (false, false) => continue,
        }
        let entry = match reasons.iter_mut().position(|r| r.code == row.code) {
            Some(i) => &mut reasons[i],
            None => {
                reasons.push(ReasonCounts {
                    code: row.code.clone(),
                    current: 0,
                    prior: 0,
                    others_current: 0,
                    current_cents: 0,
                });
                reasons.last_mut().ok_or(DbError::NotFound)?
            }
        };
        match (row.mine == 1, is_current) {
            (true, true) => {
                entry.current += row.n;
                entry.current_cents += row.cents;
            }
            (true, false) => entry.prior += row.n,
            _ => entry.others_current += row.n,
        }
    }

    let findings = analytics::list_events(
        conn,
        scope,
        &EventFilter {
            payer: Some(payer.clone()),
            // The analytics' current windows end with the anchor; a week's slack keeps the
            // findings of a run made before the last few days of data arrived.
            from: Some(anchor - Duration::days(7)),
            ..EventFilter::default()
        },
        1,
        LISTED,
    )?
    .items;
    let mut alerts = Vec::new();
    for status in ["open", "acknowledged"] {
        let filter = AlertFilter {
            status: Some(status.to_string()),
            payer: Some(payer.clone()),
            ..AlertFilter::default()
        };
        alerts.extend(
            alert_repo::list_alerts(conn, scope, &filter, 1, LISTED)?
                .0
                .items,
        );
    }
    alerts.sort_by_key(|a| std::cmp::Reverse((a.alert.created_at, a.alert.id)));
    alerts.truncate(LISTED as usize);

    Ok(Scorecard {
        payer,
        anchor,
        periods,
        current,
        prior,
        months,
        reasons: top_reasons(reasons, TOP_REASONS),
        denied_current,
        denied_prior,
        findings,
        alerts,
    })
}

fn add(pair: &mut Pair, mine: i32, outcome: &str, days: i32, n: i64, cents: i64) {
    let figures = if mine == 1 {
        &mut pair.payer
    } else {
        &mut pair.others
    };
    figures.add(outcome == "DENIED", days, n, cents);
}
