//! The opt-in daily alert digest (issue 19 item 3): a person turns it on on their account
//! page; once a day, from [`DIGEST_HOUR_UTC`], the delivery worker queues for each
//! subscriber the alerts raised since their previous digest that are assigned to them or
//! to nobody, on the tenant's e-mail channel — the same queue, retries and attempt log as
//! alerts. Nothing new, no mail. Without an enabled e-mail channel there is nothing to
//! send it with; the account page says so.

use chrono::{NaiveDateTime, Timelike};

use crate::db::repo::{deliveries, digests};
use crate::db::{AuditContext, AuditEntry, Db, DbError};
use crate::domain::tenant::{CustomerId, TenantScope};

/// Digests go out from this hour (UTC) on: 07:00 in New York in winter, before the
/// billing office opens.
pub const DIGEST_HOUR_UTC: u32 = 12;

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

/// Queues today's digest of every subscriber who has none yet, once `now` is past
/// [`DIGEST_HOUR_UTC`]. Each person in their own transaction; a digest another worker
/// queued first is skipped (one per person per day). Returns how many mails were queued.
pub fn queue_due(db: &Db, now: NaiveDateTime) -> Result<usize, DbError> {
    if now.hour() < DIGEST_HOUR_UTC {
        return Ok(0);
    }
    let day = now.date();
    let due = db.write_blocking(|conn| digests::due_subscribers(conn, day))?;
    let mut queued = 0;
    for s in due {
        let scope = TenantScope::for_system(CustomerId(s.customer_id));
        let result = db.write_blocking(|conn| {
            let since = digests::previous_digest_at(conn, &scope, s.user_id)?
                .unwrap_or(now - chrono::Duration::hours(24));
            let ids = digests::digest_alert_ids(conn, &scope, s.user_id, since, now)?;
            // Recorded even when empty or unsendable: today is done for this person.
            let digest_id = digests::insert_digest(conn, &scope, s.user_id, day, &ids, now)?;
            if ids.is_empty() {
                return Ok(false);
            }
            match digests::email_channel(conn, &scope)? {
                Some(channel_id) => {
                    deliveries::enqueue_digest(conn, &scope, channel_id, digest_id, now)?;
                    Ok(true)
                }
                None => Ok(false),
            }
        });
        match result {
            Ok(true) => queued += 1,
            Ok(false) | Err(DbError::Duplicate(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(queued)
}
