//! Tenant mappings: payer aliases (raw name → canonical payer, looked up by the normalized
//! key of `domain::mapping::payer_key`) and CPT-group code ranges, plus the explicit
//! re-mapping of stored claims (`payerwatch remap`). Range precedence (narrowest wins) is
//! applied by the caller (`ingest::mapper`), not here.

use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::db::schema::{
    claim_day_rollups, claim_reason_rollups, claim_records, cpt_groups, payer_aliases,
};
use crate::db::{DbConnection, DbError};
use crate::domain::mapping::{DEFAULT_CPT_RANGES, payer_key};
use crate::domain::tenant::TenantScope;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = payer_aliases)]
pub struct PayerAlias {
    pub id: i64,
    pub alias_key: String,
    pub alias: String,
    pub canonical: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = cpt_groups)]
pub struct CptGroupRange {
    pub id: i64,
    pub code_start: String,
    pub code_end: String,
    pub group_name: String,
}

pub fn list_payer_aliases(
    conn: &mut DbConnection,
    scope: &TenantScope,
) -> Result<Vec<PayerAlias>, DbError> {
    Ok(payer_aliases::table
        .filter(payer_aliases::customer_id.eq(scope.id()))
        .order(payer_aliases::alias_key.asc())
        .select(PayerAlias::as_select())
        .load(conn)?)
}

/// Adds or replaces the alias for `alias` (matched by its normalized key). Callers check
/// both labels for PHI first.
pub fn upsert_payer_alias(
    conn: &mut DbConnection,
    scope: &TenantScope,
    alias: &str,
    canonical: &str,
) -> Result<(), DbError> {
    let key = payer_key(alias);
    let alias = alias.trim();
    let canonical = canonical.trim();
    let changed = diesel::update(
        payer_aliases::table
            .filter(payer_aliases::customer_id.eq(scope.id()))
            .filter(payer_aliases::alias_key.eq(&key)),
    )
    .set((
        payer_aliases::alias.eq(alias),
        payer_aliases::canonical.eq(canonical),
    ))
    .execute(conn)?;
    if changed == 0 {
        diesel::insert_into(payer_aliases::table)
            .values((
                payer_aliases::customer_id.eq(scope.id()),
                payer_aliases::alias_key.eq(&key),
                payer_aliases::alias.eq(alias),
                payer_aliases::canonical.eq(canonical),
                payer_aliases::created_at.eq(super::now()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Alias `id` of this tenant (`NotFound` for another tenant's id).
pub fn payer_alias(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
) -> Result<PayerAlias, DbError> {
    Ok(payer_aliases::table
        .filter(payer_aliases::customer_id.eq(scope.id()))
        .filter(payer_aliases::id.eq(id))
        .select(PayerAlias::as_select())
        .first(conn)?)
}

/// Rewrites alias `id` (its spelling, so its key, and its canonical payer). The caller
/// checks that no other alias of the tenant has the new key. `NotFound` for another
/// tenant's id.
pub fn update_payer_alias(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
    alias: &str,
    canonical: &str,
) -> Result<(), DbError> {
    let (alias, canonical) = (alias.trim(), canonical.trim());
    update_one!(
        conn,
        scope,
        payer_aliases.id = id,
        (
            payer_aliases::alias_key.eq(payer_key(alias)),
            payer_aliases::alias.eq(alias),
            payer_aliases::canonical.eq(canonical),
        )
    )
}

/// Deletes alias `id` (`NotFound` for another tenant's id). Stored claims keep their
/// payer until the next re-map.
pub fn delete_payer_alias(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
) -> Result<(), DbError> {
    delete_one!(conn, scope, payer_aliases.id = id)
}

pub fn list_cpt_groups(
    conn: &mut DbConnection,
    scope: &TenantScope,
) -> Result<Vec<CptGroupRange>, DbError> {
    Ok(cpt_groups::table
        .filter(cpt_groups::customer_id.eq(scope.id()))
        .order((cpt_groups::code_start.asc(), cpt_groups::id.asc()))
        .select(CptGroupRange::as_select())
        .load(conn)?)
}

/// Adds a CPT range (an exact code is `start == end`) or renames the group of an existing
/// identical range.
pub fn upsert_cpt_group(
    conn: &mut DbConnection,
    scope: &TenantScope,
    code_start: &str,
    code_end: &str,
    group_name: &str,
) -> Result<(), DbError> {
    let changed = diesel::update(
        cpt_groups::table
            .filter(cpt_groups::customer_id.eq(scope.id()))
            .filter(cpt_groups::code_start.eq(code_start))
            .filter(cpt_groups::code_end.eq(code_end)),
    )
    .set(cpt_groups::group_name.eq(group_name))
    .execute(conn)?;
    if changed == 0 {
        diesel::insert_into(cpt_groups::table)
            .values((
                cpt_groups::customer_id.eq(scope.id()),
                cpt_groups::code_start.eq(code_start),
                cpt_groups::code_end.eq(code_end),
                cpt_groups::group_name.eq(group_name),
                cpt_groups::created_at.eq(super::now()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// CPT range `id` of this tenant (`NotFound` for another tenant's id).
pub fn cpt_group(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
) -> Result<CptGroupRange, DbError> {
    Ok(cpt_groups::table
        .filter(cpt_groups::customer_id.eq(scope.id()))
        .filter(cpt_groups::id.eq(id))
        .select(CptGroupRange::as_select())
        .first(conn)?)
}

/// The tenant's range with exactly these bounds, if any.
pub fn find_cpt_group(
    conn: &mut DbConnection,
    scope: &TenantScope,
    code_start: &str,
    code_end: &str,
) -> Result<Option<CptGroupRange>, DbError> {
    Ok(cpt_groups::table
        .filter(cpt_groups::customer_id.eq(scope.id()))
        .filter(cpt_groups::code_start.eq(code_start))
        .filter(cpt_groups::code_end.eq(code_end))
        .select(CptGroupRange::as_select())
        .first(conn)
        .optional()?)
}

/// Rewrites CPT range `id` (bounds and group). The caller checks that no other range of
/// the tenant has the new bounds. `NotFound` for another tenant's id.
pub fn update_cpt_group(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
    code_start: &str,
    code_end: &str,
    group_name: &str,
) -> Result<(), DbError> {
    update_one!(
        conn,
        scope,
        cpt_groups.id = id,
        (
            cpt_groups::code_start.eq(code_start),
            cpt_groups::code_end.eq(code_end),
            cpt_groups::group_name.eq(group_name),
        )
    )
}

/// Deletes CPT range `id`, a default one too (the tenant owns its table; `NotFound` for
/// another tenant's id). Stored claims keep their group until the next re-map.
pub fn delete_cpt_group(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
) -> Result<(), DbError> {
    delete_one!(conn, scope, cpt_groups.id = id)
}

/// The tenant's canonical payers with stored claims, by name (read from the daily
/// rollups: bounded by days × payers × groups, not by claims).
pub fn payer_names(conn: &mut DbConnection, scope: &TenantScope) -> Result<Vec<String>, DbError> {
    Ok(claim_day_rollups::table
        .filter(claim_day_rollups::customer_id.eq(scope.id()))
        .select(claim_day_rollups::payer)
        .distinct()
        .order(claim_day_rollups::payer.asc())
        .load(conn)?)
}

/// The tenant's CPT group names: its ranges' groups and `OTHER` (codes in no range).
pub fn cpt_group_names(
    conn: &mut DbConnection,
    scope: &TenantScope,
) -> Result<Vec<String>, DbError> {
    let mut names: Vec<String> = cpt_groups::table
        .filter(cpt_groups::customer_id.eq(scope.id()))
        .select(cpt_groups::group_name)
        .distinct()
        .order(cpt_groups::group_name.asc())
        .load(conn)?;
    if !names.iter().any(|n| n == crate::domain::mapping::OTHER) {
        names.push(crate::domain::mapping::OTHER.to_string());
    }
    Ok(names)
}

/// The denial reasons (the DenialScope key) of the tenant's stored claims, by code.
pub fn denial_reasons(
    conn: &mut DbConnection,
    scope: &TenantScope,
) -> Result<Vec<String>, DbError> {
    Ok(claim_reason_rollups::table
        .filter(claim_reason_rollups::customer_id.eq(scope.id()))
        .filter(claim_reason_rollups::basis.eq("d"))
        .select(claim_reason_rollups::reason)
        .distinct()
        .order(claim_reason_rollups::reason.asc())
        .load(conn)?)
}

/// Seeds the default CPT-group table (SPEC §2) for a tenant; ranges it already has stay.
pub fn seed_default_cpt_groups(
    conn: &mut DbConnection,
    scope: &TenantScope,
) -> Result<(), DbError> {
    let existing = list_cpt_groups(conn, scope)?;
    for range in DEFAULT_CPT_RANGES {
        let (start, end) = (format!("{:05}", range.first), format!("{:05}", range.last));
        if existing
            .iter()
            .any(|r| r.code_start == start && r.code_end == end)
        {
            continue;
        }
        upsert_cpt_group(conn, scope, &start, &end, range.group)?;
    }
    Ok(())
}

/// Distinct `(payer_raw, payer)` pairs of the tenant's stored claims (bounded by the number
/// of payer spellings, not by rows).
pub fn distinct_claim_payers(
    conn: &mut DbConnection,
    scope: &TenantScope,
) -> Result<Vec<(String, String)>, DbError> {
    Ok(claim_records::table
        .filter(claim_records::customer_id.eq(scope.id()))
        .select((claim_records::payer_raw, claim_records::payer))
        .distinct()
        .load(conn)?)
}

/// Claims per stored canonical payer of the tenant (REVERSED included: the re-map's
/// spelling merge weighs the claims as stored), most first. One pass over every claim of
/// the tenant (no payer index since 2026-12-05-800000); the payer list reads
/// `rollups::payer_claims` and the ingest's spelling merge `rollups::payers` instead.
pub fn payer_claim_counts(
    conn: &mut DbConnection,
    scope: &TenantScope,
) -> Result<Vec<(String, u64)>, DbError> {
    let mut rows: Vec<(String, i64)> = claim_records::table
        .filter(claim_records::customer_id.eq(scope.id()))
        .group_by(claim_records::payer)
        .select((claim_records::payer, count_star()))
        .load(conn)?;
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(rows
        .into_iter()
        .map(|(p, n)| (p, n.max(0) as u64))
        .collect())
}

/// Claims per `(payer_raw, payer)` pair of the tenant (the mappings page: which spellings
/// are stored under which payer).
pub fn spelling_claim_counts(
    conn: &mut DbConnection,
    scope: &TenantScope,
) -> Result<Vec<(String, String, u64)>, DbError> {
    let rows: Vec<(String, String, i64)> = claim_records::table
        .filter(claim_records::customer_id.eq(scope.id()))
        .group_by((claim_records::payer_raw, claim_records::payer))
        .select((claim_records::payer_raw, claim_records::payer, count_star()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(r, p, n)| (r, p, n.max(0) as u64))
        .collect())
}

/// Like [`spelling_claim_counts`], with how many of those claims carry an 835 payer id
/// (the mappings page explains a merge by payer id). One grouped pass.
pub fn spelling_claim_and_id_counts(
    conn: &mut DbConnection,
    scope: &TenantScope,
) -> Result<Vec<(String, String, u64, u64)>, DbError> {
    let rows: Vec<(String, String, i64, i64)> = claim_records::table
        .filter(claim_records::customer_id.eq(scope.id()))
        .group_by((claim_records::payer_raw, claim_records::payer))
        .select((
            claim_records::payer_raw,
            claim_records::payer,
            count_star(),
            diesel::dsl::count(claim_records::payer_id),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(r, p, n, ids)| (r, p, n.max(0) as u64, ids.max(0) as u64))
        .collect())
}

/// Sets the canonical payer of one upload's claims written as `payer_raw` (the ingest's
/// same-key merge; the upload's own rows only, history is never rewritten). Leaves the
/// rollups alone: the ingest applies the rename to the upload's rollup delta, which it
/// stores after this (`ClaimWriter::write_rollups`).
pub fn set_upload_claims_payer(
    conn: &mut DbConnection,
    scope: &TenantScope,
    upload_id: i64,
    payer_raw: &str,
    payer: &str,
) -> Result<usize, DbError> {
    Ok(diesel::update(
        claim_records::table
            .filter(claim_records::customer_id.eq(scope.id()))
            .filter(claim_records::upload_id.eq(upload_id))
            .filter(claim_records::payer_raw.eq(payer_raw)),
    )
    .set(claim_records::payer.eq(payer))
    .execute(conn)?)
}

/// The tenant's alias for a raw name (matched by its normalized key), if any.
pub fn find_payer_alias(
    conn: &mut DbConnection,
    scope: &TenantScope,
    raw: &str,
) -> Result<Option<PayerAlias>, DbError> {
    Ok(payer_aliases::table
        .filter(payer_aliases::customer_id.eq(scope.id()))
        .filter(payer_aliases::alias_key.eq(payer_key(raw)))
        .select(PayerAlias::as_select())
        .first(conn)
        .optional()?)
}

/// Distinct `(cpt, cpt_group)` pairs of the tenant's stored claims.
pub fn distinct_claim_cpts(
    conn: &mut DbConnection,
    scope: &TenantScope,
) -> Result<Vec<(String, String)>, DbError> {
    Ok(claim_records::table
        .filter(claim_records::customer_id.eq(scope.id()))
        .select((claim_records::cpt, claim_records::cpt_group))
        .distinct()
        .load(conn)?)
}

/// Sets the canonical payer of every claim written as `payer_raw` (set-based; returns rows
/// changed). The claims' rollup rows move with them (same transaction).
pub fn set_claims_payer(
    conn: &mut DbConnection,
    scope: &TenantScope,
    payer_raw: &str,
    payer: &str,
) -> Result<usize, DbError> {
    set_claims_payer_batch(conn, scope, payer_raw, payer, None)
}

/// A re-map step's body: the tenant's claims whose `$key` is `$key_value` and whose `$set`
/// is not yet `$value`, lowest ids first, at most `$limit` (`None`: all) — their rollup
/// rows move (`$filter` of the step's last id, `$regroup`), then the claims change.
/// Claims already changed no longer match, so a repeated step changes nothing.
macro_rules! remap_step {
    ($conn:expr, $scope:expr, $limit:expr, $key:ident == $key_value:expr,
     $set:ident => $value:expr, $filter:expr, $regroup:expr) => {{
        let still_to_change = || {
            claim_records::table
                .filter(claim_records::customer_id.eq($scope.id()))
                .filter(claim_records::$key.eq($key_value))
                .filter(claim_records::$set.ne($value))
        };
        let up_to = match $limit {
            None => i64::MAX,
            // The step's last id: the one at its size, or every remaining claim when
            // fewer are left.
            Some(limit) => still_to_change()
                .order(claim_records::id.asc())
                .select(claim_records::id)
                .offset(limit.max(1) - 1)
                .first::<i64>($conn)
                .optional()?
                .unwrap_or(i64::MAX),
        };
        super::rollups::move_claims($conn, $scope, $filter(up_to), $regroup)?;
        Ok(
            diesel::update(still_to_change().filter(claim_records::id.le(up_to)))
                .set(claim_records::$set.eq($value))
                .execute($conn)?,
        )
    }};
}
/// [`set_claims_payer`] for at most `limit` claims (the lowest ids still to change; `None`:
/// all): a re-map's bounded step. Claims already changed no longer match, so the next
/// call takes the next ones and a repeated step changes nothing.
pub fn set_claims_payer_batch(
    conn: &mut DbConnection,
    scope: &TenantScope,
    payer_raw: &str,
    payer: &str,
    limit: Option<i64>,
) -> Result<usize, DbError> {
    remap_step!(
        conn,
        scope,
        limit,
        payer_raw == payer_raw,
        payer => payer,
        |up_to| super::rollups::ClaimFilter::PayerRawNot {
            payer_raw,
            payer,
            up_to,
        },
        |g| g.payer = payer.to_string()
    )
}

/// Sets the CPT group of every claim with code `cpt` (returns rows changed). The claims'
/// rollup rows move with them (same transaction).
pub fn set_claims_cpt_group(
    conn: &mut DbConnection,
    scope: &TenantScope,
    cpt: &str,
    group: &str,
) -> Result<usize, DbError> {
    set_claims_cpt_group_batch(conn, scope, cpt, group, None)
}

/// [`set_claims_cpt_group`] for at most `limit` claims, as [`set_claims_payer_batch`].
pub fn set_claims_cpt_group_batch(
    conn: &mut DbConnection,
    scope: &TenantScope,
    cpt: &str,
    group: &str,
    limit: Option<i64>,
) -> Result<usize, DbError> {
    remap_step!(
        conn,
        scope,
        limit,
        cpt == cpt,
        cpt_group => group,
        |up_to| super::rollups::ClaimFilter::CptNot { cpt, group, up_to },
        |g| g.cpt_group = group.to_string()
    )
}

/// What an import did: entries added, changed, and already identical.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub added: usize,
    pub changed: usize,
    pub unchanged: usize,
}

/// Upserts validated aliases (by normalized key). Run it inside one write transaction so
/// a file goes in whole or not at all; entries absent from the file stay.
pub fn import_payer_aliases(
    conn: &mut DbConnection,
    scope: &TenantScope,
    entries: &[crate::domain::mapping_table::AliasEntry],
) -> Result<ImportCounts, DbError> {
    let existing: std::collections::HashMap<String, (String, String)> =
        list_payer_aliases(conn, scope)?
            .into_iter()
            .map(|a| (a.alias_key, (a.alias, a.canonical)))
            .collect();
    let mut counts = ImportCounts::default();
    for entry in entries {
        match existing.get(&entry.key()) {
            Some((alias, canonical)) if *alias == entry.alias && *canonical == entry.canonical => {
                counts.unchanged += 1;
                continue;
            }
            Some(_) => counts.changed += 1,
            None => counts.added += 1,
        }
        upsert_payer_alias(conn, scope, &entry.alias, &entry.canonical)?;
    }
    Ok(counts)
}

/// Upserts validated CPT ranges (by their bounds). Same transaction rule as aliases.
pub fn import_cpt_groups(
    conn: &mut DbConnection,
    scope: &TenantScope,
    entries: &[crate::domain::mapping_table::CptGroupEntry],
) -> Result<ImportCounts, DbError> {
    let existing: std::collections::HashMap<(String, String), String> =
        list_cpt_groups(conn, scope)?
            .into_iter()
            .map(|g| ((g.code_start, g.code_end), g.group_name))
            .collect();
    let mut counts = ImportCounts::default();
    for entry in entries {
        match existing.get(&(entry.code_start.clone(), entry.code_end.clone())) {
            Some(group) if *group == entry.group_name => {
                counts.unchanged += 1;
                continue;
            }
            Some(_) => counts.changed += 1,
            None => counts.added += 1,
        }
        upsert_cpt_group(
            conn,
            scope,
            &entry.code_start,
            &entry.code_end,
            &entry.group_name,
        )?;
    }
    Ok(counts)
}
