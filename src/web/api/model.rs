//! The API's resources as they are serialised (and described in the OpenAPI document).
//! Conventions, stated once: `snake_case` fields, dates `YYYY-MM-DD`, times
//! `YYYY-MM-DDTHH:MM:SSZ` (UTC), money as integer cents (`*_cents`), rates as fractions
//! (0.25 = 25 %).

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::repo::alerts::{AlertWithStatus, HistoryRow, JudgmentRow};
use crate::db::repo::analytics::{DriftEvent, ReportRun};
use crate::db::repo::deliveries::DeliveryRow;
use crate::db::repo::uploads::Upload;

pub fn time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// RFC 9457 problem details (`application/problem+json`).
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// A link to the explanation of this problem type on `/api/docs`.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// `urn:request:<request id>` (the id is also in `X-Request-Id`).
    pub instance: String,
    pub request_id: String,
    /// Validation problems: each bad field by name, never its value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

#[derive(Serialize, ToSchema)]
pub struct FieldError {
    pub name: String,
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct Tenant {
    pub id: i64,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct MeUser {
    pub id: i64,
    pub email: String,
}

#[derive(Serialize, ToSchema)]
pub struct MeToken {
    pub id: i64,
    pub expires_at: String,
}

/// The caller: tenant, user, the role this token acts with, and the token's expiry.
#[derive(Serialize, ToSchema)]
pub struct Me {
    pub tenant: Tenant,
    pub user: MeUser,
    /// min(the owner's current role, the token's role): viewer, analyst, admin or owner.
    pub role: String,
    pub token: MeToken,
}

/// An upload and its processing state. `status`: `processing`, `succeeded`, `failed`
/// (also `duplicate` for a file already uploaded).
#[derive(Serialize, ToSchema)]
pub struct UploadView {
    pub id: i64,
    pub file_name: String,
    pub status: String,
    pub size_bytes: i64,
    pub total_rows: i64,
    pub accepted_rows: i64,
    pub rejected_rows: i64,
    pub warning_rows: i64,
    /// accepted ÷ total × 100 (null while processing or for an empty file).
    pub quality_score: Option<f64>,
    pub message: Option<String>,
    pub duplicate_of: Option<i64>,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// Rejected rows per reason code (the single-upload answer only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_by_reason: Option<std::collections::BTreeMap<String, u64>>,
    /// The full quality report once processed (the single-upload answer only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub quality_report: Option<serde_json::Value>,
}

impl UploadView {
    pub fn from_row(u: &Upload) -> Self {
        UploadView {
            id: u.id,
            file_name: u.file_name.clone(),
            status: u.status.clone(),
            size_bytes: u.size_bytes,
            total_rows: u.total_rows,
            accepted_rows: u.accepted_rows,
            rejected_rows: u.rejected_rows,
            warning_rows: u.warning_rows,
            quality_score: u.quality_score_centi.map(|c| c as f64 / 100.0),
            message: u.message.clone(),
            duplicate_of: u.duplicate_of,
            created_at: time(u.created_at),
            finished_at: u.finished_at.map(time),
            rejected_by_reason: None,
            quality_report: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UploadList {
    pub items: Vec<UploadView>,
    pub next: Option<String>,
}

/// One rejected cell: row number, column and reason code (never the value).
#[derive(Serialize, ToSchema)]
pub struct Rejection {
    pub row: i64,
    pub column: String,
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct RejectionList {
    pub items: Vec<Rejection>,
    pub next: Option<String>,
}

/// One week of the series behind a finding's chart.
#[derive(Serialize, ToSchema)]
pub struct SeriesPoint {
    pub week_start: String,
    pub decided: i64,
    pub denied: i64,
    /// The finding's metric, as its chart plots it: the denial rate (denial-rate findings),
    /// median days to decision (decision time, slowdowns; mean in legacy mode), a reason's
    /// share of the payer's denials, denials a day or denied dollars (reason findings);
    /// null for a week without the claims it needs. Weeks start at the first with data.
    pub value: Option<f64>,
}

/// A finding (drift event): what changed for a payer (× CPT group or reason) between
/// a baseline and a current window.
#[derive(Serialize, ToSchema)]
pub struct Finding {
    pub id: i64,
    pub run_id: i64,
    /// drift_watch, denial_scope or delay_guard.
    pub product: String,
    /// sound or compat.
    pub mode: String,
    pub kind: String,
    pub payer: String,
    pub cpt_group: String,
    /// worse or better.
    pub direction: String,
    pub baseline_value: f64,
    pub current_value: f64,
    pub delta: f64,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub p_value: Option<f64>,
    pub q_value: Option<f64>,
    pub severity: f64,
    /// low, medium, high or critical.
    pub severity_label: String,
    pub confidence: Option<f64>,
    pub baseline_n: i64,
    pub current_n: i64,
    pub baseline_start: String,
    /// Exclusive: the day after the baseline window's last day.
    pub baseline_end: String,
    pub current_start: String,
    /// Exclusive: the day after the current window's last day (the portal shows that last day).
    pub current_end: String,
    pub continuing: bool,
    pub first_event_id: Option<i64>,
    /// Money at stake per 30 days in cents (negative: saved); null without amounts.
    pub money_per_month_cents: Option<i64>,
    pub created_at: String,
    /// The statistics behind the finding (the single-finding answer only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub evidence: Option<serde_json::Value>,
    /// Weekly series behind the chart, 26 weeks up to the current window's end (the
    /// single-finding answer only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<Vec<SeriesPoint>>,
}

impl Finding {
    pub fn from_row(e: &DriftEvent) -> Self {
        Finding {
            id: e.id,
            run_id: e.run_id,
            product: e.product.clone(),
            mode: e.mode.clone(),
            kind: e.kind.clone(),
            payer: e.payer.clone(),
            cpt_group: e.cpt_group.clone(),
            direction: e.direction.clone(),
            baseline_value: finite(e.baseline_value),
            current_value: finite(e.current_value),
            delta: finite(e.delta),
            ci_low: e.ci_low.filter(|v| v.is_finite()),
            ci_high: e.ci_high.filter(|v| v.is_finite()),
            p_value: e.p_value.filter(|v| v.is_finite()),
            q_value: e.q_value.filter(|v| v.is_finite()),
            severity: finite(e.severity),
            severity_label: e.severity_label.clone(),
            confidence: e.confidence.filter(|v| v.is_finite()),
            baseline_n: e.baseline_n,
            current_n: e.current_n,
            baseline_start: date(e.baseline_start),
            baseline_end: date(e.baseline_end),
            current_start: date(e.current_start),
            current_end: date(e.current_end),
            continuing: e.continuing,
            first_event_id: e.first_event_id,
            money_per_month_cents: e
                .dollars_per_month
                .filter(|v| v.is_finite())
                .map(|d| (d * 100.0).round() as i64),
            created_at: time(e.created_at),
            evidence: None,
            series: None,
        }
    }
}

/// JSON has no infinities or NaN; such a statistic is reported as 0.
fn finite(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

#[derive(Serialize, ToSchema)]
pub struct FindingList {
    pub items: Vec<Finding>,
    pub next: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct HistoryEntry {
    pub status: String,
    /// E-mail of who changed it; null for PayerWatch itself.
    pub actor: Option<String>,
    pub at: String,
}

#[derive(Serialize, ToSchema)]
pub struct Judgment {
    pub user: String,
    /// real, noise or needs_follow_up.
    pub verdict: String,
    pub note: Option<String>,
    pub at: String,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub channel: String,
    /// email, slack or webhook.
    pub channel_kind: String,
    pub status: String,
    pub attempts: i64,
    pub last_status_code: Option<i64>,
    pub delivered_at: Option<String>,
    pub created_at: String,
}

/// An alert: a finding (or a data-quality problem) a rule raised, with its current status.
#[derive(Serialize, ToSchema)]
pub struct Alert {
    pub id: i64,
    pub product: String,
    pub kind: String,
    pub payer: String,
    pub cpt_group: String,
    pub severity: f64,
    pub severity_label: String,
    pub title: String,
    /// open, acknowledged, resolved or suppressed.
    pub status: String,
    pub initial_status: String,
    pub finding_id: Option<i64>,
    pub upload_id: Option<i64>,
    pub rule_id: i64,
    pub created_at: String,
    /// Single-alert answer only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryEntry>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judgments: Option<Vec<Judgment>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliveries: Option<Vec<DeliveryView>>,
}

impl Alert {
    pub fn from_row(a: &AlertWithStatus) -> Self {
        let e = &a.alert;
        Alert {
            id: e.id,
            product: e.product.clone(),
            kind: e.kind.clone(),
            payer: e.payer.clone(),
            cpt_group: e.cpt_group.clone(),
            severity: finite(e.severity),
            severity_label: e.severity_label.clone(),
            title: e.title.clone(),
            status: a.status.clone(),
            initial_status: e.initial_status.clone(),
            finding_id: e.drift_event_id,
            upload_id: e.upload_id,
            rule_id: e.rule_id,
            created_at: time(e.created_at),
            history: None,
            judgments: None,
            deliveries: None,
        }
    }

    pub fn with_details(
        mut self,
        history: Vec<HistoryRow>,
        judgments: Vec<JudgmentRow>,
        deliveries: Vec<DeliveryRow>,
    ) -> Self {
        self.history = Some(
            history
                .into_iter()
                .map(|h| HistoryEntry {
                    status: h.status,
                    actor: h.actor_email,
                    at: time(h.created_at),
                })
                .collect(),
        );
        self.judgments = Some(
            judgments
                .into_iter()
                .map(|j| Judgment {
                    user: j.email,
                    verdict: j.verdict,
                    note: j.note,
                    at: time(j.updated_at),
                })
                .collect(),
        );
        self.deliveries = Some(
            deliveries
                .into_iter()
                .map(|d| DeliveryView {
                    id: d.delivery.id,
                    channel: d.channel_name,
                    channel_kind: d.channel_kind,
                    status: d.delivery.status,
                    attempts: d.delivery.attempts,
                    last_status_code: d.delivery.last_status_code,
                    delivered_at: d.delivery.delivered_at.map(time),
                    created_at: time(d.delivery.created_at),
                })
                .collect(),
        );
        self
    }
}

#[derive(Serialize, ToSchema)]
pub struct AlertList {
    pub items: Vec<Alert>,
    pub next: Option<String>,
}

/// An analytics run of one product.
#[derive(Serialize, ToSchema)]
pub struct Run {
    pub id: i64,
    pub product: String,
    pub mode: String,
    /// running, succeeded or failed.
    pub status: String,
    /// What asked for it (upload, api, cli, …).
    pub trigger: String,
    pub as_of: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub rows_scanned: i64,
    /// Claims the run's windows covered: every counted claim (not reversed) dated, by the
    /// run's mode (decided: sound, submitted: compat), from the start of its earliest
    /// window to `as_of`. `null` for a failed run or one recorded before this was kept.
    pub claims_covered: Option<i64>,
    pub groups_considered: i64,
    pub groups_insufficient: i64,
    pub events_created: i64,
    pub error: Option<String>,
}

impl Run {
    pub fn from_row(r: &ReportRun) -> Self {
        Run {
            id: r.id,
            product: r.product.clone(),
            mode: r.mode.clone(),
            status: r.status.clone(),
            trigger: r.trigger_source.clone(),
            as_of: r.as_of.map(date),
            started_at: time(r.started_at),
            finished_at: r.finished_at.map(time),
            rows_scanned: r.rows_scanned,
            claims_covered: r.claims_covered,
            groups_considered: r.groups_considered,
            groups_insufficient: r.groups_insufficient,
            events_created: r.events_created,
            error: r.error_message.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RunList {
    pub items: Vec<Run>,
    pub next: Option<String>,
}

/// A queued analytics request: it joins one already waiting (one run follows the one
/// in progress); the runs it makes appear in `GET /api/v1/runs`.
#[derive(Serialize, ToSchema)]
pub struct RunRequest {
    pub request_id: i64,
    /// queued, running, done or failed.
    pub state: String,
}

/// `POST /api/v1/alerts/{id}/judgment` body.
#[derive(serde::Deserialize, ToSchema)]
pub struct JudgmentInput {
    /// real, noise or needs_follow_up ("noise" resolves the alert).
    pub verdict: String,
    /// Up to 2,000 characters; refused when it looks like patient information.
    pub note: Option<String>,
}

/// `POST /api/v1/alerts/{id}/status` body.
#[derive(serde::Deserialize, ToSchema)]
pub struct StatusInput {
    /// acknowledged or resolved (from open; resolved from acknowledged/suppressed);
    /// open reopens a resolved alert.
    pub status: String,
}
