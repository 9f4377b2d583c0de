//! Anomaly checks of an upload against the tenant's earlier uploads (SPEC §3), run when at
//! least 3 earlier successful uploads have a report: volume z-score > 3, missing-value rate
//! of an optional column up by more than 20 points, denied share moved by more than 15
//! points. Baselines are read from the earlier reports' own figures.

use super::report::{Anomaly, OPTIONAL_COLUMNS, QualityReport, round2};

pub const MIN_BASELINE_UPLOADS: usize = 3;
pub const VOLUME_Z: f64 = 3.0;
pub const MISSING_RATE_POINTS: f64 = 20.0;
pub const DENIED_SHARE_POINTS: f64 = 15.0;

/// Fills `report.anomalies` from earlier reports (JSON text, any order). Unreadable
/// earlier reports are skipped.
pub fn check(report: &mut QualityReport, earlier_json: &[String]) {
    let earlier: Vec<QualityReport> = earlier_json
        .iter()
        .filter_map(|j| serde_json::from_str(j).ok())
        .collect();
    if earlier.len() < MIN_BASELINE_UPLOADS {
        return;
    }
    report.anomaly_baseline_uploads = earlier.len() as u64;
    let mut found = Vec::new();

    let volumes: Vec<f64> = earlier.iter().map(|r| r.total_rows as f64).collect();
    let (mean, sd) = mean_sd(&volumes);
    let n = report.total_rows as f64;
    let z = if sd > 0.0 { (n - mean) / sd } else { 0.0 };
    let flagged = if sd > 0.0 {
        z.abs() > VOLUME_Z
    } else {
        // Identical earlier volumes: any change is infinitely many deviations away; only
        // flag a real change (more than 50 %), not a one-row difference.
        mean > 0.0 && (n - mean).abs() / mean > 0.5
    };
    if flagged {
        found.push(Anomaly {
            check: "volume".into(),
            column: None,
            value: n,
            baseline: round2(mean),
            message: format!(
                "row count {} is far from the usual {:.0} (z = {}) of the last {} uploads",
                report.total_rows,
                mean,
                if sd > 0.0 {
                    format!("{z:.1}")
                } else {
                    "∞".into()
                },
                earlier.len()
            ),
        });
    }

    for column in OPTIONAL_COLUMNS {
        let name = column.as_str();
        let Some(current) = report.missing_rates.get(name).copied() else {
            continue;
        };
        let rates: Vec<f64> = earlier
            .iter()
            .filter_map(|r| r.missing_rates.get(name).copied())
            .collect();
        if rates.len() < MIN_BASELINE_UPLOADS {
            continue;
        }
        let (base, _) = mean_sd(&rates);
        if current - base > MISSING_RATE_POINTS {
            found.push(Anomaly {
                check: "missing_rate".into(),
                column: Some(name.into()),
                value: current,
                baseline: round2(base),
                message: format!(
                    "{name} is empty in {current:.1} % of rows, up from {base:.1} % in earlier uploads"
                ),
            });
        }
    }

    if let Some(current) = report.denied_share {
        let shares: Vec<f64> = earlier.iter().filter_map(|r| r.denied_share).collect();
        if shares.len() >= MIN_BASELINE_UPLOADS {
            let (base, _) = mean_sd(&shares);
            if (current - base).abs() > DENIED_SHARE_POINTS {
                found.push(Anomaly {
                    check: "denied_share".into(),
                    column: None,
                    value: current,
                    baseline: round2(base),
                    message: format!(
                        "denied share is {current:.1} %, against {base:.1} % in earlier uploads"
                    ),
                });
            }
        }
    }
    report.anomalies = found;
}

/// Mean and sample standard deviation.
fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::report::Tally;

    fn report(total: u64, missing_text: f64, denied: Option<f64>) -> QualityReport {
        let mut r = Tally::default().into_report("f.csv", vec![]);
        r.total_rows = total;
        r.missing_rates
            .insert("denial_reason_text".into(), missing_text);
        r.denied_share = denied;
        r
    }

    fn json(r: &QualityReport) -> String {
        serde_json::to_string(r).expect("json")
    }

    #[test]
    fn needs_three_earlier_uploads() {
        let mut r = report(1_000_000, 100.0, Some(90.0));
        check(&mut r, &vec![json(&report(100, 0.0, Some(10.0))); 2]);
        assert!(r.anomalies.is_empty());
        assert_eq!(r.anomaly_baseline_uploads, 0);
    }

    #[test]
    fn flags_each_check() {
        let earlier: Vec<String> = [100, 110, 90, 105]
            .iter()
            .map(|n| json(&report(*n, 80.0, Some(12.0))))
            .collect();
        let mut r = report(1_000, 100.5, Some(30.0));
        check(&mut r, &earlier);
        let checks: Vec<&str> = r.anomalies.iter().map(|a| a.check.as_str()).collect();
        assert_eq!(checks, ["volume", "missing_rate", "denied_share"]);

        let mut calm = report(102, 95.0, Some(20.0));
        check(&mut calm, &earlier);
        assert!(calm.anomalies.is_empty(), "{:?}", calm.anomalies);
        assert_eq!(calm.anomaly_baseline_uploads, 4);
    }
}
