//! `/portal/settings/channels` (admins): notification channels — e-mail, Slack, signed
//! webhooks — with a test button, enable/disable, and the delivery log with retry for
//! failed deliveries. A webhook's signing secret is shown once, when it is created or
//! rotated; Slack URLs and SMTP passwords are never shown again.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::DbError;
use crate::db::repo::channels::{self as repo, Channel, NewChannel};
use crate::db::repo::deliveries::{self, DeliveryRow};
use crate::domain::channels::{
    self as domain, ChannelError, ChannelKind, ChannelSettings, SignatureScheme, SmtpTls,
};
use crate::domain::phi;
use crate::notify::secrets;
use crate::web::auth::{self, Admin, Authorized};
use crate::web::errors::AppError;
use crate::web::state::AppState;
use crate::web::view::layout::Layout;
use crate::web::view::render::render_with_status;

const LOG_LIMIT: i64 = 100;

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

/// Values typed into the form, kept when it is shown again with an error (secrets are
/// never echoed).
#[derive(Default)]
pub struct FormValues {
    kind: String,
    name: String,
    url: String,
    signature_scheme: String,
    recipients: String,
    smtp_host: String,
    smtp_port: String,
    smtp_tls: String,
    smtp_from: String,
    smtp_username: String,
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
    form: FormValues,
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
    form: FormValues,
) -> Result<HttpResponse, AppError> {
    let scope = user.scope();
    let (channels, counts, log) = state
        .db
        .run(move |conn| {
            let channels = repo::list_channels(conn, &scope)?;
            let counts = deliveries::status_counts(conn, &scope)?;
            let mut log = Vec::new();
            for c in &channels {
                log.extend(deliveries::for_channel(conn, &scope, c.id, 20)?);
            }
            log.sort_by_key(|r| std::cmp::Reverse(r.delivery.id));
            log.truncate(50);
            Ok((channels, counts, log))
        })
        .await?;
    render_with_status(
        status,
        &ChannelsPage {
            layout: user.layout("Notification channels", "/portal/settings/channels"),
            channels: channels.iter().map(|c| channel_view(c, &counts)).collect(),
            deliveries: log.iter().map(delivery_view).collect(),
            is_admin: true,
            error,
            new_secret,
            form,
            allow_private: state.settings.allow_private_webhooks,
        },
    )
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
        FormValues::default(),
    )
    .await
}

pub async fn detail(
    state: web::Data<AppState>,
    user: Authorized<Admin>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let scope = user.scope();
    let (channel, counts, log) = state
        .db
        .run(move |conn| {
            let channel = repo::find_channel(conn, &scope, id)?;
            let counts = deliveries::status_counts(conn, &scope)?;
            let log = deliveries::for_channel(conn, &scope, id, LOG_LIMIT)?;
            Ok((channel, counts, log))
        })
        .await?;
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
    kind: Option<String>,
    name: Option<String>,
    url: Option<String>,
    signature_scheme: Option<String>,
    recipients: Option<String>,
    smtp_host: Option<String>,
    smtp_port: Option<String>,
    smtp_tls: Option<String>,
    smtp_from: Option<String>,
    smtp_username: Option<String>,
    smtp_password: Option<String>,
    /// Where to go back to (the channel's own page or the list).
    back: Option<String>,
}

fn text(v: &Option<String>) -> String {
    v.as_deref().unwrap_or("").trim().to_string()
}

fn back(to: &Option<String>) -> HttpResponse {
    // Only our own pages: the field is not a redirect target from outside.
    let location = match to.as_deref() {
        Some(p)
            if p.starts_with("/portal/settings/channels") || p.starts_with("/portal/alerts/") =>
        {
            p.to_string()
        }
        _ => "/portal/settings/channels".to_string(),
    };
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// A validated new channel: its row, the secret to seal, and the secret to show once.
struct Prepared {
    channel: NewChannel,
    secret: Option<String>,
    show_once: Option<String>,
}

/// The form's values to show again; a value that looks like PHI is not echoed.
fn values_of(form: &ChannelForm) -> FormValues {
    let text = |v: &Option<String>| {
        let t = text(v);
        if phi::contains_phi(&t) {
            String::new()
        } else {
            t
        }
    };
    FormValues {
        kind: text(&form.kind),
        name: text(&form.name),
        url: text(&form.url),
        signature_scheme: text(&form.signature_scheme),
        recipients: text(&form.recipients),
        smtp_host: text(&form.smtp_host),
        smtp_port: text(&form.smtp_port),
        smtp_tls: text(&form.smtp_tls),
        smtp_from: text(&form.smtp_from),
        smtp_username: text(&form.smtp_username),
    }
}

async fn check_url(raw: &str, allow_private: bool) -> Result<url::Url, ChannelError> {
    let url = domain::parse_target_url(raw)?;
    let check = url.clone();
    tokio::task::spawn_blocking(move || domain::resolve_checked(&check, allow_private))
        .await
        .map_err(|_| ChannelError::Unresolvable)??;
    Ok(url)
}

async fn prepare(form: &ChannelForm, allow_private: bool) -> Result<Prepared, String> {
    let kind = ChannelKind::parse(&text(&form.kind))
        .ok_or("Choose the kind of channel: email, slack or webhook.")?;
    let name = text(&form.name);
    if name.is_empty() || name.chars().count() > 120 {
        return Err("Give the channel a name (at most 120 characters).".into());
    }
    if phi::contains_phi(&name) {
        return Err(
            "The name looks like it contains patient information (PHI); the channel was not saved."
                .into(),
        );
    }
    let url_error = |e: ChannelError| format!("The URL was refused: {e}.");
    match kind {
        ChannelKind::Webhook => {
            let url = check_url(&text(&form.url), allow_private)
                .await
                .map_err(url_error)?;
            let scheme = SignatureScheme::parse(&text(&form.signature_scheme))
                .ok_or("The signature scheme must be payerwatch-v1 or legacy-hex.")?;
            let secret = secrets::new_webhook_secret()
                .map_err(|_| "No secret could be generated; try again.".to_string())?;
            Ok(Prepared {
                channel: NewChannel {
                    name,
                    kind: kind.as_str().into(),
                    target: url.to_string(),
                    settings_json: settings_json(&ChannelSettings {
                        signature_scheme: Some(scheme),
                        ..ChannelSettings::default()
                    }),
                },
                secret: Some(secret.clone()),
                show_once: Some(secret),
            })
        }
        ChannelKind::Slack => {
            let url = check_url(&text(&form.url), allow_private)
                .await
                .map_err(url_error)?;
            if url.scheme() != "https" && !allow_private {
                return Err("Slack webhook URLs must use https://.".into());
            }
            let shown = format!(
                "{}://{}/…",
                url.scheme(),
                url.host_str().unwrap_or_default()
            );
            Ok(Prepared {
                channel: NewChannel {
                    name,
                    kind: kind.as_str().into(),
                    target: shown,
                    settings_json: settings_json(&ChannelSettings::default()),
                },
                secret: Some(url.to_string()),
                show_once: None,
            })
        }
        ChannelKind::Email => {
            let recipients =
                domain::parse_recipients(&text(&form.recipients)).map_err(|e| format!("{e}."))?;
            let host = text(&form.smtp_host);
            if !domain::is_host(&host) {
                return Err("Give the SMTP server's host name.".into());
            }
            let tls = SmtpTls::parse(&text(&form.smtp_tls))
                .ok_or("The TLS mode must be none, starttls or tls.")?;
            let port = match text(&form.smtp_port).as_str() {
                "" => None,
                p => Some(
                    p.parse::<u16>()
                        .ok()
                        .filter(|p| *p > 0)
                        .ok_or("The SMTP port must be a number from 1 to 65535.")?,
                ),
            };
            // The same SSRF policy as webhooks (checked again, and pinned, at each send).
            let target = (host.clone(), domain::smtp_port(port, tls));
            tokio::task::spawn_blocking(move || {
                domain::resolve_smtp_checked(&target.0, target.1, allow_private)
            })
            .await
            .map_err(|_| ChannelError::Unresolvable)
            .and_then(|r| r)
            .map_err(|e| format!("The SMTP server was refused: {e}."))?;
            let from = text(&form.smtp_from);
            if !domain::is_email(&from) {
                return Err("The sender (from) must be an e-mail address.".into());
            }
            let username = Some(text(&form.smtp_username)).filter(|u| !u.is_empty());
            let password = Some(text(&form.smtp_password)).filter(|p| !p.is_empty());
            Ok(Prepared {
                channel: NewChannel {
                    name,
                    kind: kind.as_str().into(),
                    target: recipients.join(", "),
                    settings_json: settings_json(&ChannelSettings {
                        smtp_host: Some(host),
                        smtp_port: port,
                        smtp_tls: Some(tls),
                        smtp_from: Some(from),
                        smtp_username: username,
                        ..ChannelSettings::default()
                    }),
                },
                secret: password,
                show_once: None,
            })
        }
    }
}

fn settings_json(s: &ChannelSettings) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "{}".to_string())
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: Authorized<Admin>,
    form: web::Form<ChannelForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let scope = user.scope();
    match form.action.as_str() {
        "create" => {
            let prepared = match prepare(&form, state.settings.allow_private_webhooks).await {
                Ok(p) => p,
                Err(message) => {
                    return page(
                        &state,
                        &user,
                        StatusCode::BAD_REQUEST,
                        Some(message),
                        None,
                        values_of(&form),
                    )
                    .await;
                }
            };
            let notifier = std::sync::Arc::clone(&state.notifier);
            let secret = prepared.secret.clone();
            let channel = prepared.channel;
            let name = channel.name.clone();
            let (ctx, entry) = user.audit(
                &req,
                &state,
                "channel.created",
                &["name", "kind", "target", "settings", "secret"],
            );
            state
                .db
                .write_audited(
                    ctx,
                    move |id: &i64| entry.target("notification_channel", id),
                    move |conn| {
                        // A secret that cannot be sealed leaves no channel behind.
                        repo::insert_channel(conn, &scope, &channel, |id| match &secret {
                            Some(s) => notifier
                                .secrets()
                                .seal(id, s)
                                .map(Some)
                                .map_err(|e| AppError::Internal(anyhow::Error::new(e))),
                            None => Ok(None),
                        })
                    },
                )
                .await?;
            if let Some(secret) = prepared.show_once {
                // Shown in this response only; the page is not cached (no-store).
                let mut resp = page(
                    &state,
                    &user,
                    StatusCode::OK,
                    None,
                    Some((name, secret)),
                    FormValues::default(),
                )
                .await?;
                resp.headers_mut().insert(
                    header::CACHE_CONTROL,
                    header::HeaderValue::from_static("no-store"),
                );
                return Ok(resp);
            }
            auth::set_flash(
                user.session(),
                "success",
                format!("The channel “{name}” was added. Use “Send test” to check it."),
            );
            Ok(back(&None))
        }
        "rotate_secret" => {
            let id = crate::web::handlers::form_id(&form.channel_id, "channel_id")?;
            let channel = state
                .db
                .run(move |conn| repo::find_channel(conn, &scope, id))
                .await?;
            if channel.kind != ChannelKind::Webhook.as_str() {
                return Err(AppError::BadRequest(
                    "only webhook channels have a signing secret to rotate".into(),
                ));
            }
            let secret = secrets::new_webhook_secret()
                .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
            let sealed = state
                .notifier
                .secrets()
                .seal(id, &secret)
                .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
            let (ctx, entry) = user.audit(&req, &state, "channel.secret_rotated", &["secret"]);
            state
                .db
                .write_audited(ctx, entry.target("notification_channel", id), move |conn| {
                    repo::replace_secret(conn, &scope, id, &sealed)
                })
                .await?;
            let mut resp = page(
                &state,
                &user,
                StatusCode::OK,
                None,
                Some((channel.name, secret)),
                FormValues::default(),
            )
            .await?;
            resp.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            Ok(resp)
        }
        "test" => {
            let id = crate::web::handlers::form_id(&form.channel_id, "channel_id")?;
            let now = crate::db::repo::now();
            let (ctx, entry) = user.audit(&req, &state, "channel.tested", &[]);
            let delivery = state
                .db
                .write_audited(ctx, entry.target("notification_channel", id), move |conn| {
                    deliveries::enqueue_test(conn, &scope, id, now)
                })
                .await?;
            state.notifier.wake();
            auth::set_flash(
                user.session(),
                "success",
                format!(
                    "Test message queued (delivery {delivery}); its result appears in the delivery log within seconds."
                ),
            );
            Ok(back(&form.back))
        }
        "enable" | "disable" => {
            let id = crate::web::handlers::form_id(&form.channel_id, "channel_id")?;
            let enabled = form.action == "enable";
            let (ctx, entry) = user.audit(&req, &state, "channel.changed", &["enabled"]);
            state
                .db
                .write_audited(ctx, entry.target("notification_channel", id), move |conn| {
                    repo::set_channel_enabled(conn, &scope, id, enabled)
                })
                .await?;
            auth::set_flash(
                user.session(),
                "success",
                if enabled {
                    "Channel enabled."
                } else {
                    "Channel disabled: new alerts are not sent to it."
                },
            );
            Ok(back(&form.back))
        }
        "delete" => {
            let id = crate::web::handlers::form_id(&form.channel_id, "channel_id")?;
            let (ctx, entry) = user.audit(&req, &state, "channel.deleted", &[]);
            match state
                .db
                .write_audited(ctx, entry.target("notification_channel", id), move |conn| {
                    repo::delete_unused_channel(conn, &scope, id)
                })
                .await
            {
                Ok(()) => {}
                Err(DbError::ForeignKey) => {
                    return Err(AppError::Conflict(
                        "This channel has deliveries in its log, so it cannot be deleted; disable it instead."
                            .into(),
                    ));
                }
                Err(e) => return Err(e.into()),
            }
            auth::set_flash(user.session(), "success", "Channel deleted.");
            Ok(back(&None))
        }
        "retry" => {
            let id = crate::web::handlers::form_id(&form.delivery_id, "delivery_id")?;
            let now = crate::db::repo::now();
            let (ctx, entry) = user.audit(&req, &state, "delivery.retried", &["status"]);
            match state
                .db
                .write_audited(ctx, entry.target("delivery", id), move |conn| {
                    deliveries::retry_failed(conn, &scope, id, now)
                })
                .await
            {
                Ok(_) => {}
                Err(DbError::Duplicate(_)) => {
                    return Err(AppError::Conflict(
                        "Only a failed delivery can be retried.".into(),
                    ));
                }
                Err(e) => return Err(e.into()),
            }
            state.notifier.wake();
            auth::set_flash(
                user.session(),
                "success",
                format!("Delivery {id} is queued again."),
            );
            Ok(back(&form.back))
        }
        _ => Err(AppError::BadRequest(
            "action must be create, test, enable, disable, delete, rotate_secret or retry".into(),
        )),
    }
}
