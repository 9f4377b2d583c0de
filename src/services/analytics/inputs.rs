//! From SQL aggregates to the rules' inputs: windows per product, grouped queries per
//! window, and the maps that turn rows into per-group counts and day histograms.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;

use super::rollup_source::{DayRows, RollupSource};
use super::source::{AggregateSource, DbSource};
use super::{Evaluation, ReportError};
use crate::db::DbConnection;
use crate::db::repo::analytics::{self as repo, BucketBy};
use crate::domain::analytics::daily_trend::PayerDailyInput;
use crate::domain::analytics::delays::{self, DelaySettings, PayerDelayInput};
use crate::domain::analytics::denials::{
    self, DenialSettings, ReasonInput, ReasonWindow, reason_key,
};
use crate::domain::analytics::drift::{self, DriftGroupInput, DriftSettings};
use crate::domain::analytics::trend::{self, PayerTrendInput, TrendSettings};
use crate::domain::analytics::windows::{self, Window, WindowPair};
use crate::domain::analytics::{Mode, Product, RunOutcome};
use crate::domain::stats::{Histogram, RateCounts};
use crate::domain::tenant::TenantScope;

fn bucket(mode: Mode) -> BucketBy {
    match mode {
        Mode::Sound => BucketBy::Decided,
        Mode::Compat => BucketBy::Submitted,
    }
}

fn window_error(e: impl std::fmt::Display) -> ReportError {
    ReportError::Window(e.to_string())
}

/// A product's run inputs and rules, from the daily rollups (issue 21): the cost is the
/// days × groups of the windows, not the number of claims.
pub fn evaluate(
    conn: &mut DbConnection,
    scope: &TenantScope,
    product: Product,
    mode: Mode,
    as_of: NaiveDate,
) -> Result<Evaluation, ReportError> {
    evaluate_from(&mut RollupSource::new(conn, scope), product, mode, as_of)
}

/// [`evaluate`] from day rows already loaded (a run's two modes share one read and
/// decoding of them: `DayRows::load` from [`earliest_start`]).
pub fn evaluate_with_rows(
    conn: &mut DbConnection,
    scope: &TenantScope,
    rows: Arc<DayRows>,
    product: Product,
    mode: Mode,
    as_of: NaiveDate,
) -> Result<Evaluation, ReportError> {
    evaluate_from(
        &mut RollupSource::with_rows(conn, scope, rows),
        product,
        mode,
        as_of,
    )
}

/// The first day any window of `product` reads in any of `modes` (the day rows a run
/// loads once for both).
pub fn earliest_start(
    product: Product,
    modes: &[Mode],
    as_of: NaiveDate,
) -> Result<NaiveDate, ReportError> {
    let mut earliest = as_of;
    for mode in modes {
        for (_, _, window) in plan(product, *mode, as_of)? {
            earliest = earliest.min(window.start);
        }
    }
    Ok(earliest)
}

/// The same from claims (grouped statements over `claim_records`): the oracle the
/// rollups are tested against, and what `--print-sql` shows.
pub fn evaluate_from_claims(
    conn: &mut DbConnection,
    scope: &TenantScope,
    product: Product,
    mode: Mode,
    as_of: NaiveDate,
) -> Result<Evaluation, ReportError> {
    evaluate_from(&mut DbSource { conn, scope }, product, mode, as_of)
}

pub fn evaluate_from(
    src: &mut dyn AggregateSource,
    product: Product,
    mode: Mode,
    as_of: NaiveDate,
) -> Result<Evaluation, ReportError> {
    let mut evaluation = match product {
        Product::DriftWatch => evaluate_drift(src, mode, as_of),
        Product::DenialScope => evaluate_denials(src, mode, as_of),
        Product::DelayGuard => evaluate_delays(src, mode, as_of),
    }?;
    // Every product's windows are adjacent and end at `as_of` (the trend's lie inside the
    // current and baseline ones), so the claims they cover are those from the baseline's
    // start on, by the mode's date.
    let covered = Window {
        start: evaluation.default_windows.baseline.start,
        end: as_of,
    };
    evaluation.claims_covered = src.claims_in(bucket(mode), covered)?;
    Ok(evaluation)
}

/// DenialScope's windows differ by mode (sound 14/56, compat 7/21).
fn denial_windows(mode: Mode, as_of: NaiveDate) -> Result<WindowPair, ReportError> {
    match mode {
        Mode::Sound => windows::denial_windows_sound(as_of),
        Mode::Compat => windows::denial_windows(as_of),
    }
    .map_err(window_error)
}

/// The grouped statements `evaluate` runs for one product and mode, in order (what
/// `payerwatch compute --print-sql` prints for benchmarks). Keep in step with the
/// `evaluate_*` functions below.
pub fn plan(
    product: Product,
    mode: Mode,
    as_of: NaiveDate,
) -> Result<Vec<(repo::Aggregate, BucketBy, Window)>, ReportError> {
    use repo::Aggregate::{DenialsByReason, PayerDailyDays, PayerDays, PayerTotals, RateDays};
    let b = bucket(mode);
    Ok(match product {
        Product::DriftWatch => {
            let w = windows::drift_windows(as_of).map_err(window_error)?;
            vec![(RateDays, b, w.baseline), (RateDays, b, w.current)]
        }
        Product::DenialScope => {
            let w = denial_windows(mode, as_of)?;
            vec![
                (DenialsByReason, b, w.baseline),
                (DenialsByReason, b, w.current),
                (PayerTotals, b, w.baseline),
                (PayerTotals, b, w.current),
            ]
        }
        Product::DelayGuard => {
            let w = windows::delay_windows(as_of).map_err(window_error)?;
            let mut statements = vec![
                (PayerDays, b, w.baseline),
                (PayerDays, b, w.current),
                (PayerTotals, b, w.current),
            ];
            match mode {
                Mode::Sound => {
                    let days = windows::trend_days(as_of).map_err(window_error)?;
                    statements.push((PayerDailyDays, BucketBy::Decided, days));
                }
                Mode::Compat => {
                    for week in windows::trend_weeks(as_of).map_err(window_error)? {
                        statements.push((PayerDays, b, week));
                    }
                }
            }
            statements
        }
    })
}

#[derive(Default)]
struct GroupAcc {
    counts: RateCounts,
    days: Vec<(i64, u64)>,
    cents: i64,
}

fn drift_window(
    src: &mut dyn AggregateSource,
    mode: Mode,
    window: Window,
    rows: &mut i64,
) -> Result<BTreeMap<(String, String), GroupAcc>, ReportError> {
    let mut groups: BTreeMap<(String, String), GroupAcc> = BTreeMap::new();
    for row in src.rate_days(bucket(mode), window)? {
        let n = row.n.max(0) as u64;
        *rows += row.n;
        let acc = groups.entry((row.payer, row.cpt_group)).or_default();
        acc.cents += row.cents;
        let denied = if row.outcome == "DENIED" { n } else { 0 };
        acc.counts = RateCounts::new(acc.counts.n + n, acc.counts.x + denied);
        acc.days.push((i64::from(row.decision_days), n));
    }
    Ok(groups)
}

fn evaluate_drift(
    src: &mut dyn AggregateSource,
    mode: Mode,
    as_of: NaiveDate,
) -> Result<Evaluation, ReportError> {
    let w = windows::drift_windows(as_of).map_err(window_error)?;
    let mut rows = 0;
    let mut baseline = drift_window(src, mode, w.baseline, &mut rows)?;
    let mut current = drift_window(src, mode, w.current, &mut rows)?;
    let keys: std::collections::BTreeSet<(String, String)> =
        baseline.keys().chain(current.keys()).cloned().collect();
    let groups: Vec<DriftGroupInput> = keys
        .into_iter()
        .map(|key| {
            let b = baseline.remove(&key).unwrap_or_default();
            let c = current.remove(&key).unwrap_or_default();
            DriftGroupInput {
                payer: key.0,
                cpt_group: key.1,
                baseline: b.counts,
                current: c.counts,
                baseline_days: Histogram::new(b.days),
                current_days: Histogram::new(c.days),
                current_allowed_cents: c.cents,
            }
        })
        .collect();
    let settings = DriftSettings::default();
    let outcome = match mode {
        Mode::Sound => drift::drift_sound(&groups, &settings),
        Mode::Compat => drift::drift_compat(&groups, &settings),
    };
    Ok(evaluation(outcome, rows, w, HashMap::new()))
}

fn evaluation(
    outcome: RunOutcome,
    rows: i64,
    default_windows: WindowPair,
    windows: HashMap<&'static str, WindowPair>,
) -> Evaluation {
    Evaluation {
        outcome,
        rows_scanned: rows,
        claims_covered: 0,
        windows,
        default_windows,
    }
}

struct PayerTotals {
    paid: u64,
    denied: u64,
    allowed_cents: i64,
    submit_days: u32,
}

fn payer_totals(
    src: &mut dyn AggregateSource,
    mode: Mode,
    window: Window,
) -> Result<HashMap<String, PayerTotals>, ReportError> {
    Ok(src
        .payer_totals(bucket(mode), window)?
        .into_iter()
        .map(|r| {
            (
                r.payer,
                PayerTotals {
                    paid: r.paid.max(0) as u64,
                    denied: r.denied.max(0) as u64,
                    allowed_cents: r.allowed_cents,
                    submit_days: u32::try_from(r.submit_days.max(0)).unwrap_or(u32::MAX),
                },
            )
        })
        .collect())
}

/// Denied claims and their cents per (payer, reason).
type ReasonTotals = BTreeMap<(String, String), (u64, i64)>;

fn denial_window(
    src: &mut dyn AggregateSource,
    mode: Mode,
    window: Window,
    rows: &mut i64,
) -> Result<ReasonTotals, ReportError> {
    let mut keys = ReasonTotals::new();
    for row in src.denials_by_reason(bucket(mode), window)? {
        *rows += row.n;
        let reason = reason_key(
            row.denial_reason_code.as_deref(),
            row.denial_reason_text.as_deref(),
        );
        let entry = keys.entry((row.payer, reason)).or_default();
        entry.0 += row.n.max(0) as u64;
        entry.1 += row.cents;
    }
    Ok(keys)
}

fn evaluate_denials(
    src: &mut dyn AggregateSource,
    mode: Mode,
    as_of: NaiveDate,
) -> Result<Evaluation, ReportError> {
    let w = denial_windows(mode, as_of)?;
    let mut rows = 0;
    let baseline = denial_window(src, mode, w.baseline, &mut rows)?;
    let recent = denial_window(src, mode, w.current, &mut rows)?;
    let baseline_totals = payer_totals(src, mode, w.baseline)?;
    let recent_totals = payer_totals(src, mode, w.current)?;
    let keys: std::collections::BTreeSet<(String, String)> =
        baseline.keys().chain(recent.keys()).cloned().collect();
    let window_of =
        |map: &ReasonTotals, totals: &HashMap<String, PayerTotals>, key: &(String, String)| {
            let (denied, denied_cents) = map.get(key).copied().unwrap_or_default();
            let payer = totals.get(&key.0);
            let paid = payer.map_or(0, |t| t.paid);
            ReasonWindow {
                denied,
                denied_cents,
                payer_decided: payer.map_or(0, |t| t.paid + t.denied),
                payer_denied: payer.map_or(0, |t| t.denied),
                // The old system put paid claims in the uncoded bucket.
                legacy_submitted: denied + if key.1 == "UNSPECIFIED" { paid } else { 0 },
            }
        };
    let inputs: Vec<ReasonInput> = keys
        .iter()
        .map(|key| ReasonInput {
            payer: key.0.clone(),
            reason: key.1.clone(),
            baseline: window_of(&baseline, &baseline_totals, key),
            recent: window_of(&recent, &recent_totals, key),
        })
        .collect();
    let settings = DenialSettings::default();
    let outcome = match mode {
        Mode::Sound => denials::denials_sound(&inputs, &settings),
        Mode::Compat => denials::denials_compat(&inputs, &settings),
    };
    Ok(evaluation(outcome, rows, w, HashMap::new()))
}

fn payer_histograms(
    src: &mut dyn AggregateSource,
    mode: Mode,
    window: Window,
    rows: &mut i64,
) -> Result<BTreeMap<String, Vec<(i64, u64)>>, ReportError> {
    let mut payers: BTreeMap<String, Vec<(i64, u64)>> = BTreeMap::new();
    for row in src.payer_days(bucket(mode), window)? {
        *rows += row.n;
        payers
            .entry(row.payer)
            .or_default()
            .push((i64::from(row.decision_days), row.n.max(0) as u64));
    }
    Ok(payers)
}

fn evaluate_delays(
    src: &mut dyn AggregateSource,
    mode: Mode,
    as_of: NaiveDate,
) -> Result<Evaluation, ReportError> {
    let w = windows::delay_windows(as_of).map_err(window_error)?;
    let mut rows = 0;
    let mut baseline = payer_histograms(src, mode, w.baseline, &mut rows)?;
    let mut current = payer_histograms(src, mode, w.current, &mut rows)?;
    let totals = payer_totals(src, mode, w.current)?;
    let payers: std::collections::BTreeSet<String> =
        baseline.keys().chain(current.keys()).cloned().collect();
    let inputs: Vec<PayerDelayInput> = payers
        .iter()
        .map(|payer| {
            let t = totals.get(payer);
            PayerDelayInput {
                payer: payer.clone(),
                baseline_days: Histogram::new(baseline.remove(payer).unwrap_or_default()),
                current_days: Histogram::new(current.remove(payer).unwrap_or_default()),
                current_allowed_cents: t.map_or(0, |t| t.allowed_cents),
                current_daily_rows: t.map_or(0, |t| t.submit_days),
                // PayerWatch keeps every decided claim, so the old completeness is full.
                completeness: 1.0,
            }
        })
        .collect();
    let settings = DelaySettings::default();
    match mode {
        Mode::Sound => {
            let days = windows::trend_days(as_of).map_err(window_error)?;
            let daily = daily_inputs(src, days, &mut rows)?;
            let outcome = delays::delays_sound(&inputs, &daily, &settings);
            let trend_window = WindowPair {
                baseline: days,
                current: days,
            };
            Ok(evaluation(
                outcome,
                rows,
                w,
                HashMap::from([("trend", trend_window)]),
            ))
        }
        Mode::Compat => {
            let mut outcome = delays::delays_compat(&inputs, &settings);
            let weeks = windows::trend_weeks(as_of).map_err(window_error)?;
            let trend_outcome = trend::trend_compat(
                &weekly_inputs(src, mode, &weeks, &mut rows)?,
                &TrendSettings::default(),
            );
            outcome.findings.extend(trend_outcome.findings);
            let trend_window = WindowPair {
                baseline: weeks[0],
                current: weeks[weeks.len() - 1],
            };
            Ok(evaluation(
                outcome,
                rows,
                w,
                HashMap::from([("trend", trend_window)]),
            ))
        }
    }
}

/// Sound trend input: one decision-day histogram per day of `days`, per payer.
fn daily_inputs(
    src: &mut dyn AggregateSource,
    days: Window,
    rows: &mut i64,
) -> Result<Vec<PayerDailyInput>, ReportError> {
    let len = usize::try_from(days.days()).unwrap_or(0);
    let mut bins: BTreeMap<String, Vec<Vec<(i64, u64)>>> = BTreeMap::new();
    for row in src.payer_daily_days(days)? {
        *rows += row.n;
        let Ok(i) = usize::try_from((row.decided_date - days.start).num_days()) else {
            continue;
        };
        if i >= len {
            continue;
        }
        bins.entry(row.payer)
            .or_insert_with(|| vec![Vec::new(); len])[i]
            .push((i64::from(row.decision_days), row.n.max(0) as u64));
    }
    Ok(bins
        .into_iter()
        .map(|(payer, days)| PayerDailyInput {
            payer,
            days: days.into_iter().map(Histogram::new).collect(),
        })
        .collect())
}

/// Compat trend input: the four weeks, one grouped query per week.
fn weekly_inputs(
    src: &mut dyn AggregateSource,
    mode: Mode,
    weeks: &[Window],
    rows: &mut i64,
) -> Result<Vec<PayerTrendInput>, ReportError> {
    let mut weekly: BTreeMap<String, Vec<Histogram>> = BTreeMap::new();
    for (i, week) in weeks.iter().enumerate() {
        let hist = payer_histograms(src, mode, *week, rows)?;
        for (payer, bins) in hist {
            weekly
                .entry(payer)
                .or_insert_with(|| vec![Histogram::default(); weeks.len()])[i] =
                Histogram::new(bins);
        }
    }
    Ok(weekly
        .into_iter()
        .map(|(payer, weeks)| PayerTrendInput { payer, weeks })
        .collect())
}
