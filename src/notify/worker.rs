//! The delivery worker: claims due deliveries, sends each once, logs the attempt and
//! schedules the retry (or marks the delivery failed). One per process; several
//! processes may run it against the same PostgreSQL database (claims use SKIP LOCKED and
//! a lease, so each delivery is sent by one worker at a time).
//!
//! Fairness and bounds (issue 16 row 9):
//! * **Per tenant one send at a time, a shared pool across tenants**
//!   (`PAYERWATCH_DELIVERY_CONCURRENCY`, default 4): a tenant whose receiver or SMTP
//!   server stalls occupies one slot, never the others' — their alerts go out meanwhile.
//!   The tenants whose work waited longest are served first.
//! * **An overall deadline per send** (`PAYERWATCH_DELIVERY_DEADLINE_SECONDS`, default
//!   30): DNS, connect, TLS and the whole HTTP exchange or SMTP dialogue together. Past
//!   it the attempt fails ("no answer within …") and is retried on the usual schedule.
//!   reqwest's and lettre's own timeouts are per request / per socket operation.
//! * **One lease per item**: each delivery is claimed just before its own send, for the
//!   deadline plus a margin, so no claim can expire while the items before it are sent
//!   (which with a 20-item batch could make another instance send it a second time).
//! * **Fenced outcome**: the attempt is recorded only while the claim is still this
//!   worker's (`record_attempt` checks the claim's lease end); a recording delayed past
//!   the lease, after another instance claimed the delivery again, changes nothing.
//!
//! Receivers may still see a delivery twice when a process dies between the send and
//! recording it (at-least-once); `X-PayerWatch-Delivery` is stable across attempts so
//! they can drop repeats (docs/webhooks.md).

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::Notify;

use crate::db::repo::deliveries::{self, AttemptRecord, Claimed, Job, NextStep};
use crate::db::{Db, DbError};
use crate::domain::channels::{ChannelKind, SignatureScheme};
use crate::domain::webhook;
use crate::notify::message::{self, Message};
use crate::notify::schedule;
use crate::notify::secrets::SecretBox;
use crate::notify::send::{self, SendResult};
use crate::observability::metrics;

/// Deliveries one `run_once` sends at most (a bound, should the clock or the schedule
/// ever make a delivery due again at once).
const ROUND_LIMIT: usize = 10_000;

/// What one round did (tests and logs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundSummary {
    pub delivered: usize,
    pub retrying: usize,
    pub failed: usize,
}

impl RoundSummary {
    fn add(&mut self, step: NextStep) {
        match step {
            NextStep::Delivered => self.delivered += 1,
            NextStep::RetryAt(_) => self.retrying += 1,
            NextStep::Failed => self.failed += 1,
        }
    }
}

/// How much delivery work one process does at once, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryLimits {
    /// The most one send may take, all of it.
    pub deadline: Duration,
    /// Sends in flight at once (at most one per tenant).
    pub concurrency: usize,
}

impl Default for DeliveryLimits {
    fn default() -> Self {
        DeliveryLimits {
            deadline: Duration::from_secs(30),
            concurrency: 4,
        }
    }
}

/// A send in flight: its tenant and, when done, where the delivery went.
type InFlight<'a> = Pin<Box<dyn Future<Output = (i64, Result<NextStep, DbError>)> + 'a>>;

pub struct Notifier {
    db: Db,
    secrets: SecretBox,
    public_url: String,
    allow_private: bool,
    limits: DeliveryLimits,
    wake: Notify,
}

impl Notifier {
    pub fn new(
        db: Db,
        secrets: SecretBox,
        public_url: String,
        allow_private: bool,
        limits: DeliveryLimits,
    ) -> Self {
        Notifier {
            db,
            secrets,
            public_url,
            allow_private,
            limits: DeliveryLimits {
                concurrency: limits.concurrency.max(1),
                ..limits
            },
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

    /// A claim lasts the send's deadline plus as much again (at least 10 s): enough to
    /// record the outcome even when that write queues behind an import on SQLite.
    fn lease(&self) -> chrono::Duration {
        let margin = self.limits.deadline.max(Duration::from_secs(10));
        chrono::Duration::from_std(self.limits.deadline + margin)
            .unwrap_or_else(|_| chrono::Duration::seconds(120))
    }

    /// Runs the worker on the current runtime until the runtime ends: keeps up to
    /// `concurrency` sends in flight, one per tenant, and claims more as each ends, when
    /// woken, or every `poll`.
    pub fn spawn(self: &Arc<Self>, poll: Duration) {
        let me = Arc::clone(self);
        actix_web::rt::spawn(async move {
            let mut in_flight: FuturesUnordered<InFlight<'_>> = FuturesUnordered::new();
            let mut busy: HashSet<i64> = HashSet::new();
            let mut digests_checked: Option<Instant> = None;
            loop {
                let now = crate::db::repo::now();
                // Digests: looked for at most once a minute.
                if digests_checked.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                    digests_checked = Some(Instant::now());
                    if let Err(e) = me.queue_digests(now).await {
                        tracing::warn!(error = %crate::telemetry::ErrorChain(&e), "delivery worker could not queue digests");
                    }
                }
                if let Err(e) = me.fill(now, &mut busy, &mut in_flight).await {
                    tracing::warn!(error = %crate::telemetry::ErrorChain(&e), "delivery worker could not claim work");
                }
                tokio::select! {
                    Some((tenant, step)) = in_flight.next() => {
                        busy.remove(&tenant);
                        if let Err(e) = step {
                            tracing::warn!(error = %crate::telemetry::ErrorChain(&e), "delivery worker could not record a send");
                        }
                    }
                    _ = tokio::time::timeout(poll, me.wake.notified()) => {}
                }
            }
        });
    }

    /// Queues the day's digests that are due (a no-op before the digest hour and once
    /// everyone's is queued: one indexed query).
    async fn queue_digests(&self, now: NaiveDateTime) -> Result<usize, DbError> {
        super::digests::queue_due(&self.db, now).await
    }

    /// Claims work for free slots (tenants not in `busy`) and starts their sends.
    async fn fill<'a>(
        &'a self,
        now: NaiveDateTime,
        busy: &mut HashSet<i64>,
        in_flight: &mut FuturesUnordered<InFlight<'a>>,
    ) -> Result<(), DbError> {
        let free = self.limits.concurrency.saturating_sub(in_flight.len());
        if free == 0 {
            return Ok(());
        }
        let skip: Vec<i64> = busy.iter().copied().collect();
        let lease = self.lease();
        let claimed: Vec<Claimed> = self
            .db
            .write(move |conn| deliveries::claim_fair(conn, now, lease, &skip, free))
            .await?;
        for c in claimed {
            busy.insert(c.customer_id);
            in_flight.push(Box::pin(async move {
                (c.customer_id, self.deliver(c, now).await)
            }));
        }
        Ok(())
    }

    /// Everything due at `now`, with the same fairness as the running worker: sends of
    /// different tenants overlap, one tenant's go one after another. Returns when
    /// nothing due is left. Tests call it with their own clock.
    pub async fn run_once(&self, now: NaiveDateTime) -> Result<RoundSummary, DbError> {
        self.queue_digests(now).await?;
        let mut in_flight: FuturesUnordered<InFlight<'_>> = FuturesUnordered::new();
        let mut busy: HashSet<i64> = HashSet::new();
        let mut summary = RoundSummary::default();
        let mut started = 0;
        loop {
            if started < ROUND_LIMIT {
                let before = in_flight.len();
                self.fill(now, &mut busy, &mut in_flight).await?;
                started += in_flight.len() - before;
            }
            let Some((tenant, step)) = in_flight.next().await else {
                break;
            };
            busy.remove(&tenant);
            summary.add(step?);
        }
        if summary != RoundSummary::default() {
            tracing::info!(
                delivered = summary.delivered,
                retrying = summary.retrying,
                failed = summary.failed,
                "notification deliveries"
            );
        }
        Ok(summary)
    }

    async fn deliver(&self, claim: Claimed, now: NaiveDateTime) -> Result<NextStep, DbError> {
        let id = claim.id;
        let job = self
            .db
            .run(move |conn| deliveries::load_job(conn, id))
            .await?;
        let kind = ChannelKind::parse(&job.channel.kind);
        let started = Instant::now();
        let result = if !job.channel.enabled {
            SendResult::permanent("the channel is disabled")
        } else {
            let msg = match (&job.alert, &job.digest) {
                (Some(alert), _) => message::for_alert(alert, &self.public_url, id, now),
                (None, Some(digest)) => message::for_digest(digest, &self.public_url),
                (None, None) => message::for_test(&self.public_url, id, now),
            };
            match kind {
                Some(kind) => {
                    match tokio::time::timeout(
                        self.limits.deadline,
                        self.send(kind, &job, msg, now),
                    )
                    .await
                    {
                        Ok(result) => result,
                        Err(_) => SendResult::failed(
                            None,
                            format!(
                                "no answer within the {} s delivery deadline",
                                self.limits.deadline.as_secs()
                            ),
                        ),
                    }
                }
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
        let claimed_until = claim.locked_until;
        let recorded = self
            .db
            .write(move |conn| {
                deliveries::record_attempt(conn, id, claimed_until, &attempt, next, now)
            })
            .await?;
        if !recorded {
            // Our lease ran out mid-send and another worker claimed it again: its outcome
            // counts, ours is dropped (the receiver may see this id twice; it is the same
            // message with the same X-PayerWatch-Delivery, which receivers deduplicate).
            tracing::warn!(
                delivery_id = id,
                "delivery was claimed again after its lease ran out; this attempt's outcome is dropped"
            );
        }
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
        if job.digest.is_some() && kind != ChannelKind::Email {
            return SendResult::permanent("a digest goes by e-mail only");
        }
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
                // A digest goes to its one person, through the channel's SMTP server.
                let to = job
                    .digest
                    .as_ref()
                    .map_or(job.channel.target.as_str(), |d| d.recipient.as_str());
                let recipients = match crate::domain::channels::parse_recipients(to) {
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
                let timeout = self.limits.deadline;
                tokio::task::spawn_blocking(move || {
                    send::send_email(send::Email {
                        settings: &settings,
                        recipients,
                        password: secret,
                        hello_name,
                        subject,
                        body,
                        allow_private,
                        timeout,
                    })
                })
                .await
                .unwrap_or_else(|_| SendResult::failed(None, "the e-mail task was cancelled"))
            }
        }
    }
}
