//! The claims behind a finding or an alert: the work queue a billing lead hands to a
//! colleague. Tenant-scoped: another tenant's id is "not found".

use crate::db::repo::Page;
use crate::db::repo::alerts as alert_repo;
use crate::db::repo::analytics::{self, DriftEvent};
use crate::db::repo::claims::{self, ClaimRecord};
use crate::db::{Db, DbError};
use crate::domain::drilldown::{ClaimSelection, ClaimSort, FindingScope};
use crate::domain::tenant::TenantScope;

/// Where the claims come from: a finding, or the finding an alert was raised for.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    Finding(i64),
    /// A data-quality alert has no finding, so no claims behind it ("not found").
    Alert(i64),
}

/// One page of the list, in order.
#[derive(Debug, Clone, Copy)]
pub struct Listing {
    pub sort: ClaimSort,
    pub descending: bool,
    pub page: i64,
    pub per_page: i64,
}

pub struct Drilldown {
    pub finding: DriftEvent,
    pub selection: ClaimSelection,
    pub claims: Page<ClaimRecord>,
}

pub fn selection_of(event: &DriftEvent) -> ClaimSelection {
    ClaimSelection::of(&FindingScope {
        product: &event.product,
        mode: &event.mode,
        payer: &event.payer,
        group: &event.cpt_group,
        baseline: (event.baseline_start, event.baseline_end),
        current: (event.current_start, event.current_end),
    })
}

pub async fn claims(
    db: &Db,
    scope: TenantScope,
    source: Source,
    listing: Listing,
) -> Result<Drilldown, DbError> {
    db.run(move |conn| {
        let finding_id = match source {
            Source::Finding(id) => id,
            Source::Alert(id) => alert_repo::find_alert(conn, &scope, id)?
                .alert
                .drift_event_id
                .ok_or(DbError::NotFound)?,
        };
        let finding = analytics::find_event(conn, &scope, finding_id)?;
        let selection = selection_of(&finding);
        let claims = claims::behind_finding(
            conn,
            &scope,
            &selection,
            listing.sort,
            listing.descending,
            listing.page,
            listing.per_page,
        )?;
        Ok(Drilldown {
            finding,
            selection,
            claims,
        })
    })
    .await
}
