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
//! - "Re-map stored claims now" re-applies everything to stored claims as a job
//!   ([`request_remap`], [`run_job`]) that commits in bounded steps, each moving claims
//!   and their rollups together, so one tenant's re-map never holds SQLite's single writer
//!   for long; `payerwatch remap` runs the same steps in its own process ([`remap`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

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
    /// The tenant's latest re-map (queued, running or ended), if any.
    pub remap: Option<RemapStatus>,
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
        remap: remap_status(conn, scope)?,
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

// ------------------------------------------------------------------ re-map

/// Claims one re-map step moves at most: each step is one write transaction (claims and
/// their rollup rows together), so other writers — every tenant's uploads on SQLite —
/// wait at most one step, about a second or two at this size, not the whole re-map
/// (docs/decisions.md).
pub const REMAP_STEP_CLAIMS: i64 = 50_000;

/// What a re-map will change, read from the stored claims and the current mappings:
/// per payer spelling its new payer, per CPT code its new group (only those that change).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemapPlan {
    pub payers: Vec<(String, String)>,
    pub cpts: Vec<(String, String)>,
}

impl RemapPlan {
    pub fn len(&self) -> usize {
        self.payers.len() + self.cpts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How far a re-map got: committed with each of its steps, so a re-run after a crash
/// goes on from the first unfinished spelling or code and counts what was done before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemapProgress {
    pub payer_rows: u64,
    pub cpt_group_rows: u64,
    /// Write transactions committed (each at most [`REMAP_STEP_CLAIMS`] claims).
    pub steps: u64,
    /// Plan entries (spellings, then codes) finished.
    pub entries_done: usize,
    /// The analytics request made at the end (claims changed).
    pub analytics_job: Option<i64>,
}

/// What a re-map changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemapOutcome {
    pub payer_rows: u64,
    pub cpt_group_rows: u64,
    /// The analytics request queued because claims changed (`None`: nothing changed).
    pub analytics_job: Option<i64>,
    /// Write transactions it committed.
    pub steps: u64,
}

impl RemapOutcome {
    /// Stored claims whose payer or CPT group changed (a claim changed in both counts
    /// twice: the two are separate set-based updates).
    pub fn rows(&self) -> u64 {
        self.payer_rows + self.cpt_group_rows
    }
}

impl From<RemapProgress> for RemapOutcome {
    fn from(p: RemapProgress) -> Self {
        RemapOutcome {
            payer_rows: p.payer_rows,
            cpt_group_rows: p.cpt_group_rows,
            analytics_job: p.analytics_job,
            steps: p.steps,
        }
    }
}

/// A re-map job's payload: its plan (fixed when the button was pressed), the step size,
/// and what it has done.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RemapPayload {
    plan: RemapPlan,
    step_claims: i64,
    #[serde(default)]
    done: RemapProgress,
}

/// Where a re-map job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemapState {
    Queued,
    Running,
    Succeeded,
    Failed,
}

/// The tenant's latest re-map, for the mappings page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemapStatus {
    pub state: RemapState,
    /// Spellings and codes in its plan.
    pub payer_spellings: usize,
    pub cpt_codes: usize,
    pub progress: RemapProgress,
    pub error: Option<String>,
    pub requested_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

fn remap_status(
    conn: &mut DbConnection,
    scope: &TenantScope,
) -> Result<Option<RemapStatus>, DbError> {
    use crate::db::repo::jobs as jobs_repo;
    let Some(job) = jobs_repo::latest_of_kind(conn, scope, jobs_repo::REMAP)? else {
        return Ok(None);
    };
    let Ok(payload) = serde_json::from_str::<RemapPayload>(&job.payload) else {
        return Ok(None);
    };
    let state = match job.state.as_str() {
        jobs_repo::QUEUED => RemapState::Queued,
        jobs_repo::RUNNING => RemapState::Running,
        jobs_repo::SUCCEEDED => RemapState::Succeeded,
        _ => RemapState::Failed,
    };
    Ok(Some(RemapStatus {
        state,
        payer_spellings: payload.plan.payers.len(),
        cpt_codes: payload.plan.cpts.len(),
        progress: payload.done,
        error: job.error,
        requested_at: job.created_at,
        finished_at: job.finished_at,
    }))
}

/// The re-map of the tenant's stored claims to its current payer identity (aliases,
/// built-in names, same-key merge under the most frequent stored spelling) and CPT groups:
/// the spellings and codes whose claims would change. A read (work is per distinct
/// spelling and code).
pub fn remap_plan(conn: &mut DbConnection, scope: &TenantScope) -> Result<RemapPlan, DbError> {
    let mappings = Mappings::new(
        &repo::list_payer_aliases(conn, scope)?,
        &repo::list_cpt_groups(conn, scope)?,
    );
    let mut per_raw: BTreeMap<String, (u64, Vec<String>)> = BTreeMap::new();
    for (raw, payer, n) in repo::spelling_claim_counts(conn, scope)? {
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
        payer_identity::merge_targets(&unmapped, &repo::payer_claim_counts(conn, scope)?)
            .into_iter()
            .collect();
    let mut plan = RemapPlan::default();
    for (raw, (_, current)) in &per_raw {
        let target = match mappings.alias_of(raw) {
            Some(a) => mappings.canonical(a),
            None => merged.get(raw).map_or(raw.as_str(), String::as_str),
        };
        if current.iter().any(|c| c != target) {
            plan.payers.push((raw.clone(), target.to_string()));
        }
    }
    let mut cpts = repo::distinct_claim_cpts(conn, scope)?;
    cpts.sort();
    for (cpt, current) in cpts {
        let Some(code) = crate::domain::claim::CptCode::parse(&cpt) else {
            continue;
        };
        let target = mappings.group_name(mappings.group_of(&code));
        if target != current {
            plan.cpts.push((cpt, target.to_string()));
        }
    }
    plan.cpts.dedup_by(|a, b| a.0 == b.0);
    Ok(plan)
}

/// Why a re-map stopped.
#[derive(Debug, thiserror::Error)]
pub enum RemapError {
    /// The job's lease ran out and another worker took it over: this step rolled back.
    #[error("the re-map was taken over by another worker after its lease ran out")]
    TakenOver,
    /// The job's payload could not be written or read back.
    #[error("the re-map's plan could not be stored or read: {0}")]
    Payload(#[from] serde_json::Error),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Runs `plan` from `progress` on, in bounded steps: each step moves at most
/// `step_claims` claims of one spelling or code and their rollup rows, and `record` (the
/// job's fenced progress, or nothing for the CLI) in one write transaction. Claims already
/// re-mapped no longer match a step, so running a plan again changes nothing. Ends with
/// the analytics request (when claims changed) in the last transaction, with `record`.
fn run_plan(
    db: &Db,
    scope: &TenantScope,
    plan: &RemapPlan,
    step_claims: i64,
    mut progress: RemapProgress,
    record: &dyn Fn(&mut DbConnection, &RemapProgress, bool) -> Result<(), RemapError>,
) -> Result<RemapProgress, RemapError> {
    let entries = plan
        .payers
        .iter()
        .map(|e| (true, e))
        .chain(plan.cpts.iter().map(|e| (false, e)));
    for (i, (payer, (from, to))) in entries.enumerate().skip(progress.entries_done) {
        loop {
            let next = db.write_blocking(|conn| -> Result<RemapProgress, RemapError> {
                let moved = if payer {
                    repo::set_claims_payer_batch(conn, scope, from, to, Some(step_claims))?
                } else {
                    repo::set_claims_cpt_group_batch(conn, scope, from, to, Some(step_claims))?
                } as u64;
                let mut next = progress;
                if payer {
                    next.payer_rows += moved;
                } else {
                    next.cpt_group_rows += moved;
                }
                next.steps += 1;
                if moved < step_claims.max(1) as u64 {
                    next.entries_done = i + 1;
                }
                record(conn, &next, false)?;
                Ok(next)
            })?;
            progress = next;
            if progress.entries_done > i {
                break;
            }
        }
    }
    db.write_blocking(|conn| -> Result<RemapProgress, RemapError> {
        let mut last = progress;
        let changed = last.payer_rows + last.cpt_group_rows;
        last.analytics_job = request_run_if_changed(conn, scope, changed)?;
        record(conn, &last, true)?;
        Ok(last)
    })
}

/// `payerwatch remap`: plans and runs the re-map in this process, in the same bounded
/// steps as the page's job.
pub fn remap(db: &Db, scope: &TenantScope) -> Result<RemapOutcome, DbError> {
    remap_in_steps(db, scope, REMAP_STEP_CLAIMS)
}

/// [`remap`] with steps of at most `step_claims` claims.
pub fn remap_in_steps(
    db: &Db,
    scope: &TenantScope,
    step_claims: i64,
) -> Result<RemapOutcome, DbError> {
    let plan = remap_plan(&mut *db.get()?, scope)?;
    let done = run_plan(
        db,
        scope,
        &plan,
        step_claims,
        RemapProgress::default(),
        &|_, _, _| Ok(()),
    )
    .map_err(|e| match e {
        RemapError::Db(e) => e,
        // No job, no fence, no payload: a CLI re-map is never taken over.
        RemapError::TakenOver | RemapError::Payload(_) => DbError::Cancelled,
    })?;
    Ok(done.into())
}

/// What pressing "Re-map stored claims now" did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemapRequest {
    /// The queued job (`None`: the stored claims already follow the mappings).
    pub job_id: Option<i64>,
    pub payer_spellings: usize,
    pub cpt_codes: usize,
}

/// The page's "Re-map stored claims now": reads what would change (a read: no writer is
/// held) and queues a re-map job with that plan, audited (target: the tenant) in the
/// transaction that queues it. A re-map already queued takes the newer plan instead; when
/// nothing would change, nothing is queued (the press is still audited).
pub async fn request_remap(
    db: &Db,
    scope: TenantScope,
    ctx: AuditContext,
    audit: AuditEntry<'static>,
) -> Result<RemapRequest, RemapError> {
    let plan = db.run(move |conn| remap_plan(conn, &scope)).await?;
    let payload = RemapPayload {
        plan,
        step_claims: REMAP_STEP_CLAIMS,
        done: RemapProgress::default(),
    };
    let (payer_spellings, cpt_codes) = (payload.plan.payers.len(), payload.plan.cpts.len());
    let json = serde_json::to_string(&payload)?;
    let job_id: Option<i64> = db
        .write_audited(ctx, audit.target("customer", scope.id()), move |conn| {
            if payload.plan.is_empty() {
                return Ok(None);
            }
            let now = crate::db::repo::now();
            Ok::<_, RemapError>(Some(crate::db::repo::jobs::request_remap(
                conn, &scope, &json, now,
            )?))
        })
        .await?;
    Ok(RemapRequest {
        job_id,
        payer_spellings,
        cpt_codes,
    })
}

/// Runs a re-map job (the workers' entry point, [`run_remap`]). Its outcome is recorded
/// by its last step.
pub fn run_job(
    ctx: &crate::jobs::context::JobContext,
    job: &crate::db::repo::jobs::Job,
) -> crate::jobs::context::JobOutcome {
    use crate::jobs::context::JobOutcome;
    match run_remap(&ctx.db, job, &ctx.owner) {
        Ok(_) => JobOutcome::Recorded,
        Err(e) => JobOutcome::Failed(e.to_string()),
    }
}

/// Runs re-map job `job`, which `owner` holds: its plan in bounded steps, each step's
/// progress committed with it under the job's lease (a step of a job taken over rolls
/// back), the last step requesting the analytics run and ending the job (succeeded). A
/// re-run after a crash goes on from the first unfinished entry; claims already re-mapped
/// are never moved again.
pub fn run_remap(
    db: &Db,
    job: &crate::db::repo::jobs::Job,
    owner: &str,
) -> Result<RemapOutcome, RemapError> {
    use crate::db::repo::jobs as jobs_repo;
    let payload: RemapPayload = serde_json::from_str(&job.payload)?;
    let scope = TenantScope::for_system(crate::domain::tenant::CustomerId(job.customer_id));
    let record =
        |conn: &mut DbConnection, done: &RemapProgress, last: bool| -> Result<(), RemapError> {
            let json = serde_json::to_string(&RemapPayload {
                plan: payload.plan.clone(),
                step_claims: payload.step_claims,
                done: *done,
            })?;
            let rows = done.payer_rows + done.cpt_group_rows;
            if !jobs_repo::record_step(conn, owner, job.id, &json, rows)? {
                return Err(RemapError::TakenOver);
            }
            if last && !jobs_repo::finish(conn, job.id, owner, None, crate::db::repo::now())? {
                return Err(RemapError::TakenOver);
            }
            Ok(())
        };
    let done = run_plan(
        db,
        &scope,
        &payload.plan,
        payload.step_claims,
        payload.done,
        &record,
    )?;
    Ok(done.into())
}
