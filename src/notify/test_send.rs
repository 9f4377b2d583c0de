//! The channel page's "send test" button is rate limited: each press queues a real send
//! to a target the tenant chose, so without a bound it is a way to make the server knock
//! on a receiver (or an SMTP server) as fast as someone can click or script it.
//! One test per channel per minute, and at most [`PER_TENANT_PER_HOUR`] per tenant and
//! hour. Counted from the deliveries table, so the bound holds across instances.

use chrono::NaiveDateTime;

use crate::db::repo::deliveries;
use crate::db::{DbConnection, DbError};
use crate::domain::tenant::TenantScope;

/// Shortest time between two tests of one channel.
pub const PER_CHANNEL_INTERVAL_SECONDS: i64 = 60;
/// Tests one tenant may queue per hour, over all its channels.
pub const PER_TENANT_PER_HOUR: usize = 20;

/// "Send test" pressed again too soon: the message, shown to the person, says when;
/// `retry_after_secs` goes in `Retry-After`. The one refusal of a test send, whoever
/// reports it (`services::channels::ChannelsError::Throttled` carries it as is).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Throttled {
    pub message: String,
    pub retry_after_secs: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum TestSendError {
    #[error(transparent)]
    Throttled(#[from] Throttled),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Queues a test message for the tenant's channel unless the bound is reached; returns
/// the delivery id. Call inside a write transaction: the tenant's presses are serialised
/// first, so the count and the insert go together on both databases.
pub fn queue(
    conn: &mut DbConnection,
    scope: &TenantScope,
    channel_id: i64,
    now: NaiveDateTime,
) -> Result<i64, TestSendError> {
    deliveries::lock_test_sends(conn, scope)?;
    let recent = deliveries::test_sends_since(conn, scope, now - chrono::Duration::hours(1))?;
    check(&recent, channel_id, now)?;
    Ok(deliveries::enqueue_test(conn, scope, channel_id, now)?)
}

/// The rule on the tenant's test sends of the last hour (oldest first).
fn check(
    recent: &[(i64, NaiveDateTime)],
    channel_id: i64,
    now: NaiveDateTime,
) -> Result<(), Throttled> {
    let wait_until =
        |at: NaiveDateTime| -> u64 { u64::try_from((at - now).num_seconds().max(1)).unwrap_or(1) };
    if let Some(&(_, last)) = recent.iter().rev().find(|(c, _)| *c == channel_id) {
        let next = last + chrono::Duration::seconds(PER_CHANNEL_INTERVAL_SECONDS);
        if next > now {
            let secs = wait_until(next);
            return Err(Throttled {
                message: format!(
                    "A test message for this channel was queued less than a minute ago. \
                     Its result appears in the delivery log; you can send another test in {secs} s."
                ),
                retry_after_secs: secs,
            });
        }
    }
    if recent.len() >= PER_TENANT_PER_HOUR {
        let oldest = recent[recent.len() - PER_TENANT_PER_HOUR].1;
        let secs = wait_until(oldest + chrono::Duration::hours(1));
        return Err(Throttled {
            message: format!(
                "Your organisation sent {PER_TENANT_PER_HOUR} test messages in the last hour, \
                 the most allowed. You can send another test in {} min.",
                secs.div_ceil(60)
            ),
            retry_after_secs: secs,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0)
            .expect("time")
            .naive_utc()
    }

    #[test]
    fn one_test_per_channel_per_minute() {
        let recent = [(7, at(0))];
        let err = check(&recent, 7, at(20)).expect_err("too soon");
        assert!(
            matches!(&err, Throttled { retry_after_secs: 40, message } if message.contains("40 s")),
            "{err:?}"
        );
        assert!(check(&recent, 7, at(60)).is_ok(), "a minute later");
        assert!(check(&recent, 8, at(1)).is_ok(), "another channel");
    }

    #[test]
    fn at_most_twenty_per_tenant_and_hour() {
        let recent: Vec<(i64, NaiveDateTime)> = (0..20).map(|i| (i, at(i * 60))).collect();
        let err = check(&recent, 99, at(1500)).expect_err("21st in the hour");
        assert!(
            matches!(
                err,
                Throttled {
                    retry_after_secs: 2100,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(check(&recent[1..], 99, at(1500)).is_ok());
    }
}
