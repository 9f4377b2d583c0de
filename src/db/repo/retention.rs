//! Retention purging across tables (`payerwatch purge`): audit events past the retention,
//! expired sessions, expired invitations and set-password links, login-throttle rows
//! older than a day, and delivered notifications older than 90 days. Counts what would go (dry run) or deletes it in one
//! transaction and records a `retention.purge` audit event.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::repo::audit;
use crate::db::repo::audit::NewAuditEvent;
use crate::db::schema::{invitations, password_tokens, sessions};
use crate::db::{DbConnection, DbError};

/// Delivered notifications older than this many days are purged.
pub const DELIVERED_RETENTION_DAYS: i64 = 90;

/// The audit action recorded by a purge.
pub const PURGE_ACTION: &str = "retention.purge";

/// What to purge.
#[derive(Debug, Clone, Copy)]
pub struct PurgePlan {
    /// Audit events older than this go.
    pub audit_cutoff: NaiveDateTime,
    /// "Now": sessions that expired before it go.
    pub now: NaiveDateTime,
    /// Count only; change nothing.
    pub dry_run: bool,
}

/// Rows removed (or, in a dry run, that would be removed), per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub audit_events: i64,
    pub expired_sessions: i64,
    /// Invitations whose link expired (pending, accepted or revoked).
    pub expired_invitations: i64,
    /// Set-password links (invitation or reset) that expired.
    pub expired_password_links: i64,
    /// `None` while the table does not exist yet.
    pub login_attempts: Option<i64>,
    /// `None` while the table does not exist yet.
    pub delivered_notifications: Option<i64>,
}

impl PurgeReport {
    /// `(kind, count)` lines for printing; kinds without a table are left out.
    pub fn lines(&self) -> Vec<(&'static str, i64)> {
        let mut lines = vec![
            ("audit events", self.audit_events),
            ("expired sessions", self.expired_sessions),
            ("expired invitations", self.expired_invitations),
            ("expired password links", self.expired_password_links),
        ];
        if let Some(n) = self.login_attempts {
            lines.push(("login-throttle rows", n));
        }
        if let Some(n) = self.delivered_notifications {
            lines.push(("delivered notifications", n));
        }
        lines
    }
}

/// Runs `plan` on `conn`. Call it inside a transaction (`Db::write_blocking`) so a real
/// purge and its audit event commit together.
pub fn purge(conn: &mut DbConnection, plan: &PurgePlan) -> Result<PurgeReport, DbError> {
    let mut report = PurgeReport {
        audit_events: if plan.dry_run {
            audit::count_older_than(conn, plan.audit_cutoff)?
        } else {
            audit::purge_older_than(conn, plan.audit_cutoff)?
        },
        expired_sessions: count_or_delete!(
            conn,
            sessions::table.filter(sessions::expires_at.lt(plan.now)),
            plan.dry_run
        ),
        ..PurgeReport::default()
    };
    // An expired link can neither join a tenant nor set a password: nothing to keep. Every
    // invitation whose link expired goes, whatever became of it (pending, accepted or
    // revoked; the audit trail keeps who invited whom), and every set-password link
    // (used, superseded or never followed), for all tenants.
    report.expired_invitations = count_or_delete!(
        conn,
        invitations::table.filter(invitations::expires_at.lt(plan.now)),
        plan.dry_run
    );
    report.expired_password_links = count_or_delete!(
        conn,
        password_tokens::table.filter(password_tokens::expires_at.lt(plan.now)),
        plan.dry_run
    );

    // Login-throttle rows matter for 15 minutes; a day is kept for investigation.
    let throttle_cutoff = plan.now - chrono::Duration::days(1);
    report.login_attempts = Some(if plan.dry_run {
        super::login_failures::count_older_than(conn, throttle_cutoff)?
    } else {
        super::login_failures::delete_older_than(conn, throttle_cutoff)? as i64
    });
    // Delivered notifications are kept 90 days (the alert page shows them); failed ones
    // stay until someone retries or looks at them.
    let delivery_cutoff = plan.now - chrono::Duration::days(DELIVERED_RETENTION_DAYS);
    report.delivered_notifications =
        Some(
            super::deliveries::purge_delivered_before(conn, delivery_cutoff, plan.dry_run)? as i64,
        );

    if !plan.dry_run {
        let mut fields = vec!["audit_events", "sessions", "invitations", "password_tokens"];
        if report.login_attempts.is_some() {
            fields.push("login_attempts");
        }
        if report.delivered_notifications.is_some() {
            fields.push("notification_deliveries");
        }
        audit::insert(
            conn,
            &NewAuditEvent {
                occurred_at: plan.now,
                customer_id: None,
                actor_user_id: None,
                action: PURGE_ACTION.to_string(),
                target_type: Some("retention".to_string()),
                target_id: Some(plan.audit_cutoff.format("%Y-%m-%dT%H:%M:%S").to_string()),
                changed_fields: Some(fields.join(",")),
                client_addr: None,
                request_id: None,
            },
        )?;
    }
    Ok(report)
}
