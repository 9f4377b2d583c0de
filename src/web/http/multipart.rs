//! Bounded multipart forms whose CSRF token is checked before any file is read
//! (issue 16 row 19). The upload and mapping-import handlers read their bodies through
//! [`GuardedForm`]: the token comes first (an `X-CSRF-Token` header, or the `csrf_token`
//! field ahead of the file, which is where the pages put it), the number of fields and the
//! size of every small field are bounded, and so is the whole body — so a forged or
//! oversized post is refused before a byte of its file is spooled.

use actix_multipart::{Field, Multipart};
use actix_web::HttpRequest;
use actix_web::http::header;
use futures_util::StreamExt;

use crate::web::auth::csrf::verify_token;
use crate::web::errors::AppError;

/// Parts a form may have: the token, a few small fields and the file.
pub const MAX_FIELDS: usize = 8;
/// Bytes of any field but the file (the token is 64 hex digits).
pub const MAX_SMALL_FIELD: usize = 1024;
/// Room for the parts' headers and small fields on top of the file's own limit.
const OVERHEAD: u64 = 64 * 1024;

pub const TOKEN_HEADER: &str = "x-csrf-token";

fn read_error(e: impl std::fmt::Display) -> AppError {
    AppError::BadRequest(format!("The upload could not be read: {e}."))
}

fn too_large(file_limit: u64) -> AppError {
    AppError::PayloadTooLarge(format!(
        "The request is larger than the limit of {} MB for this form.",
        file_limit.div_ceil(1024 * 1024)
    ))
}

pub struct GuardedForm<'r> {
    req: &'r HttpRequest,
    body: Multipart,
    verified: bool,
    fields: usize,
    small_bytes: usize,
    file_limit: u64,
}

impl<'r> GuardedForm<'r> {
    /// Refuses a declared body larger than `file_limit` plus the form's overhead at once,
    /// and accepts the token from the header when the client sends it there.
    pub fn new(req: &'r HttpRequest, body: Multipart, file_limit: u64) -> Result<Self, AppError> {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > file_limit.saturating_add(OVERHEAD)) {
            return Err(too_large(file_limit));
        }
        let mut form = GuardedForm {
            req,
            body,
            verified: false,
            fields: 0,
            small_bytes: 0,
            file_limit,
        };
        if let Some(token) = req.headers().get(TOKEN_HEADER) {
            let token = token.to_str().map_err(|_| AppError::CsrfRejected)?;
            verify_token(req, token.trim())?;
            form.verified = true;
        }
        Ok(form)
    }

    /// The next part; more than [`MAX_FIELDS`] is a 400.
    pub async fn next_field(&mut self) -> Result<Option<Field>, AppError> {
        let Some(field) = self.body.next().await else {
            return Ok(None);
        };
        self.fields += 1;
        if self.fields > MAX_FIELDS {
            return Err(AppError::BadRequest(format!(
                "The form has more than {MAX_FIELDS} fields."
            )));
        }
        field.map_err(read_error).map(Some)
    }

    /// A small field's value (at most [`MAX_SMALL_FIELD`] bytes, else 400 naming it).
    pub async fn small_value(&mut self, field: &mut Field) -> Result<String, AppError> {
        let name = field.name().unwrap_or_default().to_string();
        let mut value = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(read_error)?;
            if value.len() + chunk.len() > MAX_SMALL_FIELD {
                return Err(AppError::BadRequest(format!(
                    "The field '{}' is longer than {MAX_SMALL_FIELD} bytes.",
                    name.chars().take(40).collect::<String>()
                )));
            }
            value.extend_from_slice(&chunk);
        }
        self.small_bytes += value.len();
        if self.small_bytes as u64 > OVERHEAD {
            return Err(too_large(self.file_limit));
        }
        Ok(String::from_utf8_lossy(&value).into_owned())
    }

    /// Checks a `csrf_token` field's value.
    pub fn accept_token(&mut self, token: &str) -> Result<(), AppError> {
        verify_token(self.req, token.trim())?;
        self.verified = true;
        Ok(())
    }

    /// Call before reading a file: the token must already have been checked.
    pub fn require_token(&self) -> Result<(), AppError> {
        if self.verified {
            Ok(())
        } else {
            Err(AppError::CsrfRejected)
        }
    }

    /// The same check at the end, for forms that sent no file at all.
    pub fn finish(self) -> Result<(), AppError> {
        self.require_token()
    }
}
