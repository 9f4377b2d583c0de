//! `/api/v1/me` and `/api/v1/uploads`: the caller, and claims files in — the same
//! spool + job path as the upload form (`services::uploads`), so counts, quality report,
//! duplicate refusal and the format detection (CSV or X12 835, from the content) are
//! the form's.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;

use super::auth::{ApiAuthorized, ApiUser};
use super::model::{Me, MeToken, MeUser, Rejection, Tenant, UploadView, time};
use super::paging;
use crate::ingest::report::QualityReport;
use crate::jobs::spool::{SpoolDir, SpoolGuard};
use crate::services::uploads as service;
use crate::web::auth::{Admin, Analyst};
use crate::web::errors::AppError;
use crate::web::handlers::uploads::{SentFile, queue_spooled, spool};
use crate::web::state::AppState;

/// The caller: tenant, user, effective role and the token's expiry.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", operation_id = "get_me",
    responses((status = 200, description = "Who this token acts for", body = Me)))]
pub async fn me(user: ApiUser) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(Me {
        tenant: Tenant {
            id: user.customer_id.0,
            name: user.customer_name.clone(),
        },
        user: MeUser {
            id: user.user_id.0,
            email: user.email.clone(),
        },
        role: user.role.as_str().to_string(),
        token: MeToken {
            id: user.token_id,
            expires_at: time(user.expires_at),
        },
    }))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Documents the query; handlers read it through `paging`.
pub struct PageParams {
    /// Items per page, 1–500 (default 50).
    limit: Option<i64>,
    /// The opaque cursor of a `next` link.
    cursor: Option<String>,
}

/// The tenant's uploads, newest first.
#[utoipa::path(get, path = "/api/v1/uploads", tag = "uploads", operation_id = "list_uploads",
    params(PageParams),
    responses((status = 200, description = "A page of uploads", body = super::model::UploadList)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: ApiUser,
) -> Result<HttpResponse, AppError> {
    paging::keyset_page(
        &req,
        "uploads",
        |after, limit| service::list_after(&state.db, user.scope(), after, limit),
        |u| u.id,
        |u| UploadView::from_row(&u),
    )
    .await
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct UploadParams {
    /// The file's name when the body is the file itself (`text/csv`,
    /// `application/edi-x12`); default `upload.csv`.
    filename: Option<String>,
}

/// Sends a claims file (CSV or X12 835, told from the content): `multipart/form-data`
/// with the field `file`, or the file itself as the body (`text/csv`,
/// `application/edi-x12`, `application/octet-stream`) with `?filename=`. Answers 202:
/// the upload is processed in the background; poll `Location`.
#[utoipa::path(post, path = "/api/v1/uploads", tag = "uploads", operation_id = "create_upload",
    params(UploadParams),
    request_body(description = "The claims file", content(
        (String = "text/csv"),
        (String = "application/edi-x12"),
        (String = "application/octet-stream"),
    )),
    responses(
        (status = 202, description = "Accepted; processing in the background", body = UploadView,
            headers(("Location" = String, description = "The upload's URL"))),
        (status = 413, description = "The file is larger than the upload limit", body = super::model::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not multipart, CSV or X12", body = super::model::Problem, content_type = "application/problem+json"),
        (status = 422, description = "No file in the request", body = super::model::Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: ApiAuthorized<Analyst>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let Some(_slot) = state.api_limits.start_upload(user.token_id) else {
        // One upload in flight per token: a script retries after this one.
        return Err(AppError::RateLimited {
            retry_after_secs: 1,
        });
    };
    let spool_dir = SpoolDir::open(state.settings.spool_dir())
        .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    let max_bytes = state.settings.max_upload_bytes;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let (spooled, file_name, size) = match essence.as_str() {
        "multipart/form-data" => {
            let multipart = Multipart::new(req.headers(), payload);
            spool_multipart(&spool_dir, multipart, max_bytes).await?
        }
        "text/csv"
        | "application/edi-x12"
        | "application/edi-x12+text"
        | "text/plain"
        | "application/octet-stream" => {
            let name = url::form_urlencoded::parse(req.query_string().as_bytes())
                .find(|(k, _)| k == "filename")
                .map(|(_, v)| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "upload.csv".to_string());
            if name.chars().count() > 255 || name.chars().any(char::is_control) {
                return Err(AppError::bad_param(
                    "filename",
                    "a file name of at most 255 characters",
                ));
            }
            let (guard, size) = spool(&spool_dir, payload, max_bytes).await?;
            if size == 0 {
                return Err(AppError::invalid_field("file", "the file is empty"));
            }
            (guard, name, size)
        }
        _ => {
            return Err(AppError::UnsupportedMediaType(
                "Send multipart/form-data with a 'file' field, or the file itself as text/csv or \
                 application/edi-x12."
                    .into(),
            ));
        }
    };
    let upload_id = queue_spooled(
        &state,
        &spool_dir,
        spooled,
        SentFile {
            scope: user.scope(),
            uploaded_by: user.user_id.0,
            file_name,
            size,
        },
        user.audit(&req, &state, "upload.created", &[]),
    )
    .await?;
    let upload = service::find(&state.db, user.scope(), upload_id).await?;
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/api/v1/uploads/{upload_id}")))
        .json(UploadView::from_row(&upload)))
}

fn unreadable(e: impl std::fmt::Display) -> AppError {
    AppError::BadRequest(format!("The upload could not be read: {e}."))
}

/// Streams the multipart field `file` to a spool file; other fields are drained.
async fn spool_multipart(
    spool_dir: &SpoolDir,
    mut body: Multipart,
    max_bytes: u64,
) -> Result<(SpoolGuard<'_>, String, u64), AppError> {
    let mut spooled: Option<(SpoolGuard<'_>, String)> = None;
    let mut size = 0u64;
    let mut fields = 0;
    while let Some(field) = body.next().await {
        let mut field = field.map_err(unreadable)?;
        fields += 1;
        if fields > 16 {
            return Err(AppError::BadRequest(
                "Too many form fields: send the file in the field 'file'.".into(),
            ));
        }
        if field.name() != Some("file") {
            let mut drained = 0usize;
            while let Some(chunk) = field.next().await {
                drained += chunk.map_err(unreadable)?.len();
                if drained > 64 * 1024 {
                    return Err(AppError::BadRequest(
                        "Form fields other than 'file' are limited to 64 KB.".into(),
                    ));
                }
            }
            continue;
        }
        if spooled.is_some() {
            return Err(AppError::invalid_field("file", "send one file per upload"));
        }
        let file_name = field
            .content_disposition()
            .and_then(|cd| cd.get_filename().map(str::to_string))
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "upload.csv".to_string());
        let (guard, written) = spool(spool_dir, &mut field, max_bytes).await?;
        size = written;
        spooled = Some((guard, file_name));
    }
    match spooled {
        Some((guard, name)) => Ok((guard, name, size)),
        None => Err(AppError::invalid_field(
            "file",
            "required: the claims file as the multipart field 'file'",
        )),
    }
}

/// One upload: status, counts, the quality report and rejection reasons.
#[utoipa::path(get, path = "/api/v1/uploads/{id}", tag = "uploads", operation_id = "get_upload",
    params(("id" = i64, Path, description = "Upload id")),
    responses(
        (status = 200, description = "The upload", body = UploadView,
            headers(("ETag" = String, description = "Send it back in If-None-Match"))),
        (status = 304, description = "Not modified (If-None-Match)"),
    ))]
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: ApiUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let (upload, report) = service::with_report(&state.db, user.scope(), id).await?;
    let mut view = UploadView::from_row(&upload);
    if let Some(json) = report {
        if let Ok(parsed) = serde_json::from_str::<QualityReport>(&json) {
            view.rejected_by_reason = Some(parsed.rejected_by_reason.clone());
        }
        view.quality_report = serde_json::from_str(&json).ok();
    }
    paging::single_response(&req, &view)
}

/// Deletes an upload without claims (admin). 409 while claims exist.
#[utoipa::path(delete, path = "/api/v1/uploads/{id}", tag = "uploads", operation_id = "delete_upload",
    params(("id" = i64, Path, description = "Upload id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "The upload still has claims; nothing was removed", body = super::model::Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: ApiAuthorized<Admin>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let (ctx, entry) = user.audit(&req, &state, "upload.deleted", &[]);
    service::delete(&state.db, user.scope(), id, ctx, entry).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// An upload's rejected cells in file order: row, column, reason code — never a value.
#[utoipa::path(get, path = "/api/v1/uploads/{id}/rejections", tag = "uploads", operation_id = "list_upload_rejections",
    params(("id" = i64, Path, description = "Upload id"), PageParams),
    responses((status = 200, description = "A page of rejections", body = super::model::RejectionList)))]
pub async fn rejections(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: ApiUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    paging::keyset_page(
        &req,
        "rejections",
        |after, limit| service::rejections_after(&state.db, user.scope(), id, after, limit),
        |r| r.0,
        |(_, row, column, reason)| Rejection {
            row,
            column,
            reason,
        },
    )
    .await
}
