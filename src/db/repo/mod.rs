//! Repositories: every query on tenant-owned tables takes a [`TenantScope`] and filters
//! by it, so one tenant can never read or change another's rows.
//!
//! [`TenantScope`]: crate::domain::tenant::TenantScope

/// `UPDATE table SET changes WHERE customer_id = scope AND key = value`, answered by
/// [`one_row`]: a row of another tenant (or none) is `NotFound`. Expands inside a
/// repository function returning `Result<(), DbError>`, with `diesel::prelude::*` in scope:
/// `update_one!(conn, scope, users.id = id, users::role.eq(role))`.
macro_rules! update_one {
    ($conn:expr, $scope:expr, $table:ident . $key:ident = $value:expr, $changes:expr $(,)?) => {
        $crate::db::repo::one_row(
            diesel::update(
                $table::table
                    .filter($table::customer_id.eq($scope.id()))
                    .filter($table::$key.eq($value)),
            )
            .set($changes)
            .execute($conn)?,
        )
    };
}

/// `DELETE FROM table WHERE customer_id = scope AND key = value`, answered as
/// [`update_one!`] is: a row of another tenant (or none) is `NotFound`.
/// `delete_one!(conn, scope, cpt_groups.id = id)`.
macro_rules! delete_one {
    ($conn:expr, $scope:expr, $table:ident . $key:ident = $value:expr $(,)?) => {
        $crate::db::repo::one_row(
            diesel::delete(
                $table::table
                    .filter($table::customer_id.eq($scope.id()))
                    .filter($table::$key.eq($value)),
            )
            .execute($conn)?,
        )
    };
}

/// `$rows` (a filtered table) counted when `$dry_run`, else deleted; the number either
/// way, as `i64`: how `payerwatch purge` treats each kind of expired row. Expands inside a
/// repository function returning `Result<_, DbError>`, with `diesel::prelude::*` in scope.
macro_rules! count_or_delete {
    ($conn:expr, $rows:expr, $dry_run:expr $(,)?) => {{
        let rows = $rows;
        if $dry_run {
            rows.count().get_result::<i64>($conn)?
        } else {
            diesel::delete(rows).execute($conn)? as i64
        }
    }};
}

pub mod alert_comments;
pub mod alerts;
pub mod analytics;
pub mod api_tokens;
pub mod audit;
pub mod channels;
pub mod claim_writer;
pub mod claims;
pub mod customers;
pub mod deliveries;
pub mod digests;
pub mod invitations;
pub mod jobs;
pub mod keyset;
pub mod login_failures;
pub mod mappings;
pub mod page_versions;
pub mod password_tokens;
pub mod retention;
pub mod reversals;
pub mod rollups;
pub mod saved_filters;
pub mod scorecard;
pub mod sessions;
pub mod upload_lifecycle;
pub mod uploads;
pub mod users;

use chrono::NaiveDateTime;

/// Current UTC time without a zone, the way timestamps are stored.
pub fn now() -> NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

/// The result of an UPDATE filtered by tenant and id: no row changed means the row is not
/// this tenant's (or does not exist), which callers answer as not found.
pub(crate) fn one_row(changed: usize) -> Result<(), crate::db::DbError> {
    if changed == 0 {
        Err(crate::db::DbError::NotFound)
    } else {
        Ok(())
    }
}

/// One page of a list plus whether more follow.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

impl<T> Page<T> {
    pub fn total_pages(&self) -> i64 {
        if self.total == 0 {
            1
        } else {
            (self.total + self.per_page - 1) / self.per_page
        }
    }

    pub fn has_next(&self) -> bool {
        self.page < self.total_pages()
    }

    pub fn has_prev(&self) -> bool {
        self.page > 1
    }
}

/// Offset of a 1-based page, saturating instead of overflowing on absurd input.
pub(crate) fn offset(page: i64, per_page: i64) -> i64 {
    page.saturating_sub(1).max(0).saturating_mul(per_page)
}
