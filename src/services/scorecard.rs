//! A payer's scorecard (issue 19 item 2, SPEC §10 `/portal/payers/{payer}`): the figures a
//! billing lead opens before a payer meeting — month by month, and the latest period against
//! the one before and against the tenant's other payers — with the payer's current findings
//! and unresolved alerts. A payer the tenant has no counted claim of (another tenant's
//! payer included; reversed claims do not count, as everywhere in the figures) is "not
//! found".

use std::sync::Arc;

use chrono::{Duration, NaiveDate};

use crate::db::repo::alerts::{self as alert_repo, AlertWithStatus};
use crate::db::repo::analytics::{self, DriftEvent, EventFilter};
use crate::db::repo::page_versions::{self, Versions};
use crate::db::repo::rollups::{self, Basis};
use crate::db::repo::scorecard::{self as repo, Split};
use crate::db::{Db, DbConnection, DbError};
use crate::domain::analytics::denials::reason_key_str;
use crate::domain::analytics::windows::LastDays;
use crate::domain::scorecard::{Figures, Periods, ReasonCounts, months_ending, top_reasons};
use crate::domain::tenant::TenantScope;
use crate::services::page_cache::PageCache;

/// Reasons listed on the scorecard.
const TOP_REASONS: usize = 8;
/// Findings and alerts listed (the feeds and the alert list have the rest).
const LISTED: i64 = 10;

/// One payer, or all the tenant's other payers together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pair {
    pub payer: Figures,
    pub others: Figures,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Month {
    /// `YYYY-MM`.
    pub key: String,
    pub first_day: NaiveDate,
    pub figures: Pair,
}

#[derive(Debug, Clone)]
pub struct Scorecard {
    pub payer: String,
    /// Everything computed from the rollups, shared with the figures cache (a request
    /// does not copy them).
    pub figures: Arc<ScorecardFigures>,
    /// Findings of this payer whose current window is the latest data's.
    pub findings: Vec<DriftEvent>,
    /// This payer's open and acknowledged alerts, newest first.
    pub alerts: Vec<AlertWithStatus>,
}

/// The tenant's payers with their counted claims, most first (the payer list): the
/// payers that have a scorecard, counted as the scorecards count (REVERSED left out), from
/// the daily rollups rather than a pass over every claim — once per rollup version: the
/// page (`present`ed by the web) is kept in `pages` per tenant and served while the
/// version (one indexed read per request) has not moved on.
pub async fn payers<P: Send + Sync + 'static>(
    db: &Db,
    scope: TenantScope,
    pages: Arc<dyn PageCache<i64, i64, P>>,
    present: fn(Vec<(String, u64)>) -> P,
) -> Result<Arc<P>, DbError> {
    db.run(move |conn| {
        let version = rollups::version(conn, &scope)?;
        if let Some(page) = pages.get(&scope.id(), &version) {
            return Ok(page);
        }
        let page = Arc::new(present(rollups::payer_claims(conn, &scope)?));
        pages.put(scope.id(), version, Arc::clone(&page));
        Ok(page)
    })
    .await
}

/// Where computed scorecard figures are kept between requests (the web layer's
/// `caches::scorecards`): per tenant and payer, valid for one rollup version
/// (`repo::rollups::version`, moved by every change to the rollups).
pub trait FiguresCache: Send + Sync {
    fn get(&self, customer_id: i64, payer: &str, version: i64) -> Option<Arc<ScorecardFigures>>;
    fn put(&self, customer_id: i64, payer: &str, version: i64, figures: Arc<ScorecardFigures>);
}

/// A scorecard page's key: (customer id, payer).
pub type PageKey = (i64, String);

/// A payer's scorecard page in one blocking hop: while the tenant's run generation (its
/// findings), rollup version (its figures) and alert version (its alerts) have not moved
/// on — one statement, `repo::page_versions` — the page (`present`ed by the web) comes
/// from `pages`; otherwise it is read (figures from `figures` when they hold them for the
/// rollup version), presented and kept.
pub async fn scorecard<P: Send + Sync + 'static>(
    db: &Db,
    scope: TenantScope,
    payer: String,
    figures: Arc<dyn FiguresCache>,
    pages: Arc<dyn PageCache<PageKey, Versions, P>>,
    present: fn(Scorecard) -> P,
) -> Result<Arc<P>, DbError> {
    db.run(move |conn| {
        let versions = page_versions::read(conn, &scope)?;
        let key = (scope.id(), payer);
        if let Some(page) = pages.get(&key, &versions) {
            return Ok(page);
        }
        let card = build(
            conn,
            &scope,
            key.1.clone(),
            versions.rollups,
            figures.as_ref(),
        )?;
        let page = Arc::new(present(card));
        pages.put(key, versions, Arc::clone(&page));
        Ok(page)
    })
    .await
}

fn build(
    conn: &mut DbConnection,
    scope: &TenantScope,
    payer: String,
    version: i64,
    cache: &dyn FiguresCache,
) -> Result<Scorecard, DbError> {
    // The version was read before the figures: what is cached under it is never older
    // than it.
    // Figures cached under this version were computed for a payer with day rows at it,
    // so a hit needs no existence check.
    let figures = match cache.get(scope.id(), &payer, version) {
        Some(figures) => figures,
        None => {
            if !rollups::has_payer(conn, scope, &payer)? {
                return Err(DbError::NotFound);
            }
            let figures = Arc::new(figures_from_rollups(conn, scope, &payer)?);
            cache.put(scope.id(), &payer, version, Arc::clone(&figures));
            figures
        }
    };
    let anchor = figures.anchor;

    let findings = analytics::first_events(
        conn,
        scope,
        &EventFilter {
            payer: Some(payer.clone()),
            // The analytics' current windows end with the anchor (their last day); a
            // week's slack keeps the findings of a run made before the last few days of
            // data arrived (stored ends from anchor − 7 days).
            last_days: LastDays::since(anchor - Duration::days(8)),
            ..EventFilter::default()
        },
        LISTED,
    )?;
    // Open and acknowledged together, newest first: one statement.
    let alerts = alert_repo::unresolved_of_payer(conn, scope, &payer, LISTED)?;

    Ok(Scorecard {
        payer,
        figures,
        findings,
        alerts,
    })
}

/// A scorecard's figures: everything on it but the findings and alerts lists.
#[derive(Debug, Clone, PartialEq)]
pub struct ScorecardFigures {
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
}

/// The accumulators both sources fill: periods, months and reasons.
struct Acc {
    periods: Periods,
    current: Pair,
    prior: Pair,
    months: Vec<Month>,
    reasons: Vec<ReasonCounts>,
    denied_current: (i64, i64),
    denied_prior: i64,
}

impl Acc {
    fn new(anchor: NaiveDate) -> (Acc, (NaiveDate, NaiveDate)) {
        let (keys, span) = months_ending(anchor);
        let months = keys
            .into_iter()
            .map(|(key, first_day)| Month {
                key,
                first_day,
                figures: Pair::default(),
            })
            .collect();
        let acc = Acc {
            periods: Periods::ending_on(anchor),
            current: Pair::default(),
            prior: Pair::default(),
            months,
            reasons: Vec::new(),
            denied_current: (0, 0),
            denied_prior: 0,
        };
        (acc, span)
    }

    fn month(&mut self, key: &str) -> Option<&mut Pair> {
        self.months
            .iter_mut()
            .find(|m| m.key == key)
            .map(|m| &mut m.figures)
    }

    fn period(&mut self, current: bool) -> &mut Pair {
        if current {
            &mut self.current
        } else {
            &mut self.prior
        }
    }

    /// Denied claims of one reason key (DenialScope's: code, else text, else
    /// UNSPECIFIED) in one period, of this payer or of the others.
    fn reason(&mut self, mine: bool, current: bool, reason: &str, n: i64, cents: i64) {
        match (mine, current) {
            (true, true) => self.denied_current.0 += n,
            (false, true) => self.denied_current.1 += n,
            (true, false) => self.denied_prior += n,
            (false, false) => return,
        }
        let code = (reason != UNSPECIFIED).then(|| reason.to_string());
        let i = match self.reasons.iter().position(|r| r.code == code) {
            Some(i) => i,
            None => {
                self.reasons.push(ReasonCounts {
                    code,
                    current: 0,
                    prior: 0,
                    others_current: 0,
                    current_cents: 0,
                });
                self.reasons.len() - 1
            }
        };
        let entry = &mut self.reasons[i];
        match (mine, current) {
            (true, true) => {
                entry.current += n;
                entry.current_cents += cents;
            }
            (true, false) => entry.prior += n,
            _ => entry.others_current += n,
        }
    }

    fn finish(mut self, anchor: NaiveDate) -> ScorecardFigures {
        // Months before the tenant's first data are left out (a young tenant has no
        // history).
        let first_with_data = self
            .months
            .iter()
            .position(|m| m.figures.payer.decided() + m.figures.others.decided() > 0)
            .unwrap_or(self.months.len().saturating_sub(1));
        self.months.drain(..first_with_data);
        ScorecardFigures {
            anchor,
            periods: self.periods,
            current: self.current,
            prior: self.prior,
            months: self.months,
            reasons: top_reasons(self.reasons, TOP_REASONS),
            denied_current: self.denied_current,
            denied_prior: self.denied_prior,
        }
    }
}

/// The reason key of denials without code or text.
const UNSPECIFIED: &str = "UNSPECIFIED";

/// The figures from the daily rollups (issue 21): one read of the day rows of the twelve
/// months — each a decision-day histogram per payer × group, so the medians are exact —
/// and two of the reason totals; the cost is days × payers × groups, not claims.
pub fn figures_from_rollups(
    conn: &mut DbConnection,
    scope: &TenantScope,
    payer: &str,
) -> Result<ScorecardFigures, DbError> {
    let anchor = rollups::latest_decided(conn, scope)?.ok_or(DbError::NotFound)?;
    let (mut acc, (start, end)) = Acc::new(anchor);
    let periods = acc.periods;
    let from = start.min(periods.prior.0);
    for cell in rollups::cells(conn, scope, Some(from), Some(end))? {
        let mine = cell.key.payer == payer;
        let decided = cell.key.decided;
        let month = decided.format("%Y-%m").to_string();
        let period = (decided >= periods.prior.0).then_some(decided >= periods.current.0);
        for (days, c) in &cell.days {
            for (denied, n, cents) in [
                (false, c.paid, c.paid_cents),
                (true, c.denied, c.denied_cents),
            ] {
                if n == 0 {
                    continue;
                }
                if let Some(current) = period {
                    add(acc.period(current), mine, denied, *days, n, cents);
                }
                if decided >= start
                    && let Some(pair) = acc.month(&month)
                {
                    add(pair, mine, denied, *days, n, cents);
                }
            }
        }
    }
    for (current, (from, to)) in [(false, periods.prior), (true, periods.current)] {
        for r in rollups::reason_totals(conn, scope, Basis::Decided, from, to)? {
            acc.reason(r.payer == payer, current, &r.reason, r.denied, r.cents);
        }
    }
    Ok(acc.finish(anchor))
}

/// The same figures from claims (grouped statements over `claim_records`): the oracle
/// the rollup reads are tested against.
pub fn figures_from_claims(
    conn: &mut DbConnection,
    scope: &TenantScope,
    payer: &str,
) -> Result<ScorecardFigures, DbError> {
    let anchor = analytics::latest_decided(conn, scope)?.ok_or(DbError::NotFound)?;
    let (mut acc, (start, end)) = Acc::new(anchor);
    let periods = acc.periods;
    for row in repo::histogram(
        conn,
        scope,
        payer,
        Split::Periods {
            current_from: periods.current.0,
        },
        periods.prior.0,
        periods.current.1,
    )? {
        let pair = acc.period(row.bucket == "current");
        add(
            pair,
            row.mine == 1,
            row.outcome == "DENIED",
            row.decision_days,
            row.n,
            row.cents,
        );
    }
    for row in repo::histogram(conn, scope, payer, Split::Months, start, end)? {
        if let Some(pair) = acc.month(&row.bucket) {
            add(
                pair,
                row.mine == 1,
                row.outcome == "DENIED",
                row.decision_days,
                row.n,
                row.cents,
            );
        }
    }
    for row in repo::reasons(
        conn,
        scope,
        payer,
        periods.prior.0,
        periods.current.0,
        periods.current.1,
    )? {
        let reason = reason_key_str(row.code.as_deref(), row.text.as_deref());
        acc.reason(
            row.mine == 1,
            row.bucket == "current",
            reason,
            row.n,
            row.cents,
        );
    }
    Ok(acc.finish(anchor))
}

/// A payer's figures from the rollups and from claims: `[rollups, claims]` (what the
/// equivalence test compares).
pub fn figures_from_rollups_and_claims(
    conn: &mut DbConnection,
    scope: &TenantScope,
    payer: &str,
) -> Result<[ScorecardFigures; 2], DbError> {
    Ok([
        figures_from_rollups(conn, scope, payer)?,
        figures_from_claims(conn, scope, payer)?,
    ])
}

fn add(pair: &mut Pair, mine: bool, denied: bool, days: i32, n: i64, cents: i64) {
    let figures = if mine {
        &mut pair.payer
    } else {
        &mut pair.others
    };
    figures.add(denied, days, n, cents);
}
