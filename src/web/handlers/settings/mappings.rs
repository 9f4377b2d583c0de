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
    self as service, MappingError, PayerGroup, RemapState, RemapStatus, Table, TableEntries,
    TableRows,
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
    /// The forms as shown: empty, an entry opened for editing, or a refused post's values.
    forms: Forms,
    /// The tenant's stored claims, formatted (the re-map card).
    stored_claims: String,
    /// The latest re-map: its state (`queued`, `running`, `done`, `failed`) and sentence.
    remap: Option<(&'static str, String)>,
}

impl MappingsPage {
    /// The refusal's message when it is about `field` (see [`Refusal::field`]).
    fn error_for(&self, field: &str) -> Option<&str> {
        self.forms
            .refusal
            .as_ref()
            .filter(|r| r.field == field)
            .map(|r| r.message.as_str())
    }
}

/// The alias form: `id` set, it edits that alias (`?edit_alias=ID`); else it adds one.
#[derive(Debug, Default)]
struct AliasForm {
    id: Option<i64>,
    alias: String,
    canonical: String,
}

/// The CPT range form: `id` set, it edits that range (`?edit_group=ID`).
#[derive(Debug, Default)]
struct GroupForm {
    id: Option<i64>,
    code_start: String,
    code_end: String,
    group_name: String,
}

/// A refused change, shown beside its field with the values the user posted (issue 19
/// item 6, as the rules page and the lists do), under the status it answers with.
#[derive(Debug)]
struct Refusal {
    /// `alias`, `canonical` (alias form), `code_start`, `code_end`, `group_name` (CPT
    /// range form), `merge_from`, `merge_into` (merge form), `split` (the spellings table).
    field: &'static str,
    message: String,
}

/// What the page's forms show.
#[derive(Debug, Default)]
struct Forms {
    alias: AliasForm,
    group: GroupForm,
    /// The merge form's chosen payers (a refused merge keeps them).
    merge_from: String,
    merge_into: String,
    refusal: Option<Refusal>,
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
    page(&state, &user, None, Shown::Editing(editing)).await
}

/// How the page's forms are filled.
enum Shown {
    /// Empty, or the entries `?edit_alias` / `?edit_group` name.
    Editing(Editing),
    /// A refused post's values and its message.
    Refused(Box<Forms>),
}

async fn page(
    state: &AppState,
    user: &CurrentUser,
    import_errors: Option<(&'static str, Vec<String>)>,
    shown: Shown,
) -> Result<HttpResponse, AppError> {
    let overview = service::page_data(&state.db, user.scope()).await?;
    let forms = match shown {
        Shown::Refused(forms) => *forms,
        Shown::Editing(editing) => {
            let mut forms = Forms::default();
            // Another tenant's id (or a deleted entry) looks absent.
            if let Some(id) = editing.alias {
                let a = overview
                    .aliases
                    .iter()
                    .find(|a| a.id == id)
                    .ok_or(AppError::NotFound)?;
                forms.alias = AliasForm {
                    id: Some(id),
                    alias: a.alias.clone(),
                    canonical: a.canonical.clone(),
                };
            }
            if let Some(id) = editing.group {
                let g = overview
                    .groups
                    .iter()
                    .find(|g| g.id == id)
                    .ok_or(AppError::NotFound)?;
                forms.group = GroupForm {
                    id: Some(id),
                    code_start: g.code_start.clone(),
                    code_end: g.code_end.clone(),
                    group_name: g.group_name.clone(),
                };
            }
            forms
        }
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
        forms,
        stored_claims,
        remap: overview.remap.as_ref().map(remap_status_text),
    })
}

/// The page again under `status`, the refusal beside its field and the posted values
/// kept (nothing was saved).
async fn refused(
    state: &AppState,
    user: &CurrentUser,
    status: StatusCode,
    forms: Forms,
) -> Result<HttpResponse, AppError> {
    let mut response = page(state, user, None, Shown::Refused(Box::new(forms))).await?;
    *response.status_mut() = status;
    Ok(response)
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

/// The sentence for an invalid field (not PHI).
fn invalid_message(e: &FieldError) -> String {
    match e.problem {
        Problem::InvalidCpt | Problem::RangeOrder => "The CPT codes must be 5 characters (5 digits, or 4 digits and a letter), the first not after the last.".into(),
        Problem::InvalidGroup => "The field 'group_name' may only use letters, digits and _.".into(),
        Problem::Missing => format!("The field '{}' is required.", e.field),
        other => format!("The field '{}' is not valid: {other}.", e.field),
    }
}

/// The form's answer to invalid fields: a PHI label is refused with a flash that names the
/// field (nothing saved, the value never shown again) at `to`; any other problem re-shows
/// the page, 400, its message beside the field (`field` names it on the page) and the
/// posted values in `forms`.
async fn refuse(
    state: &AppState,
    user: &CurrentUser,
    errors: &[FieldError],
    to: &str,
    field: impl Fn(&'static str) -> &'static str,
    mut forms: Forms,
) -> Result<HttpResponse, AppError> {
    if let Some(e) = errors.iter().find(|e| e.problem != Problem::Phi) {
        forms.refusal = Some(Refusal {
            field: field(e.field),
            message: invalid_message(e),
        });
        return refused(state, user, StatusCode::BAD_REQUEST, forms).await;
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

/// A change that could not be applied and has no field to show it beside.
fn edit_error(err: MappingError) -> AppError {
    match err {
        MappingError::UnknownPayer => AppError::NotFound,
        MappingError::Db(e) => e.into(),
        other => AppError::BadRequest(other.to_string()),
    }
}

/// An edit that would duplicate another entry: 409, beside the field that clashes.
fn duplicate(field: &'static str) -> (StatusCode, Refusal) {
    let message = if field == "alias" {
        "Another alias already has that name in files (field 'alias'); edit or delete that one instead.".to_string()
    } else {
        format!(
            "Another CPT range already has those first and last codes (field '{field}'); edit or delete that one instead."
        )
    };
    (StatusCode::CONFLICT, Refusal { field, message })
}

/// "2 payer spellings and 1 CPT code".
fn entries_text(payer_spellings: usize, cpt_codes: usize) -> String {
    let n = |count: usize, one: &str, many: &str| {
        format!(
            "{} {}",
            crate::domain::format::thousands(count as u64),
            if count == 1 { one } else { many }
        )
    };
    match (payer_spellings, cpt_codes) {
        (p, 0) => n(p, "payer spelling", "payer spellings"),
        (0, c) => n(c, "CPT code", "CPT codes"),
        (p, c) => format!(
            "{} and {}",
            n(p, "payer spelling", "payer spellings"),
            n(c, "CPT code", "CPT codes")
        ),
    }
}

/// The re-map card's line about the tenant's latest re-map: (state for the badge, text).
fn remap_status_text(status: &RemapStatus) -> (&'static str, String) {
    let n = crate::domain::format::thousands;
    let at = |t: chrono::NaiveDateTime| t.format("%Y-%m-%d %H:%M UTC").to_string();
    let p = &status.progress;
    let entries = entries_text(status.payer_spellings, status.cpt_codes);
    match status.state {
        RemapState::Queued => (
            "queued",
            format!(
                "A re-map of {entries} is queued (requested {}); it starts when a worker is free.",
                at(status.requested_at)
            ),
        ),
        RemapState::Running => (
            "running",
            format!(
                "Re-mapping in the background: {} of {} done, {} stored claims re-mapped so far. Reload the page to follow it.",
                n(p.entries_done
                    .min(status.payer_spellings + status.cpt_codes) as u64),
                entries,
                n(p.payer_rows + p.cpt_group_rows),
            ),
        ),
        RemapState::Succeeded => {
            let when = status.finished_at.map(at).unwrap_or_default();
            let rows = p.payer_rows + p.cpt_group_rows;
            if rows == 0 {
                return (
                    "done",
                    format!(
                        "The last re-map ({when}) found nothing to change: no claim was re-mapped."
                    ),
                );
            }
            let mut moved = Vec::new();
            if p.payer_rows > 0 {
                moved.push(format!("{} moved to another payer", n(p.payer_rows)));
            }
            if p.cpt_group_rows > 0 {
                let verb = if moved.is_empty() { "moved " } else { "" };
                moved.push(format!(
                    "{} {verb}to another CPT group",
                    n(p.cpt_group_rows)
                ));
            }
            (
                "done",
                format!(
                    "Last re-map done ({when}): {} stored claims re-mapped: {}. An analytics run was requested; findings follow when it finishes (Settings → Analytics).",
                    n(rows),
                    moved.join(", "),
                ),
            )
        }
        RemapState::Failed => (
            "failed",
            format!(
                "The last re-map stopped ({}): {}. The {} claims it re-mapped stay re-mapped; press the button again to finish.",
                status.finished_at.map(at).unwrap_or_default(),
                status.error.as_deref().unwrap_or("unknown error"),
                n(p.payer_rows + p.cpt_group_rows),
            ),
        ),
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
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    // The posted values, for the page shown again after a refusal.
    let alias_form = |id: Option<i64>| Forms {
        alias: AliasForm {
            id,
            alias: value(&form.alias),
            canonical: value(&form.canonical),
        },
        ..Forms::default()
    };
    let group_form = |id: Option<i64>| Forms {
        group: GroupForm {
            id,
            code_start: value(&form.code_start),
            code_end: value(&form.code_end),
            group_name: value(&form.group_name),
        },
        ..Forms::default()
    };
    let same = |field: &'static str| field;
    match form.action.as_str() {
        "alias" | "alias_update" => {
            let id = match form.action.as_str() {
                "alias_update" => Some(form_id(&form.alias_id, "alias_id")?),
                _ => None,
            };
            let entry = match AliasEntry::parse(
                form.alias.as_deref().unwrap_or(""),
                form.canonical.as_deref().unwrap_or(""),
            ) {
                Ok(entry) => entry,
                Err(errors) => {
                    let to = match id {
                        // An edit's PHI refusal keeps its form open.
                        Some(id) => format!("/portal/settings/mappings?edit_alias={id}#alias-form"),
                        None => "/portal/settings/mappings".to_string(),
                    };
                    return refuse(&state, &user, &errors, &to, same, alias_form(id)).await;
                }
            };
            let result = match id {
                None => {
                    let (ctx, audit) =
                        user.audit(&req, &state, "mapping.payer_alias", &["alias", "canonical"]);
                    service::add_alias(db, scope, entry, ctx, audit)
                        .await
                        .map_err(MappingError::from)
                }
                Some(id) => {
                    let (ctx, audit) = user.audit(
                        &req,
                        &state,
                        "mapping.payer_alias_changed",
                        &["alias", "canonical"],
                    );
                    service::edit_alias(db, scope, id, entry, ctx, audit).await
                }
            };
            match result {
                Ok(()) => {}
                Err(MappingError::Duplicate(field)) => {
                    let (status, refusal) = duplicate(field);
                    let mut forms = alias_form(id);
                    forms.refusal = Some(refusal);
                    return refused(&state, &user, status, forms).await;
                }
                Err(e) => return Err(edit_error(e)),
            }
            let saved = if id.is_some() {
                "The alias was saved."
            } else {
                "Saved."
            };
            auth::set_flash(
                user.session(),
                "success",
                format!("{saved} {SAVED_NOT_REMAPPED}"),
            );
            Ok(back())
        }
        "cpt_group" | "cpt_group_update" => {
            let id = match form.action.as_str() {
                "cpt_group_update" => Some(form_id(&form.group_id, "group_id")?),
                _ => None,
            };
            let entry = match CptGroupEntry::parse(
                form.code_start.as_deref().unwrap_or(""),
                form.code_end.as_deref().unwrap_or(""),
                form.group_name.as_deref().unwrap_or(""),
            ) {
                Ok(entry) => entry,
                Err(errors) => {
                    let to = match id {
                        Some(id) => format!("/portal/settings/mappings?edit_group={id}#group-form"),
                        None => "/portal/settings/mappings".to_string(),
                    };
                    return refuse(&state, &user, &errors, &to, same, group_form(id)).await;
                }
            };
            let fields: &'static [&'static str] = &["code_start", "code_end", "group_name"];
            let result = match id {
                None => {
                    let (ctx, audit) = user.audit(&req, &state, "mapping.cpt_group", fields);
                    service::add_cpt_range(db, scope, entry, ctx, audit)
                        .await
                        .map_err(MappingError::from)
                }
                Some(id) => {
                    let (ctx, audit) =
                        user.audit(&req, &state, "mapping.cpt_group_changed", fields);
                    service::edit_cpt_range(db, scope, id, entry, ctx, audit).await
                }
            };
            match result {
                Ok(()) => {}
                Err(MappingError::Duplicate(field)) => {
                    let (status, refusal) = duplicate(field);
                    let mut forms = group_form(id);
                    forms.refusal = Some(refusal);
                    return refused(&state, &user, status, forms).await;
                }
                Err(e) => return Err(edit_error(e)),
            }
            let saved = if id.is_some() {
                "The CPT group was saved."
            } else {
                "Saved."
            };
            auth::set_flash(
                user.session(),
                "success",
                format!("{saved} {SAVED_NOT_REMAPPED}"),
            );
            Ok(back())
        }
        // One click on the page: the stored claims are re-mapped with the change.
        "split" | "merge" => {
            let raw = value(&form.alias);
            let into = value(&form.canonical);
            let split = form.action == "split";
            // A refused split is shown on the spellings table; a merge beside its choices.
            let forms = Forms {
                merge_from: if split { String::new() } else { raw.clone() },
                merge_into: if split { String::new() } else { into.clone() },
                ..Forms::default()
            };
            let on_page = move |field: &'static str| match (split, field) {
                (true, _) => "split",
                (false, "alias") => "merge_from",
                (false, _) => "merge_into",
            };
            let result = if split {
                let (ctx, audit) = user.audit(&req, &state, "mapping.payer_split", &["alias"]);
                service::split_payer(db, scope, raw, ctx, audit).await
            } else {
                let (ctx, audit) =
                    user.audit(&req, &state, "mapping.payer_merge", &["alias", "canonical"]);
                service::merge_payer(db, scope, raw, into, ctx, audit).await
            };
            let refusal = |status: StatusCode, field: &'static str, message: &str| {
                let mut forms = Forms {
                    merge_from: forms.merge_from.clone(),
                    merge_into: forms.merge_into.clone(),
                    ..Forms::default()
                };
                forms.refusal = Some(Refusal {
                    field: on_page(field),
                    message: message.to_string(),
                });
                (status, forms)
            };
            let changed = match result {
                Ok(changed) => changed,
                Err(MappingError::Invalid(errors)) => {
                    return refuse(
                        &state,
                        &user,
                        &errors,
                        "/portal/settings/mappings",
                        on_page,
                        forms,
                    )
                    .await;
                }
                Err(MappingError::CaseOnly) => {
                    let (status, forms) = refusal(
                        StatusCode::CONFLICT,
                        "alias",
                        "That spelling differs from its payer only in case or spacing, which aliases ignore; it cannot be kept apart.",
                    );
                    return refused(&state, &user, status, forms).await;
                }
                Err(MappingError::SamePayer) => {
                    let (status, forms) = refusal(
                        StatusCode::BAD_REQUEST,
                        "canonical",
                        "The fields 'alias' and 'canonical' name the same payer.",
                    );
                    return refused(&state, &user, status, forms).await;
                }
                Err(e) => return Err(edit_error(e)),
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
            Ok(back())
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
            Ok(back())
        }
        // Stored claims follow the current mappings: an explicit, audited request (SPEC §2)
        // that queues a job; the job commits in bounded steps, so a large re-map never
        // holds the database's writer (every tenant's uploads on SQLite) for long.
        "remap" => {
            let (ctx, audit) = user.audit(&req, &state, "mapping.remap", &["payer", "cpt_group"]);
            let out = service::request_remap(db, scope, ctx, audit).await?;
            let message = match out.job_id {
                None => "The stored claims already follow the mappings: no claim was re-mapped.".to_string(),
                Some(_) => format!(
                    "Re-mapping {} in the background; this page shows how far it got. Uploads and other changes go on meanwhile, and an analytics run follows when it is done.",
                    entries_text(out.payer_spellings, out.cpt_codes)
                ),
            };
            auth::set_flash(user.session(), "success", message);
            Ok(back())
        }
        _ => Err(AppError::BadRequest(
            "action must be alias, alias_update, alias_delete, cpt_group, cpt_group_update, cpt_group_delete, split, merge or remap".into(),
        )),
    }
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
                Shown::Editing(Editing::default()),
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
