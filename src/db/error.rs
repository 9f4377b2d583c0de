//! The repository layer's error type. Database-specific failures are classified here,
//! once, so callers see domain outcomes (`NotFound`, `UploadHasClaims`, ...) instead of
//! backend error codes.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("not found")]
    NotFound,
    #[error("upload {upload_id} still has claims; it cannot be deleted")]
    UploadHasClaims { upload_id: i64 },
    #[error("a record with the same {0} already exists")]
    Duplicate(&'static str),
    #[error("referenced record is missing or still in use")]
    ForeignKey,
    #[error("database pool unavailable")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database connection failed")]
    Connection(#[from] diesel::ConnectionError),
    #[error("database query failed")]
    Query(#[source] DieselError),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("background database task was cancelled")]
    Cancelled,
    /// No request slot for the database freed up within the pool's connection timeout.
    #[error("database busy: no request slot became free in time")]
    Busy,
    /// The SQLite ingest's scratch staging database (a temporary file) failed.
    #[error("staging the upload's claims failed: {0}")]
    Staging(String),
    /// A stored rollup row that does not parse (`db::repo::rollups`).
    #[error("claim rollup row unreadable: {0}")]
    Rollup(String),
}

impl From<rusqlite::Error> for DbError {
    fn from(err: rusqlite::Error) -> Self {
        // Values are bound, never part of the statement: the text names no row data.
        DbError::Staging(err.to_string())
    }
}

impl From<DieselError> for DbError {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => DbError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                DbError::ForeignKey
            }
            other => DbError::Query(other),
        }
    }
}

impl DbError {
    /// True when the failure is a unique-constraint violation (both backends).
    pub fn is_unique_violation(err: &DieselError) -> bool {
        matches!(
            err,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
        )
    }
}
