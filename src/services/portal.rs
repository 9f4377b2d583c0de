//! The signed-in start page: the biggest recent changes, the latest uploads and the open
//! alerts, read together.

use crate::db::repo::Page;
use crate::db::repo::alerts::{self as alert_repo, AlertFilter, AlertWithStatus};
use crate::db::repo::uploads::{self, Upload};
use crate::db::{Db, DbError};
use crate::domain::tenant::TenantScope;
use crate::services::analytics::overview::{self, TopChange};

/// What the start page shows.
pub struct Overview {
    /// The biggest recent changes, grouped across products.
    pub top: Vec<TopChange>,
    /// The newest uploads (the page's first `limit`), with the total.
    pub uploads: Page<Upload>,
    /// The newest open alerts (the first `limit`), with the total.
    pub open_alerts: Page<AlertWithStatus>,
}

/// The start page's figures, `limit` of each list.
pub async fn overview(db: &Db, scope: TenantScope, limit: usize) -> Result<Overview, DbError> {
    db.run(move |conn| {
        let top = overview::top_changes(conn, &scope, limit)?;
        let per_page = i64::try_from(limit).unwrap_or(i64::MAX);
        let uploads = uploads::list(conn, &scope, 1, per_page)?;
        let open = AlertFilter {
            status: Some("open".to_string()),
            ..Default::default()
        };
        let (open_alerts, _) = alert_repo::list_alerts(conn, &scope, &open, 1, per_page)?;
        Ok(Overview {
            top,
            uploads,
            open_alerts,
        })
    })
    .await
}
