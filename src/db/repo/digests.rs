//! The opt-in daily alert digest: who asked for it, one digest row per person per day
//! (UNIQUE, so two workers cannot queue the same day twice), the alerts it lists (fixed
//! when queued: a retry sends the same mail). The worker's functions work across tenants
//! (it serves them all); what a person's page reads takes a [`TenantScope`].

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::repo::alerts::AlertEvent;
use crate::db::schema::{
    alert_current_status, alert_digest_subscriptions, alert_digests, alert_events,
    notification_channels, users,
};
use crate::db::{DbConnection, DbError};
use crate::domain::alerts::AlertStatus;
use crate::domain::channels::ChannelKind;
use crate::domain::tenant::TenantScope;

pub fn is_subscribed(
    conn: &mut DbConnection,
    scope: &TenantScope,
    user_id: i64,
) -> Result<bool, DbError> {
    let n: i64 = alert_digest_subscriptions::table
        .filter(alert_digest_subscriptions::customer_id.eq(scope.id()))
        .filter(alert_digest_subscriptions::user_id.eq(user_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Turns `user_id`'s digest on or off (idempotent). Returns whether anything changed.
pub fn set_subscribed(
    conn: &mut DbConnection,
    scope: &TenantScope,
    user_id: i64,
    on: bool,
) -> Result<bool, DbError> {
    // The person must be the tenant's (their own account page; never another's).
    super::users::find(conn, scope, user_id)?;
    let was = is_subscribed(conn, scope, user_id)?;
    match (was, on) {
        (false, true) => {
            diesel::insert_into(alert_digest_subscriptions::table)
                .values((
                    alert_digest_subscriptions::user_id.eq(user_id),
                    alert_digest_subscriptions::customer_id.eq(scope.id()),
                    alert_digest_subscriptions::created_at.eq(super::now()),
                ))
                .execute(conn)?;
        }
        (true, false) => {
            diesel::delete(
                alert_digest_subscriptions::table
                    .filter(alert_digest_subscriptions::customer_id.eq(scope.id()))
                    .filter(alert_digest_subscriptions::user_id.eq(user_id)),
            )
            .execute(conn)?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// A subscriber whose digest of `day` is not queued yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueSubscriber {
    pub customer_id: i64,
    pub user_id: i64,
}

/// Active subscribers (all tenants) with no digest row for `day`.
pub fn due_subscribers(
    conn: &mut DbConnection,
    day: NaiveDate,
) -> Result<Vec<DueSubscriber>, DbError> {
    let done = alert_digests::table
        .filter(alert_digests::digest_on.eq(day))
        .select(alert_digests::user_id);
    let rows: Vec<(i64, i64)> = alert_digest_subscriptions::table
        .inner_join(users::table.on(users::id.eq(alert_digest_subscriptions::user_id)))
        .filter(users::is_active.eq(true))
        .filter(users::customer_id.eq(alert_digest_subscriptions::customer_id))
        .filter(diesel::dsl::not(
            alert_digest_subscriptions::user_id.eq_any(done),
        ))
        .order(alert_digest_subscriptions::user_id.asc())
        .select((
            alert_digest_subscriptions::customer_id,
            alert_digest_subscriptions::user_id,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(customer_id, user_id)| DueSubscriber {
            customer_id,
            user_id,
        })
        .collect())
}

/// When `user_id`'s previous digest was queued (its window starts there).
pub fn previous_digest_at(
    conn: &mut DbConnection,
    scope: &TenantScope,
    user_id: i64,
) -> Result<Option<NaiveDateTime>, DbError> {
    Ok(alert_digests::table
        .filter(alert_digests::customer_id.eq(scope.id()))
        .filter(alert_digests::user_id.eq(user_id))
        .select(diesel::dsl::max(alert_digests::created_at))
        .first(conn)?)
}

/// The most alerts one digest lists (the mail links to the list for the rest).
pub const DIGEST_MAX_ALERTS: i64 = 50;

/// Alerts raised in `[since, until)` that were sent (not suppressed), are still open or
/// acknowledged, and are assigned to `user_id` or to nobody: oldest first.
pub fn digest_alert_ids(
    conn: &mut DbConnection,
    scope: &TenantScope,
    user_id: i64,
    since: NaiveDateTime,
    until: NaiveDateTime,
) -> Result<Vec<i64>, DbError> {
    use alert_current_status as cs;
    Ok(alert_events::table
        .inner_join(cs::table.on(cs::alert_id.eq(alert_events::id)))
        .filter(alert_events::customer_id.eq(scope.id()))
        .filter(cs::customer_id.eq(scope.id()))
        .filter(alert_events::created_at.ge(since))
        .filter(alert_events::created_at.lt(until))
        .filter(alert_events::initial_status.eq("open"))
        .filter(cs::status.eq_any(AlertStatus::UNRESOLVED_NAMES))
        .filter(
            cs::assignee_user_id
                .is_null()
                .or(cs::assignee_user_id.eq(user_id)),
        )
        .order((alert_events::created_at.asc(), alert_events::id.asc()))
        .limit(DIGEST_MAX_ALERTS)
        .select(alert_events::id)
        .load(conn)?)
}

/// The tenant's first enabled e-mail channel: its SMTP server carries the digests.
pub fn email_channel(conn: &mut DbConnection, scope: &TenantScope) -> Result<Option<i64>, DbError> {
    Ok(notification_channels::table
        .filter(notification_channels::customer_id.eq(scope.id()))
        .filter(notification_channels::enabled.eq(true))
        .filter(notification_channels::kind.eq(ChannelKind::Email.as_str()))
        .order(notification_channels::id.asc())
        .select(notification_channels::id)
        .first(conn)
        .optional()?)
}

/// Records `user_id`'s digest of `day`. `Duplicate` when it exists already (another
/// worker queued it first).
pub fn insert_digest(
    conn: &mut DbConnection,
    scope: &TenantScope,
    user_id: i64,
    day: NaiveDate,
    alert_ids: &[i64],
    now: NaiveDateTime,
) -> Result<i64, DbError> {
    let ids = alert_ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    crate::on_backend!(conn, c => diesel::insert_into(alert_digests::table)
        .values((
            alert_digests::customer_id.eq(scope.id()),
            alert_digests::user_id.eq(user_id),
            alert_digests::digest_on.eq(day),
            alert_digests::alert_ids.eq(&ids),
            alert_digests::created_at.eq(now),
        ))
        .returning(alert_digests::id)
        .get_result::<i64>(c))
    .map_err(|e| {
        if DbError::is_unique_violation(&e) {
            DbError::Duplicate("digest of the day")
        } else {
            DbError::from(e)
        }
    })
}

/// A digest as the worker sends it: to whom, which day, which alerts (with their
/// current status and whether they are the recipient's).
#[derive(Debug, Clone)]
pub struct DigestJob {
    pub recipient: String,
    pub day: NaiveDate,
    pub alerts: Vec<(AlertEvent, bool)>,
}

pub fn load_digest(
    conn: &mut DbConnection,
    customer_id: i64,
    digest_id: i64,
) -> Result<DigestJob, DbError> {
    let (user_id, day, ids): (i64, NaiveDate, String) = alert_digests::table
        .filter(alert_digests::customer_id.eq(customer_id))
        .filter(alert_digests::id.eq(digest_id))
        .select((
            alert_digests::user_id,
            alert_digests::digest_on,
            alert_digests::alert_ids,
        ))
        .first(conn)?;
    let recipient: String = users::table
        .filter(users::customer_id.eq(customer_id))
        .filter(users::id.eq(user_id))
        .select(users::email)
        .first(conn)?;
    let ids: Vec<i64> = ids.split(',').filter_map(|s| s.parse().ok()).collect();
    let rows: Vec<(AlertEvent, Option<i64>)> = alert_events::table
        .inner_join(
            alert_current_status::table.on(alert_current_status::alert_id.eq(alert_events::id)),
        )
        .filter(alert_events::customer_id.eq(customer_id))
        .filter(alert_events::id.eq_any(&ids))
        .order((alert_events::created_at.asc(), alert_events::id.asc()))
        .select((
            AlertEvent::as_select(),
            alert_current_status::assignee_user_id,
        ))
        .load(conn)?;
    Ok(DigestJob {
        recipient,
        day,
        alerts: rows
            .into_iter()
            .map(|(a, assignee)| (a, assignee == Some(user_id)))
            .collect(),
    })
}
