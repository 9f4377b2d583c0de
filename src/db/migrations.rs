//! Migrations embedded in the binary, one directory per backend.

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{DbConnection, DbError};

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Applies pending migrations; returns the versions applied (empty when up to date).
pub fn run_pending(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    let applied = match conn {
        DbConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
    }
    .map_err(|e| DbError::Migration(e.to_string()))?;
    let applied: Vec<String> = applied.into_iter().map(|v| v.to_string()).collect();
    if applied.iter().any(|v| v.contains(ROLLUPS_MIGRATION)) {
        build_rollups(conn)?;
    }
    // Every start, not only when 999000 was just applied: a conversion that did not
    // finish (its transaction rolled back) left the text table, and is done now. Costs
    // one catalog probe when there is nothing to convert.
    if super::repo::rollups::has_text_rows(conn)? {
        super::transaction(conn, super::repo::rollups::convert_text_rows)?;
    }
    Ok(applied)
}

/// The migration that created the daily claim rollups (issue 21).
const ROLLUPS_MIGRATION: &str = "980000";

/// Fills the rollups of the claims stored before they existed, per tenant in one
/// transaction each (SQL alone cannot build the histogram text the same on both
/// backends; `db::repo::rollups` does it once, in Rust).
fn build_rollups(conn: &mut DbConnection) -> Result<(), DbError> {
    use crate::domain::tenant::{CustomerId, TenantScope};
    for customer in super::repo::customers::list_all(conn)? {
        let scope = TenantScope::for_system(CustomerId(customer.id));
        super::transaction(conn, |conn| {
            let rollups = super::repo::rollups::recompute(conn, &scope)?;
            super::repo::rollups::replace(conn, &scope, &rollups)
        })?;
    }
    Ok(())
}

/// Reverts every migration (used by the round-trip test).
pub fn revert_all(conn: &mut DbConnection) -> Result<(), DbError> {
    match conn {
        DbConnection::Postgresql(c) => c.revert_all_migrations(POSTGRES_MIGRATIONS).map(|_| ()),
        DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS).map(|_| ()),
    }
    .map_err(|e| DbError::Migration(e.to_string()))
}

/// Reverts the newest applied migration (tests of a migration's data carry-over).
#[doc(hidden)]
pub fn revert_last(conn: &mut DbConnection) -> Result<String, DbError> {
    match conn {
        DbConnection::Postgresql(c) => c.revert_last_migration(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(c) => c.revert_last_migration(SQLITE_MIGRATIONS),
    }
    .map(|v| v.to_string())
    .map_err(|e| DbError::Migration(e.to_string()))
}

/// True when the database holds no tables of its own yet (PostgreSQL: none in the
/// `public` schema; SQLite: none at all) — what the demo requires before it migrates
/// anything into a server database.
pub fn is_empty(conn: &mut DbConnection) -> Result<bool, DbError> {
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let sql = match conn {
        DbConnection::Postgresql(_) => {
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'public'"
        }
        DbConnection::Sqlite(_) => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%'"
        }
    };
    let count: Count = diesel::sql_query(sql).get_result(conn)?;
    Ok(count.n == 0)
}
