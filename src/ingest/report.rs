//! The quality report of an upload (SPEC §3): running counts gathered row by row
//! ([`Tally`], fixed-size arrays and hashed sets, nothing that grows with repeated values)
//! and the serialisable [`QualityReport`] stored as JSON in `upload_reports`.
//!
//! The report holds counts, column names, reason codes, dates, and payer names that passed
//! the PHI check — never a rejected value.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::{Hash, Hasher};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::claim::{Column, CptCode, Outcome, RejectReason};

/// Optional columns whose missing-value rate is tracked (anomaly check).
pub const OPTIONAL_COLUMNS: [Column; 3] = [
    Column::AllowedAmount,
    Column::DenialReasonCode,
    Column::DenialReasonText,
];

/// Unmapped payer names listed by name in the report (all are counted).
const UNMAPPED_LISTED: usize = 50;

/// Running counts of one upload.
#[derive(Debug, Default)]
pub struct Tally {
    pub total: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub warnings: u64,
    pub rejection_lines: u64,
    by_reason: [u64; RejectReason::ALL.len()],
    by_column: [u64; 8],
    missing: [u64; 3],
    outcomes: [u64; 3],
    submitted: Option<(NaiveDate, NaiveDate)>,
    decided: Option<(NaiveDate, NaiveDate)>,
    payers: HashSet<u64>,
    cpts: HashSet<CptCode>,
    unmapped: HashSet<u64>,
    unmapped_names: BTreeSet<String>,
}

fn hash_of(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

fn widen(range: &mut Option<(NaiveDate, NaiveDate)>, d: NaiveDate) {
    *range = Some(match *range {
        None => (d, d),
        Some((lo, hi)) => (lo.min(d), hi.max(d)),
    });
}

impl Tally {
    /// Counts the empty optional cells of any row (accepted or not).
    pub fn missing_optional(&mut self, empty: [bool; 3]) {
        for (slot, e) in self.missing.iter_mut().zip(empty) {
            *slot += u64::from(e);
        }
    }

    /// A rejected row with its problems (already deduplicated per (column, reason)).
    pub fn rejected_row(&mut self, problems: &[(Column, RejectReason)]) {
        self.rejected += 1;
        self.rejection_lines += problems.len() as u64;
        let mut reasons = [false; RejectReason::ALL.len()];
        let mut columns = [false; 8];
        for (c, r) in problems {
            reasons[r.index()] = true;
            columns[c.index()] = true;
        }
        for (slot, hit) in self.by_reason.iter_mut().zip(reasons) {
            *slot += u64::from(hit);
        }
        for (slot, hit) in self.by_column.iter_mut().zip(columns) {
            *slot += u64::from(hit);
        }
    }

    /// An accepted row. `payer` is the canonical payer; `unmapped_raw` is set when no alias
    /// applied.
    #[allow(clippy::too_many_arguments)]
    pub fn accepted_row(
        &mut self,
        payer: &str,
        unmapped_raw: Option<&str>,
        cpt: CptCode,
        outcome: Outcome,
        submitted: NaiveDate,
        decided: NaiveDate,
    ) {
        self.accepted += 1;
        let o = match outcome {
            Outcome::Paid => 0,
            Outcome::Denied => 1,
            Outcome::Other => 2,
        };
        self.outcomes[o] += 1;
        self.warnings += u64::from(outcome == Outcome::Other);
        widen(&mut self.submitted, submitted);
        widen(&mut self.decided, decided);
        self.payers.insert(hash_of(payer));
        self.cpts.insert(cpt);
        if let Some(raw) = unmapped_raw
            && self.unmapped.insert(hash_of(raw))
            && self.unmapped_names.len() < UNMAPPED_LISTED
        {
            self.unmapped_names.insert(raw.to_owned());
        }
    }

    /// The report (anomalies are added by the caller).
    pub fn into_report(self, file_name: &str, unknown_columns: Vec<String>) -> QualityReport {
        let pct =
            |part: u64, whole: u64| (whole > 0).then(|| round2(part as f64 * 100.0 / whole as f64));
        let quality_score = pct(self.accepted, self.total);
        QualityReport {
            version: 1,
            file_name: file_name.to_owned(),
            total_rows: self.total,
            accepted_rows: self.accepted,
            rejected_rows: self.rejected,
            warning_rows: self.warnings,
            rejection_lines: self.rejection_lines,
            quality_score,
            quality_warning: quality_score.is_some_and(|s| s < 90.0),
            rejected_by_reason: RejectReason::ALL
                .into_iter()
                .map(|r| (r.as_str().to_owned(), self.by_reason[r.index()]))
                .collect(),
            rejected_by_column: Column::ALL
                .into_iter()
                .map(|c| (c.as_str().to_owned(), self.by_column[c.index()]))
                .collect(),
            unknown_columns,
            date_range: match (self.submitted, self.decided) {
                (Some(s), Some(d)) => Some(DateRange {
                    submitted_from: s.0,
                    submitted_to: s.1,
                    decided_from: d.0,
                    decided_to: d.1,
                }),
                _ => None,
            },
            distinct_payers: self.payers.len() as u64,
            distinct_cpt_codes: self.cpts.len() as u64,
            unmapped_payers: UnmappedPayers {
                count: self.unmapped.len() as u64,
                truncated: self.unmapped.len() > self.unmapped_names.len(),
                names: self.unmapped_names.into_iter().collect(),
            },
            outcomes: OutcomeMix {
                paid: self.outcomes[0],
                denied: self.outcomes[1],
                other: self.outcomes[2],
            },
            denied_share: pct(self.outcomes[1], self.accepted),
            missing_rates: OPTIONAL_COLUMNS
                .iter()
                .zip(self.missing)
                .filter_map(|(c, m)| pct(m, self.total).map(|p| (c.as_str().to_owned(), p)))
                .collect(),
            anomalies: Vec::new(),
            anomaly_baseline_uploads: 0,
            x12: None,
        }
    }
}

pub fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DateRange {
    pub submitted_from: NaiveDate,
    pub submitted_to: NaiveDate,
    pub decided_from: NaiveDate,
    pub decided_to: NaiveDate,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UnmappedPayers {
    pub count: u64,
    pub names: Vec<String>,
    pub truncated: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutcomeMix {
    pub paid: u64,
    pub denied: u64,
    pub other: u64,
}

/// One anomaly finding against the tenant's earlier uploads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// `volume`, `missing_rate` or `denied_share`.
    pub check: String,
    /// The optional column, for `missing_rate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub value: f64,
    pub baseline: f64,
    pub message: String,
}

/// The stored quality report (JSON in `upload_reports.report_json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    pub version: u32,
    pub file_name: String,
    pub total_rows: u64,
    pub accepted_rows: u64,
    pub rejected_rows: u64,
    /// Accepted rows whose outcome mapped to `OTHER`.
    pub warning_rows: u64,
    /// Stored rejection lines (one per column and reason).
    pub rejection_lines: u64,
    /// accepted / total × 100, two decimals; `None` for a file without rows.
    pub quality_score: Option<f64>,
    /// Score below 90: the page warns and a data-quality alert is due.
    pub quality_warning: bool,
    /// Rejected rows per reason code (a row counts once per reason).
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Rejected rows per column.
    pub rejected_by_column: BTreeMap<String, u64>,
    pub unknown_columns: Vec<String>,
    pub date_range: Option<DateRange>,
    pub distinct_payers: u64,
    pub distinct_cpt_codes: u64,
    pub unmapped_payers: UnmappedPayers,
    /// Outcomes of accepted rows.
    pub outcomes: OutcomeMix,
    /// Denied share of accepted rows, percent.
    pub denied_share: Option<f64>,
    /// Empty cells of each optional column over all rows, percent.
    pub missing_rates: BTreeMap<String, f64>,
    pub anomalies: Vec<Anomaly>,
    /// Earlier uploads the anomaly checks compared against (0: fewer than 3, not run).
    pub anomaly_baseline_uploads: u64,
    /// For an X12 835 upload: what the file held (rows are its service lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x12: Option<X12Report>,
}

/// Counts of an 835 upload (SPEC §2a): transactions, claims and service lines, the
/// reversals reported but not stored, and which element gave the submitted dates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct X12Report {
    pub transactions: u64,
    pub claims: u64,
    pub service_lines: u64,
    /// Claims of CLP02 = 22: each reverses an earlier claim (same payer, CLP01, CLP07).
    #[serde(default)]
    pub reversal_claims: u64,
    /// Lines of CLP02 = 22 claims: they reverse earlier decisions and are not stored.
    pub reversal_lines: u64,
    /// Reversal claims that found no stored claim to reverse.
    #[serde(default)]
    pub reversals_unmatched: u64,
    /// Stored claim lines marked reversed (left out of analytics from now on): from
    /// earlier uploads, and from this file (claims before their reversal).
    #[serde(default)]
    pub reversed_lines_earlier_uploads: u64,
    #[serde(default)]
    pub reversed_lines_this_file: u64,
    pub claims_without_lines: u64,
    /// Paid lines that paid less than allowed (stored as PAID).
    pub partial_lines: u64,
    pub submitted_from_received: u64,
    pub submitted_from_statement: u64,
    pub submitted_from_service: u64,
    /// False when the file starts at ST (accepted, with a warning).
    pub enveloped: bool,
    pub warnings: Vec<String>,
}

impl X12Report {
    /// What the upload's reversals did once matched (`repo::reversals::apply`);
    /// `keyed`: the ingest had the instance's claim keys.
    pub fn add_reversals(&mut self, applied: &crate::db::repo::reversals::Applied, keyed: bool) {
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        self.reversals_unmatched = n(applied.unmatched);
        self.reversed_lines_earlier_uploads = n(applied.lines_from_earlier_uploads);
        self.reversed_lines_this_file = n(applied.lines_from_this_file);
        if applied.unmatched > 0 {
            self.warnings.push(if keyed {
                format!(
                    "{} reversal claims (CLP02 = 22) found no earlier claim to reverse (not uploaded yet, or from another payer or practice)",
                    applied.unmatched
                )
            } else {
                format!(
                    "{} reversal claims (CLP02 = 22) were not matched: this import ran without the instance's secret key",
                    applied.unmatched
                )
            });
        }
    }

    pub fn from_summary(s: &super::x12::Summary) -> X12Report {
        let c = &s.counts;
        let mut warnings = Vec::new();
        if !s.enveloped {
            warnings.push(
                "the file has no ISA/GS envelope (it starts at ST); read with the usual delimiters"
                    .to_string(),
            );
        }
        if c.reversal_claims > 0 {
            warnings.push(format!(
                "{} claims ({} service lines) reverse earlier claims (CLP02 = 22); they are not counted as decisions, and the claims they reverse are left out of analytics",
                c.reversal_claims, c.reversal_lines
            ));
        }
        X12Report {
            transactions: c.transactions,
            claims: c.claims,
            service_lines: c.service_lines,
            reversal_claims: c.reversal_claims,
            reversal_lines: c.reversal_lines,
            reversals_unmatched: 0,
            reversed_lines_earlier_uploads: 0,
            reversed_lines_this_file: 0,
            claims_without_lines: c.claims_without_lines,
            partial_lines: c.partial_lines,
            submitted_from_received: c.submitted_from_received,
            submitted_from_statement: c.submitted_from_statement,
            submitted_from_service: c.submitted_from_service,
            enveloped: s.enveloped,
            warnings,
        }
    }
}

impl QualityReport {
    /// The score in hundredths (`uploads.quality_score_centi`).
    pub fn score_centi(&self) -> Option<i64> {
        self.quality_score.map(|s| (s * 100.0).round() as i64)
    }

    /// Human-readable summary for the command line.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "Quality report for {}", self.file_name);
        if let Some(x) = &self.x12 {
            let _ = writeln!(
                s,
                "  X12 835: {} transaction sets, {} claims, {} service lines ({} reversal claims with {} lines not stored, {} claims without lines); submitted date from DTM*050 {}, DTM*233 {}, DTM*472 {}",
                x.transactions,
                x.claims,
                x.service_lines,
                x.reversal_claims,
                x.reversal_lines,
                x.claims_without_lines,
                x.submitted_from_received,
                x.submitted_from_statement,
                x.submitted_from_service
            );
            if x.reversal_claims > 0 {
                let _ = writeln!(
                    s,
                    "  reversals: {} claim lines reversed from earlier uploads, {} from this file, {} reversal claims unmatched",
                    x.reversed_lines_earlier_uploads,
                    x.reversed_lines_this_file,
                    x.reversals_unmatched
                );
            }
            for w in &x.warnings {
                let _ = writeln!(s, "  warning: {w}");
            }
        }
        let _ = writeln!(
            s,
            "  rows: {} total, {} accepted, {} rejected, {} outcome warnings",
            self.total_rows, self.accepted_rows, self.rejected_rows, self.warning_rows
        );
        match self.quality_score {
            Some(q) => {
                let _ = writeln!(
                    s,
                    "  quality score: {q:.2}{}",
                    if self.quality_warning {
                        "  (WARNING: below 90)"
                    } else {
                        ""
                    }
                );
            }
            None => {
                let _ = writeln!(s, "  quality score: n/a");
            }
        }
        let reasons: Vec<String> = self
            .rejected_by_reason
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        if !reasons.is_empty() {
            let _ = writeln!(s, "  rejected rows by reason: {}", reasons.join(", "));
        }
        let columns: Vec<String> = self
            .rejected_by_column
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        if !columns.is_empty() {
            let _ = writeln!(s, "  rejected rows by column: {}", columns.join(", "));
        }
        if !self.unknown_columns.is_empty() {
            let _ = writeln!(
                s,
                "  unknown columns (ignored): {}",
                self.unknown_columns.join(", ")
            );
        }
        if let Some(d) = &self.date_range {
            let _ = writeln!(
                s,
                "  decided {} to {}, submitted {} to {}",
                d.decided_from, d.decided_to, d.submitted_from, d.submitted_to
            );
        }
        let _ = writeln!(
            s,
            "  distinct payers: {}, distinct CPT codes: {}, unmapped payer names: {}",
            self.distinct_payers, self.distinct_cpt_codes, self.unmapped_payers.count
        );
        let _ = writeln!(
            s,
            "  outcomes: {} paid, {} denied, {} other",
            self.outcomes.paid, self.outcomes.denied, self.outcomes.other
        );
        if self.anomaly_baseline_uploads == 0 {
            let _ = writeln!(s, "  anomaly checks: need 3 earlier uploads");
        } else if self.anomalies.is_empty() {
            let _ = writeln!(
                s,
                "  anomaly checks: none against {} earlier uploads",
                self.anomaly_baseline_uploads
            );
        } else {
            for a in &self.anomalies {
                let _ = writeln!(s, "  ANOMALY: {}", a.message);
            }
        }
        s
    }
}
