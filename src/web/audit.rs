//! Audit events from requests: the request's facts (id, anonymised address) for the
//! audit rows that [`crate::db::Db::write_audited`] commits with each change.

use actix_web::{HttpMessage, HttpRequest};

pub use crate::db::repo::audit::{
    AuditContext, AuditEntry, record, record_system, record_system_with,
};
use crate::web::http::client_ip;
use crate::web::http::middleware::RequestId;
use crate::web::state::AppState;

impl AuditContext {
    pub fn from_request(req: &HttpRequest, state: &AppState) -> Self {
        AuditContext {
            request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
            client_addr: client_ip::from_request(req, &state.settings.trusted_proxies)
                .map(client_ip::anonymize),
        }
    }
}
