//! Notification channels: checking a new channel (name, PHI, the SSRF policy on its URL or
//! SMTP server), storing it with its sealed secret in one audited transaction, rotating a
//! webhook's secret, test sends, enabling, deleting and retrying failed deliveries. The
//! settings page, and any later API, call these; they only parse and render.

use crate::db::repo::channels::{self as repo, Channel, NewChannel};
use crate::db::repo::deliveries::{self, DeliveryRow};
use crate::db::repo::now;
use crate::db::{AuditContext, AuditEntry, Db, DbError};
use crate::domain::channels::{
    self as domain, ChannelError, ChannelKind, ChannelSettings, SignatureScheme, SmtpTls,
};
use crate::domain::phi;
use crate::domain::tenant::TenantScope;
use crate::notify::Notifier;
use crate::notify::secrets::{self, SecretError};
use crate::notify::test_send::{self, TestSendError};

/// How many deliveries a channel's own page lists.
const CHANNEL_LOG_LIMIT: i64 = 100;

/// Why a channel action was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum ChannelsError {
    /// The new channel's form was refused; the message is shown on the form.
    #[error("{0}")]
    Invalid(String),
    #[error("only webhook channels have a signing secret to rotate")]
    NotWebhook,
    /// Deliveries name the channel: the log keeps pointing at it, so it is disabled instead.
    #[error("the channel has deliveries in its log")]
    InUse,
    #[error("only a failed delivery can be retried")]
    NotFailed,
    #[error("the channel's secret could not be made or sealed")]
    Secret(#[source] SecretError),
    /// "Send test" pressed again too soon (`notify::test_send`); the message says when.
    #[error(transparent)]
    Throttled(test_send::Throttled),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A new channel as typed into the form (the caller trims nothing; this does). The form
/// deserialises into it directly; a missing field is empty.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct ChannelInput {
    pub kind: String,
    pub name: String,
    pub url: String,
    pub signature_scheme: String,
    pub recipients: String,
    pub smtp_host: String,
    pub smtp_port: String,
    pub smtp_tls: String,
    pub smtp_from: String,
    pub smtp_username: String,
    pub smtp_password: String,
}

impl ChannelInput {
    /// The values that may be shown again on the form after a refusal: trimmed, the SMTP
    /// password never, and no value that looks like patient information.
    pub fn to_show_again(&self) -> ChannelInput {
        let keep = |v: &str| {
            let v = v.trim();
            if phi::contains_phi(v) {
                String::new()
            } else {
                v.to_string()
            }
        };
        ChannelInput {
            kind: keep(&self.kind),
            name: keep(&self.name),
            url: keep(&self.url),
            signature_scheme: keep(&self.signature_scheme),
            recipients: keep(&self.recipients),
            smtp_host: keep(&self.smtp_host),
            smtp_port: keep(&self.smtp_port),
            smtp_tls: keep(&self.smtp_tls),
            smtp_from: keep(&self.smtp_from),
            smtp_username: keep(&self.smtp_username),
            smtp_password: String::new(),
        }
    }
}

/// A stored channel: its name, and the secret to show once (webhooks only).
pub struct Created {
    pub id: i64,
    pub name: String,
    pub show_once: Option<String>,
}

/// The settings page's facts: channels, their delivery counts, the newest deliveries.
pub struct Overview {
    pub channels: Vec<Channel>,
    pub counts: Vec<(i64, String, i64)>,
    pub log: Vec<DeliveryRow>,
}

/// The tenant's channels, per-status delivery counts, and the 50 newest deliveries (at
/// most 20 a channel, so one noisy channel does not hide the others).
pub async fn overview(db: &Db, scope: TenantScope) -> Result<Overview, DbError> {
    db.run(move |conn| {
        let channels = repo::list_channels(conn, &scope)?;
        let counts = deliveries::status_counts(conn, &scope)?;
        let mut log = Vec::new();
        for c in &channels {
            log.extend(deliveries::for_channel(conn, &scope, c.id, 20)?);
        }
        log.sort_by_key(|r| std::cmp::Reverse(r.delivery.id));
        log.truncate(50);
        Ok(Overview {
            channels,
            counts,
            log,
        })
    })
    .await
}

/// One channel with the delivery counts and its own delivery log.
pub async fn one(
    db: &Db,
    scope: TenantScope,
    id: i64,
) -> Result<(Channel, Vec<(i64, String, i64)>, Vec<DeliveryRow>), DbError> {
    db.run(move |conn| {
        let channel = repo::find_channel(conn, &scope, id)?;
        let counts = deliveries::status_counts(conn, &scope)?;
        let log = deliveries::for_channel(conn, &scope, id, CHANNEL_LOG_LIMIT)?;
        Ok((channel, counts, log))
    })
    .await
}

/// Checks `input` and stores the channel with its sealed secret and the audit row `entry`
/// (targeted at the new id) in one transaction: a secret that cannot be sealed leaves no
/// channel behind.
pub async fn create(
    db: &Db,
    notifier: &Notifier,
    scope: TenantScope,
    input: &ChannelInput,
    allow_private: bool,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<Created, ChannelsError> {
    let prepared = prepare(input, allow_private)
        .await
        .map_err(ChannelsError::Invalid)?;
    let sealer = notifier.secrets().clone();
    let secret = prepared.secret;
    let channel = prepared.channel;
    let name = channel.name.clone();
    let id = db
        .write_audited(
            ctx,
            move |id: &i64| entry.target("notification_channel", id),
            move |conn| {
                repo::insert_channel(conn, &scope, &channel, |id| match &secret {
                    Some(s) => sealer.seal(id, s).map(Some).map_err(ChannelsError::Secret),
                    None => Ok(None),
                })
            },
        )
        .await?;
    Ok(Created {
        id,
        name,
        show_once: prepared.show_once,
    })
}

/// Gives a webhook channel a new signing secret; returns the channel's name and the secret
/// (shown once).
pub async fn rotate_secret(
    db: &Db,
    notifier: &Notifier,
    scope: TenantScope,
    id: i64,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(String, String), ChannelsError> {
    let channel = db
        .run(move |conn| repo::find_channel(conn, &scope, id))
        .await?;
    if channel.kind != ChannelKind::Webhook.as_str() {
        return Err(ChannelsError::NotWebhook);
    }
    let secret = secrets::new_webhook_secret().map_err(ChannelsError::Secret)?;
    let sealed = notifier
        .secrets()
        .seal(id, &secret)
        .map_err(ChannelsError::Secret)?;
    db.write_audited(ctx, entry.target("notification_channel", id), move |conn| {
        repo::replace_secret(conn, &scope, id, &sealed)
    })
    .await?;
    Ok((channel.name, secret))
}

/// Queues a test message to the channel (rate limited) and wakes the sender; returns the
/// delivery id.
pub async fn send_test(
    db: &Db,
    notifier: &Notifier,
    scope: TenantScope,
    id: i64,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<i64, ChannelsError> {
    let now = now();
    let delivery = db
        .write_audited(ctx, entry.target("notification_channel", id), move |conn| {
            test_send::queue(conn, &scope, id, now)
        })
        .await
        .map_err(|e| match e {
            TestSendError::Throttled(t) => ChannelsError::Throttled(t),
            TestSendError::Db(e) => ChannelsError::Db(e),
        })?;
    notifier.wake();
    Ok(delivery)
}

pub async fn set_enabled(
    db: &Db,
    scope: TenantScope,
    id: i64,
    enabled: bool,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(), ChannelsError> {
    db.write_audited(ctx, entry.target("notification_channel", id), move |conn| {
        repo::set_channel_enabled(conn, &scope, id, enabled)
    })
    .await?;
    Ok(())
}

/// Deletes a channel no delivery names; one that has a log is refused (`InUse`).
pub async fn delete(
    db: &Db,
    scope: TenantScope,
    id: i64,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(), ChannelsError> {
    db.write_audited(ctx, entry.target("notification_channel", id), move |conn| {
        repo::delete_unused_channel(conn, &scope, id).map_err(|e| match e {
            DbError::ForeignKey => ChannelsError::InUse,
            other => other.into(),
        })
    })
    .await
}

/// Queues a failed delivery again and wakes the sender; any other state is `NotFailed`.
pub async fn retry_delivery(
    db: &Db,
    notifier: &Notifier,
    scope: TenantScope,
    id: i64,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(), ChannelsError> {
    let now = now();
    db.write_audited(
        ctx,
        entry.target("delivery", id),
        move |conn| match deliveries::retry_failed(conn, &scope, id, now)? {
            Some(_) => Ok(()),
            None => Err(ChannelsError::NotFailed),
        },
    )
    .await?;
    notifier.wake();
    Ok(())
}

/// A checked new channel: its row, the secret to seal, and the secret to show once.
struct Prepared {
    channel: NewChannel,
    secret: Option<String>,
    show_once: Option<String>,
}

async fn check_url(raw: &str, allow_private: bool) -> Result<url::Url, ChannelError> {
    let url = domain::parse_target_url(raw)?;
    let check = url.clone();
    tokio::task::spawn_blocking(move || domain::resolve_checked(&check, allow_private))
        .await
        .map_err(|_| ChannelError::Unresolvable)??;
    Ok(url)
}

/// Checks the form's values; an `Err` is the message to show on the form.
async fn prepare(input: &ChannelInput, allow_private: bool) -> Result<Prepared, String> {
    let text = |v: &str| v.trim().to_string();
    let kind = ChannelKind::parse(&text(&input.kind))
        .ok_or("Choose the kind of channel: email, slack or webhook.")?;
    let name = text(&input.name);
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
            let url = check_url(&text(&input.url), allow_private)
                .await
                .map_err(url_error)?;
            let scheme = SignatureScheme::parse(&text(&input.signature_scheme))
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
            let url = check_url(&text(&input.url), allow_private)
                .await
                .map_err(url_error)?;
            if url.scheme() != "https" && !allow_private {
                return Err("Slack webhook URLs must use https://.".into());
            }
            // The URL is the credential: only its scheme and host are ever shown.
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
                domain::parse_recipients(&text(&input.recipients)).map_err(|e| format!("{e}."))?;
            let host = text(&input.smtp_host);
            if !domain::is_host(&host) {
                return Err("Give the SMTP server's host name.".into());
            }
            let tls = SmtpTls::parse(&text(&input.smtp_tls))
                .ok_or("The TLS mode must be none, starttls or tls.")?;
            let port = match text(&input.smtp_port).as_str() {
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
            let from = text(&input.smtp_from);
            if !domain::is_email(&from) {
                return Err("The sender (from) must be an e-mail address.".into());
            }
            let username = Some(text(&input.smtp_username)).filter(|u| !u.is_empty());
            let password = Some(text(&input.smtp_password)).filter(|p| !p.is_empty());
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
