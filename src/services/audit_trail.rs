//! The audit trail as admins read it (`/portal/settings/audit` and its CSV): the actor
//! filter resolved against the tenant's members, a page of events, and the export's
//! batches — the export itself audited (`audit.exported`).

use std::collections::HashMap;
use std::sync::Arc;

use crate::db::repo::Page;
use crate::db::repo::audit::{self, AuditEvent, AuditFilter};
use crate::db::repo::users;
use crate::db::{AuditContext, AuditEntry, Db, DbConnection, DbError};
use crate::domain::tenant::TenantScope;

/// The actor filter as typed: a user id or an e-mail address (normalised).
#[derive(Debug, Clone)]
pub enum Actor {
    Any,
    Id(i64),
    Email(String),
}

/// Members of the tenant by id (to show e-mails instead of ids).
pub type Members = HashMap<i64, String>;

/// The actor filter after looking the e-mail up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    Any,
    Id(i64),
    /// An e-mail of no member of this tenant: nothing can match.
    NoSuchMember,
}

impl Resolved {
    pub fn actor_id(self) -> Option<i64> {
        match self {
            Resolved::Id(id) => Some(id),
            Resolved::Any | Resolved::NoSuchMember => None,
        }
    }
}

fn resolve(
    conn: &mut DbConnection,
    scope: &TenantScope,
    actor: &Actor,
) -> Result<(Members, Resolved), DbError> {
    let members: Members = users::list(conn, scope)?
        .into_iter()
        .map(|u| (u.id, u.email))
        .collect();
    let resolved = match actor {
        Actor::Any => Resolved::Any,
        Actor::Id(id) => Resolved::Id(*id),
        Actor::Email(email) => members
            .iter()
            .find(|(_, e)| *e == email)
            .map_or(Resolved::NoSuchMember, |(id, _)| Resolved::Id(*id)),
    };
    Ok((members, resolved))
}

/// What the audit trail page shows.
pub struct TrailPage {
    pub members: Members,
    pub resolved: Resolved,
    /// Every action the tenant's trail holds (the filter's choices).
    pub actions: Vec<String>,
    /// The page of events; none when the actor is no member (nothing can match).
    pub events: Option<Page<AuditEvent>>,
}

/// Page `page` of the tenant's events matching `filter` and `actor`, newest first.
pub async fn page(
    db: &Db,
    scope: TenantScope,
    filter: AuditFilter,
    actor: Actor,
    page: i64,
    per_page: i64,
) -> Result<TrailPage, DbError> {
    db.run(move |conn| {
        let (members, resolved) = resolve(conn, &scope, &actor)?;
        let actions = audit::list_actions(conn, &scope)?;
        let events = match resolved {
            Resolved::NoSuchMember => None,
            found => {
                let f = AuditFilter {
                    actor_user_id: found.actor_id(),
                    ..filter
                };
                Some(audit::list_page(conn, &scope, &f, page, per_page)?)
            }
        };
        Ok(TrailPage {
            members,
            resolved,
            actions,
            events,
        })
    })
    .await
}

/// An export about to stream: the filter with its actor resolved, the members to name
/// actors by, and whether anything can match at all.
pub struct TrailExport {
    pub filter: Arc<AuditFilter>,
    pub members: Arc<Members>,
    /// An e-mail of no member of this tenant: the file is its header alone.
    pub nothing_matches: bool,
}

/// Resolves the export's actor and records `audit.exported` (target the trail's CSV)
/// in one transaction, before the first byte.
pub async fn start_export(
    db: &Db,
    scope: TenantScope,
    filter: AuditFilter,
    actor: Actor,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<TrailExport, DbError> {
    let (members, resolved) = db
        .write_audited(ctx, entry.target("audit_trail", "csv"), move |conn| {
            resolve(conn, &scope, &actor)
        })
        .await?;
    Ok(TrailExport {
        filter: Arc::new(AuditFilter {
            actor_user_id: resolved.actor_id(),
            ..filter
        }),
        members: Arc::new(members),
        nothing_matches: resolved == Resolved::NoSuchMember,
    })
}

/// One batch of the export: up to `limit` events matching `filter`, newest first, older
/// than event `before_id` (`None` for the first batch).
pub async fn export_batch(
    db: &Db,
    scope: TenantScope,
    filter: Arc<AuditFilter>,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditEvent>, DbError> {
    db.run(move |conn| audit::list_chunk_before(conn, &scope, &filter, before_id, limit))
        .await
}
