//! Liveness and readiness probes. Liveness touches nothing (no database, no session);
//! readiness answers 200 only when the database responds within a second.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use diesel::connection::SimpleConnection;

use crate::web::AppState;

pub async fn liveness() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok")
}

const READINESS_TIMEOUT: Duration = Duration::from_secs(1);

pub async fn readiness(state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.clone();
    let check = actix_web::rt::task::spawn_blocking(move || {
        let mut conn = db.get_timeout(READINESS_TIMEOUT)?;
        conn.batch_execute("SELECT 1")
            .map_err(crate::db::DbError::from)
    });
    let ready = matches!(
        tokio::time::timeout(READINESS_TIMEOUT, check).await,
        Ok(Ok(Ok(())))
    );
    if ready {
        HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ready")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body("database unavailable")
    }
}
