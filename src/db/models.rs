//! Row types read from and written to the database (persistence shapes, not domain
//! rules). Read models derive `Queryable`/`Selectable`; write models `Insertable`.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::schema::{audit_events, claim_records, customers, uploads, users};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = customers)]
pub struct Customer {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub analytics_mode: String,
    pub created_at: NaiveDateTime,
    pub alert_cooldown_minutes: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = customers)]
pub struct NewCustomer<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub customer_id: i64,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub is_staff: bool,
    pub is_active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub password_changed_at: NaiveDateTime,
    pub last_login_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub customer_id: i64,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub is_staff: bool,
    pub is_active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub password_changed_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = uploads)]
pub struct Upload {
    pub id: i64,
    pub customer_id: i64,
    pub uploaded_by: Option<i64>,
    pub file_name: String,
    pub sha256: Option<String>,
    pub size_bytes: i64,
    pub status: String,
    pub total_rows: i64,
    pub accepted_rows: i64,
    pub rejected_rows: i64,
    pub warning_rows: i64,
    pub quality_score_centi: Option<i64>,
    pub message: Option<String>,
    pub duplicate_of: Option<i64>,
    pub created_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = uploads)]
pub struct NewUpload<'a> {
    pub customer_id: i64,
    pub uploaded_by: Option<i64>,
    pub file_name: &'a str,
    pub status: &'a str,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = claim_records)]
pub struct ClaimRecord {
    pub id: i64,
    pub customer_id: i64,
    pub upload_id: i64,
    pub payer_raw: String,
    pub payer: String,
    pub cpt: String,
    pub cpt_group: String,
    pub submitted_date: NaiveDate,
    pub decided_date: NaiveDate,
    pub decision_days: i32,
    pub outcome: String,
    pub allowed_cents: Option<i64>,
    pub denial_reason_code: Option<String>,
    pub denial_reason_text: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = claim_records)]
pub struct NewClaim {
    pub customer_id: i64,
    pub upload_id: i64,
    pub payer_raw: String,
    pub payer: String,
    pub cpt: String,
    pub cpt_group: String,
    pub submitted_date: NaiveDate,
    pub decided_date: NaiveDate,
    pub decision_days: i32,
    pub outcome: String,
    pub allowed_cents: Option<i64>,
    pub denial_reason_code: Option<String>,
    pub denial_reason_text: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: i64,
    pub occurred_at: NaiveDateTime,
    pub customer_id: Option<i64>,
    pub actor_user_id: Option<i64>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub changed_fields: Option<String>,
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_events)]
pub struct NewAuditEvent {
    pub occurred_at: NaiveDateTime,
    pub customer_id: Option<i64>,
    pub actor_user_id: Option<i64>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub changed_fields: Option<String>,
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
}
