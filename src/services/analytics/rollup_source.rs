//! The products' aggregates from the daily rollups (issue 21, `db::repo::rollups`): the
//! same rows the claim-level statements of `repo::analytics` return, built from the
//! stored day × payer × group histograms and day × payer × reason totals. A run reads
//! days × groups rows whatever the number of claims; `DbSource` (claims) stays as the
//! oracle the equivalence test compares against.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, NaiveDate};

use super::ReportError;
use super::inputs::AggregateSource;
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
    /// The day rows decided on or after `from`: loaded once per run by the first
    /// (earliest) window and reused by the later ones.
    loaded: Option<Loaded>,
}

/// Day rows with their names interned: the aggregates below accumulate by index, so a
/// run's cost per histogram entry is a few integer operations, not string keys.
struct Loaded {
    from: NaiveDate,
    rows: Vec<Row>,
    payers: Vec<String>,
    /// (payer index, CPT group)
    pairs: Vec<(usize, String)>,
}

struct Row {
    /// Days from the common era (`NaiveDate::num_days_from_ce`).
    decided: i32,
    payer: usize,
    pair: usize,
    days: DayEntries,
}

impl Loaded {
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
            for (days, counts) in &row.days {
                let submitted = row.decided - (*days).max(0);
                if bucket == BucketBy::Submitted && (submitted < start || submitted >= end) {
                    continue;
                }
                f(row, submitted, *days, counts);
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

    /// The day rows from the window's start on (read again only when a window starts
    /// before what is loaded).
    fn rows_for(&mut self, w: Window) -> Result<&Loaded, ReportError> {
        let reload = self.loaded.as_ref().is_none_or(|l| l.from > w.start);
        if reload {
            let mut payer_ids: HashMap<String, usize> = HashMap::new();
            let mut pair_ids: HashMap<(usize, String), usize> = HashMap::new();
            let mut loaded = Loaded {
                from: w.start,
                rows: Vec::new(),
                payers: Vec::new(),
                pairs: Vec::new(),
            };
            for cell in rollups::cell_entries(self.conn, self.scope, w.start)? {
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
                        pair_ids.insert(pair_key, id);
                        id
                    }
                };
                loaded.rows.push(Row {
                    decided: cell.key.decided.num_days_from_ce(),
                    payer,
                    pair,
                    days: cell.days,
                });
            }
            self.loaded = Some(loaded);
        }
        self.loaded
            .as_ref()
            .ok_or_else(|| ReportError::Window("no rollup rows loaded".into()))
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
        // Per (payer, group): (outcome, days) → (claims, cents); outcome 0 = DENIED,
        // 1 = PAID (the statements' text order).
        let mut acc: Vec<BTreeMap<(u8, i32), (i64, i64)>> =
            vec![BTreeMap::new(); loaded.pairs.len()];
        loaded.visit(b, w, |row, _, days, c| {
            let pair = &mut acc[row.pair];
            for (outcome, n, cents) in [(0u8, c.denied, c.denied_cents), (1, c.paid, c.paid_cents)]
            {
                if n != 0 {
                    let e = pair.entry((outcome, days)).or_default();
                    e.0 += n;
                    e.1 += cents;
                }
            }
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
            for ((outcome, decision_days), (n, cents)) in &acc[i] {
                out.push(RateDaysRow {
                    payer: loaded.payers[*payer].clone(),
                    cpt_group: group.clone(),
                    outcome: if *outcome == 0 { "DENIED" } else { "PAID" }.to_string(),
                    decision_days: *decision_days,
                    n: *n,
                    cents: *cents,
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
        let mut acc: Vec<BTreeMap<i32, i64>> = vec![BTreeMap::new(); loaded.payers.len()];
        loaded.visit(b, w, |row, _, days, c| {
            if c.claims() != 0 {
                *acc[row.payer].entry(days).or_default() += c.claims();
            }
        });
        let mut out = Vec::new();
        for p in loaded.payer_order() {
            for (decision_days, n) in &acc[p] {
                out.push(PayerDaysRow {
                    payer: loaded.payers[p].clone(),
                    decision_days: *decision_days,
                    n: *n,
                });
            }
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
