//! `/portal/settings/channels` (admins): notification channels — e-mail, Slack, signed
//! webhooks — with a test button, enable/disable, and the delivery log with retry for
//! failed deliveries. A webhook's signing secret is shown once, when it is created or
//! rotated; Slack URLs and SMTP passwords are never shown again.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::repo::channels::Channel;
use crate::db::repo::deliveries::{self, DeliveryRow};
use crate::domain::channels::ChannelKind;
use crate::notify::test_send;
use crate::services::channels::{self, ChannelInput, ChannelsError};
use crate::web::auth::{Admin, Authorized};
use crate::web::errors::AppError;
use crate::web::handlers::{flash_then_see_other, form_id};
use crate::web::state::AppState;
use crate::web::view::layout::Layout;
use crate::web::view::render::render_with_status;

pub struct ChannelView {
    pub id: i64,
    pub name: String,
    pub kind: &'static str,
    pub target: String,
    pub detail: String,
    pub enabled: bool,
    pub delivered: i64,
    pub pending: i64,
    pub failed: i64,
}

pub struct AttemptView {
    pub number: i64,
    pub when: String,
    pub latency_ms: i64,
    pub status_code: String,
    pub outcome: String,
    pub error: String,
}

pub struct DeliveryView {
    pub id: i64,
    pub channel: String,
    pub alert_id: Option<i64>,
    /// A person's daily digest (no alert).
    pub digest: bool,
    pub status: String,
    pub status_class: &'static str,
    pub next_attempt: String,
    pub attempts: Vec<AttemptView>,
}

fn when(t: chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub fn delivery_view(row: &DeliveryRow) -> DeliveryView {
    let d = &row.delivery;
    DeliveryView {
        id: d.id,
        channel: format!(
            "{} ({})",
            row.channel_name,
            ChannelKind::parse(&row.channel_kind).map_or("?", ChannelKind::label)
        ),
        alert_id: d.alert_id,
        digest: d.digest_id.is_some(),
        status: d.status.clone(),
        status_class: match d.status.as_str() {
            deliveries::DELIVERED => "badge-ok",
            deliveries::FAILED => "badge-critical",
            _ => "badge-neutral",
        },
        next_attempt: if d.status == deliveries::PENDING {
            when(d.next_attempt_at)
        } else {
            String::new()
        },
        attempts: row
            .attempts
            .iter()
            .map(|a| AttemptView {
                number: a.attempt_number,
                when: when(a.started_at),
                latency_ms: a.latency_ms,
                status_code: a.status_code.map(|c| c.to_string()).unwrap_or_default(),
                outcome: a.outcome.clone(),
                error: a.error.clone().unwrap_or_default(),
            })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "settings/channels.html")]
struct ChannelsPage {
    layout: Layout,
    channels: Vec<ChannelView>,
    deliveries: Vec<DeliveryView>,
    is_admin: bool,
    error: Option<String>,
    new_secret: Option<(String, String)>,
    form: ChannelInput,
    allow_private: bool,
}

#[derive(Template)]
#[template(path = "settings/channel.html")]
struct ChannelPage {
    layout: Layout,
    channel: ChannelView,
    deliveries: Vec<DeliveryView>,
    is_admin: bool,
}

fn describe(c: &Channel) -> (&'static str, String) {
    let s = c.settings();
    match ChannelKind::parse(&c.kind) {
        Some(ChannelKind::Email) => (
            "E-mail",
            format!(
                "via {}:{} ({}), from {}",
                s.smtp_host.unwrap_or_default(),
                s.smtp_port.map(|p| p.to_string()).unwrap_or_default(),
                s.smtp_tls.unwrap_or_default().as_str(),
                s.smtp_from.unwrap_or_default()
            ),
        ),
        Some(ChannelKind::Slack) => ("Slack", "incoming webhook (URL kept secret)".into()),
        Some(ChannelKind::Webhook) => (
            "Webhook",
            format!("signed {}", s.signature_scheme.unwrap_or_default().as_str()),
        ),
        None => ("?", String::new()),
    }
}

fn channel_view(c: &Channel, counts: &[(i64, String, i64)]) -> ChannelView {
    let count = |status: &str| {
        counts
            .iter()
            .filter(|(id, s, _)| *id == c.id && s == status)
            .map(|(_, _, n)| *n)
            .sum()
    };
    let (kind, detail) = describe(c);
    ChannelView {
        id: c.id,
        name: c.name.clone(),
        kind,
        target: c.target.clone(),
        detail,
        enabled: c.enabled,
        delivered: count(deliveries::DELIVERED),
        pending: count(deliveries::PENDING) + count(deliveries::SENDING),
        failed: count(deliveries::FAILED),
    }
}

async fn page(
    state: &AppState,
    user: &Authorized<Admin>,
    status: StatusCode,
    error: Option<String>,
    new_secret: Option<(String, String)>,
    form: ChannelInput,
) -> Result<HttpResponse, AppError> {
    let overview = channels::overview(&state.db, user.scope()).await?;
    render_with_status(
        status,
        &ChannelsPage {
            layout: user.layout("Notification channels", "/portal/settings/channels"),
            channels: overview
                .channels
                .iter()
                .map(|c| channel_view(c, &overview.counts))
                .collect(),
            deliveries: overview.log.iter().map(delivery_view).collect(),
            is_admin: true,
            error,
            new_secret,
            form,
            allow_private: state.settings.allow_private_webhooks,
        },
    )
}

/// The page again with a secret shown once; never cached (no-store).
async fn page_with_secret(
    state: &AppState,
    user: &Authorized<Admin>,
    name: String,
    secret: String,
) -> Result<HttpResponse, AppError> {
    let mut resp = page(
        state,
        user,
        StatusCode::OK,
        None,
        Some((name, secret)),
        ChannelInput::default(),
    )
    .await?;
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

pub async fn list(
    state: web::Data<AppState>,
    user: Authorized<Admin>,
) -> Result<HttpResponse, AppError> {
    page(
        &state,
        &user,
        StatusCode::OK,
        None,
        None,
        ChannelInput::default(),
    )
    .await
}

pub async fn detail(
    state: web::Data<AppState>,
    user: Authorized<Admin>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (channel, counts, log) = channels::one(&state.db, user.scope(), id.into_inner()).await?;
    render_with_status(
        StatusCode::OK,
        &ChannelPage {
            layout: user.layout(channel.name.clone(), "/portal/settings/channels"),
            channel: channel_view(&channel, &counts),
            deliveries: log.iter().map(delivery_view).collect(),
            is_admin: true,
        },
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct ChannelForm {
    action: String,
    channel_id: Option<String>,
    delivery_id: Option<String>,
    /// The new channel's fields (create).
    #[serde(flatten)]
    input: ChannelInput,
    /// Where to go back to (the channel's own page or the list).
    back: Option<String>,
}

/// Where to go after a change: the form's `back` when it is one of our own pages (the
/// field is not a redirect target from outside), else the list.
fn back(to: &Option<String>) -> String {
    match to.as_deref() {
        Some(p)
            if p.starts_with("/portal/settings/channels") || p.starts_with("/portal/alerts/") =>
        {
            p.to_string()
        }
        _ => "/portal/settings/channels".to_string(),
    }
}

/// The form's values to show again; a value that looks like PHI is not echoed.
/// A refused channel action as the page answers it.
fn channels_error(err: ChannelsError) -> AppError {
    match err {
        ChannelsError::NotWebhook => AppError::BadRequest(err.to_string()),
        ChannelsError::InUse => AppError::Conflict(
            "This channel has deliveries in its log, so it cannot be deleted; disable it instead."
                .into(),
        ),
        ChannelsError::NotFailed => {
            AppError::Conflict("Only a failed delivery can be retried.".into())
        }
        ChannelsError::Invalid(message) => AppError::BadRequest(message),
        ChannelsError::Throttled(test_send::Throttled {
            message,
            retry_after_secs,
        }) => AppError::SlowDown {
            message,
            retry_after_secs,
        },
        ChannelsError::Db(e) => e.into(),
        ChannelsError::Secret(e) => AppError::Internal(anyhow::Error::new(e)),
    }
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: Authorized<Admin>,
    form: web::Form<ChannelForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let scope = user.scope();
    let (db, notifier) = (&state.db, &*state.notifier);
    let channel_id = || form_id(&form.channel_id, "channel_id");
    match form.action.as_str() {
        "create" => {
            let (ctx, entry) = user.audit(
                &req,
                &state,
                "channel.created",
                &["name", "kind", "target", "settings", "secret"],
            );
            let allow_private = state.settings.allow_private_webhooks;
            let created =
                match channels::create(db, notifier, scope, &form.input, allow_private, ctx, entry)
                    .await
                {
                    Ok(created) => created,
                    Err(ChannelsError::Invalid(message)) => {
                        return page(
                            &state,
                            &user,
                            StatusCode::BAD_REQUEST,
                            Some(message),
                            None,
                            form.input.to_show_again(),
                        )
                        .await;
                    }
                    Err(e) => return Err(channels_error(e)),
                };
            if let Some(secret) = created.show_once {
                return page_with_secret(&state, &user, created.name, secret).await;
            }
            let name = created.name;
            Ok(flash_then_see_other(
                user.session(),
                "success",
                format!("The channel “{name}” was added. Use “Send test” to check it."),
                back(&None),
            ))
        }
        "rotate_secret" => {
            let id = channel_id()?;
            let (ctx, entry) = user.audit(&req, &state, "channel.secret_rotated", &["secret"]);
            let (name, secret) = channels::rotate_secret(db, notifier, scope, id, ctx, entry)
                .await
                .map_err(channels_error)?;
            page_with_secret(&state, &user, name, secret).await
        }
        "test" => {
            let id = channel_id()?;
            let (ctx, entry) = user.audit(&req, &state, "channel.tested", &[]);
            let delivery = channels::send_test(db, notifier, scope, id, ctx, entry)
                .await
                .map_err(channels_error)?;
            Ok(flash_then_see_other(
                user.session(),
                "success",
                format!(
                    "Test message queued (delivery {delivery}); its result appears in the delivery log within seconds."
                ),
                back(&form.back),
            ))
        }
        "enable" | "disable" => {
            let id = channel_id()?;
            let enabled = form.action == "enable";
            let (ctx, entry) = user.audit(&req, &state, "channel.changed", &["enabled"]);
            channels::set_enabled(db, scope, id, enabled, ctx, entry)
                .await
                .map_err(channels_error)?;
            Ok(flash_then_see_other(
                user.session(),
                "success",
                if enabled {
                    "Channel enabled."
                } else {
                    "Channel disabled: new alerts are not sent to it."
                },
                back(&form.back),
            ))
        }
        "delete" => {
            let id = channel_id()?;
            let (ctx, entry) = user.audit(&req, &state, "channel.deleted", &[]);
            channels::delete(db, scope, id, ctx, entry)
                .await
                .map_err(channels_error)?;
            Ok(flash_then_see_other(
                user.session(),
                "success",
                "Channel deleted.",
                back(&None),
            ))
        }
        "retry" => {
            let id = form_id(&form.delivery_id, "delivery_id")?;
            let (ctx, entry) = user.audit(&req, &state, "delivery.retried", &["status"]);
            channels::retry_delivery(db, notifier, scope, id, ctx, entry)
                .await
                .map_err(channels_error)?;
            Ok(flash_then_see_other(
                user.session(),
                "success",
                format!("Delivery {id} is queued again."),
                back(&form.back),
            ))
        }
        _ => Err(AppError::BadRequest(
            "action must be create, test, enable, disable, delete, rotate_secret or retry".into(),
        )),
    }
}
