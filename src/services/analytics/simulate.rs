//! The false-alarm / recall benchmark's engine (`payerwatch compute --simulate`): claims
//! files — generated, or given — read through the upload's own row checks (validation, PHI
//! screen, default CPT groups, payer identity as a tenant with no aliases gets it), held in
//! memory, and evaluated by the same aggregate-to-rules code a real run uses
//! (`inputs::evaluate_from`, fed by `MemorySource` instead of SQL). No database: a thousand
//! files of 60,000 rows take minutes, not hours. The SQL aggregates themselves are covered by
//! the integration tests on both databases.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::Serialize;

use super::ReportError;
use super::inputs::evaluate_from;
use super::source::AggregateSource;
use crate::db::repo::analytics::{
    BucketBy, DenialRow, PayerDailyDaysRow, PayerDaysRow, PayerTotalsRow, RateDaysRow,
};
use crate::domain::analytics::windows::{self, Window};
use crate::domain::analytics::{Finding, FindingKind, Mode, Product};
use crate::domain::{claim, csv_format, mapping, payer_identity, phi};

/// One decided claim as the aggregates see it.
#[derive(Debug, Clone)]
pub struct SimClaim {
    pub payer: String,
    pub cpt_group: &'static str,
    pub submitted: NaiveDate,
    pub decided: NaiveDate,
    pub outcome: claim::Outcome,
    pub cents: i64,
    pub reason_code: Option<String>,
    pub reason_text: Option<String>,
}

impl SimClaim {
    fn in_window(&self, b: BucketBy, w: Window) -> bool {
        match b {
            BucketBy::Decided => w.contains(self.decided),
            BucketBy::Submitted => w.contains(self.submitted),
        }
    }

    fn decision_days(&self) -> i32 {
        i32::try_from((self.decided - self.submitted).num_days()).unwrap_or(i32::MAX)
    }

    fn decided_outcome(&self) -> Option<&'static str> {
        match self.outcome {
            claim::Outcome::Paid => Some("PAID"),
            claim::Outcome::Denied => Some("DENIED"),
            claim::Outcome::Other => None,
        }
    }
}

/// Reads a claims CSV as an upload on `today` would accept it; payers canonicalised as for a
/// tenant without aliases (built-in names, else spellings sharing a key merged).
pub fn claims_from_csv(bytes: &[u8], today: NaiveDate) -> Vec<SimClaim> {
    let mut claims = accepted_rows(bytes, today);
    let mut spellings: HashMap<String, u64> = HashMap::new();
    for c in &claims {
        *spellings.entry(c.payer.clone()).or_default() += 1;
    }
    let spellings: Vec<(String, u64)> = spellings.into_iter().collect();
    let resolved = payer_identity::resolve(&spellings, |_| None);
    for c in &mut claims {
        if let Some(r) = resolved.get(&c.payer) {
            c.payer = r.canonical.clone();
        }
    }
    claims
}

/// The rows of a claims CSV an upload on `today` would store (the upload's row checks and
/// PHI screen of payer, reason text and reason code), payers as written, CPT groups the
/// defaults.
pub(super) fn accepted_rows(bytes: &[u8], today: NaiveDate) -> Vec<SimClaim> {
    let mut reader = csv::Reader::from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map(|h| h.iter().map(str::to_string).collect())
        .unwrap_or_default();
    let refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    let Ok(map) = csv_format::resolve_headers(&refs) else {
        return Vec::new();
    };
    let mut claims = Vec::new();
    for record in reader.records().flatten() {
        let raw = map.raw_row(&record);
        let Ok(v) = claim::validate_row(&raw, today) else {
            continue;
        };
        if phi::contains_phi(v.payer)
            || v.denial_reason_text.is_some_and(phi::contains_phi)
            || v.denial_reason_code.is_some_and(phi::contains_phi)
        {
            continue;
        }
        claims.push(SimClaim {
            payer: v.payer.to_string(),
            cpt_group: mapping::default_cpt_group(v.cpt.as_str()),
            submitted: v.submitted_date,
            decided: v.decided_date,
            outcome: v.outcome,
            cents: v.allowed_cents.unwrap_or(0),
            reason_code: v.denial_reason_code.map(str::to_string),
            reason_text: v.denial_reason_text.map(str::to_string),
        });
    }
    claims
}

/// The aggregates of `repo::analytics`, computed over claims in memory.
pub struct MemorySource<'a> {
    pub claims: &'a [SimClaim],
}

impl AggregateSource for MemorySource<'_> {
    fn rate_days(&mut self, b: BucketBy, w: Window) -> Result<Vec<RateDaysRow>, ReportError> {
        let mut acc: BTreeMap<(&str, &str, &str, i32), (i64, i64)> = BTreeMap::new();
        for c in self.claims.iter().filter(|c| c.in_window(b, w)) {
            let Some(outcome) = c.decided_outcome() else {
                continue;
            };
            let e = acc
                .entry((&c.payer, c.cpt_group, outcome, c.decision_days()))
                .or_default();
            e.0 += 1;
            e.1 += c.cents;
        }
        Ok(acc
            .into_iter()
            .map(|((payer, group, outcome, days), (n, cents))| RateDaysRow {
                payer: payer.to_string(),
                cpt_group: group.to_string(),
                outcome: outcome.to_string(),
                decision_days: days,
                n,
                cents,
            })
            .collect())
    }

    fn denials_by_reason(&mut self, b: BucketBy, w: Window) -> Result<Vec<DenialRow>, ReportError> {
        type Key<'k> = (&'k str, Option<&'k str>, Option<&'k str>);
        let mut acc: BTreeMap<Key<'_>, (i64, i64)> = BTreeMap::new();
        for c in self.claims.iter().filter(|c| c.in_window(b, w)) {
            if c.outcome != claim::Outcome::Denied {
                continue;
            }
            let e = acc
                .entry((&c.payer, c.reason_code.as_deref(), c.reason_text.as_deref()))
                .or_default();
            e.0 += 1;
            e.1 += c.cents;
        }
        Ok(acc
            .into_iter()
            .map(|((payer, code, text), (n, cents))| DenialRow {
                payer: payer.to_string(),
                denial_reason_code: code.map(str::to_string),
                denial_reason_text: text.map(str::to_string),
                n,
                cents,
            })
            .collect())
    }

    fn payer_totals(&mut self, b: BucketBy, w: Window) -> Result<Vec<PayerTotalsRow>, ReportError> {
        #[derive(Default)]
        struct Acc {
            paid: i64,
            denied: i64,
            cents: i64,
            submit_days: std::collections::HashSet<NaiveDate>,
        }
        let mut acc: BTreeMap<&str, Acc> = BTreeMap::new();
        for c in self.claims.iter().filter(|c| c.in_window(b, w)) {
            let e = acc.entry(&c.payer).or_default();
            match c.outcome {
                claim::Outcome::Paid => e.paid += 1,
                claim::Outcome::Denied => e.denied += 1,
                claim::Outcome::Other => {}
            }
            e.cents += c.cents;
            e.submit_days.insert(c.submitted);
        }
        Ok(acc
            .into_iter()
            .map(|(payer, a)| PayerTotalsRow {
                payer: payer.to_string(),
                paid: a.paid,
                denied: a.denied,
                allowed_cents: a.cents,
                submit_days: a.submit_days.len() as i64,
            })
            .collect())
    }

    fn payer_days(&mut self, b: BucketBy, w: Window) -> Result<Vec<PayerDaysRow>, ReportError> {
        let mut acc: BTreeMap<(&str, i32), i64> = BTreeMap::new();
        for c in self.claims.iter().filter(|c| c.in_window(b, w)) {
            *acc.entry((&c.payer, c.decision_days())).or_default() += 1;
        }
        Ok(acc
            .into_iter()
            .map(|((payer, days), n)| PayerDaysRow {
                payer: payer.to_string(),
                decision_days: days,
                n,
            })
            .collect())
    }

    fn claims_in(&mut self, b: BucketBy, w: Window) -> Result<i64, ReportError> {
        Ok(self.claims.iter().filter(|c| c.in_window(b, w)).count() as i64)
    }

    fn payer_daily_days(&mut self, w: Window) -> Result<Vec<PayerDailyDaysRow>, ReportError> {
        let mut acc: BTreeMap<(&str, NaiveDate, i32), i64> = BTreeMap::new();
        for c in self.claims.iter().filter(|c| w.contains(c.decided)) {
            *acc.entry((&c.payer, c.decided, c.decision_days()))
                .or_default() += 1;
        }
        Ok(acc
            .into_iter()
            .map(|((payer, decided_date, days), n)| PayerDailyDaysRow {
                payer: payer.to_string(),
                decided_date,
                decision_days: days,
                n,
            })
            .collect())
    }
}

/// One finding of a simulated run, as the benchmark reports it.
#[derive(Debug, Clone, Serialize)]
pub struct SimFinding {
    pub product: &'static str,
    pub kind: &'static str,
    pub payer: String,
    pub group: String,
    pub members: Vec<String>,
    pub severity: &'static str,
    pub dollars_per_month: Option<f64>,
}

impl SimFinding {
    fn of(f: &Finding) -> Self {
        Self {
            product: f.product.as_str(),
            kind: f.kind.as_str(),
            payer: f.payer.clone(),
            group: f.group.clone(),
            members: f.group_members.clone(),
            severity: f.severity_label.as_str(),
            dollars_per_month: f.dollars_per_month,
        }
    }
}

/// The findings (events) each product raises on `claims` in `mode`, as of the day after the
/// latest decision.
pub fn evaluate_claims(claims: &[SimClaim], mode: Mode) -> Result<Vec<SimFinding>, ReportError> {
    let Some(latest) = claims.iter().map(|c| c.decided).max() else {
        return Ok(Vec::new());
    };
    let as_of = windows::as_of_after(latest).map_err(|e| ReportError::Window(e.to_string()))?;
    let mut found = Vec::new();
    for product in Product::ALL {
        let evaluation = evaluate_from(&mut MemorySource { claims }, product, mode, as_of)?;
        found.extend(evaluation.outcome.events().map(SimFinding::of));
    }
    Ok(found)
}

/// Findings about one injected change.
pub fn matches_change(
    findings: &[SimFinding],
    product: Product,
    kind: FindingKind,
    payer: &str,
) -> usize {
    findings
        .iter()
        .filter(|f| f.product == product.as_str() && f.kind == kind.as_str() && f.payer == payer)
        .count()
}

/// The three changes both generators inject (ANALYTICS.md "Acceptance on generated data").
pub const INJECTED: [(&str, &str); 4] = [
    ("denial_rate", "Cigna × IMAGING denial rate (DriftWatch)"),
    ("decision_time", "Humana +12 days (DriftWatch)"),
    ("slowdown", "Humana +12 days (DelayGuard)"),
    ("reason", "UnitedHealthcare CO-197 surge (DenialScope)"),
];

/// Findings about each injected change in one run, in `INJECTED` order.
pub fn injected_hits(findings: &[SimFinding]) -> [usize; 4] {
    let about = |f: &SimFinding, product: &str, payer: &str, group: &str| {
        f.product == product
            && f.payer == payer
            && (group.is_empty() || f.group == group || f.members.iter().any(|m| m == group))
    };
    [
        findings
            .iter()
            .filter(|f| f.kind == "denial_rate" && about(f, "drift_watch", "Cigna", "IMAGING"))
            .count(),
        findings
            .iter()
            .filter(|f| f.kind == "decision_time" && about(f, "drift_watch", "Humana", ""))
            .count(),
        findings
            .iter()
            .filter(|f| f.kind == "slowdown" && about(f, "delay_guard", "Humana", ""))
            .count(),
        findings
            .iter()
            .filter(|f| about(f, "denial_scope", "UnitedHealthcare", "CO-197"))
            .count(),
    ]
}

/// Runs over many datasets: per product, runs with any finding; per injected change, runs
/// where it was found as exactly one finding, and as at least one.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Tally {
    pub runs: u32,
    pub runs_with_findings: BTreeMap<&'static str, u32>,
    pub found_once: [u32; 4],
    pub found_at_all: [u32; 4],
    /// Findings not about an injected change (on no-drift data: every finding).
    pub other_findings: u32,
}

impl Tally {
    pub fn add(&mut self, findings: &[SimFinding]) {
        self.runs += 1;
        for product in Product::ALL.map(Product::as_str) {
            if findings.iter().any(|f| f.product == product) {
                *self.runs_with_findings.entry(product).or_default() += 1;
            }
        }
        let hits = injected_hits(findings);
        for (i, n) in hits.iter().enumerate() {
            self.found_once[i] += u32::from(*n == 1);
            self.found_at_all[i] += u32::from(*n >= 1);
        }
        self.other_findings +=
            (findings.len() - hits.iter().sum::<usize>().min(findings.len())) as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devtools::generate::{GenOptions, generate};

    fn generated(seed: u64, rows: u64, drift: bool) -> Vec<SimClaim> {
        let options = GenOptions {
            rows,
            seed,
            drift,
            ..GenOptions::default()
        };
        let mut bytes = Vec::new();
        let _ = generate(&options, &mut bytes);
        claims_from_csv(&bytes, options.end)
    }

    /// The CI-sized guard of the false-alarm benchmark (`scripts/bench-false-alarms` gives
    /// the full figures): 20 no-drift files of 10,000 rows, at most 2 runs with any finding
    /// per product.
    #[test]
    fn no_drift_guard_twenty_files_of_ten_thousand_rows() {
        let mut runs_with_findings: BTreeMap<&'static str, u32> = BTreeMap::new();
        for seed in 0..20 {
            let claims = generated(1_000 + seed, 10_000, false);
            assert!(claims.len() > 9_000);
            let found = evaluate_claims(&claims, Mode::Sound).expect("evaluates");
            let mut products: Vec<&'static str> = found.iter().map(|f| f.product).collect();
            products.dedup();
            for p in products {
                *runs_with_findings.entry(p).or_default() += 1;
            }
        }
        for (product, runs) in &runs_with_findings {
            assert!(
                *runs <= 2,
                "{product}: {runs} of 20 no-drift runs raised findings"
            );
        }
    }

    #[test]
    fn injected_changes_are_found_once_each() {
        let claims = generated(7, 60_000, true);
        let found = evaluate_claims(&claims, Mode::Sound).expect("evaluates");
        let rate: Vec<&SimFinding> = found
            .iter()
            .filter(|f| f.kind == "denial_rate" && f.payer == "Cigna")
            .collect();
        assert_eq!(rate.len(), 1, "{found:#?}");
        assert_eq!(rate[0].group, "IMAGING");
        assert_eq!(
            matches_change(
                &found,
                Product::DriftWatch,
                FindingKind::DecisionTime,
                "Humana"
            ),
            1,
            "{found:#?}"
        );
        assert_eq!(
            matches_change(&found, Product::DelayGuard, FindingKind::Slowdown, "Humana"),
            1
        );
        let surge: Vec<&SimFinding> = found
            .iter()
            .filter(|f| f.product == "denial_scope" && f.payer == "UnitedHealthcare")
            .collect();
        assert_eq!(surge.len(), 1, "{found:#?}");
        assert_eq!(surge[0].group, "CO-197");
    }
}
