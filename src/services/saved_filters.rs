//! Saved filters: a person names the alert list's current filters and gets them back as
//! one link. Only the list's own filter parameters are kept (no page number, nothing
//! else), re-encoded, so a saved query can never carry more than the list understands.

use crate::db::repo::saved_filters::{self as repo, SavedFilter};
use crate::db::{AuditContext, AuditEntry, Db, DbError};
use crate::domain::alert_work::{ALERT_FILTER_KEYS, FILTER_NAME_MAX_CHARS, FILTER_QUERY_MAX_CHARS};
use crate::domain::tenant::TenantScope;

/// The only list with saved filters so far.
pub const ALERTS_PAGE: &str = "alerts";

#[derive(Debug, thiserror::Error)]
pub enum SavedFiltersError {
    /// A missing or malformed value; the message is safe to show.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The alert list's filter parameters of `raw` (a query string), in a fixed order,
/// empty values and unknown keys dropped.
pub fn alert_query(raw: &str) -> String {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(raw.trim_start_matches('?').as_bytes())
            .map(|(k, v)| (k.into_owned(), v.trim().to_string()))
            .collect();
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for key in ALERT_FILTER_KEYS {
        if let Some((_, v)) = pairs.iter().find(|(k, v)| k == key && !v.is_empty()) {
            out.append_pair(key, v);
        }
    }
    out.finish()
}

/// A name and query as posted, checked: a name of 1..=60 characters and a query with at
/// least one filter.
pub fn check(
    name: Option<&str>,
    query: Option<&str>,
) -> Result<(String, String), SavedFiltersError> {
    let name = name.map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Err(SavedFiltersError::Invalid("Give the filter a name.".into()));
    }
    if name.chars().count() > FILTER_NAME_MAX_CHARS {
        return Err(SavedFiltersError::Invalid(format!(
            "The name is too long (at most {FILTER_NAME_MAX_CHARS} characters)."
        )));
    }
    let query = alert_query(query.unwrap_or_default());
    if query.is_empty() {
        return Err(SavedFiltersError::Invalid(
            "Choose some filters first, then save them.".into(),
        ));
    }
    if query.chars().count() > FILTER_QUERY_MAX_CHARS {
        return Err(SavedFiltersError::Invalid(
            "These filters are too long to save.".into(),
        ));
    }
    Ok((name.to_string(), query))
}

pub async fn list(db: &Db, scope: TenantScope, user_id: i64) -> Result<Vec<SavedFilter>, DbError> {
    db.run(move |conn| repo::list_saved_filters(conn, &scope, user_id, ALERTS_PAGE))
        .await
}

/// Saves (or replaces, by name) one of `user_id`'s alert filters, audited.
pub async fn save(
    db: &Db,
    scope: TenantScope,
    user_id: i64,
    name: String,
    query: String,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(), SavedFiltersError> {
    db.write_audited(ctx, entry.target("user", user_id), move |conn| {
        repo::upsert_saved_filter(conn, &scope, user_id, ALERTS_PAGE, &name, &query)?;
        Ok(())
    })
    .await
}

/// Deletes one of `user_id`'s own saved filters, audited.
pub async fn delete(
    db: &Db,
    scope: TenantScope,
    user_id: i64,
    id: i64,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(), SavedFiltersError> {
    db.write_audited(ctx, entry.target("saved_filter", id), move |conn| {
        repo::delete_saved_filter(conn, &scope, user_id, id)?;
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_lists_filters_in_a_fixed_order() {
        assert_eq!(
            alert_query("?page=3&sort=money&status=open&evil=1&payer=Blue%20Cross&verdict="),
            "status=open&payer=Blue+Cross&sort=money"
        );
        assert_eq!(alert_query(""), "");
        assert!(check(Some("  "), Some("status=open")).is_err());
        assert!(check(Some("Mine"), Some("page=2")).is_err());
        assert_eq!(
            check(Some(" Mine "), Some("assignee=me")).expect("ok"),
            ("Mine".to_string(), "assignee=me".to_string())
        );
    }
}
