//! The daily alert digest's queueing (issue 19 item 3; a person subscribes on their account
//! page, `services::digests`): once a day, from [`DIGEST_HOUR_UTC`], the delivery worker
//! queues for each subscriber the alerts raised since their previous digest that are
//! assigned to them or to nobody, on the tenant's e-mail channel — the same queue, retries
//! and attempt log as alerts. Nothing new, no mail.

use chrono::{NaiveDateTime, Timelike};

use crate::db::repo::{deliveries, digests};
use crate::db::{Db, DbError};
use crate::domain::tenant::{CustomerId, TenantScope};

/// Digests go out from this hour (UTC) on: 07:00 in New York in winter, before the
/// billing office opens.
pub const DIGEST_HOUR_UTC: u32 = 12;

/// Queues today's digest of every subscriber who has none yet, once `now` is past
/// [`DIGEST_HOUR_UTC`]. Each person in their own transaction; a digest another worker
/// queued first is skipped (one per person per day). Returns how many mails were queued.
pub async fn queue_due(db: &Db, now: NaiveDateTime) -> Result<usize, DbError> {
    if now.hour() < DIGEST_HOUR_UTC {
        return Ok(0);
    }
    let day = now.date();
    let due = db
        .write(move |conn| digests::due_subscribers(conn, day))
        .await?;
    let mut queued = 0;
    for s in due {
        let scope = TenantScope::for_system(CustomerId(s.customer_id));
        let result = db
            .write(move |conn| {
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
            })
            .await;
        match result {
            Ok(true) => queued += 1,
            Ok(false) | Err(DbError::Duplicate(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(queued)
}
