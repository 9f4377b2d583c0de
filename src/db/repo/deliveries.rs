//! The notification delivery queue: one delivery per (alert, channel), claimed by the
//! worker (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the single-writer lock on SQLite),
//! every attempt logged. The worker's functions work across tenants (it serves them
//! all); everything a page reads takes a [`TenantScope`].

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::repo::alerts::AlertEvent;
use crate::db::repo::channels::Channel;
use crate::db::schema::{alert_events, deliveries, delivery_attempts, notification_channels};
use crate::db::{DbConnection, DbError};
use crate::domain::tenant::TenantScope;
use crate::on_backend;

pub const PENDING: &str = "pending";
pub const SENDING: &str = "sending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deliveries)]
pub struct Delivery {
    pub id: i64,
    pub customer_id: i64,
    pub alert_id: Option<i64>,
    pub channel_id: i64,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// A daily digest's delivery (no alert).
    pub digest_id: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = delivery_attempts)]
pub struct Attempt {
    pub id: i64,
    pub delivery_id: i64,
    pub attempt_number: i64,
    pub started_at: NaiveDateTime,
    pub latency_ms: i64,
    pub status_code: Option<i64>,
    pub outcome: String,
    pub error: Option<String>,
}

/// Queues one delivery per channel for a new alert (inside the run's transaction).
/// Channels of other tenants or disabled ones are skipped. Returns how many were queued.
pub fn enqueue_for_alert(
    conn: &mut DbConnection,
    scope: &TenantScope,
    alert_id: i64,
    channel_ids: &[i64],
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    let enabled: Vec<i64> = notification_channels::table
        .filter(notification_channels::customer_id.eq(scope.id()))
        .filter(notification_channels::enabled.eq(true))
        .filter(notification_channels::id.eq_any(channel_ids))
        .select(notification_channels::id)
        .load(conn)?;
    for channel_id in &enabled {
        insert_pending(conn, scope, Some(alert_id), *channel_id, now)?;
    }
    Ok(enabled.len())
}

/// Ids of the tenant's enabled channels.
pub fn enabled_channel_ids(
    conn: &mut DbConnection,
    scope: &TenantScope,
) -> Result<Vec<i64>, DbError> {
    Ok(notification_channels::table
        .filter(notification_channels::customer_id.eq(scope.id()))
        .filter(notification_channels::enabled.eq(true))
        .select(notification_channels::id)
        .order(notification_channels::id.asc())
        .load(conn)?)
}

/// Queues a channel's test message (no alert).
pub fn enqueue_test(
    conn: &mut DbConnection,
    scope: &TenantScope,
    channel_id: i64,
    now: NaiveDateTime,
) -> Result<i64, DbError> {
    super::channels::find_channel(conn, scope, channel_id)?;
    insert_pending(conn, scope, None, channel_id, now)
}

/// Queues a person's daily digest on the tenant's e-mail channel.
pub fn enqueue_digest(
    conn: &mut DbConnection,
    scope: &TenantScope,
    channel_id: i64,
    digest_id: i64,
    now: NaiveDateTime,
) -> Result<i64, DbError> {
    super::channels::find_channel(conn, scope, channel_id)?;
    let id = insert_pending(conn, scope, None, channel_id, now)?;
    diesel::update(deliveries::table.find(id))
        .set(deliveries::digest_id.eq(Some(digest_id)))
        .execute(conn)?;
    Ok(id)
}

fn insert_pending(
    conn: &mut DbConnection,
    scope: &TenantScope,
    alert_id: Option<i64>,
    channel_id: i64,
    now: NaiveDateTime,
) -> Result<i64, DbError> {
    Ok(
        on_backend!(conn, c => diesel::insert_into(deliveries::table)
        .values((
            deliveries::customer_id.eq(scope.id()),
            deliveries::alert_id.eq(alert_id),
            deliveries::channel_id.eq(channel_id),
            deliveries::status.eq(PENDING),
            deliveries::attempts.eq(0_i64),
            deliveries::next_attempt_at.eq(now),
            deliveries::created_at.eq(now),
            deliveries::updated_at.eq(now),
        ))
        .returning(deliveries::id)
        .get_result::<i64>(c))?,
    )
}

/// One claimed delivery and its tenant (the worker sends at most one per tenant at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claimed {
    pub id: i64,
    pub customer_id: i64,
    /// The claim's lease end: recording the attempt is fenced on it ([`record_attempt`]).
    pub locked_until: NaiveDateTime,
}

/// Due: pending and its time has come, or claimed by a worker whose lease ran out (it
/// died mid-send).
macro_rules! due {
    ($now:expr) => {
        deliveries::status
            .eq(PENDING)
            .and(deliveries::next_attempt_at.le($now))
            .or(deliveries::status
                .eq(SENDING)
                .and(deliveries::locked_until.lt($now)))
    };
}

/// Claims, for up to `limit` tenants not in `busy`, each tenant's oldest due delivery,
/// until `now + lease`; the tenants whose work waited longest go first. One item per
/// claim: the lease starts when its own send starts, so no claim outlives its lease
/// while earlier items are sent. Call inside a write transaction.
pub fn claim_fair(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    lease: chrono::Duration,
    busy: &[i64],
    limit: usize,
) -> Result<Vec<Claimed>, DbError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut tenants: Vec<(i64, Option<NaiveDateTime>)> = deliveries::table
        .filter(due!(now))
        .filter(deliveries::customer_id.ne_all(busy))
        .group_by(deliveries::customer_id)
        .select((
            deliveries::customer_id,
            diesel::dsl::min(deliveries::next_attempt_at),
        ))
        .load(conn)?;
    tenants.sort_by_key(|&(tenant, oldest)| (oldest, tenant));
    let mut claimed = Vec::new();
    for (customer_id, _) in tenants {
        if claimed.len() == limit {
            break;
        }
        let oldest = deliveries::table
            .filter(due!(now))
            .filter(deliveries::customer_id.eq(customer_id))
            .order((deliveries::next_attempt_at.asc(), deliveries::id.asc()))
            .select(deliveries::id);
        // Another instance may hold this tenant's oldest row: SKIP LOCKED takes the next.
        let id: Option<i64> = match conn {
            DbConnection::Postgresql(c) => oldest.for_update().skip_locked().first(c).optional()?,
            DbConnection::Sqlite(c) => oldest.first(c).optional()?,
        };
        let Some(id) = id else { continue };
        let locked_until = now + lease;
        diesel::update(deliveries::table.find(id))
            .set((
                deliveries::status.eq(SENDING),
                deliveries::locked_until.eq(Some(locked_until)),
                deliveries::updated_at.eq(now),
            ))
            .execute(conn)?;
        claimed.push(Claimed {
            id,
            customer_id,
            locked_until,
        });
    }
    Ok(claimed)
}

/// Serialises the tenant's "send test" presses until the transaction ends, so the
/// count of recent tests and the new one's insert happen as one step: two simultaneous
/// presses cannot both pass the bound. PostgreSQL locks the tenant's row (`FOR UPDATE`);
/// SQLite's writes are serial already (one writer, `BEGIN IMMEDIATE`).
pub fn lock_test_sends(conn: &mut DbConnection, scope: &TenantScope) -> Result<(), DbError> {
    use crate::db::schema::customers;
    if let DbConnection::Postgresql(c) = conn {
        customers::table
            .find(scope.id())
            .select(customers::id)
            .for_update()
            .first::<i64>(c)?;
    }
    Ok(())
}

/// When the tenant queued its test messages since `since`, per channel (the "send test"
/// button is rate limited).
pub fn test_sends_since(
    conn: &mut DbConnection,
    scope: &TenantScope,
    since: NaiveDateTime,
) -> Result<Vec<(i64, NaiveDateTime)>, DbError> {
    Ok(deliveries::table
        .filter(deliveries::customer_id.eq(scope.id()))
        .filter(deliveries::alert_id.is_null())
        .filter(deliveries::digest_id.is_null())
        .filter(deliveries::created_at.ge(since))
        .order(deliveries::created_at.asc())
        .select((deliveries::channel_id, deliveries::created_at))
        .load(conn)?)
}

/// Everything the worker needs to send one delivery.
#[derive(Debug, Clone)]
pub struct Job {
    pub delivery: Delivery,
    pub channel: Channel,
    pub alert: Option<AlertEvent>,
    /// A daily digest (to one person, on an e-mail channel).
    pub digest: Option<super::digests::DigestJob>,
    /// The number this attempt gets in the log (1-based, across retries by an admin).
    pub attempt_number: i64,
}

pub fn load_job(conn: &mut DbConnection, delivery_id: i64) -> Result<Job, DbError> {
    let delivery: Delivery = deliveries::table
        .find(delivery_id)
        .select(Delivery::as_select())
        .first(conn)?;
    let channel: Channel = notification_channels::table
        .find(delivery.channel_id)
        .filter(notification_channels::customer_id.eq(delivery.customer_id))
        .select(Channel::as_select())
        .first(conn)?;
    let alert = match delivery.alert_id {
        Some(id) => Some(
            alert_events::table
                .find(id)
                .filter(alert_events::customer_id.eq(delivery.customer_id))
                .select(AlertEvent::as_select())
                .first(conn)?,
        ),
        None => None,
    };
    let digest = match delivery.digest_id {
        Some(id) => Some(super::digests::load_digest(conn, delivery.customer_id, id)?),
        None => None,
    };
    let logged: i64 = delivery_attempts::table
        .filter(delivery_attempts::delivery_id.eq(delivery_id))
        .count()
        .get_result(conn)?;
    Ok(Job {
        delivery,
        channel,
        alert,
        digest,
        attempt_number: logged + 1,
    })
}

/// What one attempt did.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub attempt_number: i64,
    pub started_at: NaiveDateTime,
    pub latency_ms: i64,
    pub status_code: Option<i64>,
    /// `None` when delivered.
    pub error: Option<String>,
}

/// Where the delivery goes after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Delivered,
    RetryAt(NaiveDateTime),
    Failed,
}

/// Logs the attempt and moves the delivery on, releasing the worker's claim — only while
/// the claim (`claimed_until`, its lease end) is still the worker's. Returns false, and
/// records nothing, when it is not: the lease ran out and another instance claimed the
/// delivery again (its lease ends later) or already recorded it. Without the fence a
/// late recording would overwrite the other instance's claim or outcome.
pub fn record_attempt(
    conn: &mut DbConnection,
    delivery_id: i64,
    claimed_until: NaiveDateTime,
    attempt: &AttemptRecord,
    next: NextStep,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    // A later claim ends later than ours (it was made after ours ran out); `<=` rather
    // than `=` because PostgreSQL keeps microseconds of the nanosecond value we bound.
    let still_ours: Option<i64> = deliveries::table
        .find(delivery_id)
        .filter(deliveries::status.eq(SENDING))
        .filter(deliveries::locked_until.le(Some(claimed_until)))
        .select(deliveries::id)
        .first(conn)
        .optional()?;
    if still_ours.is_none() {
        return Ok(false);
    }
    diesel::insert_into(delivery_attempts::table)
        .values((
            delivery_attempts::delivery_id.eq(delivery_id),
            delivery_attempts::attempt_number.eq(attempt.attempt_number),
            delivery_attempts::started_at.eq(attempt.started_at),
            delivery_attempts::latency_ms.eq(attempt.latency_ms),
            delivery_attempts::status_code.eq(attempt.status_code),
            delivery_attempts::outcome.eq(if attempt.error.is_none() {
                "delivered"
            } else {
                "error"
            }),
            delivery_attempts::error.eq(&attempt.error),
        ))
        .execute(conn)?;
    let target = deliveries::table.find(delivery_id);
    let common = (
        deliveries::attempts.eq(deliveries::attempts + 1),
        deliveries::locked_until.eq(None::<NaiveDateTime>),
        deliveries::last_status_code.eq(attempt.status_code),
        deliveries::last_error.eq(&attempt.error),
        deliveries::updated_at.eq(now),
    );
    match next {
        NextStep::Delivered => diesel::update(target)
            .set((
                common,
                deliveries::status.eq(DELIVERED),
                deliveries::delivered_at.eq(Some(now)),
            ))
            .execute(conn)?,
        NextStep::RetryAt(at) => diesel::update(target)
            .set((
                common,
                deliveries::status.eq(PENDING),
                deliveries::next_attempt_at.eq(at),
            ))
            .execute(conn)?,
        NextStep::Failed => diesel::update(target)
            .set((common, deliveries::status.eq(FAILED)))
            .execute(conn)?,
    };
    Ok(true)
}

/// A delivery with its channel's name and kind, for the logs on the pages.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub delivery: Delivery,
    pub channel_name: String,
    pub channel_kind: String,
    pub attempts: Vec<Attempt>,
}

fn rows_with_attempts(
    conn: &mut DbConnection,
    rows: Vec<(Delivery, String, String)>,
) -> Result<Vec<DeliveryRow>, DbError> {
    // Most alerts went to no channel: no second statement for them (an alert page reads
    // its deliveries on every request).
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|(d, _, _)| d.id).collect();
    let mut attempts: Vec<Attempt> = delivery_attempts::table
        .filter(delivery_attempts::delivery_id.eq_any(&ids))
        .order(delivery_attempts::id.asc())
        .select(Attempt::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(delivery, channel_name, channel_kind)| {
            let mine: Vec<Attempt> = attempts
                .extract_if(.., |a| a.delivery_id == delivery.id)
                .collect();
            DeliveryRow {
                delivery,
                channel_name,
                channel_kind,
                attempts: mine,
            }
        })
        .collect())
}

/// A channel's newest deliveries with their attempts.
pub fn for_channel(
    conn: &mut DbConnection,
    scope: &TenantScope,
    channel_id: i64,
    limit: i64,
) -> Result<Vec<DeliveryRow>, DbError> {
    let rows: Vec<(Delivery, String, String)> = deliveries::table
        .inner_join(notification_channels::table)
        .filter(deliveries::customer_id.eq(scope.id()))
        .filter(deliveries::channel_id.eq(channel_id))
        .order(deliveries::id.desc())
        .limit(limit)
        .select((
            Delivery::as_select(),
            notification_channels::name,
            notification_channels::kind,
        ))
        .load(conn)?;
    rows_with_attempts(conn, rows)
}

/// An alert's deliveries with their attempts.
pub fn for_alert(
    conn: &mut DbConnection,
    scope: &TenantScope,
    alert_id: i64,
) -> Result<Vec<DeliveryRow>, DbError> {
    let rows: Vec<(Delivery, String, String)> = deliveries::table
        .inner_join(notification_channels::table)
        .filter(deliveries::customer_id.eq(scope.id()))
        .filter(deliveries::alert_id.eq(alert_id))
        .order(deliveries::id.asc())
        .select((
            Delivery::as_select(),
            notification_channels::name,
            notification_channels::kind,
        ))
        .load(conn)?;
    rows_with_attempts(conn, rows)
}

/// Counts per status of a tenant's deliveries, for the channels page.
pub fn status_counts(
    conn: &mut DbConnection,
    scope: &TenantScope,
) -> Result<Vec<(i64, String, i64)>, DbError> {
    Ok(deliveries::table
        .filter(deliveries::customer_id.eq(scope.id()))
        .group_by((deliveries::channel_id, deliveries::status))
        .select((
            deliveries::channel_id,
            deliveries::status,
            diesel::dsl::count_star(),
        ))
        .load(conn)?)
}

/// An admin puts a failed delivery back in the queue: due now, a fresh backoff round.
/// Returns the channel id (the page goes back to it), or `None` when the delivery is not
/// failed (queued or delivered: nothing to retry — the caller's refusal, not a DB error).
pub fn retry_failed(
    conn: &mut DbConnection,
    scope: &TenantScope,
    delivery_id: i64,
    now: NaiveDateTime,
) -> Result<Option<i64>, DbError> {
    let delivery: Delivery = deliveries::table
        .filter(deliveries::customer_id.eq(scope.id()))
        .filter(deliveries::id.eq(delivery_id))
        .select(Delivery::as_select())
        .first(conn)?;
    if delivery.status != FAILED {
        return Ok(None);
    }
    diesel::update(deliveries::table.find(delivery_id))
        .set((
            deliveries::status.eq(PENDING),
            deliveries::attempts.eq(0_i64),
            deliveries::next_attempt_at.eq(now),
            deliveries::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(Some(delivery.channel_id))
}

/// Removes delivered notifications (and their attempt logs) older than `cutoff`.
/// Failed ones stay: someone may still need to look at them.
pub fn purge_delivered_before(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
    dry_run: bool,
) -> Result<usize, DbError> {
    let old = deliveries::table
        .filter(deliveries::status.eq(DELIVERED))
        .filter(deliveries::delivered_at.lt(cutoff))
        .select(deliveries::id);
    if dry_run {
        let n: i64 = deliveries::table
            .filter(deliveries::status.eq(DELIVERED))
            .filter(deliveries::delivered_at.lt(cutoff))
            .count()
            .get_result(conn)?;
        return Ok(usize::try_from(n).unwrap_or(0));
    }
    diesel::delete(delivery_attempts::table.filter(delivery_attempts::delivery_id.eq_any(old)))
        .execute(conn)?;
    Ok(diesel::delete(
        deliveries::table
            .filter(deliveries::status.eq(DELIVERED))
            .filter(deliveries::delivered_at.lt(cutoff)),
    )
    .execute(conn)?)
}
