//! The daily claim rollups' checks (`payerwatch rollups --verify | --rebuild`): they are
//! kept in the transaction of every claim change (`db::repo::rollups`); these recompute
//! them from claims to prove it, or to repair a database whose rollups were lost.

use crate::db::repo::rollups;
use crate::db::{Db, DbError};
use crate::domain::tenant::TenantScope;

/// What a rebuild wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RebuildCounts {
    pub day_rows: usize,
    pub reason_rows: usize,
}

/// Recomputes the tenant's rollups from its claims and lists every difference from the
/// stored ones (empty: they agree). One transaction, so claims and rollups are read at
/// one point in time (on SQLite the writer lock keeps uploads out meanwhile).
pub fn verify(db: &Db, scope: &TenantScope) -> Result<Vec<String>, DbError> {
    let scope = *scope;
    db.write_blocking(move |conn| {
        let expected = rollups::recompute(conn, &scope)?;
        let stored = rollups::stored(conn, &scope)?;
        Ok(rollups::differences(&stored, &expected))
    })
}

/// Replaces the tenant's rollups with ones recomputed from its claims.
pub fn rebuild(db: &Db, scope: &TenantScope) -> Result<RebuildCounts, DbError> {
    let scope = *scope;
    db.write_blocking(move |conn| {
        let expected = rollups::recompute(conn, &scope)?;
        rollups::replace(conn, &scope, &expected)?;
        Ok(RebuildCounts {
            day_rows: expected.cells.len(),
            reason_rows: expected.reasons.len(),
        })
    })
}
