//! `/portal/settings/mappings`: payer aliases (raw name → canonical payer) and CPT code
//! groups. Everyone reads; analysts and above add or change entries. Labels are checked
//! for PHI and refused naming the field. Changes apply to later uploads; stored claims
//! change only through `payerwatch remap`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::repo::mappings as repo;
use crate::domain::claim::CptCode;
use crate::domain::phi;
use crate::domain::roles::Role;
use crate::web::auth::{self, Analyst, Authorized, CurrentUser, audit_user_action};
use crate::web::errors::AppError;
use crate::web::layout::Layout;
use crate::web::render::render;
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "settings/mappings.html")]
struct MappingsPage {
    layout: Layout,
    aliases: Vec<repo::PayerAlias>,
    groups: Vec<repo::CptGroupRange>,
    can_edit: bool,
}

pub async fn show(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let scope = user.scope();
    let (aliases, groups) = state
        .db
        .run(move |conn| {
            Ok((
                repo::list_payer_aliases(conn, &scope)?,
                repo::list_cpt_groups(conn, &scope)?,
            ))
        })
        .await?;
    render(&MappingsPage {
        layout: user.layout("Mappings", "/portal/settings/mappings"),
        aliases,
        groups,
        can_edit: user.role.allows(Role::Analyst),
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
}

fn field<'a>(value: &'a Option<String>, name: &str, max: usize) -> Result<&'a str, AppError> {
    let v = value.as_deref().map(str::trim).unwrap_or("");
    if v.is_empty() {
        return Err(AppError::BadRequest(format!(
            "The field '{name}' is required."
        )));
    }
    if v.chars().count() > max {
        return Err(AppError::BadRequest(format!(
            "The field '{name}' is too long (at most {max} characters)."
        )));
    }
    Ok(v)
}

fn back() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/portal/settings/mappings"))
        .finish()
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: Authorized<Analyst>,
    form: web::Form<MappingForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let scope = user.scope();
    match form.action.as_str() {
        "alias" => {
            let alias = field(&form.alias, "alias", 255)?.to_string();
            let canonical = field(&form.canonical, "canonical", 255)?.to_string();
            for (name, value) in [("alias", &alias), ("canonical", &canonical)] {
                if phi::contains_phi(value) {
                    auth::set_flash(
                        user.session(),
                        "error",
                        format!(
                            "The {name} looks like it contains patient information (PHI); nothing was saved."
                        ),
                    );
                    return Ok(back());
                }
            }
            state
                .db
                .write(move |conn| repo::upsert_payer_alias(conn, &scope, &alias, &canonical))
                .await?;
            audit_user_action(
                &state,
                &req,
                &user,
                "mapping.payer_alias",
                None,
                &["alias", "canonical"],
            )
            .await?;
        }
        "cpt_group" => {
            let start = field(&form.code_start, "code_start", 5)?.to_ascii_uppercase();
            let end = form
                .code_end
                .as_deref()
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .unwrap_or(&start)
                .to_ascii_uppercase();
            let group = field(&form.group_name, "group_name", 40)?.to_ascii_uppercase();
            if CptCode::parse(&start).is_none() || CptCode::parse(&end).is_none() || start > end {
                return Err(AppError::BadRequest(
                    "The CPT codes must be 5 characters (5 digits, or 4 digits and a letter), the first not after the last.".into(),
                ));
            }
            if !group.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(AppError::BadRequest(
                    "The field 'group_name' may only use letters, digits and _.".into(),
                ));
            }
            state
                .db
                .write(move |conn| repo::upsert_cpt_group(conn, &scope, &start, &end, &group))
                .await?;
            audit_user_action(
                &state,
                &req,
                &user,
                "mapping.cpt_group",
                None,
                &["code_start", "code_end", "group_name"],
            )
            .await?;
        }
        _ => {
            return Err(AppError::BadRequest(
                "action must be alias or cpt_group".into(),
            ));
        }
    }
    auth::set_flash(
        user.session(),
        "success",
        "Saved. It applies to the next uploads; run `payerwatch remap` to apply it to stored claims.",
    );
    Ok(back())
}
