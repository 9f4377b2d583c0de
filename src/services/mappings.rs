//! Mappings: payer identity and CPT groups as one use case per function, for the web page,
//! the CLI (`payerwatch remap`) and the ingest alike (SPEC §2 "Payer identity").
//!
//! - At ingest, spellings no alias or built-in name claimed that share a key are stored
//!   under one payer: the tenant's existing payer with that key, else the upload's most
//!   frequent spelling as written (`ingest::spellings`; the upload's own rows only).
//! - The mappings page shows, per payer, the spellings stored under it and why
//!   ([`overview`]); an analyst splits a spelling off or merges a payer into another with
//!   one click. Both write a tenant alias (aliases win at every later upload) and re-map the
//!   stored claims in the same audited transaction ([`split`], [`merge`]).
//! - `payerwatch remap` re-applies everything to stored claims ([`remap`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::db::repo::mappings as repo;
use crate::db::repo::mappings::ImportCounts;
use crate::db::{AuditContext, AuditEntry, Db, DbConnection, DbError};
use crate::domain::mapping::payer_key;
use crate::domain::mapping_table::{AliasEntry, CptGroupEntry, FieldError};
use crate::domain::payer_identity::{self, MergeReason};
use crate::domain::tenant::TenantScope;
use crate::ingest::mapper::Mappings;

/// Why a mapping change was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// A label is missing, too long or looks like PHI (the fields name the problems).
    #[error("invalid mapping fields")]
    Invalid(Vec<FieldError>),
    /// The payer or spelling is not among the tenant's stored claims.
    #[error("no stored claims carry that payer name")]
    UnknownPayer,
    /// The spelling differs from its payer only in case or spacing, which aliases ignore
    /// (SPEC §2), so it cannot be kept apart.
    #[error("the spelling differs from its payer only in case or spacing")]
    CaseOnly,
    /// Merging a payer into itself.
    #[error("a payer cannot be merged into itself")]
    SamePayer,
    /// An edit would give an entry the key of another entry of the tenant (an alias's
    /// name in files, a CPT range's bounds); the field named.
    #[error("another entry already has that {0}")]
    Duplicate(&'static str),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// One spelling as stored under its payer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spelling {
    pub raw: String,
    pub claims: u64,
    pub reason: MergeReason,
}

impl Spelling {
    /// A spelling stored under another name can be split off (kept as written).
    pub fn can_split(&self, canonical: &str) -> bool {
        self.raw != canonical
    }

    pub fn claims_text(&self) -> String {
        crate::domain::format::thousands(self.claims)
    }
}

/// A canonical payer with the spellings stored under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayerGroup {
    pub canonical: String,
    pub claims: u64,
    pub spellings: Vec<Spelling>,
}

impl PayerGroup {
    /// Whether other spellings were merged under this payer.
    pub fn is_merged(&self) -> bool {
        self.spellings.len() > 1 || self.spellings.iter().any(|s| s.raw != self.canonical)
    }

    pub fn claims_text(&self) -> String {
        crate::domain::format::thousands(self.claims)
    }
}

/// What the mappings page shows.
pub struct Overview {
    pub aliases: Vec<repo::PayerAlias>,
    pub groups: Vec<repo::CptGroupRange>,
    /// Every stored payer, most claims first.
    pub payers: Vec<PayerGroup>,
}

/// The mappings page's data: aliases, CPT groups and the stored payers with their
/// spellings (one pass over the tenant's claims, grouped by spelling and payer).
pub fn overview(conn: &mut DbConnection, scope: &TenantScope) -> Result<Overview, DbError> {
    let aliases = repo::list_payer_aliases(conn, scope)?;
    let groups = repo::list_cpt_groups(conn, scope)?;
    let alias_keys: HashSet<&str> = aliases.iter().map(|a| a.alias_key.as_str()).collect();
    let mut by_payer: BTreeMap<String, Vec<Spelling>> = BTreeMap::new();
    for (raw, payer, claims, with_id) in repo::spelling_claim_and_id_counts(conn, scope)? {
        let reason = payer_identity::reason_of(
            &raw,
            &payer,
            alias_keys.contains(payer_key(&raw).as_str()),
            with_id > 0,
        );
        by_payer.entry(payer).or_default().push(Spelling {
            raw,
            claims,
            reason,
        });
    }
    let mut payers: Vec<PayerGroup> = by_payer
        .into_iter()
        .map(|(canonical, mut spellings)| {
            spellings.sort_by(|a, b| b.claims.cmp(&a.claims).then_with(|| a.raw.cmp(&b.raw)));
            PayerGroup {
                claims: spellings.iter().map(|s| s.claims).sum(),
                canonical,
                spellings,
            }
        })
        .collect();
    payers.sort_by(|a, b| {
        b.claims
            .cmp(&a.claims)
            .then_with(|| a.canonical.cmp(&b.canonical))
    });
    Ok(Overview {
        aliases,
        groups,
        payers,
    })
}

/// Saves one alias (applies to later uploads; `remap` applies it to stored claims).
pub fn save_alias(
    conn: &mut DbConnection,
    scope: &TenantScope,
    entry: &AliasEntry,
) -> Result<(), DbError> {
    repo::upsert_payer_alias(conn, scope, &entry.alias, &entry.canonical)
}

/// Changes alias `id`: its name in files and its canonical payer. Later uploads follow;
/// stored claims at the next re-map (SPEC §2: no silent rewrite of history). Another
/// tenant's id is `NotFound`; a name another alias of the tenant has is `Duplicate`.
fn update_alias(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
    entry: &AliasEntry,
) -> Result<(), MappingError> {
    repo::payer_alias(conn, scope, id)?;
    if repo::find_payer_alias(conn, scope, &entry.alias)?.is_some_and(|other| other.id != id) {
        return Err(MappingError::Duplicate("alias"));
    }
    Ok(repo::update_payer_alias(
        conn,
        scope,
        id,
        &entry.alias,
        &entry.canonical,
    )?)
}

/// Deletes alias `id` (later uploads map the name by payer id, built-in names or
/// spelling; stored claims at the next re-map). Another tenant's id is `NotFound`.
fn delete_alias(conn: &mut DbConnection, scope: &TenantScope, id: i64) -> Result<(), DbError> {
    repo::delete_payer_alias(conn, scope, id)
}

/// Changes CPT range `id`: its bounds and group. Same rules as [`update_alias`]; two
/// ranges with the same bounds are a `Duplicate` of `code_start`.
fn update_cpt_group(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
    entry: &CptGroupEntry,
) -> Result<(), MappingError> {
    repo::cpt_group(conn, scope, id)?;
    if repo::find_cpt_group(conn, scope, &entry.code_start, &entry.code_end)?
        .is_some_and(|other| other.id != id)
    {
        return Err(MappingError::Duplicate("code_start"));
    }
    Ok(repo::update_cpt_group(
        conn,
        scope,
        id,
        &entry.code_start,
        &entry.code_end,
        &entry.group_name,
    )?)
}

/// Deletes CPT range `id`, a default range too: the tenant owns its table (codes it
/// covered fall to a wider range or `OTHER` at later uploads and the next re-map).
fn delete_cpt_group(conn: &mut DbConnection, scope: &TenantScope, id: i64) -> Result<(), DbError> {
    repo::delete_cpt_group(conn, scope, id)
}

/// After stored claims were re-mapped: the findings were computed on the claims as they
/// were, so an analytics run is requested (joining one already queued), as an upload
/// does. Nothing changed, nothing requested.
fn request_run_if_changed(
    conn: &mut DbConnection,
    scope: &TenantScope,
    changed: u64,
) -> Result<Option<i64>, DbError> {
    if changed == 0 {
        return Ok(None);
    }
    crate::db::repo::jobs::request_analytics(conn, scope, crate::db::repo::now()).map(Some)
}

/// Splits a spelling off the payer it is stored under: it keeps its name as written, now
/// and at every later upload (an alias to itself), and its stored claims are re-mapped.
/// Returns the claims changed.
pub fn split(conn: &mut DbConnection, scope: &TenantScope, raw: &str) -> Result<u64, MappingError> {
    let entry = AliasEntry::parse(raw, raw).map_err(MappingError::Invalid)?;
    let stored = repo::spelling_claim_counts(conn, scope)?;
    let Some((_, payer, _)) = stored.iter().find(|(r, _, _)| *r == entry.alias) else {
        return Err(MappingError::UnknownPayer);
    };
    if payer_key(payer) == payer_key(&entry.alias) && *payer != entry.alias {
        return Err(MappingError::CaseOnly);
    }
    repo::upsert_payer_alias(conn, scope, &entry.alias, &entry.alias)?;
    let changed = repo::set_claims_payer(conn, scope, &entry.alias, &entry.alias)? as u64;
    request_run_if_changed(conn, scope, changed)?;
    Ok(changed)
}

/// Merges payer `from` into payer `into`: every spelling stored under `from` gets an alias
/// to `into` (so later uploads follow), aliases that pointed at `from` point at `into`, and
/// the stored claims are re-mapped. Returns the claims changed.
pub fn merge(
    conn: &mut DbConnection,
    scope: &TenantScope,
    from: &str,
    into: &str,
) -> Result<u64, MappingError> {
    let entry = AliasEntry::parse(from, into).map_err(MappingError::Invalid)?;
    if entry.alias == entry.canonical {
        return Err(MappingError::SamePayer);
    }
    let raws: Vec<String> = repo::spelling_claim_counts(conn, scope)?
        .into_iter()
        .filter(|(_, payer, _)| *payer == entry.alias)
        .map(|(raw, _, _)| raw)
        .collect();
    if raws.is_empty() {
        return Err(MappingError::UnknownPayer);
    }
    for alias in repo::list_payer_aliases(conn, scope)? {
        if alias.canonical == entry.alias {
            repo::upsert_payer_alias(conn, scope, &alias.alias, &entry.canonical)?;
        }
    }
    let mut changed = 0;
    for raw in &raws {
        repo::upsert_payer_alias(conn, scope, raw, &entry.canonical)?;
        changed += repo::set_claims_payer(conn, scope, raw, &entry.canonical)? as u64;
    }
    request_run_if_changed(conn, scope, changed)?;
    Ok(changed)
}

/// What a re-map changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemapOutcome {
    pub payer_rows: u64,
    pub cpt_group_rows: u64,
    /// The analytics request queued because claims changed (`None`: nothing changed).
    pub analytics_job: Option<i64>,
}

impl RemapOutcome {
    /// Stored claims whose payer or CPT group changed (a claim changed in both counts
    /// twice: the two are separate set-based updates).
    pub fn rows(&self) -> u64 {
        self.payer_rows + self.cpt_group_rows
    }
}

/// `payerwatch remap`: [`remap_stored`] in one write transaction of its own.
pub fn remap(db: &Db, scope: &TenantScope) -> Result<RemapOutcome, DbError> {
    let scope = *scope;
    db.write_blocking(move |conn| remap_stored(conn, &scope))
}

/// Re-applies the tenant's current payer identity (aliases, built-in names, same-key
/// merge under the most frequent stored spelling) and CPT groups to its stored claims
/// (explicitly requested: the CLI, or the page's "Re-map stored claims now"; uploads
/// never rewrite history on their own). Runs in the caller's write transaction (the page
/// writes its audit row in it); work is per distinct payer spelling and CPT code, updates
/// are set-based, and the claims' rollup rows move with them. When claims changed, an
/// analytics run is requested in the same transaction.
pub fn remap_stored(conn: &mut DbConnection, scope: &TenantScope) -> Result<RemapOutcome, DbError> {
    let scope = *scope;
    let mappings = Mappings::new(
        &repo::list_payer_aliases(conn, &scope)?,
        &repo::list_cpt_groups(conn, &scope)?,
    );
    let mut out = RemapOutcome::default();
    let mut per_raw: HashMap<String, (u64, Vec<String>)> = HashMap::new();
    for (raw, payer, n) in repo::spelling_claim_counts(conn, &scope)? {
        let e = per_raw.entry(raw).or_default();
        e.0 += n;
        e.1.push(payer);
    }
    // Spellings no alias or built-in name claims merge as at ingest: under the stored
    // payer with their key that has the most claims, so a remap keeps what is there.
    let unmapped: Vec<(String, u64)> = per_raw
        .iter()
        .filter(|(raw, _)| mappings.alias_of(raw).is_none())
        .map(|(raw, (n, _))| (raw.clone(), *n))
        .collect();
    let merged: HashMap<String, String> =
        payer_identity::merge_targets(&unmapped, &repo::payer_claim_counts(conn, &scope)?)
            .into_iter()
            .collect();
    for (raw, (_, current)) in &per_raw {
        let target = match mappings.alias_of(raw) {
            Some(a) => mappings.canonical(a),
            None => merged.get(raw).map_or(raw.as_str(), String::as_str),
        };
        if current.iter().any(|c| c != target) {
            out.payer_rows += repo::set_claims_payer(conn, &scope, raw, target)? as u64;
        }
    }
    for (cpt, current) in repo::distinct_claim_cpts(conn, &scope)? {
        let Some(code) = crate::domain::claim::CptCode::parse(&cpt) else {
            continue;
        };
        let target = mappings.group_name(mappings.group_of(&code));
        if target != current {
            out.cpt_group_rows += repo::set_claims_cpt_group(conn, &scope, &cpt, target)? as u64;
        }
    }
    out.analytics_job = request_run_if_changed(conn, &scope, out.rows())?;
    Ok(out)
}

// ------------------------------------------------------------------ use cases
//
// One function per thing a person does on the mappings page (and the CLI where it does
// the same): each opens its own transaction, and a change commits with its audit row
// (`entry`, the caller's who/what; the target is set here).

/// The mappings page's data ([`overview`]), read off the async workers.
pub async fn page_data(db: &Db, scope: TenantScope) -> Result<Overview, DbError> {
    db.run(move |conn| overview(conn, &scope)).await
}

/// Adds an alias, or changes the canonical payer of the alias with that name.
pub async fn add_alias(
    db: &Db,
    scope: TenantScope,
    entry: AliasEntry,
    ctx: AuditContext,
    audit: AuditEntry<'static>,
) -> Result<(), DbError> {
    db.write_audited(ctx, audit, move |conn| save_alias(conn, &scope, &entry))
        .await
}

/// Edits alias `id` ([`update_alias`]'s rules), audited against it.
pub async fn edit_alias(
    db: &Db,
    scope: TenantScope,
    id: i64,
    entry: AliasEntry,
    ctx: AuditContext,
    audit: AuditEntry<'static>,
) -> Result<(), MappingError> {
    db.write_audited(ctx, audit.target("payer_alias", id), move |conn| {
        update_alias(conn, &scope, id, &entry)
    })
    .await
}

/// Deletes alias `id`, audited against it.
pub async fn remove_alias(
    db: &Db,
    scope: TenantScope,
    id: i64,
    ctx: AuditContext,
    audit: AuditEntry<'static>,
) -> Result<(), DbError> {
    db.write_audited(ctx, audit.target("payer_alias", id), move |conn| {
        delete_alias(conn, &scope, id)
    })
    .await
}

/// Adds a CPT range, or renames the group of the range with those bounds.
pub async fn add_cpt_range(
    db: &Db,
    scope: TenantScope,
    entry: CptGroupEntry,
    ctx: AuditContext,
    audit: AuditEntry<'static>,
) -> Result<(), DbError> {
    db.write_audited(ctx, audit, move |conn| {
        repo::upsert_cpt_group(
            conn,
            &scope,
            &entry.code_start,
            &entry.code_end,
            &entry.group_name,
        )
    })
    .await
}

/// Edits CPT range `id` ([`update_cpt_group`]'s rules), audited against it.
pub async fn edit_cpt_range(
    db: &Db,
    scope: TenantScope,
    id: i64,
    entry: CptGroupEntry,
    ctx: AuditContext,
    audit: AuditEntry<'static>,
) -> Result<(), MappingError> {
    db.write_audited(ctx, audit.target("cpt_group", id), move |conn| {
        update_cpt_group(conn, &scope, id, &entry)
    })
    .await
}

/// Deletes CPT range `id`, audited against it.
pub async fn remove_cpt_range(
    db: &Db,
    scope: TenantScope,
    id: i64,
    ctx: AuditContext,
    audit: AuditEntry<'static>,
) -> Result<(), DbError> {
    db.write_audited(ctx, audit.target("cpt_group", id), move |conn| {
        delete_cpt_group(conn, &scope, id)
    })
    .await
}

/// [`split`] with its audit row (target: the spelling). Returns the claims changed.
pub async fn split_payer(
    db: &Db,
    scope: TenantScope,
    raw: String,
    ctx: AuditContext,
    audit: AuditEntry<'static>,
) -> Result<u64, MappingError> {
    let audit = audit.target("payer", raw.trim());
    db.write_audited(ctx, audit, move |conn| split(conn, &scope, &raw))
        .await
}

/// [`merge`] with its audit row (target: the payer merged away). Returns the claims
/// changed.
pub async fn merge_payer(
    db: &Db,
    scope: TenantScope,
    from: String,
    into: String,
    ctx: AuditContext,
    audit: AuditEntry<'static>,
) -> Result<u64, MappingError> {
    let audit = audit.target("payer", from.trim());
    db.write_audited(ctx, audit, move |conn| merge(conn, &scope, &from, &into))
        .await
}

/// The page's "Re-map stored claims now": [`remap_stored`] with its audit row (target:
/// the tenant).
pub async fn remap_now(
    db: &Db,
    scope: TenantScope,
    ctx: AuditContext,
    audit: AuditEntry<'static>,
) -> Result<RemapOutcome, DbError> {
    db.write_audited(ctx, audit.target("customer", scope.id()), move |conn| {
        remap_stored(conn, &scope)
    })
    .await
}

/// Which mapping table a CSV file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Aliases,
    CptGroups,
}

impl Table {
    /// The form's `table` value.
    pub fn parse(name: &str) -> Option<Table> {
        match name.trim() {
            "aliases" => Some(Table::Aliases),
            "cpt_groups" => Some(Table::CptGroups),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Table::Aliases => "payer aliases",
            Table::CptGroups => "CPT groups",
        }
    }

    /// The audit rows' target type.
    fn target(self) -> &'static str {
        match self {
            Table::Aliases => "payer_aliases",
            Table::CptGroups => "cpt_groups",
        }
    }
}

/// A checked mapping file: every line valid.
pub enum TableEntries {
    Aliases(Vec<AliasEntry>),
    CptGroups(Vec<CptGroupEntry>),
}

impl TableEntries {
    pub fn table(&self) -> Table {
        match self {
            TableEntries::Aliases(_) => Table::Aliases,
            TableEntries::CptGroups(_) => Table::CptGroups,
        }
    }
}

/// Stores a checked file's entries in one write transaction with its audit row: every
/// entry or none.
pub async fn import_table(
    db: &Db,
    scope: TenantScope,
    entries: TableEntries,
    ctx: AuditContext,
    audit: AuditEntry<'static>,
) -> Result<ImportCounts, DbError> {
    let audit = audit.target(entries.table().target(), "csv");
    db.write_audited(ctx, audit, move |conn| match &entries {
        TableEntries::Aliases(e) => repo::import_payer_aliases(conn, &scope, e),
        TableEntries::CptGroups(e) => repo::import_cpt_groups(conn, &scope, e),
    })
    .await
}

/// One table's rows for its CSV export.
pub enum TableRows {
    Aliases(Vec<repo::PayerAlias>),
    CptGroups(Vec<repo::CptGroupRange>),
}

/// One table's rows for its CSV export, read in the transaction that writes the export's
/// audit row (an export is recorded when its data is read).
pub async fn export_table(
    db: &Db,
    scope: TenantScope,
    which: Table,
    ctx: AuditContext,
    audit: AuditEntry<'static>,
) -> Result<TableRows, DbError> {
    db.write_audited(ctx, audit.target(which.target(), "csv"), move |conn| {
        Ok(match which {
            Table::Aliases => TableRows::Aliases(repo::list_payer_aliases(conn, &scope)?),
            Table::CptGroups => TableRows::CptGroups(repo::list_cpt_groups(conn, &scope)?),
        })
    })
    .await
}
