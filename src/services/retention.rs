//! Retention: the purge of expired data (audit events past their retention, expired
//! sessions and links), run by `payerwatch purge`.

use chrono::NaiveDateTime;

use crate::db::repo::retention::{self, PurgePlan, PurgeReport};
use crate::db::{Db, DbError};

/// Default audit retention (SPEC §7).
pub const DEFAULT_AUDIT_RETENTION_YEARS: u32 = 6;

/// The instant before which audit events go: `days` back, or 6 calendar years back.
pub fn audit_cutoff(now: NaiveDateTime, days: Option<u32>) -> NaiveDateTime {
    match days {
        Some(days) => now - chrono::Duration::days(i64::from(days)),
        None => now
            .checked_sub_months(chrono::Months::new(DEFAULT_AUDIT_RETENTION_YEARS * 12))
            .unwrap_or(now - chrono::Duration::days(2192)),
    }
}

/// Runs the retention purge (or counts, with `dry_run`) in one transaction.
pub fn purge(
    db: &Db,
    now: NaiveDateTime,
    older_than_days: Option<u32>,
    dry_run: bool,
) -> Result<PurgeReport, DbError> {
    let plan = PurgePlan {
        audit_cutoff: audit_cutoff(now, older_than_days),
        now,
        dry_run,
    };
    db.write_blocking(move |conn| retention::purge(conn, &plan))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_retention_is_six_calendar_years() {
        let now = chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
            .and_then(|d| d.and_hms_opt(12, 0, 0))
            .expect("valid");
        assert_eq!(audit_cutoff(now, None).to_string(), "2020-11-24 12:00:00");
        assert_eq!(
            audit_cutoff(now, Some(30)).to_string(),
            "2026-10-25 12:00:00"
        );
    }
}
