//! Cursor pagination (`limit` ≤ 500, opaque `cursor`, `next` in the body and a `Link`
//! header) and `ETag` / `If-None-Match` for single resources.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::web::errors::AppError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// A list request's `limit` and decoded `cursor` (the id to continue after).
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub limit: i64,
    pub after: Option<i64>,
}

fn param<'a>(req: &'a HttpRequest, name: &str) -> Option<std::borrow::Cow<'a, str>> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Reads `limit` and `cursor`; `kind` names the list so a cursor of another list is
/// refused rather than misread.
pub fn page_request(req: &HttpRequest, kind: &str) -> Result<PageRequest, AppError> {
    let limit = match param(req, "limit") {
        None => DEFAULT_LIMIT,
        Some(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| AppError::bad_param("limit", "a number from 1 to 500"))?,
    };
    let after = match param(req, "cursor") {
        None => None,
        Some(v) if v.trim().is_empty() => None,
        Some(v) => Some(
            decode_cursor(v.trim(), kind)
                .ok_or_else(|| AppError::bad_param("cursor", "a cursor from a 'next' link"))?,
        ),
    };
    Ok(PageRequest { limit, after })
}

/// Opaque to clients: hex of `<list>:<id>`.
pub fn encode_cursor(kind: &str, id: i64) -> String {
    hex::encode(format!("{kind}:{id}"))
}

fn decode_cursor(cursor: &str, kind: &str) -> Option<i64> {
    if cursor.len() > 128 {
        return None;
    }
    let raw = String::from_utf8(hex::decode(cursor).ok()?).ok()?;
    let (k, id) = raw.split_once(':')?;
    (k == kind).then(|| id.parse::<i64>().ok()).flatten()
}

/// The list body every list answers: `{"items": [...], "next": url | null}`.
#[derive(Serialize)]
pub struct ListBody<T: Serialize> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// Turns `rows` (fetched with `limit + 1`) into the page answer: the body, a `Link`
/// header when more follow. `id_of` gives the key the next page continues after.
pub fn list_response<R, T: Serialize>(
    req: &HttpRequest,
    kind: &str,
    page: PageRequest,
    mut rows: Vec<R>,
    id_of: impl Fn(&R) -> i64,
    view: impl Fn(R) -> T,
) -> HttpResponse {
    let more = rows.len() as i64 > page.limit;
    rows.truncate(usize::try_from(page.limit).unwrap_or(0));
    let next = match (more, rows.last()) {
        (true, Some(last)) => Some(next_url(req, &encode_cursor(kind, id_of(last)))),
        _ => None,
    };
    let body = ListBody {
        items: rows.into_iter().map(view).collect(),
        next: next.clone(),
    };
    let mut res = HttpResponse::Ok();
    if let Some(next) = &next {
        res.insert_header((header::LINK, format!("<{next}>; rel=\"next\"")));
    }
    res.json(body)
}

/// A whole keyset list endpoint: reads `limit` and `cursor` (of list `kind`), asks the
/// service for up to `limit + 1` rows after the cursor with `fetch(after, limit + 1)` and
/// answers the page ([`list_response`]).
pub async fn keyset_page<R, T, E, Fut>(
    req: &HttpRequest,
    kind: &'static str,
    fetch: impl FnOnce(Option<i64>, i64) -> Fut,
    id_of: impl Fn(&R) -> i64,
    view: impl Fn(R) -> T,
) -> Result<HttpResponse, AppError>
where
    T: Serialize,
    Fut: std::future::Future<Output = Result<Vec<R>, E>>,
    AppError: From<E>,
{
    let page = page_request(req, kind)?;
    let rows = fetch(page.after, page.limit + 1).await?;
    Ok(list_response(req, kind, page, rows, id_of, view))
}

/// This request's path and query with `cursor` replaced.
fn next_url(req: &HttpRequest, cursor: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        if k != "cursor" {
            query.append_pair(&k, &v);
        }
    }
    query.append_pair("cursor", cursor);
    format!("{}?{}", req.path(), query.finish())
}

/// A single resource with a strong `ETag` of its JSON; `304` when the client's
/// `If-None-Match` matches.
pub fn single_response<T: Serialize>(
    req: &HttpRequest,
    value: &T,
) -> Result<HttpResponse, AppError> {
    let body = serde_json::to_vec(value).map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    let digest = Sha256::digest(&body);
    let etag = format!("\"{}\"", hex::encode(&digest[..16]));
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == etag || t == "*")
        });
    if matches {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish());
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag))
        .content_type("application/json")
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_other_lists() {
        let c = encode_cursor("uploads", 42);
        assert_eq!(decode_cursor(&c, "uploads"), Some(42));
        assert_eq!(decode_cursor(&c, "alerts"), None);
        assert_eq!(decode_cursor("zz", "uploads"), None);
        assert_eq!(decode_cursor("", "uploads"), None);
    }
}
