//! `/portal/settings/mappings`: payer aliases (raw name → canonical payer) and CPT code
//! groups. Everyone reads; analysts and above add, edit (`?edit_alias=ID` /
//! `?edit_group=ID` fill the form in) and delete entries. Labels are checked for PHI and
//! refused naming the field. Alias and group changes apply to later uploads; stored claims
//! change when an analyst presses "Re-map stored claims now" (`action=remap`, or
//! `payerwatch remap`), never silently (SPEC §2). A split or merge of payers re-maps the
//! stored claims at once (services::mappings, audited).
//!
//! Both tables also travel as CSV: `aliases.csv` / `cpt-groups.csv` exports (analysts:
//! exports are theirs in SPEC §6) and a multipart import per table (all lines valid or
//! nothing stored; errors name line and column, never the value).

use actix_multipart::Multipart;
use actix_web::guard::GuardContext;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::StreamExt;
use serde::Deserialize;

use crate::db::repo::mappings as repo;
use crate::domain::mapping_table::{
    self as table, AliasEntry, CptGroupEntry, FieldError, ImportError, Problem,
};
use crate::domain::roles::Role;
use crate::services::mappings::{
    self as service, MappingError, PayerGroup, Table, TableEntries, TableRows,
};
use crate::web::auth::{self, Analyst, Authorized, CurrentUser};
use crate::web::errors::AppError;
use crate::web::handlers::form_id;
use crate::web::http::multipart::GuardedForm;
use crate::web::state::AppState;
use crate::web::view::layout::Layout;
use crate::web::view::render::render;

#[derive(Template)]
#[template(path = "settings/mappings.html")]
struct MappingsPage {
    layout: Layout,
    aliases: Vec<repo::PayerAlias>,
    groups: Vec<repo::CptGroupRange>,
    /// Stored payers, most claims first; the merged ones are shown with their spellings.
    payers: Vec<PayerGroup>,
    can_edit: bool,
    /// A refused import: which table, and what was wrong (lines and columns only).
    import_errors: Option<(&'static str, Vec<String>)>,
    /// The alias whose form is open for editing (`?edit_alias=ID`); else the form adds.
    edit_alias: Option<repo::PayerAlias>,
    /// The CPT range whose form is open for editing (`?edit_group=ID`).
    edit_group: Option<repo::CptGroupRange>,
    /// The tenant's stored claims, formatted (the re-map card).
    stored_claims: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct MappingsQuery {
    edit_alias: Option<String>,
    edit_group: Option<String>,
}

/// Which entry's form the page opens for editing.
#[derive(Debug, Default, Clone, Copy)]
struct Editing {
    alias: Option<i64>,
    group: Option<i64>,
}

fn query_id(value: Option<String>, name: &str) -> Result<Option<i64>, AppError> {
    match value.filter(|v| !v.trim().is_empty()) {
        None => Ok(None),
        Some(v) => v.trim().parse().map(Some).map_err(|_| {
            AppError::BadRequest(format!("The parameter '{name}' must be an entry number."))
        }),
    }
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<MappingsQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let editing = Editing {
        alias: query_id(query.edit_alias, "edit_alias")?,
        group: query_id(query.edit_group, "edit_group")?,
    };
    // Only analysts and above edit (SPEC §6: 403, not a hidden button only).
    if (editing.alias.is_some() || editing.group.is_some()) && !user.role.allows(Role::Analyst) {
        return Err(AppError::Forbidden);
    }
    page(&state, &user, None, editing).await
}

async fn page(
    state: &AppState,
    user: &CurrentUser,
    import_errors: Option<(&'static str, Vec<String>)>,
    editing: Editing,
) -> Result<HttpResponse, AppError> {
    let overview = service::page_data(&state.db, user.scope()).await?;
    // Another tenant's id (or a deleted entry) looks absent.
    let edit_alias = match editing.alias {
        None => None,
        Some(id) => Some(
            overview
                .aliases
                .iter()
                .find(|a| a.id == id)
                .cloned()
                .ok_or(AppError::NotFound)?,
        ),
    };
    let edit_group = match editing.group {
        None => None,
        Some(id) => Some(
            overview
                .groups
                .iter()
                .find(|g| g.id == id)
                .cloned()
                .ok_or(AppError::NotFound)?,
        ),
    };
    let stored_claims =
        crate::domain::format::thousands(overview.payers.iter().map(|p| p.claims).sum());
    render(&MappingsPage {
        layout: user.layout("Mappings", "/portal/settings/mappings"),
        aliases: overview.aliases,
        groups: overview.groups,
        payers: overview.payers,
        can_edit: user.role.allows(Role::Analyst),
        import_errors,
        edit_alias,
        edit_group,
        stored_claims,
    })
}

#[derive(Debug, Deserialize)]
pub struct MappingForm {
    action: String,
    alias: Option<String>,
    canonical: Option<String>,
    code_start: Option<String>,
    code_end: Option<String>,
    group_name: Option<String>,
    /// The alias an `alias_update` / `alias_delete` acts on.
    alias_id: Option<String>,
    /// The CPT range a `cpt_group_update` / `cpt_group_delete` acts on.
    group_id: Option<String>,
}

/// The form's answer to invalid fields: a PHI label is refused with a flash that names the
/// field (nothing saved); any other problem is a 400 naming the field.
fn refuse(user: &CurrentUser, errors: &[FieldError]) -> Result<HttpResponse, AppError> {
    refuse_to(user, errors, "/portal/settings/mappings")
}

/// [`refuse`], the flash shown at `to` (an edit's refusal keeps its form open).
fn refuse_to(
    user: &CurrentUser,
    errors: &[FieldError],
    to: &str,
) -> Result<HttpResponse, AppError> {
    if let Some(e) = errors.iter().find(|e| e.problem != Problem::Phi) {
        return Err(AppError::BadRequest(match e.problem {
            Problem::InvalidCpt | Problem::RangeOrder => "The CPT codes must be 5 characters (5 digits, or 4 digits and a letter), the first not after the last.".into(),
            Problem::InvalidGroup => "The field 'group_name' may only use letters, digits and _.".into(),
            Problem::Missing => format!("The field '{}' is required.", e.field),
            other => format!("The field '{}' is not valid: {other}.", e.field),
        }));
    }
    let field = errors.first().map_or("label", |e| e.field);
    auth::set_flash(
        user.session(),
        "error",
        format!("The {field} looks like it contains patient information (PHI); nothing was saved."),
    );
    Ok(super::super::see_other(to))
}

fn back() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/portal/settings/mappings"))
        .finish()
}

/// An edit or delete that could not be applied, as the page's answer.
fn edit_error(err: MappingError) -> AppError {
    match err {
        MappingError::Duplicate("alias") => AppError::Conflict(
            "Another alias already has that name in files (field 'alias'); edit or delete that one instead.".into(),
        ),
        MappingError::Duplicate(field) => AppError::Conflict(format!(
            "Another CPT range already has those first and last codes (field '{field}'); edit or delete that one instead."
        )),
        MappingError::UnknownPayer => AppError::NotFound,
        MappingError::Invalid(_) | MappingError::CaseOnly | MappingError::SamePayer => {
            AppError::BadRequest(err.to_string())
        }
        MappingError::Db(e) => e.into(),
    }
}

/// What every alias or CPT-group change says: stored claims follow on the button.
const SAVED_NOT_REMAPPED: &str = "It applies to the next uploads; press \u{201c}Re-map stored claims now\u{201d} to apply it to the claims already stored.";

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: Authorized<Analyst>,
    form: web::Form<MappingForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let (db, scope) = (&state.db, user.scope());
    match form.action.as_str() {
        "alias" => {
            let entry = match AliasEntry::parse(
                form.alias.as_deref().unwrap_or(""),
                form.canonical.as_deref().unwrap_or(""),
            ) {
                Ok(entry) => entry,
                Err(errors) => return refuse(&user, &errors),
            };
            let (ctx, audit) =
                user.audit(&req, &state, "mapping.payer_alias", &["alias", "canonical"]);
            service::add_alias(db, scope, entry, ctx, audit).await?;
        }
        // One click on the page: the stored claims are re-mapped with the change.
        "split" | "merge" => {
            let raw = form.alias.unwrap_or_default();
            let into = form.canonical.unwrap_or_default();
            let split = form.action == "split";
            let (ctx, audit) = if split {
                user.audit(&req, &state, "mapping.payer_split", &["alias"])
            } else {
                user.audit(&req, &state, "mapping.payer_merge", &["alias", "canonical"])
            };
            let result = if split {
                service::split_payer(db, scope, raw, ctx, audit).await
            } else {
                service::merge_payer(db, scope, raw, into, ctx, audit).await
            };
            let changed = match result {
                Ok(changed) => changed,
                Err(MappingError::Invalid(errors)) => return refuse(&user, &errors),
                Err(MappingError::UnknownPayer) => return Err(AppError::NotFound),
                Err(MappingError::CaseOnly) => {
                    return Err(AppError::Conflict(
                        "That spelling differs from its payer only in case or spacing, which aliases ignore; it cannot be kept apart.".into(),
                    ));
                }
                Err(MappingError::SamePayer) => {
                    return Err(AppError::BadRequest(
                        "The fields 'alias' and 'canonical' name the same payer.".into(),
                    ));
                }
                Err(e @ (MappingError::Db(_) | MappingError::Duplicate(_))) => {
                    return Err(edit_error(e));
                }
            };
            auth::set_flash(
                user.session(),
                "success",
                format!(
                    "{} {} stored claims were re-mapped; later uploads follow the change.",
                    if split { "Split." } else { "Merged." },
                    crate::domain::format::thousands(changed)
                ),
            );
            return Ok(back());
        }
        "cpt_group" => {
            let entry = match CptGroupEntry::parse(
                form.code_start.as_deref().unwrap_or(""),
                form.code_end.as_deref().unwrap_or(""),
                form.group_name.as_deref().unwrap_or(""),
            ) {
                Ok(entry) => entry,
                Err(errors) => return refuse(&user, &errors),
            };
            let (ctx, audit) = user.audit(
                &req,
                &state,
                "mapping.cpt_group",
                &["code_start", "code_end", "group_name"],
            );
            service::add_cpt_range(db, scope, entry, ctx, audit).await?;
        }
        "alias_update" => {
            let id = form_id(&form.alias_id, "alias_id")?;
            let entry = match AliasEntry::parse(
                form.alias.as_deref().unwrap_or(""),
                form.canonical.as_deref().unwrap_or(""),
            ) {
                Ok(entry) => entry,
                Err(errors) => {
                    let to = format!("/portal/settings/mappings?edit_alias={id}#alias-form");
                    return refuse_to(&user, &errors, &to);
                }
            };
            let (ctx, audit) = user.audit(
                &req,
                &state,
                "mapping.payer_alias_changed",
                &["alias", "canonical"],
            );
            service::edit_alias(db, scope, id, entry, ctx, audit)
                .await
                .map_err(edit_error)?;
            auth::set_flash(
                user.session(),
                "success",
                format!("The alias was saved. {SAVED_NOT_REMAPPED}"),
            );
            return Ok(back());
        }
        "cpt_group_update" => {
            let id = form_id(&form.group_id, "group_id")?;
            let entry = match CptGroupEntry::parse(
                form.code_start.as_deref().unwrap_or(""),
                form.code_end.as_deref().unwrap_or(""),
                form.group_name.as_deref().unwrap_or(""),
            ) {
                Ok(entry) => entry,
                Err(errors) => {
                    let to = format!("/portal/settings/mappings?edit_group={id}#group-form");
                    return refuse_to(&user, &errors, &to);
                }
            };
            let (ctx, audit) = user.audit(
                &req,
                &state,
                "mapping.cpt_group_changed",
                &["code_start", "code_end", "group_name"],
            );
            service::edit_cpt_range(db, scope, id, entry, ctx, audit)
                .await
                .map_err(edit_error)?;
            auth::set_flash(
                user.session(),
                "success",
                format!("The CPT group was saved. {SAVED_NOT_REMAPPED}"),
            );
            return Ok(back());
        }
        "alias_delete" | "cpt_group_delete" => {
            let alias = form.action == "alias_delete";
            if alias {
                let id = form_id(&form.alias_id, "alias_id")?;
                let (ctx, audit) = user.audit(&req, &state, "mapping.payer_alias_deleted", &[]);
                service::remove_alias(db, scope, id, ctx, audit).await?;
            } else {
                let id = form_id(&form.group_id, "group_id")?;
                let (ctx, audit) = user.audit(&req, &state, "mapping.cpt_group_deleted", &[]);
                service::remove_cpt_range(db, scope, id, ctx, audit).await?;
            }
            auth::set_flash(
                user.session(),
                "success",
                format!(
                    "The {} was deleted. {SAVED_NOT_REMAPPED}",
                    if alias { "alias" } else { "CPT range" }
                ),
            );
            return Ok(back());
        }
        // Stored claims follow the current mappings: an explicit, audited request (SPEC §2),
        // run in one write transaction off the async workers, as a split or merge is.
        "remap" => {
            let (ctx, audit) = user.audit(&req, &state, "mapping.remap", &["payer", "cpt_group"]);
            let out = service::remap_now(db, scope, ctx, audit).await?;
            let message = if out.rows() == 0 {
                "The stored claims already follow the mappings: no claim was re-mapped.".to_string()
            } else {
                let n = crate::domain::format::thousands;
                let mut moved = Vec::new();
                if out.payer_rows > 0 {
                    moved.push(format!("{} moved to another payer", n(out.payer_rows)));
                }
                if out.cpt_group_rows > 0 {
                    let verb = if moved.is_empty() { "moved " } else { "" };
                    moved.push(format!(
                        "{} {verb}to another CPT group",
                        n(out.cpt_group_rows)
                    ));
                }
                format!(
                    "{} stored claims re-mapped: {}. An analytics run was requested; findings follow when it finishes (Settings → Analytics).",
                    n(out.rows()),
                    moved.join(", "),
                )
            };
            auth::set_flash(user.session(), "success", message);
            return Ok(back());
        }
        _ => {
            return Err(AppError::BadRequest(
                "action must be alias, alias_update, alias_delete, cpt_group, cpt_group_update, cpt_group_delete, split, merge or remap".into(),
            ));
        }
    }
    auth::set_flash(
        user.session(),
        "success",
        format!("Saved. {SAVED_NOT_REMAPPED}"),
    );
    Ok(back())
}

/// `GET /portal/settings/mappings/aliases.csv`
pub async fn export_aliases(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: Authorized<Analyst>,
) -> Result<HttpResponse, AppError> {
    export(req, state, user, Table::Aliases).await
}

/// `GET /portal/settings/mappings/cpt-groups.csv`
pub async fn export_cpt_groups(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: Authorized<Analyst>,
) -> Result<HttpResponse, AppError> {
    export(req, state, user, Table::CptGroups).await
}

async fn export(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: Authorized<Analyst>,
    which: Table,
) -> Result<HttpResponse, AppError> {
    use crate::web::view::csv_export::{self, Cell, CsvExport};
    let (ctx, audit) = user.audit(&req, &state, "export.mappings_csv", &[]);
    let rows = service::export_table(&state.db, user.scope(), which, ctx, audit).await?;
    let csv_error = |e: csv::Error| AppError::Internal(anyhow::Error::new(e));
    let mut out = CsvExport::new(Vec::new());
    // `export_cell` adds the formula prefix reversibly; CsvExport leaves a cell that
    // already starts with `'` alone, so the prefix is never doubled.
    let cell = |text: &str| table::export_cell(text).into_owned();
    match &rows {
        TableRows::Aliases(aliases) => {
            out.header(&table::ALIAS_COLUMNS).map_err(csv_error)?;
            for a in aliases {
                let (alias, canonical) = (cell(&a.alias), cell(&a.canonical));
                out.row([Cell::Text(&alias), Cell::Text(&canonical)])
                    .map_err(csv_error)?;
            }
        }
        TableRows::CptGroups(groups) => {
            out.header(&table::CPT_GROUP_COLUMNS).map_err(csv_error)?;
            for g in groups {
                let (start, end, group) =
                    (cell(&g.code_start), cell(&g.code_end), cell(&g.group_name));
                out.row([Cell::Text(&start), Cell::Text(&end), Cell::Text(&group)])
                    .map_err(csv_error)?;
            }
        }
    }
    let body = out
        .finish()
        .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    let file = match which {
        Table::Aliases => "payer-aliases.csv",
        Table::CptGroups => "cpt-groups.csv",
    };
    Ok(csv_export::attachment(file).body(body))
}

/// Route guard: the import shares `POST /portal/settings/mappings` with the forms and is
/// told apart by its multipart body (the CSRF middleware lets multipart through on this
/// path only because this handler checks the token itself).
pub fn is_multipart(ctx: &GuardContext<'_>) -> bool {
    ctx.head()
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

fn read_error(e: impl std::fmt::Display) -> AppError {
    AppError::BadRequest(format!("The upload could not be read: {e}."))
}

/// `POST /portal/settings/mappings` (multipart: `csrf_token`, `table` = `aliases` |
/// `cpt_groups`, `file`). The file is small by contract (≤ 5 MB) and read into memory.
pub async fn import(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: Authorized<Analyst>,
    body: Multipart,
) -> Result<HttpResponse, AppError> {
    let limit = table::MAX_IMPORT_BYTES;
    let mut form = GuardedForm::new(&req, body, limit as u64)?;
    let mut which = String::new();
    let mut file: Option<Vec<u8>> = None;
    while let Some(mut field) = form.next_field().await? {
        match field.name().unwrap_or_default() {
            "csrf_token" => {
                let token = form.small_value(&mut field).await?;
                form.accept_token(&token)?;
            }
            "file" => {
                // The token comes first: a forged post is refused before its file is read.
                form.require_token()?;
                let mut value = Vec::new();
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(read_error)?;
                    if value.len() + chunk.len() > limit {
                        return Err(AppError::PayloadTooLarge(format!(
                            "Mapping files may be at most {} MB.",
                            limit / (1024 * 1024)
                        )));
                    }
                    value.extend_from_slice(&chunk);
                }
                file = Some(value);
            }
            "table" => which = form.small_value(&mut field).await?,
            // Other fields are read (bounded) and ignored.
            _ => {
                form.small_value(&mut field).await?;
            }
        }
    }
    form.finish()?;
    let which = Table::parse(&which).ok_or_else(|| {
        AppError::BadRequest("The field 'table' must be aliases or cpt_groups.".into())
    })?;
    let Some(file) = file else {
        return Err(AppError::BadRequest(
            "Choose a CSV file to import (form field 'file').".into(),
        ));
    };

    // PHI checks over a few thousand labels: off the async worker.
    let parsed = web::block(move || -> Result<TableEntries, ImportError> {
        Ok(match which {
            Table::Aliases => TableEntries::Aliases(table::parse_alias_file(&file)?),
            Table::CptGroups => TableEntries::CptGroups(table::parse_cpt_group_file(&file)?),
        })
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(err) => {
            let mut response = page(
                &state,
                &user,
                Some((which.label(), err.messages())),
                Editing::default(),
            )
            .await?;
            *response.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(response);
        }
    };
    let fields: &'static [&'static str] = match which {
        Table::Aliases => &["alias", "canonical"],
        Table::CptGroups => &["code_start", "code_end", "group_name"],
    };
    let (ctx, audit) = user.audit(&req, &state, "mapping.import", fields);
    // Every entry (and the audit row) or none.
    let counts = service::import_table(&state.db, user.scope(), parsed, ctx, audit).await?;
    auth::set_flash(
        user.session(),
        "success",
        format!(
            "Imported {}: {} added, {} changed, {} already up to date. {SAVED_NOT_REMAPPED}",
            which.label(),
            counts.added,
            counts.changed,
            counts.unchanged
        ),
    );
    Ok(back())
}
