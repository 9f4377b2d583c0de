//! The weekly series behind a finding's chart (issue 17 item 6): the metric the card is
//! about (`domain::analytics::chart::Metric`) for the payer and the groups the finding
//! covers, over the 26 weeks before its current window ends, starting at the first week
//! with data. The findings pages, the alert page and the API's `series` read it here,
//! from the daily rollups (issue 21: a chart costs days × groups, not claims); the
//! claim-level statements stay as the oracle of the equivalence test.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Duration, NaiveDate};

use crate::db::repo::analytics::{
    self as repo, DailyDaysRow, DailyReasonRow, DailyRow, DriftEvent,
};
use crate::db::repo::rollups::{self, Basis};
use crate::db::{DbConnection, DbError};
use crate::domain::analytics::chart::Metric;
use crate::domain::analytics::denials::reason_key;
use crate::domain::analytics::grouping::ALL_GROUPS;
use crate::domain::analytics::{Evidence, FindingKind, Mode, Product};
use crate::domain::stats::Histogram;
use crate::domain::tenant::TenantScope;

/// How far back a chart looks from the end of the finding's current window.
pub const CHART_WEEKS: i64 = 26;

/// One week of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct WeekPoint {
    pub week_start: NaiveDate,
    /// The metric; `None` for a week without the claims it needs.
    pub value: Option<f64>,
    /// How many claims the value stands on (decided claims; for a reason's share the
    /// payer's denials; for its count or dollars the reason's denials).
    pub basis: u64,
    /// Decided (PAID + DENIED) and denied claims of the payer × the plotted groups.
    pub decided: i64,
    pub denied: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChartSeries {
    pub metric: Metric,
    /// "Cigna × IMAGING: weekly denial rate".
    pub title: String,
    /// From the first week with data to the week the current window ends in.
    pub points: Vec<WeekPoint>,
}

/// What a finding's chart is about: its payer, the groups it covers (`None`: all of the
/// payer's claims) and the metric.
struct Subject {
    payer: String,
    /// CPT groups (DriftWatch) or reasons (DenialScope) the finding covers.
    groups: Option<BTreeSet<String>>,
    metric: Metric,
    start: NaiveDate,
}

fn subject(event: &DriftEvent) -> Subject {
    let product = event.product.parse::<Product>().ok();
    let kind = event.kind.parse::<FindingKind>().ok();
    let mode = event.mode.parse::<Mode>().unwrap_or(Mode::Sound);
    let metric = Metric::for_finding(product.unwrap_or(Product::DriftWatch), kind, mode);
    let groups = if product == Some(Product::DelayGuard) || event.cpt_group.is_empty() {
        None
    } else if event.cpt_group == ALL_GROUPS {
        // A payer-level finding plots the groups it stands for together.
        match serde_json::from_str::<Evidence>(&event.evidence_json) {
            Ok(Evidence::PayerLevel { members }) if !members.is_empty() => {
                Some(members.into_iter().map(|m| m.group).collect())
            }
            _ => None,
        }
    } else {
        Some(BTreeSet::from([event.cpt_group.clone()]))
    };
    Subject {
        payer: event.payer.clone(),
        groups,
        metric,
        start: event.current_end - Duration::weeks(CHART_WEEKS),
    }
}

impl Subject {
    fn week(&self, date: NaiveDate) -> Option<usize> {
        let offset = (date - self.start).num_days();
        (0..CHART_WEEKS * 7)
            .contains(&offset)
            .then_some((offset / 7) as usize)
    }

    /// Whether a CPT group's claims count (reason findings count every group: the
    /// groups there are reasons).
    fn has_group(&self, group: &str) -> bool {
        self.metric.is_reason() || self.groups.as_ref().is_none_or(|g| g.contains(group))
    }

    fn title(&self) -> String {
        let scope = match &self.groups {
            None if self.metric.is_reason() => format!("{}: all reasons", self.payer),
            None => self.payer.clone(),
            Some(groups) => format!(
                "{} × {}",
                self.payer,
                groups.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
        };
        format!("{scope}: weekly {}", self.metric.label())
    }
}

/// The rows one page of charts needs, read once for all its findings.
#[derive(Default)]
pub struct ChartRows {
    pub daily: Vec<DailyRow>,
    pub days: Vec<DailyDaysRow>,
    pub reasons: Vec<DailyReasonRow>,
}

/// The span and payers the charts of `events` need: `[start, end)`, every payer, the
/// payers of days charts, the payers of reason charts. `None` without events.
struct Needs {
    start: NaiveDate,
    end: NaiveDate,
    all: Vec<String>,
    days: Vec<String>,
    reasons: Vec<String>,
}

fn needs(events: &[&DriftEvent]) -> Option<Needs> {
    let end = events.iter().map(|e| e.current_end).max()?;
    let start =
        events.iter().map(|e| e.current_end).min().unwrap_or(end) - Duration::weeks(CHART_WEEKS);
    let subjects: Vec<Subject> = events.iter().map(|e| subject(e)).collect();
    let payers_where = |wanted: fn(Metric) -> bool| -> Vec<String> {
        let set: BTreeSet<&String> = subjects
            .iter()
            .filter(|s| wanted(s.metric))
            .map(|s| &s.payer)
            .collect();
        set.into_iter().cloned().collect()
    };
    Some(Needs {
        start,
        end,
        all: payers_where(|_| true),
        days: payers_where(Metric::is_days),
        reasons: payers_where(Metric::is_reason),
    })
}

/// Reads what the charts of `events` need from the daily rollups (issue 21): two reads
/// whatever the number of events — the day rows of the page's payers over the span, and
/// their reason rows by decided day when a finding plots a reason — so a chart costs
/// days × groups, not claims.
pub fn rows_for(
    conn: &mut DbConnection,
    scope: &TenantScope,
    events: &[&DriftEvent],
) -> Result<ChartRows, DbError> {
    let Some(n) = needs(events) else {
        return Ok(ChartRows::default());
    };
    let mut out = ChartRows::default();
    let days_payers: BTreeSet<&String> = n.days.iter().collect();
    for cell in rollups::payer_cells(conn, scope, &n.all, n.start, n.end)? {
        let (mut decided, mut denied, mut days_sum) = (0i64, 0i64, 0i64);
        let plots_days = days_payers.contains(&cell.key.payer);
        for (days, c) in &cell.days {
            decided += c.paid + c.denied;
            denied += c.denied;
            days_sum += i64::from(*days) * (c.paid + c.denied);
            if plots_days && c.claims() != 0 {
                out.days.push(DailyDaysRow {
                    payer: cell.key.payer.clone(),
                    cpt_group: cell.key.cpt_group.clone(),
                    decided_date: cell.key.decided,
                    decision_days: *days,
                    n: c.claims(),
                });
            }
        }
        if decided != 0 {
            out.daily.push(DailyRow {
                payer: cell.key.payer,
                cpt_group: cell.key.cpt_group,
                decided_date: cell.key.decided,
                decided,
                denied,
                days_sum,
            });
        }
    }
    // The stored reason is the DenialScope key already, which `reason_key` keeps as is.
    out.reasons =
        rollups::payer_reason_days(conn, scope, Basis::Decided, &n.reasons, n.start, n.end)?
            .into_iter()
            .map(|r| DailyReasonRow {
                payer: r.payer,
                denial_reason_code: Some(r.reason),
                denial_reason_text: None,
                decided_date: r.day,
                n: r.denied,
                cents: r.denied_cents,
            })
            .collect();
    Ok(out)
}

/// The same rows from claims (three grouped statements over `claim_records`): the oracle
/// the rollup reads are tested against.
pub fn rows_from_claims(
    conn: &mut DbConnection,
    scope: &TenantScope,
    events: &[&DriftEvent],
) -> Result<ChartRows, DbError> {
    let Some(n) = needs(events) else {
        return Ok(ChartRows::default());
    };
    Ok(ChartRows {
        daily: repo::daily_series(conn, scope, &n.all, n.start, n.end)?,
        days: repo::daily_days_series(conn, scope, &n.days, n.start, n.end)?,
        reasons: repo::daily_reason_series(conn, scope, &n.reasons, n.start, n.end)?,
    })
}

/// Each event's series from the rollups and from claims, keyed by event id: `[rollups,
/// claims]` (what the equivalence test compares).
pub fn series_from_rollups_and_claims(
    conn: &mut DbConnection,
    scope: &TenantScope,
    events: &[&DriftEvent],
) -> Result<[HashMap<i64, ChartSeries>; 2], DbError> {
    let rollup_rows = rows_for(conn, scope, events)?;
    let claim_rows = rows_from_claims(conn, scope, events)?;
    Ok([rollup_rows, claim_rows]
        .map(|rows| events.iter().map(|e| (e.id, series(e, &rows))).collect()))
}

/// The series of each event, keyed by event id.
pub fn series_for(
    conn: &mut DbConnection,
    scope: &TenantScope,
    events: &[&DriftEvent],
) -> Result<HashMap<i64, ChartSeries>, DbError> {
    let rows = rows_for(conn, scope, events)?;
    Ok(events.iter().map(|e| (e.id, series(e, &rows))).collect())
}

/// One event's series from rows read for it (and perhaps other events).
pub fn series(event: &DriftEvent, rows: &ChartRows) -> ChartSeries {
    let s = subject(event);
    let weeks = CHART_WEEKS as usize;
    let mut decided = vec![0i64; weeks];
    let mut denied = vec![0i64; weeks];
    let mut days_sum = vec![0i64; weeks];
    for row in rows
        .daily
        .iter()
        .filter(|r| r.payer == s.payer && s.has_group(&r.cpt_group))
    {
        if let Some(w) = s.week(row.decided_date) {
            decided[w] += row.decided;
            denied[w] += row.denied;
            days_sum[w] += row.days_sum;
        }
    }
    let values: Vec<(Option<f64>, u64)> = match s.metric {
        Metric::DenialRate => (0..weeks).map(|w| ratio(denied[w], decided[w])).collect(),
        Metric::MedianDays | Metric::MeanDays => {
            let mut bins: Vec<BTreeMap<i64, u64>> = vec![BTreeMap::new(); weeks];
            for row in rows
                .days
                .iter()
                .filter(|r| r.payer == s.payer && s.has_group(&r.cpt_group))
            {
                if let Some(w) = s.week(row.decided_date) {
                    *bins[w].entry(i64::from(row.decision_days)).or_default() +=
                        row.n.max(0) as u64;
                }
            }
            bins.into_iter()
                .map(|b| {
                    let h = Histogram::new(b);
                    let v = if s.metric == Metric::MedianDays {
                        h.median()
                    } else {
                        h.mean()
                    };
                    (v, h.total())
                })
                .collect()
        }
        Metric::ReasonShare | Metric::ReasonPerDay | Metric::ReasonDollars => {
            let mut count = vec![0u64; weeks];
            let mut cents = vec![0i64; weeks];
            for row in rows.reasons.iter().filter(|r| r.payer == s.payer) {
                let reason = reason_key(
                    row.denial_reason_code.as_deref(),
                    row.denial_reason_text.as_deref(),
                );
                if s.groups.as_ref().is_some_and(|g| !g.contains(&reason)) {
                    continue;
                }
                if let Some(w) = s.week(row.decided_date) {
                    count[w] += row.n.max(0) as u64;
                    cents[w] += row.cents;
                }
            }
            (0..weeks)
                .map(|w| match s.metric {
                    Metric::ReasonShare => ratio(count[w] as i64, denied[w]),
                    // A week the payer decided nothing is a gap, not a zero.
                    Metric::ReasonPerDay => {
                        ((decided[w] > 0).then(|| count[w] as f64 / 7.0), count[w])
                    }
                    _ => ((decided[w] > 0).then(|| cents[w] as f64 / 100.0), count[w]),
                })
                .collect()
        }
    };
    let points: Vec<WeekPoint> = values
        .into_iter()
        .enumerate()
        .map(|(w, (value, basis))| WeekPoint {
            week_start: s.start + Duration::weeks(w as i64),
            value,
            basis,
            decided: decided[w],
            denied: denied[w],
        })
        .collect();
    // The x axis starts at the first week with data, not 26 weeks back in an empty past.
    let first = points
        .iter()
        .position(|p| p.value.is_some())
        .unwrap_or(points.len());
    ChartSeries {
        metric: s.metric,
        title: s.title(),
        points: points.into_iter().skip(first).collect(),
    }
}

fn ratio(part: i64, whole: i64) -> (Option<f64>, u64) {
    let whole_n = whole.max(0) as u64;
    ((whole > 0).then(|| part as f64 / whole as f64), whole_n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn event(product: &str, kind: &str, group: &str) -> DriftEvent {
        DriftEvent::example(product, kind, group)
    }

    fn daily(payer: &str, group: &str, day: &str, decided: i64, denied: i64) -> DailyRow {
        DailyRow {
            payer: payer.into(),
            cpt_group: group.into(),
            decided_date: date(day),
            decided,
            denied,
            days_sum: decided * 20,
        }
    }

    fn reason(payer: &str, code: &str, day: &str, n: i64) -> DailyReasonRow {
        DailyReasonRow {
            payer: payer.into(),
            denial_reason_code: Some(code.into()),
            denial_reason_text: None,
            decided_date: date(day),
            n,
            cents: n * 10_000,
        }
    }

    fn rows() -> ChartRows {
        ChartRows {
            daily: vec![
                // Two weeks of Cigna: IMAGING 10 % then 40 % denied; LAB 50 % both weeks.
                daily("Cigna", "IMAGING", "2026-11-16", 100, 10),
                daily("Cigna", "IMAGING", "2026-11-23", 100, 40),
                daily("Cigna", "LAB", "2026-11-16", 100, 50),
                daily("Cigna", "LAB", "2026-11-23", 100, 50),
                daily("Aetna", "IMAGING", "2026-11-23", 100, 90),
            ],
            days: vec![],
            reasons: vec![
                reason("Cigna", "CO-197", "2026-11-16", 6),
                reason("Cigna", "CO-16", "2026-11-16", 54),
                reason("Cigna", "CO-197", "2026-11-23", 45),
                reason("Cigna", "CO-16", "2026-11-23", 45),
            ],
        }
    }

    #[test]
    fn a_denial_rate_finding_plots_its_groups_rate_from_the_first_week_with_data() {
        let series = series(&event("drift_watch", "denial_rate", "IMAGING"), &rows());
        assert_eq!(series.metric, Metric::DenialRate);
        assert_eq!(series.title, "Cigna × IMAGING: weekly denial rate");
        // The axis starts at the first week with claims, 2 weeks before the end.
        assert_eq!(series.points.len(), 2);
        assert_eq!(series.points[0].week_start, date("2026-11-15"));
        let values: Vec<Option<f64>> = series.points.iter().map(|p| p.value).collect();
        assert_eq!(values, vec![Some(0.1), Some(0.4)]);
        assert_eq!(series.points[1].basis, 100);
    }

    #[test]
    fn a_reason_finding_plots_the_reasons_share_of_the_payers_denials() {
        let series = series(
            &event("denial_scope", "reason_share_spike", "CO-197"),
            &rows(),
        );
        assert_eq!(series.metric, Metric::ReasonShare);
        // 6 of 60 denials, then 45 of 90 — not Cigna's denial rate (30 %, 45 %).
        let values: Vec<Option<f64>> = series.points.iter().map(|p| p.value).collect();
        assert_eq!(values, vec![Some(0.1), Some(0.5)]);
        assert_eq!(series.points[1].basis, 90);
        let volume = super::series(&event("denial_scope", "volume_spike", "CO-197"), &rows());
        assert_eq!(volume.points[1].value, Some(45.0 / 7.0));
    }

    #[test]
    fn a_payer_level_finding_plots_its_member_groups_together() {
        let mut e = event("drift_watch", "denial_rate", ALL_GROUPS);
        e.evidence_json = serde_json::json!({
            "type": "payer_level",
            "members": [{
                "group": "IMAGING", "baseline_value": 0.1, "current_value": 0.4,
                "delta": 0.3, "p_value": null, "q_value": null, "dollars_per_month": null,
                "baseline_n": 100, "current_n": 100
            }]
        })
        .to_string();
        let series = series(&e, &rows());
        assert_eq!(series.title, "Cigna × IMAGING: weekly denial rate");
        assert_eq!(series.points[1].value, Some(0.4));
    }

    #[test]
    fn a_delay_finding_plots_weekly_median_days_of_the_whole_payer() {
        let mut r = rows();
        for (group, days, n) in [("IMAGING", 20, 3), ("LAB", 40, 2), ("LAB", 90, 1)] {
            r.days.push(DailyDaysRow {
                payer: "Cigna".into(),
                cpt_group: group.into(),
                decided_date: date("2026-11-24"),
                decision_days: days,
                n,
            });
        }
        let series = series(&event("delay_guard", "slowdown", ""), &r);
        assert_eq!(series.metric, Metric::MedianDays);
        assert_eq!(series.title, "Cigna: weekly median days to decision");
        // The median of 20, 20, 20, 40, 40, 90 — not the mean.
        assert_eq!(series.points.last().and_then(|p| p.value), Some(30.0));
        assert_eq!(series.points.last().map(|p| p.basis), Some(6));
    }

    #[test]
    fn no_data_is_an_empty_series() {
        let series = series(
            &event("drift_watch", "denial_rate", "IMAGING"),
            &ChartRows::default(),
        );
        assert!(series.points.is_empty());
    }
}
