//! The delivery worker: claims due deliveries, sends each once, logs the attempt and
//! schedules the retry (or marks the delivery failed). One per process; several
//! processes may run it against the same PostgreSQL database (claims use SKIP LOCKED and
//! a lease, so each delivery is sent by one worker at a time).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use tokio::sync::Notify;

use crate::db::repo::deliveries::{self, AttemptRecord, Job, NextStep};
use crate::db::{Db, DbError};
use crate::domain::channels::{ChannelKind, SignatureScheme};
use crate::domain::webhook;
use crate::notify::message::{self, Message};
use crate::notify::schedule;
use crate::notify::secrets::SecretBox;
use crate::notify::send::{self, SendResult};
use crate::observability::metrics;

/// How long a claim lasts: longer than one send (10 s timeout) with a wide margin.
const LEASE_SECONDS: i64 = 120;
/// Deliveries claimed per round.
const BATCH: i64 = 20;

/// What one round did (tests and logs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundSummary {
    pub delivered: usize,
    pub retrying: usize,
    pub failed: usize,
}

pub struct Notifier {
    db: Db,
    secrets: SecretBox,
    public_url: String,
    allow_private: bool,
    wake: Notify,
}

impl Notifier {
    pub fn new(db: Db, secrets: SecretBox, public_url: String, allow_private: bool) -> Self {
        Notifier {
            db,
            secrets,
            public_url,
            allow_private,
            wake: Notify::new(),
        }
    }

    pub fn secrets(&self) -> &SecretBox {
        &self.secrets
    }

    /// Asks the worker to look at the queue now (a test message was queued).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs the worker on the current runtime until the runtime ends.
    pub fn spawn(self: &Arc<Self>, poll: Duration) {
        let me = Arc::clone(self);
        actix_web::rt::spawn(async move {
            loop {
                match me.run_once(crate::db::repo::now()).await {
                    Ok(summary) if summary != RoundSummary::default() => {
                        tracing::info!(
                            delivered = summary.delivered,
                            retrying = summary.retrying,
                            failed = summary.failed,
                            "notification deliveries"
                        );
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "delivery worker round failed"),
                }
                let _ = tokio::time::timeout(poll, me.wake.notified()).await;
            }
        });
    }

    /// One round at `now`: claim what is due, send each, record the outcome. Tests call
    /// it with their own clock.
    pub async fn run_once(&self, now: NaiveDateTime) -> Result<RoundSummary, DbError> {
        let ids = self
            .db
            .write(move |conn| {
                deliveries::claim_due(conn, now, chrono::Duration::seconds(LEASE_SECONDS), BATCH)
            })
            .await?;
        let mut summary = RoundSummary::default();
        for id in ids {
            match self.deliver(id, now).await? {
                NextStep::Delivered => summary.delivered += 1,
                NextStep::RetryAt(_) => summary.retrying += 1,
                NextStep::Failed => summary.failed += 1,
            }
        }
        Ok(summary)
    }

    async fn deliver(&self, id: i64, now: NaiveDateTime) -> Result<NextStep, DbError> {
        let job = self
            .db
            .run(move |conn| deliveries::load_job(conn, id))
            .await?;
        let kind = ChannelKind::parse(&job.channel.kind);
        let started = Instant::now();
        let result = if !job.channel.enabled {
            SendResult::permanent("the channel is disabled")
        } else {
            let msg = match &job.alert {
                Some(alert) => message::for_alert(alert, &self.public_url, id, now),
                None => message::for_test(&self.public_url, id, now),
            };
            match kind {
                Some(kind) => self.send(kind, &job, msg, now).await,
                None => SendResult::permanent("unknown channel kind"),
            }
        };
        let latency = started.elapsed();
        let next = if result.error.is_none() {
            NextStep::Delivered
        } else if result.permanent {
            NextStep::Failed
        } else {
            schedule::after_failure(job.delivery.attempts + 1, now)
        };
        let attempt = AttemptRecord {
            attempt_number: job.attempt_number,
            started_at: now,
            latency_ms: i64::try_from(latency.as_millis()).unwrap_or(i64::MAX),
            status_code: result.status_code,
            error: result.error.clone(),
        };
        self.db
            .write(move |conn| deliveries::record_attempt(conn, id, &attempt, next, now))
            .await?;
        let kind_label = kind.map_or("unknown", ChannelKind::as_str);
        metrics::record_delivery(
            match next {
                NextStep::Delivered => "delivered",
                NextStep::RetryAt(_) => "retrying",
                NextStep::Failed => "failed",
            },
            kind_label,
            latency,
        );
        if let Some(error) = &result.error {
            tracing::warn!(
                delivery_id = id,
                channel_id = job.channel.id,
                channel_kind = kind_label,
                attempt = job.attempt_number,
                error = %error,
                "notification attempt failed"
            );
        }
        Ok(next)
    }

    async fn send(
        &self,
        kind: ChannelKind,
        job: &Job,
        msg: Message,
        now: NaiveDateTime,
    ) -> SendResult {
        let secret = match job.channel.secret_sealed.as_deref() {
            Some(sealed) => match self.secrets.open(job.channel.id, sealed) {
                Ok(s) => Some(s),
                Err(e) => return SendResult::permanent(e.to_string()),
            },
            None => None,
        };
        let settings = job.channel.settings();
        match kind {
            ChannelKind::Webhook => {
                let Some(secret) = secret else {
                    return SendResult::permanent("the webhook has no signing secret");
                };
                let body = msg.webhook_body;
                let mut headers = vec![
                    ("x-payerwatch-delivery", job.delivery.id.to_string()),
                    (
                        "x-payerwatch-event",
                        if job.alert.is_some() {
                            "alert.created"
                        } else {
                            "test"
                        }
                        .to_string(),
                    ),
                ];
                match settings.signature_scheme.unwrap_or_default() {
                    SignatureScheme::PayerwatchV1 => headers.push((
                        "x-payerwatch-signature",
                        webhook::sign(
                            secret.as_bytes(),
                            now.and_utc().timestamp(),
                            body.as_bytes(),
                        ),
                    )),
                    SignatureScheme::LegacyHex => headers.push((
                        "x-signature",
                        webhook::sign_legacy(secret.as_bytes(), body.as_bytes()),
                    )),
                }
                send::post_json(&job.channel.target, body, headers, self.allow_private).await
            }
            ChannelKind::Slack => {
                let Some(url) = secret else {
                    return SendResult::permanent("the Slack channel has no webhook URL");
                };
                send::post_json(&url, msg.slack_body, Vec::new(), self.allow_private).await
            }
            ChannelKind::Email => {
                let recipients =
                    match crate::domain::channels::parse_recipients(&job.channel.target) {
                        Ok(r) => r,
                        Err(e) => return SendResult::permanent(e.to_string()),
                    };
                let hello_name = url::Url::parse(&self.public_url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_string))
                    .unwrap_or_else(|| "payerwatch.invalid".to_string());
                let subject = msg.subject;
                let body = msg.text;
                let allow_private = self.allow_private;
                tokio::task::spawn_blocking(move || {
                    send::send_email(send::Email {
                        settings: &settings,
                        recipients,
                        password: secret,
                        hello_name,
                        subject,
                        body,
                        allow_private,
                    })
                })
                .await
                .unwrap_or_else(|_| SendResult::failed(None, "the e-mail task was cancelled"))
            }
        }
    }
}
