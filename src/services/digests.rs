//! The opt-in daily alert digest (issue 19 item 3): a person turns it on on their account
//! page; once a day the delivery worker queues it (`notify::digests`). Without an enabled
//! e-mail channel there is nothing to send it with; the account page says so.

use crate::db::repo::digests;
use crate::db::{AuditContext, AuditEntry, Db, DbError};
use crate::domain::tenant::TenantScope;

/// What the account page shows about the digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestStatus {
    pub subscribed: bool,
    /// The tenant has an enabled e-mail channel to send it with.
    pub can_send: bool,
}

pub async fn status(db: &Db, scope: TenantScope, user_id: i64) -> Result<DigestStatus, DbError> {
    db.run(move |conn| {
        Ok(DigestStatus {
            subscribed: digests::is_subscribed(conn, &scope, user_id)?,
            can_send: digests::email_channel(conn, &scope)?.is_some(),
        })
    })
    .await
}

/// Turns `user_id`'s own digest on or off, audited when it changes.
pub async fn set(
    db: &Db,
    scope: TenantScope,
    user_id: i64,
    on: bool,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(), DbError> {
    let changed = db
        .write(move |conn| digests::set_subscribed(conn, &scope, user_id, on))
        .await?;
    if changed {
        db.write_audit(ctx, entry.target("user", user_id)).await?;
    }
    Ok(())
}
