//! Notification channels of a tenant. Channels are disabled, not deleted, once a delivery
//! names them (the delivery log keeps pointing at its channel).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{deliveries, notification_channels};
use crate::db::{DbConnection, DbError};
use crate::domain::tenant::TenantScope;
use crate::on_backend;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notification_channels)]
pub struct Channel {
    pub id: i64,
    pub customer_id: i64,
    pub name: String,
    pub kind: String,
    pub target: String,
    pub settings_json: String,
    pub secret_sealed: Option<String>,
    pub enabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Channel {
    pub fn settings(&self) -> crate::domain::channels::ChannelSettings {
        serde_json::from_str(&self.settings_json).unwrap_or_default()
    }
}

pub struct NewChannel {
    pub name: String,
    pub kind: String,
    pub target: String,
    pub settings_json: String,
}

/// Creates a channel, then seals its secret with the new id bound in (the sealing needs
/// the id, so the two steps share the caller's transaction).
/// Inserts the channel, then stores what `seal` makes of its secret for the new id; a
/// failing `seal` returns its own error (the caller's transaction rolls the row back).
pub fn insert_channel<E: From<DbError>>(
    conn: &mut DbConnection,
    scope: &TenantScope,
    channel: &NewChannel,
    seal: impl FnOnce(i64) -> Result<Option<String>, E>,
) -> Result<i64, E> {
    let now = super::now();
    let id = on_backend!(conn, c => diesel::insert_into(notification_channels::table)
        .values((
            notification_channels::customer_id.eq(scope.id()),
            notification_channels::name.eq(&channel.name),
            notification_channels::kind.eq(&channel.kind),
            notification_channels::target.eq(&channel.target),
            notification_channels::settings_json.eq(&channel.settings_json),
            notification_channels::enabled.eq(true),
            notification_channels::created_at.eq(now),
            notification_channels::updated_at.eq(now),
        ))
        .returning(notification_channels::id)
        .get_result::<i64>(c))
    .map_err(DbError::from)?;
    if let Some(sealed) = seal(id)? {
        diesel::update(notification_channels::table.find(id))
            .set(notification_channels::secret_sealed.eq(Some(sealed)))
            .execute(conn)
            .map_err(DbError::from)?;
    }
    Ok(id)
}

pub fn list_channels(
    conn: &mut DbConnection,
    scope: &TenantScope,
) -> Result<Vec<Channel>, DbError> {
    Ok(notification_channels::table
        .filter(notification_channels::customer_id.eq(scope.id()))
        .order(notification_channels::id.asc())
        .select(Channel::as_select())
        .load(conn)?)
}

pub fn find_channel(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
) -> Result<Channel, DbError> {
    Ok(notification_channels::table
        .filter(notification_channels::customer_id.eq(scope.id()))
        .filter(notification_channels::id.eq(id))
        .select(Channel::as_select())
        .first(conn)?)
}

pub fn set_channel_enabled(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
    enabled: bool,
) -> Result<(), DbError> {
    update_one!(
        conn,
        scope,
        notification_channels.id = id,
        (
            notification_channels::enabled.eq(enabled),
            notification_channels::updated_at.eq(super::now()),
        )
    )
}

/// Replaces the sealed secret (a rotated webhook secret).
pub fn replace_secret(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
    sealed: &str,
) -> Result<(), DbError> {
    update_one!(
        conn,
        scope,
        notification_channels.id = id,
        (
            notification_channels::secret_sealed.eq(Some(sealed)),
            notification_channels::updated_at.eq(super::now()),
        )
    )
}

/// Deletes a channel that never had a delivery; refuses otherwise (disable it instead).
pub fn delete_unused_channel(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
) -> Result<(), DbError> {
    find_channel(conn, scope, id)?;
    let used: i64 = deliveries::table
        .filter(deliveries::channel_id.eq(id))
        .count()
        .get_result(conn)?;
    if used > 0 {
        return Err(DbError::ForeignKey);
    }
    diesel::delete(
        notification_channels::table
            .filter(notification_channels::customer_id.eq(scope.id()))
            .filter(notification_channels::id.eq(id)),
    )
    .execute(conn)?;
    Ok(())
}
