//! The products' aggregates from the daily rollups (issue 21, `db::repo::rollups`): the
//! same rows the claim-level statements of `repo::analytics` return, built from the
//! stored day × payer × group histograms and day × payer × reason totals. A run reads
//! days × groups rows whatever the number of claims; `DbSource` (claims) stays as the
//! oracle the equivalence test compares against.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};

use super::ReportError;
use super::source::AggregateSource;
use crate::db::DbConnection;
use crate::db::repo::analytics::{
    BucketBy, DenialRow, PayerDailyDaysRow, PayerDaysRow, PayerTotalsRow, RateDaysRow,
};
use crate::db::repo::rollups::{self, Basis, DayCounts, DayEntries};
use crate::domain::analytics::windows::Window;
use crate::domain::tenant::TenantScope;

pub struct RollupSource<'a> {
    conn: &'a mut DbConnection,
    scope: &'a TenantScope,
    /// The day rows decided on or after their `from`: loaded once per run — by the first
    /// (earliest) window, or before the run for both modes ([`DayRows::load`],
    /// [`RollupSource::with_rows`]) — and reused by the later windows.
    loaded: Option<Arc<DayRows>>,
}

/// A run's day rows, decoded once, with their names interned: the aggregates below
/// accumulate by index, so a run's cost per histogram entry is a few integer operations,
/// not string keys. Both modes of a run read the same rows (shared, read-only).
pub struct DayRows {
    from: NaiveDate,
    rows: Vec<Row>,
    /// Every row's histogram entries, in row order (`Row::days` indexes it).
    entries: DayEntries,
    payers: Vec<String>,
    /// (payer index, CPT group)
    pairs: Vec<(usize, String)>,
    /// The decision-days values each pair's entries span, and each payer's (the dense
    /// accumulators' sizes).
    pair_days: Vec<DayRange>,
    payer_days: Vec<DayRange>,
}

struct Row {
    /// Days from the common era (`NaiveDate::num_days_from_ce`).
    decided: i32,
    payer: usize,
    pair: usize,
    days: Range<usize>,
}

/// The smallest and largest decision-days value of some entries (`None`: no entry).
#[derive(Debug, Clone, Copy, Default)]
struct DayRange(Option<(i32, i32)>);

impl DayRange {
    fn add(&mut self, days: i32) {
        self.0 = Some(match self.0 {
            Some((lo, hi)) => (lo.min(days), hi.max(days)),
            None => (days, days),
        });
    }

    fn union(self, other: DayRange) -> DayRange {
        match (self.0, other.0) {
            (Some((a, b)), Some((c, d))) => DayRange(Some((a.min(c), b.max(d)))),
            (Some(r), None) | (None, Some(r)) => DayRange(Some(r)),
            (None, None) => DayRange(None),
        }
    }

    /// How many values from the smallest to the largest.
    fn len(self) -> usize {
        self.0.map_or(0, |(lo, hi)| {
            usize::try_from(i64::from(hi) - i64::from(lo) + 1).unwrap_or(0)
        })
    }
}

impl DayRows {
    /// The tenant's day rows decided on or after `from`, decoded.
    pub fn load(
        conn: &mut DbConnection,
        scope: &TenantScope,
        from: NaiveDate,
    ) -> Result<DayRows, ReportError> {
        let mut entries = DayEntries::new();
        let cells = rollups::cell_entries(conn, scope, from, &mut entries)?;
        let mut payer_ids: HashMap<String, usize> = HashMap::new();
        let mut pair_ids: HashMap<(usize, String), usize> = HashMap::new();
        let mut loaded = DayRows {
            from,
            rows: Vec::with_capacity(cells.len()),
            entries,
            payers: Vec::new(),
            pairs: Vec::new(),
            pair_days: Vec::new(),
            payer_days: Vec::new(),
        };
        for cell in cells {
            let payer = match payer_ids.get(&cell.key.payer) {
                Some(id) => *id,
                None => {
                    let id = loaded.payers.len();
                    loaded.payers.push(cell.key.payer.clone());
                    payer_ids.insert(cell.key.payer, id);
                    id
                }
            };
            let pair_key = (payer, cell.key.cpt_group);
            let pair = match pair_ids.get(&pair_key) {
                Some(id) => *id,
                None => {
                    let id = loaded.pairs.len();
                    loaded.pairs.push(pair_key.clone());
                    loaded.pair_days.push(DayRange::default());
                    pair_ids.insert(pair_key, id);
                    id
                }
            };
            let range = &mut loaded.pair_days[pair];
            for (days, _) in &loaded.entries[cell.days.clone()] {
                range.add(*days);
            }
            loaded.rows.push(Row {
                decided: cell.key.decided.num_days_from_ce(),
                payer,
                pair,
                days: cell.days,
            });
        }
        loaded.payer_days = vec![DayRange::default(); loaded.payers.len()];
        for (pair, (payer, _)) in loaded.pairs.iter().enumerate() {
            loaded.payer_days[*payer] = loaded.payer_days[*payer].union(loaded.pair_days[pair]);
        }
        Ok(loaded)
    }

    /// Payer indexes in name order (the order of the claim-level statements' rows).
    fn payer_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.payers.len()).collect();
        order.sort_by(|a, b| self.payers[*a].cmp(&self.payers[*b]));
        order
    }

    /// Every counted `(row, submitted day, decision days, counts)` of the window: decided
    /// in it (sound), or submitted in it (compat: submitted = decided − days; a claim is
    /// never decided before it is submitted, so its decided day is on or after the start).
    fn visit(&self, bucket: BucketBy, w: Window, mut f: impl FnMut(&Row, i32, i32, &DayCounts)) {
        let start = w.start.num_days_from_ce();
        let end = w.end.num_days_from_ce();
        for row in &self.rows {
            if row.decided < start || (bucket == BucketBy::Decided && row.decided >= end) {
                continue;
            }
            for (days, counts) in &self.entries[row.days.clone()] {
                let submitted = row.decided - (*days).max(0);
                if bucket == BucketBy::Submitted && (submitted < start || submitted >= end) {
                    continue;
                }
                f(row, submitted, *days, counts);
            }
        }
    }

    /// How many dense accumulator values a run may hold per decoded entry before the
    /// aggregates fall back to maps (decision days spread thinly over a wide range).
    const DENSE_PER_ENTRY: usize = 4;

    /// Per-slot sums over the slots' decision-days ranges: dense when that is not much
    /// larger than the entries themselves, else a map per slot.
    fn sums(&self, ranges: impl Iterator<Item = DayRange>) -> DaySums {
        let budget = self
            .entries
            .len()
            .saturating_mul(Self::DENSE_PER_ENTRY)
            .max(1 << 16);
        DaySums::new(ranges.collect(), budget)
    }
}

/// A sum of claims and cents; `seen` once a non-zero count was added (the claim-level
/// statements have a row exactly then).
#[derive(Debug, Clone, Copy, Default)]
struct Sum {
    n: i64,
    cents: i64,
    seen: bool,
}

/// Sums per (slot, decision days), read back per slot in ascending days.
enum DaySums {
    /// Slot `s` holds `ranges[s].len()` values from `offsets[s]` on.
    Dense {
        lows: Vec<i32>,
        offsets: Vec<usize>,
        sums: Vec<Sum>,
    },
    Sparse(Vec<BTreeMap<i32, Sum>>),
}

impl DaySums {
    fn new(ranges: Vec<DayRange>, budget: usize) -> DaySums {
        let total = ranges
            .iter()
            .try_fold(0usize, |total, r| total.checked_add(r.len()));
        match total {
            Some(total) if total <= budget => {
                let mut offsets = Vec::with_capacity(ranges.len());
                let mut next = 0;
                for r in &ranges {
                    offsets.push(next);
                    next += r.len();
                }
                DaySums::Dense {
                    lows: ranges.iter().map(|r| r.0.map_or(0, |(lo, _)| lo)).collect(),
                    offsets,
                    sums: vec![Sum::default(); total],
                }
            }
            _ => DaySums::Sparse(vec![BTreeMap::new(); ranges.len()]),
        }
    }

    /// Adds `n` claims and their `cents` (nothing when `n` is 0). `days` lies in the
    /// slot's range.
    fn add(&mut self, slot: usize, days: i32, n: i64, cents: i64) {
        if n == 0 {
            return;
        }
        let sum = match self {
            DaySums::Dense {
                lows,
                offsets,
                sums,
            } => {
                let i = offsets[slot] + (i64::from(days) - i64::from(lows[slot])) as usize;
                &mut sums[i]
            }
            DaySums::Sparse(maps) => maps[slot].entry(days).or_default(),
        };
        sum.n += n;
        sum.cents += cents;
        sum.seen = true;
    }

    /// The slot's sums with a count added, ascending by decision days.
    fn each(&self, slot: usize, mut f: impl FnMut(i32, &Sum)) {
        match self {
            DaySums::Dense {
                lows,
                offsets,
                sums,
            } => {
                let end = offsets.get(slot + 1).copied().unwrap_or(sums.len());
                for (k, sum) in sums[offsets[slot]..end].iter().enumerate() {
                    if sum.seen {
                        // k < the slot's range length, which came from i32 values.
                        f(lows[slot] + k as i32, sum);
                    }
                }
            }
            DaySums::Sparse(maps) => {
                for (days, sum) in &maps[slot] {
                    f(*days, sum);
                }
            }
        }
    }
}

impl<'a> RollupSource<'a> {
    pub fn new(conn: &'a mut DbConnection, scope: &'a TenantScope) -> Self {
        RollupSource {
            conn,
            scope,
            loaded: None,
        }
    }

    /// A source that starts from day rows already loaded (a run's two modes share them).
    pub fn with_rows(
        conn: &'a mut DbConnection,
        scope: &'a TenantScope,
        rows: Arc<DayRows>,
    ) -> Self {
        RollupSource {
            conn,
            scope,
            loaded: Some(rows),
        }
    }

    /// The day rows from the window's start on (read again only when a window starts
    /// before what is loaded).
    fn rows_for(&mut self, w: Window) -> Result<Arc<DayRows>, ReportError> {
        match &self.loaded {
            Some(loaded) if loaded.from <= w.start => Ok(Arc::clone(loaded)),
            _ => {
                let loaded = Arc::new(DayRows::load(self.conn, self.scope, w.start)?);
                self.loaded = Some(Arc::clone(&loaded));
                Ok(loaded)
            }
        }
    }
}

/// A payer's paid and denied claims, their cents, and the submitted days with claims.
type PayerAcc = (i64, i64, i64, HashSet<i32>);

fn date(days_from_ce: i32) -> Result<NaiveDate, ReportError> {
    NaiveDate::from_num_days_from_ce_opt(days_from_ce)
        .ok_or_else(|| ReportError::Window(format!("day {days_from_ce}")))
}

impl AggregateSource for RollupSource<'_> {
    fn rate_days(&mut self, b: BucketBy, w: Window) -> Result<Vec<RateDaysRow>, ReportError> {
        let loaded = self.rows_for(w)?;
        // Slot 2 × pair + outcome, outcome 0 = DENIED, 1 = PAID (the statements' text
        // order): per decision days, claims and cents.
        let mut acc = loaded.sums(loaded.pair_days.iter().flat_map(|r| [*r, *r]));
        loaded.visit(b, w, |row, _, days, c| {
            acc.add(2 * row.pair, days, c.denied, c.denied_cents);
            acc.add(2 * row.pair + 1, days, c.paid, c.paid_cents);
        });
        let mut order: Vec<usize> = (0..loaded.pairs.len()).collect();
        order.sort_by(|a, b| {
            let (pa, ga) = &loaded.pairs[*a];
            let (pb, gb) = &loaded.pairs[*b];
            (&loaded.payers[*pa], ga).cmp(&(&loaded.payers[*pb], gb))
        });
        let mut out = Vec::new();
        for i in order {
            let (payer, group) = &loaded.pairs[i];
            for (outcome, label) in ["DENIED", "PAID"].into_iter().enumerate() {
                acc.each(2 * i + outcome, |decision_days, sum| {
                    out.push(RateDaysRow {
                        payer: loaded.payers[*payer].clone(),
                        cpt_group: group.clone(),
                        outcome: label.to_string(),
                        decision_days,
                        n: sum.n,
                        cents: sum.cents,
                    });
                });
            }
        }
        Ok(out)
    }

    fn denials_by_reason(&mut self, b: BucketBy, w: Window) -> Result<Vec<DenialRow>, ReportError> {
        let basis = match b {
            BucketBy::Decided => Basis::Decided,
            BucketBy::Submitted => Basis::Submitted,
        };
        // The stored reason is the DenialScope key already (trimmed, never empty), which
        // `reason_key` maps to itself.
        Ok(
            rollups::reason_totals(self.conn, self.scope, basis, w.start, w.end)?
                .into_iter()
                .map(|r| DenialRow {
                    payer: r.payer,
                    denial_reason_code: Some(r.reason),
                    denial_reason_text: None,
                    n: r.denied,
                    cents: r.cents,
                })
                .collect(),
        )
    }

    fn payer_totals(&mut self, b: BucketBy, w: Window) -> Result<Vec<PayerTotalsRow>, ReportError> {
        let loaded = self.rows_for(w)?;
        // Per payer: paid, denied, cents, and the submitted days with claims.
        let mut acc: Vec<Option<PayerAcc>> = vec![None; loaded.payers.len()];
        loaded.visit(b, w, |row, submitted, _, c| {
            if c.claims() == 0 {
                return;
            }
            let (paid, denied, cents, days) = acc[row.payer].get_or_insert_with(Default::default);
            *paid += c.paid;
            *denied += c.denied;
            *cents += c.cents();
            days.insert(submitted);
        });
        Ok(loaded
            .payer_order()
            .into_iter()
            .filter_map(|p| {
                let (paid, denied, allowed_cents, days) = acc[p].take()?;
                Some(PayerTotalsRow {
                    payer: loaded.payers[p].clone(),
                    paid,
                    denied,
                    allowed_cents,
                    submit_days: i64::try_from(days.len()).unwrap_or(i64::MAX),
                })
            })
            .collect())
    }

    fn payer_days(&mut self, b: BucketBy, w: Window) -> Result<Vec<PayerDaysRow>, ReportError> {
        let loaded = self.rows_for(w)?;
        let mut acc = loaded.sums(loaded.payer_days.iter().copied());
        loaded.visit(b, w, |row, _, days, c| {
            acc.add(row.payer, days, c.claims(), 0);
        });
        let mut out = Vec::new();
        for p in loaded.payer_order() {
            acc.each(p, |decision_days, sum| {
                out.push(PayerDaysRow {
                    payer: loaded.payers[p].clone(),
                    decision_days,
                    n: sum.n,
                });
            });
        }
        Ok(out)
    }

    fn payer_daily_days(&mut self, w: Window) -> Result<Vec<PayerDailyDaysRow>, ReportError> {
        let loaded = self.rows_for(w)?;
        let mut acc: Vec<BTreeMap<(i32, i32), i64>> = vec![BTreeMap::new(); loaded.payers.len()];
        loaded.visit(BucketBy::Decided, w, |row, _, days, c| {
            if c.claims() != 0 {
                *acc[row.payer].entry((row.decided, days)).or_default() += c.claims();
            }
        });
        let mut out = Vec::new();
        for p in loaded.payer_order() {
            for ((decided, decision_days), n) in &acc[p] {
                out.push(PayerDailyDaysRow {
                    payer: loaded.payers[p].clone(),
                    decided_date: date(*decided)?,
                    decision_days: *decision_days,
                    n: *n,
                });
            }
        }
        Ok(out)
    }

    fn claims_in(&mut self, b: BucketBy, w: Window) -> Result<i64, ReportError> {
        let mut claims = 0;
        self.rows_for(w)?
            .visit(b, w, |_, _, _, counts| claims += counts.claims());
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both forms of the sums read back the same: per slot, ascending days, only the
    /// values a non-zero count reached (a zero count adds nothing, as in the statements).
    #[test]
    fn dense_and_sparse_sums_read_back_the_same() {
        let mut ranges = vec![DayRange::default(); 4];
        let adds: Vec<(usize, i32, i64, i64)> = (0..500i64)
            .map(|k| {
                let slot = (k % 3) as usize; // slot 3 stays empty
                let days = ((k * 37) % 61 - 5) as i32;
                (slot, days, (k * 7) % 4, k * 100)
            })
            .collect();
        for (slot, days, _, _) in &adds {
            ranges[*slot].add(*days);
        }
        let read = |mut sums: DaySums| {
            for (slot, days, n, cents) in &adds {
                sums.add(*slot, *days, *n, *cents);
            }
            let mut out = Vec::new();
            for slot in 0..ranges.len() {
                sums.each(slot, |days, s| out.push((slot, days, s.n, s.cents)));
            }
            out
        };
        let dense = DaySums::new(ranges.clone(), usize::MAX);
        assert!(matches!(dense, DaySums::Dense { .. }));
        let sparse = DaySums::new(ranges.clone(), 0);
        assert!(matches!(sparse, DaySums::Sparse(_)));
        let (dense, sparse) = (read(dense), read(sparse));
        assert_eq!(dense, sparse);
        assert!(dense.len() > 50, "{} values", dense.len());
        assert!(dense.iter().all(|(slot, ..)| *slot < 3));
        assert!(dense.windows(2).all(|w| w[0].0 < w[1].0 || w[0].1 < w[1].1));
    }
}
