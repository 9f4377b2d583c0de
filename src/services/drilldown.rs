//! The claims behind a finding or an alert: the work queue a billing lead hands to a
//! colleague. Tenant-scoped: another tenant's id is "not found".

use crate::db::repo::Page;
use crate::db::repo::alerts as alert_repo;
use crate::db::repo::analytics::{self, DriftEvent};
use crate::db::repo::claims::{self, ClaimRecord};
use crate::db::{AuditContext, AuditEntry, Db, DbError};
use crate::domain::drilldown::{ClaimSelection, ClaimSort, FindingScope};
use crate::domain::tenant::TenantScope;

/// Where the claims come from: a finding, or the finding an alert was raised for.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    Finding(i64),
    /// A data-quality alert has no finding, so no claims behind it ("not found").
    Alert(i64),
}

/// Claims per batch of a streamed export (one keyset query each): small enough that an
/// export's memory stays flat, large enough that a 100,000-claim finding is 200 queries.
pub const EXPORT_BATCH: i64 = 500;

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

/// The finding behind `source` and the claims it selects, checked before an export starts
/// (another tenant's id, or an alert without a finding, is "not found").
pub async fn selection(
    db: &Db,
    scope: TenantScope,
    source: Source,
) -> Result<(DriftEvent, ClaimSelection), DbError> {
    db.run(move |conn| {
        let id = finding_id(conn, &scope, source)?;
        let finding = analytics::find_event(conn, &scope, id)?;
        let selection = selection_of(&finding);
        Ok((finding, selection))
    })
    .await
}

/// Starts a claims export: the selection of `source` (not found before anything is
/// written) and the export's audit row (`entry`, targeted at the finding or the alert).
pub async fn start_export(
    db: &Db,
    scope: TenantScope,
    source: Source,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<ClaimSelection, DbError> {
    let (_, selection) = selection(db, scope, source).await?;
    let target = match source {
        Source::Finding(id) => entry.target("finding", id),
        Source::Alert(id) => entry.target("alert", id),
    };
    db.write_audit(ctx, target).await?;
    Ok(selection)
}

/// One batch of a streamed export: up to `limit` claims in the listing's order, after
/// `after` (the last claim of the previous batch; `None` for the first).
pub async fn export_batch(
    db: &Db,
    scope: TenantScope,
    selection: std::sync::Arc<ClaimSelection>,
    sort: ClaimSort,
    descending: bool,
    after: Option<ClaimRecord>,
    limit: i64,
) -> Result<Vec<ClaimRecord>, DbError> {
    db.run(move |conn| {
        claims::batch_behind_finding(
            conn,
            &scope,
            &selection,
            sort,
            descending,
            after.as_ref(),
            limit,
        )
    })
    .await
}

fn finding_id(
    conn: &mut crate::db::DbConnection,
    scope: &TenantScope,
    source: Source,
) -> Result<i64, DbError> {
    match source {
        Source::Finding(id) => Ok(id),
        Source::Alert(id) => alert_repo::find_alert(conn, scope, id)?
            .alert
            .drift_event_id
            .ok_or(DbError::NotFound),
    }
}

pub async fn claims(
    db: &Db,
    scope: TenantScope,
    source: Source,
    listing: Listing,
) -> Result<Drilldown, DbError> {
    db.run(move |conn| {
        let id = finding_id(conn, &scope, source)?;
        let finding = analytics::find_event(conn, &scope, id)?;
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
