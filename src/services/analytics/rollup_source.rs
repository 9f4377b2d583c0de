//! The products' aggregates from the daily rollups (issue 21, `db::repo::rollups`): the
//! same rows the claim-level statements of `repo::analytics` return, built from the
//! stored day × payer × group histograms and day × payer × reason totals. A run reads
//! days × groups rows whatever the number of claims; `DbSource` (claims) stays as the
//! oracle the equivalence test compares against.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::ReportError;
use super::inputs::AggregateSource;
use crate::db::DbConnection;
use crate::db::repo::analytics::{
    BucketBy, DenialRow, PayerDailyDaysRow, PayerDaysRow, PayerTotalsRow, RateDaysRow,
};
use crate::db::repo::rollups::{self, Basis, Cell, DayCounts};
use crate::domain::analytics::windows::Window;
use crate::domain::tenant::TenantScope;

pub struct RollupSource<'a> {
    conn: &'a mut DbConnection,
    scope: &'a TenantScope,
    /// The day rows decided on or after `.0`: loaded once per run by the first (earliest)
    /// window and reused by the later ones.
    cells: Option<(NaiveDate, Vec<Cell>)>,
}

impl<'a> RollupSource<'a> {
    pub fn new(conn: &'a mut DbConnection, scope: &'a TenantScope) -> Self {
        RollupSource {
            conn,
            scope,
            cells: None,
        }
    }

    /// Every counted `(cell, decision days, counts)` of the window: decided in it
    /// (sound), or submitted in it (compat: submitted = decided − days; a claim is never
    /// decided before it is submitted, so its decided day is on or after the start).
    fn entries(
        &mut self,
        bucket: BucketBy,
        w: Window,
    ) -> Result<Vec<(&Cell, NaiveDate, i32, DayCounts)>, ReportError> {
        let reload = match &self.cells {
            Some((from, _)) => *from > w.start,
            None => true,
        };
        if reload {
            let cells = rollups::cells(self.conn, self.scope, Some(w.start), None)?;
            self.cells = Some((w.start, cells));
        }
        let cells = self.cells.as_ref().map_or(&[][..], |(_, c)| c.as_slice());
        let mut out = Vec::new();
        for cell in cells {
            let decided = cell.key.decided;
            if decided < w.start || (bucket == BucketBy::Decided && decided >= w.end) {
                continue;
            }
            for (days, counts) in &cell.days {
                let Some(submitted) =
                    decided.checked_sub_days(chrono::Days::new(u64::try_from(*days).unwrap_or(0)))
                else {
                    continue;
                };
                if bucket == BucketBy::Submitted && (submitted < w.start || submitted >= w.end) {
                    continue;
                }
                out.push((cell, submitted, *days, *counts));
            }
        }
        Ok(out)
    }
}

impl AggregateSource for RollupSource<'_> {
    fn rate_days(&mut self, b: BucketBy, w: Window) -> Result<Vec<RateDaysRow>, ReportError> {
        let mut acc: BTreeMap<(String, String, &'static str, i32), (i64, i64)> = BTreeMap::new();
        for (cell, _, days, c) in self.entries(b, w)? {
            for (outcome, n, cents) in [
                ("PAID", c.paid, c.paid_cents),
                ("DENIED", c.denied, c.denied_cents),
            ] {
                if n == 0 {
                    continue;
                }
                let key = (
                    cell.key.payer.clone(),
                    cell.key.cpt_group.clone(),
                    outcome,
                    days,
                );
                let e = acc.entry(key).or_default();
                e.0 += n;
                e.1 += cents;
            }
        }
        Ok(acc
            .into_iter()
            .map(
                |((payer, cpt_group, outcome, decision_days), (n, cents))| RateDaysRow {
                    payer,
                    cpt_group,
                    outcome: outcome.to_string(),
                    decision_days,
                    n,
                    cents,
                },
            )
            .collect())
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
        let mut acc: BTreeMap<String, (PayerTotalsRow, BTreeSet<NaiveDate>)> = BTreeMap::new();
        for (cell, submitted, _, c) in self.entries(b, w)? {
            if c.claims() == 0 {
                continue;
            }
            let (row, days) = acc.entry(cell.key.payer.clone()).or_insert_with(|| {
                (
                    PayerTotalsRow {
                        payer: cell.key.payer.clone(),
                        paid: 0,
                        denied: 0,
                        allowed_cents: 0,
                        submit_days: 0,
                    },
                    BTreeSet::new(),
                )
            });
            row.paid += c.paid;
            row.denied += c.denied;
            row.allowed_cents += c.cents();
            days.insert(submitted);
        }
        Ok(acc
            .into_values()
            .map(|(mut row, days)| {
                row.submit_days = i64::try_from(days.len()).unwrap_or(i64::MAX);
                row
            })
            .collect())
    }

    fn payer_days(&mut self, b: BucketBy, w: Window) -> Result<Vec<PayerDaysRow>, ReportError> {
        let mut acc: BTreeMap<(String, i32), i64> = BTreeMap::new();
        for (cell, _, days, c) in self.entries(b, w)? {
            if c.claims() != 0 {
                *acc.entry((cell.key.payer.clone(), days)).or_default() += c.claims();
            }
        }
        Ok(acc
            .into_iter()
            .map(|((payer, decision_days), n)| PayerDaysRow {
                payer,
                decision_days,
                n,
            })
            .collect())
    }

    fn payer_daily_days(&mut self, w: Window) -> Result<Vec<PayerDailyDaysRow>, ReportError> {
        let mut acc: BTreeMap<(String, NaiveDate, i32), i64> = BTreeMap::new();
        for (cell, _, days, c) in self.entries(BucketBy::Decided, w)? {
            if c.claims() != 0 {
                *acc.entry((cell.key.payer.clone(), cell.key.decided, days))
                    .or_default() += c.claims();
            }
        }
        Ok(acc
            .into_iter()
            .map(
                |((payer, decided_date, decision_days), n)| PayerDailyDaysRow {
                    payer,
                    decided_date,
                    decision_days,
                    n,
                },
            )
            .collect())
    }
}
