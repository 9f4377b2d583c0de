//! Working an alert: judging it (a verdict must be chosen; "noise" resolves the alert in
//! the same audited transaction, so the noise statistics and the status never disagree)
//! and moving it through its statuses.

use crate::db::repo::alerts as repo;
use crate::db::{AuditContext, AuditEntry, Db, DbError};
use crate::domain::alerts::{Verdict, next_statuses};
use crate::domain::phi;
use crate::domain::tenant::TenantScope;

/// Longest note kept with a judgment.
pub const NOTE_MAX_CHARS: usize = 2000;

#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    /// A malformed or missing value; the message names the field and is safe to show.
    #[error("{0}")]
    Invalid(String),
    /// The note looks like patient information; nothing was saved (never echoed).
    #[error(
        "The note looks like it contains patient information (PHI), so it was not saved. Describe the issue without identifying anyone."
    )]
    Phi,
    /// The change does not fit the alert's current status.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A judgment as posted: the verdict is required (the form presets none).
pub fn check_judgment(
    verdict: Option<&str>,
    note: Option<&str>,
) -> Result<(Verdict, Option<String>), AlertsError> {
    let verdict = match verdict.map(str::trim).filter(|v| !v.is_empty()) {
        None => {
            return Err(AlertsError::Invalid(
                "Choose a verdict: real problem, noise or needs follow-up.".into(),
            ));
        }
        Some(v) => Verdict::parse(v).ok_or_else(|| {
            AlertsError::Invalid("verdict must be real, noise or needs_follow_up".into())
        })?,
    };
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if let Some(n) = note {
        if n.chars().count() > NOTE_MAX_CHARS {
            return Err(AlertsError::Invalid(
                "The note is too long (at most 2,000 characters).".into(),
            ));
        }
        if phi::contains_phi(n) {
            return Err(AlertsError::Phi);
        }
    }
    Ok((verdict, note.map(str::to_string)))
}

/// What a judgment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judged {
    /// The verdict resolved an alert that was not resolved yet.
    pub resolved: bool,
}

/// Stores `user_id`'s judgment of alert `id` (one per person, replaced when judged again)
/// and, for "noise", resolves the alert — in one transaction with the audit row.
#[allow(clippy::too_many_arguments)]
pub async fn judge(
    db: &Db,
    scope: TenantScope,
    id: i64,
    user_id: i64,
    verdict: Verdict,
    note: Option<String>,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<Judged, AlertsError> {
    db.write_audited(ctx, entry.target("alert", id), move |conn| {
        repo::upsert_judgment(conn, &scope, id, user_id, verdict.as_str(), note.as_deref())?;
        let mut resolved = false;
        if verdict.resolves() {
            let current = repo::find_alert(conn, &scope, id)?.status;
            if current != "resolved" {
                repo::append_status(conn, &scope, id, "resolved", user_id)?;
                resolved = true;
            }
        }
        Ok(Judged { resolved })
    })
    .await
}

/// Moves alert `id` to `wanted` when its current status allows it.
pub async fn change_status(
    db: &Db,
    scope: TenantScope,
    id: i64,
    user_id: i64,
    wanted: String,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(), AlertsError> {
    db.write_audited(ctx, entry.target("alert", id), move |conn| {
        let current = repo::find_alert(conn, &scope, id)?.status;
        if !next_statuses(&current).contains(&wanted.as_str()) {
            return Err(AlertsError::Conflict(format!(
                "An alert that is {current} cannot become '{wanted}'."
            )));
        }
        repo::append_status(conn, &scope, id, &wanted, user_id)?;
        Ok(())
    })
    .await
}
