//! Notification channels and deliveries on both databases, against receivers started
//! here on loopback: a webhook receiver that verifies signatures and fails on demand, a
//! Slack-shaped receiver and a tiny SMTP sink. The delivery worker's loop is off; the
//! tests drive it with their own clock to walk the retry schedule.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use payerwatch::db::repo::alerts::{self as alerts_repo, AlertFilter};
use payerwatch::db::repo::customers;
use payerwatch::db::repo::deliveries::{self, Delivery};
use payerwatch::db::repo::retention::{self, PurgePlan};
use payerwatch::db::schema::{delivery_attempts, notification_channels};
use payerwatch::devtools::generate::GenOptions;
use payerwatch::domain::roles::Role;
use payerwatch::domain::tenant::{CustomerId, TenantScope};
use payerwatch::domain::webhook;
use payerwatch::services::analytics as reports;

use crate::common::{
    SpawnOptions, TestApp, csrf_token, load_generated_claims, new_client, spawn_app_with,
};
use crate::receivers::start_receiver;

/// A minimal SMTP server on loopback that accepts every message and keeps its DATA.
pub(crate) fn start_smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    start_smtp_sink_on(TcpListener::bind("127.0.0.1:0").expect("bind"))
}

/// The same sink on a given listener (a test that first lets sends fail on the port).
pub(crate) fn start_smtp_sink_on(listener: TcpListener) -> (u16, Arc<Mutex<Vec<String>>>) {
    let port = listener.local_addr().expect("addr").port();
    let mails: Arc<Mutex<Vec<String>>> = Arc::default();
    let store = Arc::clone(&mails);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut out = stream.try_clone().expect("clone");
                let mut reader = BufReader::new(stream);
                let _ = out.write_all(b"220 sink.test ESMTP\r\n");
                let mut line = String::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_ascii_uppercase();
                    if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                        let _ = out.write_all(b"250-sink.test\r\n250 8BITMIME\r\n");
                    } else if cmd.starts_with("DATA") {
                        let _ = out.write_all(b"354 go ahead\r\n");
                        let mut data = String::new();
                        loop {
                            line.clear();
                            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            if line == ".\r\n" || line == ".\n" {
                                break;
                            }
                            data.push_str(&line);
                        }
                        store.lock().expect("lock").push(data);
                        let _ = out.write_all(b"250 queued\r\n");
                    } else if cmd.starts_with("QUIT") {
                        let _ = out.write_all(b"221 bye\r\n");
                        return;
                    } else {
                        let _ = out.write_all(b"250 ok\r\n");
                    }
                }
            });
        }
    });
    (port, mails)
}

async fn spawn(allow_private: bool) -> TestApp {
    let mut overrides = vec![("PAYERWATCH_DELIVERY_WORKER", "0".to_string())];
    if allow_private {
        overrides.push(("PAYERWATCH_ALLOW_PRIVATE_WEBHOOKS", "1".to_string()));
    }
    spawn_app_with(SpawnOptions {
        overrides,
        ..SpawnOptions::default()
    })
    .await
}

async fn admin(app: &TestApp) -> TenantScope {
    let password = app.create_user("Clinic", "admin@clinic.test", Role::Admin, false);
    assert_eq!(
        app.login("admin@clinic.test", &password).await.status(),
        303
    );
    let mut conn = app.db.get().expect("conn");
    TenantScope::for_system(CustomerId(
        customers::find_by_slug(&mut conn, "clinic")
            .expect("customer")
            .id,
    ))
}

async fn create_channel(app: &TestApp, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut all = vec![("action", "create")];
    all.extend_from_slice(fields);
    app.post_form(
        "/portal/settings/channels",
        "/portal/settings/channels",
        &all,
    )
    .await
}

fn secret_in(page: &str) -> String {
    let at = page.find("whsec_").expect("secret shown");
    page[at..at + 70].to_string()
}

async fn drift_alerts(app: &TestApp, scope: &TenantScope) -> Vec<alerts_repo::AlertWithStatus> {
    load_generated_claims(
        &app.db,
        scope,
        &GenOptions {
            rows: 40_000,
            ..GenOptions::default()
        },
    );
    let db = app.db.clone();
    let s = *scope;
    actix_web::rt::task::spawn_blocking(move || reports::run_all(&db, &s, None, "test"))
        .await
        .expect("runs");
    let mut conn = app.db.get().expect("conn");
    alerts_repo::list_alerts(&mut conn, scope, &AlertFilter::default(), 1, 1000)
        .expect("alerts")
        .0
        .items
}

fn all_deliveries(app: &TestApp) -> Vec<Delivery> {
    use payerwatch::db::schema::deliveries as d;
    let mut conn = app.db.get().expect("conn");
    d::table
        .order(d::id.asc())
        .select(Delivery::as_select())
        .load(&mut conn)
        .expect("deliveries")
}

fn at(base: NaiveDateTime, minutes: i64, seconds: i64) -> NaiveDateTime {
    base + chrono::Duration::minutes(minutes) + chrono::Duration::seconds(seconds)
}

#[actix_web::test]
async fn webhook_gets_one_signed_delivery_per_alert_through_an_outage() {
    let app = spawn(true).await;
    let scope = admin(&app).await;
    let receiver = start_receiver(usize::MAX);

    let res = create_channel(
        &app,
        &[
            ("kind", "webhook"),
            ("name", "Ops receiver"),
            ("url", &receiver.url),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let page = res.text().await.expect("page");
    let secret = secret_in(&page);
    assert!(page.contains("shown only this once"));
    // Never again: not on the page, not in the database in the clear.
    let later = app
        .get("/portal/settings/channels")
        .await
        .text()
        .await
        .expect("page");
    assert!(later.contains("Ops receiver") && !later.contains(&secret));
    let sealed: Option<String> = {
        let mut conn = app.db.get().expect("conn");
        notification_channels::table
            .select(notification_channels::secret_sealed)
            .first(&mut conn)
            .expect("channel")
    };
    assert!(sealed.is_some_and(|s| !s.contains(&secret) && s.starts_with("v1.")));

    let alerts = drift_alerts(&app, &scope).await;
    let open: Vec<i64> = alerts
        .iter()
        .filter(|a| a.alert.initial_status == "open")
        .map(|a| a.alert.id)
        .collect();
    assert!(
        open.len() >= 3,
        "the three injected changes alert: {alerts:?}"
    );
    let overview = app.get("/portal").await.text().await.expect("overview");
    assert!(overview.contains("Open alerts") && overview.contains("Cigna × IMAGING"));
    assert!(!overview.contains("arrive with the ingestion feature"));
    let queued = all_deliveries(&app);
    assert_eq!(queued.len(), open.len(), "one delivery per sent alert");
    assert!(queued.iter().all(|d| d.status == deliveries::PENDING));

    // The receiver is down for the first two attempts of every delivery.
    receiver.fail_first.store(2 * open.len(), Ordering::SeqCst);
    let t0 = payerwatch::db::repo::now();
    let round = app.notifier.run_once(t0).await.expect("round 1");
    assert_eq!(round.retrying, open.len());
    // Not due before a minute has passed.
    let early = app.notifier.run_once(at(t0, 0, 59)).await.expect("early");
    assert_eq!(early, Default::default());
    let round = app.notifier.run_once(at(t0, 1, 0)).await.expect("round 2");
    assert_eq!(round.retrying, open.len());
    // The second retry waits two more minutes.
    assert_eq!(
        app.notifier.run_once(at(t0, 2, 59)).await.expect("early"),
        Default::default()
    );
    let round = app.notifier.run_once(at(t0, 3, 0)).await.expect("round 3");
    assert_eq!(round.delivered, open.len());
    assert_eq!(
        app.notifier.run_once(at(t0, 60, 0)).await.expect("after"),
        Default::default(),
        "delivered deliveries are never sent again"
    );

    let requests = receiver.requests();
    assert_eq!(requests.len(), 3 * open.len());
    let mut delivered_alerts: Vec<i64> = Vec::new();
    for r in requests.iter().filter(|r| r.answered == 200) {
        let signature = r.header("x-payerwatch-signature").expect("signed");
        webhook::verify(
            secret.as_bytes(),
            signature,
            r.body.as_bytes(),
            at(t0, 3, 30).and_utc().timestamp(),
        )
        .expect("valid signature within 300 s");
        assert!(
            webhook::verify(
                b"another secret",
                signature,
                r.body.as_bytes(),
                at(t0, 3, 0).and_utc().timestamp()
            )
            .is_err()
        );
        let body: serde_json::Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!(body["event_type"], "alert.created");
        assert!(
            body["alert"]["url"]
                .as_str()
                .is_some_and(|u| u.contains("/portal/alerts/"))
        );
        delivered_alerts.push(body["alert"]["id"].as_i64().expect("id"));
    }
    delivered_alerts.sort_unstable();
    let mut expected = open.clone();
    expected.sort_unstable();
    assert_eq!(
        delivered_alerts, expected,
        "exactly one good delivery per alert"
    );

    // Every attempt is logged: 500, 500, 200.
    let codes: Vec<Option<i64>> = {
        let mut conn = app.db.get().expect("conn");
        delivery_attempts::table
            .filter(delivery_attempts::delivery_id.eq(queued[0].id))
            .order(delivery_attempts::id.asc())
            .select(delivery_attempts::status_code)
            .load(&mut conn)
            .expect("attempts")
    };
    assert_eq!(codes, vec![Some(500), Some(500), Some(200)]);

    // The alert page and the channel page show the log.
    let alert_page = app
        .get(&format!("/portal/alerts/{}", open[0]))
        .await
        .text()
        .await
        .expect("page");
    assert!(alert_page.contains("Ops receiver (Webhook)") && alert_page.contains("delivered"));
    assert!(alert_page.contains("HTTP 500"));
    let channel_id: i64 = queued[0].channel_id;
    let channel_page = app
        .get(&format!("/portal/settings/channels/{channel_id}"))
        .await
        .text()
        .await
        .expect("page");
    assert!(channel_page.contains(&format!("{} delivered", open.len())));

    let metrics = app.get("/metrics").await.text().await.expect("metrics");
    assert!(
        metrics.contains(
            "payerwatch_notification_deliveries_total{outcome=\"delivered\",channel=\"webhook\"}"
        ) || metrics.contains(
            "payerwatch_notification_deliveries_total{channel=\"webhook\",outcome=\"delivered\"}"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("payerwatch_notification_delivery_duration_seconds_bucket"));
    assert!(metrics.contains("payerwatch_alerts_total{"));

    // Delivered notifications are purged after 90 days, with their attempt log.
    let purged = app
        .db
        .write(move |conn| {
            retention::purge(
                conn,
                &PurgePlan {
                    audit_cutoff: t0 - chrono::Duration::days(3650),
                    now: t0 + chrono::Duration::days(91),
                    dry_run: false,
                },
            )
        })
        .await
        .expect("purge");
    assert_eq!(purged.delivered_notifications, Some(open.len() as i64));
    assert!(all_deliveries(&app).is_empty());
}

#[actix_web::test]
async fn a_delivery_fails_after_six_attempts_and_an_admin_can_retry_it() {
    let app = spawn(true).await;
    admin(&app).await;
    let receiver = start_receiver(usize::MAX);
    let res = create_channel(
        &app,
        &[
            ("kind", "webhook"),
            ("name", "Legacy receiver"),
            ("url", &receiver.url),
            ("signature_scheme", "legacy-hex"),
        ],
    )
    .await;
    let secret = secret_in(&res.text().await.expect("page"));
    let channel_id = all_channel_ids(&app)[0];
    let res = app
        .post_form(
            "/portal/settings/channels",
            "/portal/settings/channels",
            &[("action", "test"), ("channel_id", &channel_id.to_string())],
        )
        .await;
    assert_eq!(res.status(), 303);

    let t0 = payerwatch::db::repo::now();
    // Attempts at 0, +1, +3, +7, +15 and +31 minutes, then failed.
    for (minute, expect_failed) in [
        (0, false),
        (1, false),
        (3, false),
        (7, false),
        (15, false),
        (31, true),
    ] {
        let round = app
            .notifier
            .run_once(at(t0, minute, 0))
            .await
            .expect("round");
        assert_eq!(round.failed, usize::from(expect_failed), "minute {minute}");
        assert_eq!(
            round.retrying,
            usize::from(!expect_failed),
            "minute {minute}"
        );
    }
    assert_eq!(receiver.requests().len(), 6);
    let delivery = all_deliveries(&app).remove(0);
    assert_eq!(delivery.status, deliveries::FAILED);
    assert_eq!(delivery.last_error.as_deref(), Some("HTTP 500"));
    let page = app
        .get("/portal/settings/channels")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("1 failed") && page.contains(">Retry<"));

    // The receiver is back; an admin retries.
    receiver.fail_first.store(0, Ordering::SeqCst);
    let res = app
        .post_form(
            "/portal/settings/channels",
            "/portal/settings/channels",
            &[
                ("action", "retry"),
                ("delivery_id", &delivery.id.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    // Retrying a delivery that is not failed is refused.
    let again = app
        .post_form(
            "/portal/settings/channels",
            "/portal/settings/channels",
            &[
                ("action", "retry"),
                ("delivery_id", &delivery.id.to_string()),
            ],
        )
        .await;
    assert_eq!(again.status(), 409);
    let round = app
        .notifier
        .run_once(payerwatch::db::repo::now())
        .await
        .expect("round");
    assert_eq!(round.delivered, 1);
    let last = receiver.requests().pop().expect("request");
    assert_eq!(last.answered, 200);
    assert_eq!(
        last.header("x-signature"),
        Some(webhook::sign_legacy(secret.as_bytes(), last.body.as_bytes()).as_str()),
        "legacy scheme: hex HMAC of the body"
    );
    assert!(last.header("x-payerwatch-signature").is_none());
    // The signed body carries its send time: a legacy receiver refuses a replay
    // (issue 16 row 21).
    let signature = last.header("x-signature").expect("signed");
    let now = chrono::Utc::now().timestamp();
    webhook::verify_legacy(secret.as_bytes(), signature, last.body.as_bytes(), now)
        .expect("fresh delivery verifies");
    assert_eq!(
        webhook::verify_legacy(
            secret.as_bytes(),
            signature,
            last.body.as_bytes(),
            now + 301
        ),
        Err(webhook::VerifyError::Stale),
        "the same request replayed five minutes later"
    );
}

fn all_channel_ids(app: &TestApp) -> Vec<i64> {
    let mut conn = app.db.get().expect("conn");
    notification_channels::table
        .order(notification_channels::id.asc())
        .select(notification_channels::id)
        .load(&mut conn)
        .expect("channels")
}

#[actix_web::test]
async fn email_and_slack_carry_the_alert_facts_and_a_link() {
    let app = spawn(true).await;
    let scope = admin(&app).await;
    let (smtp_port, mails) = start_smtp_sink();
    let slack = start_receiver(0);
    let port = smtp_port.to_string();
    let res = create_channel(
        &app,
        &[
            ("kind", "email"),
            ("name", "Billing leads"),
            ("recipients", "lead@clinic.test, ops@clinic.test"),
            ("smtp_host", "127.0.0.1"),
            ("smtp_port", &port),
            ("smtp_tls", "none"),
            ("smtp_from", "payerwatch@clinic.test"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let slack_url = format!("{}?token=xoxb-secret-token", slack.url);
    let res = create_channel(
        &app,
        &[
            ("kind", "slack"),
            ("name", "Slack #billing"),
            ("url", &slack_url),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let page = app
        .get("/portal/settings/channels")
        .await
        .text()
        .await
        .expect("page");
    assert!(
        !page.contains("xoxb-secret-token"),
        "the Slack URL is never shown"
    );

    let alerts = drift_alerts(&app, &scope).await;
    let open = alerts
        .iter()
        .filter(|a| a.alert.initial_status == "open")
        .count();
    let round = app
        .notifier
        .run_once(payerwatch::db::repo::now())
        .await
        .expect("round");
    assert_eq!(round.delivered, 2 * open, "{round:?}");

    let mails = mails.lock().expect("lock").clone();
    assert_eq!(mails.len(), open);
    let cigna = mails
        .iter()
        .find(|m| m.contains("Cigna") && m.contains("IMAGING"))
        .expect("the Cigna imaging alert mailed");
    assert!(
        cigna.contains("Subject: [PayerWatch] DriftWatch"),
        "{cigna}"
    );
    assert!(cigna.contains("/portal/alerts/"));
    assert!(cigna.contains("lead@clinic.test") && cigna.contains("ops@clinic.test"));

    let posts = slack.requests();
    assert_eq!(posts.len(), open);
    for p in &posts {
        let body: serde_json::Value = serde_json::from_str(&p.body).expect("json");
        assert_eq!(body["blocks"][0]["type"], "header");
        assert!(
            body["text"]
                .as_str()
                .is_some_and(|t| t.contains("/portal/alerts/"))
        );
    }
}

#[actix_web::test]
async fn channels_are_for_admins_of_the_tenant_and_refuse_private_targets() {
    let app = spawn(false).await;
    admin(&app).await;
    // SSRF: loopback, private ranges and non-HTTP schemes are refused with a reason.
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "ftp://example.org/hook",
    ] {
        let res = create_channel(&app, &[("kind", "webhook"), ("name", "X"), ("url", url)]).await;
        assert_eq!(res.status(), 400, "{url}");
        let page = res.text().await.expect("page");
        assert!(page.contains("The URL was refused"), "{url}: {page}");
        assert!(
            !page.contains("127.0.0.1") || url.contains("127.0.0.1"),
            "no resolved address shown"
        );
    }
    // SMTP targets pass the same policy: loopback refused, and only mail ports.
    for (host, port) in [
        ("127.0.0.1", "2525"),
        ("localhost", "25"),
        ("127.0.0.1", "22"),
    ] {
        let res = create_channel(
            &app,
            &[
                ("kind", "email"),
                ("name", "Mail"),
                ("recipients", "a@x.org"),
                ("smtp_host", host),
                ("smtp_port", port),
                ("smtp_tls", "none"),
                ("smtp_from", "pw@x.org"),
            ],
        )
        .await;
        assert_eq!(res.status(), 400, "{host}:{port}");
        let page = res.text().await.expect("page");
        assert!(
            page.contains("The SMTP server was refused"),
            "{host}:{port}: {page}"
        );
    }
    let res = create_channel(
        &app,
        &[
            ("kind", "email"),
            ("name", "Mail"),
            ("recipients", "a@x.org, nope"),
            ("smtp_host", " smtp.x.org "),
            ("smtp_from", "pw@x.org"),
            ("smtp_password", "hunter2-secret-9"),
        ],
    )
    .await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.expect("page");
    assert!(page.contains("recipient 2 is not an e-mail address"));
    // The form comes back with what was typed (trimmed), never the SMTP password.
    assert!(page.contains("value=\"smtp.x.org\""), "{page}");
    assert!(!page.contains("hunter2-secret-9"));
    let res = create_channel(
        &app,
        &[
            ("kind", "webhook"),
            ("name", "Call John Smith at 555-867-5309"),
            ("url", "https://example.org/h"),
        ],
    )
    .await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.expect("page");
    assert!(page.contains("patient information") && !page.contains("555-867-5309"));
    assert!(all_channel_ids(&app).is_empty(), "nothing saved");

    // A channel of this tenant, created directly.
    let own = {
        let app_db = app.db.clone();
        let mut conn = app_db.get().expect("conn");
        let scope = TenantScope::for_system(CustomerId(
            customers::find_by_slug(&mut conn, "clinic").expect("c").id,
        ));
        payerwatch::db::repo::channels::insert_channel(
            &mut conn,
            &scope,
            &payerwatch::db::repo::channels::NewChannel {
                name: "Direct".into(),
                kind: "webhook".into(),
                target: "https://example.org/h".into(),
                settings_json: "{}".into(),
            },
            |_| Ok::<_, payerwatch::db::DbError>(None),
        )
        .expect("channel")
    };
    assert_eq!(
        app.get(&format!("/portal/settings/channels/{own}"))
            .await
            .status(),
        200
    );

    // Analysts and viewers: 403; another tenant's admin: 404 for this tenant's channel.
    for role in [Role::Analyst, Role::Viewer] {
        let client = new_client();
        let email = format!("{}@clinic.test", role.as_str());
        let pw = app.create_user("Clinic", &email, role, false);
        app.login_with(&client, &email, &pw).await;
        assert_eq!(
            app.get_with(&client, "/portal/settings/channels")
                .await
                .status(),
            403
        );
        let token = csrf_token(
            &app.get_with(&client, "/portal")
                .await
                .text()
                .await
                .expect("p"),
        )
        .expect("token");
        let res = client
            .post(app.url("/portal/settings/channels"))
            .form(&[
                ("action", "test"),
                ("channel_id", &own.to_string()),
                ("csrf_token", &token),
            ])
            .send()
            .await
            .expect("sent");
        assert_eq!(res.status(), 403);
    }
    let other = new_client();
    let pw = app.create_user("Other Clinic", "admin@other.test", Role::Admin, false);
    app.login_with(&other, "admin@other.test", &pw).await;
    assert_eq!(
        app.get_with(&other, &format!("/portal/settings/channels/{own}"))
            .await
            .status(),
        404
    );
    let res = app
        .post_form_with(
            &other,
            "/portal/settings/channels",
            "/portal/settings/channels",
            &[("action", "test"), ("channel_id", &own.to_string())],
        )
        .await;
    assert_eq!(res.status(), 404);
    // Without the CSRF token nothing happens.
    let res = app
        .client
        .post(app.url("/portal/settings/channels"))
        .form(&[("action", "test"), ("channel_id", &own.to_string())])
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 403);
    assert!(all_deliveries(&app).is_empty());
}

#[actix_web::test]
async fn a_poor_upload_raises_a_data_quality_alert_and_alerts_export_as_csv() {
    let app = spawn(true).await;
    admin(&app).await;
    let mut csv = String::from(
        "payer,cpt,submitted_date,decided_date,outcome,allowed_amount,denial_reason_code,denial_reason_text\n",
    );
    for i in 0..20 {
        csv.push_str(&format!(
            "Aetna,99213,2026-10-{:02},2026-11-01,PAID,100.00,,\n",
            1 + i
        ));
    }
    for _ in 0..5 {
        csv.push_str("Aetna,99213,not-a-date,2026-11-01,PAID,100.00,,\n");
    }
    let token =
        csrf_token(&app.get("/portal/uploads").await.text().await.expect("page")).expect("token");
    let part = reqwest::multipart::Part::bytes(csv.into_bytes())
        .file_name("=cmd|poor.csv")
        .mime_str("text/csv")
        .expect("mime");
    let res = app
        .client
        .post(app.url("/portal/uploads"))
        .multipart(
            reqwest::multipart::Form::new()
                .text("csrf_token", token)
                .part("file", part),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 303);
    // The upload runs in the background.
    let mut found = None;
    for _ in 0..100 {
        let page = app
            .get("/portal/alerts?product=data_quality")
            .await
            .text()
            .await
            .expect("page");
        if page.contains("scored 80.00") {
            found = Some(page);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = found.expect("a data-quality alert for a score of 80");
    assert!(page.contains("Data quality"));

    let csv = app.get("/portal/alerts.csv").await;
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/csv")
    );
    let body = csv.text().await.expect("csv");
    assert!(body.starts_with("id,created_at,product,kind,payer,cpt_group,severity,severity_label,status,initial_status,suppressed_because,title,url"));
    assert!(body.contains("data_quality,quality_score"));
    // A title starting with a formula character is neutralised.
    assert!(!body.contains(",=cmd"), "{body}");

    let viewer = new_client();
    let pw = app.create_user("Clinic", "viewer@clinic.test", Role::Viewer, false);
    app.login_with(&viewer, "viewer@clinic.test", &pw).await;
    assert_eq!(
        app.get_with(&viewer, "/portal/alerts.csv").await.status(),
        403
    );
}

#[actix_web::test]
async fn two_workers_never_send_the_same_delivery_twice() {
    let app = spawn(true).await;
    let scope = admin(&app).await;
    let receiver = start_receiver(0);
    create_channel(
        &app,
        &[
            ("kind", "webhook"),
            ("name", "Shared"),
            ("url", &receiver.url),
        ],
    )
    .await;
    let channel = all_channel_ids(&app)[0];
    let now = payerwatch::db::repo::now();
    app.db
        .write(move |conn| {
            for _ in 0..30 {
                deliveries::enqueue_test(conn, &scope, channel, now)?;
            }
            Ok::<_, payerwatch::db::DbError>(())
        })
        .await
        .expect("queued");
    // On PostgreSQL a second instance on the same database (claims use SKIP LOCKED); an
    // SQLite database belongs to one process, so there the second worker is in-process.
    let second = match app.own_database().backend() {
        payerwatch::db::Backend::Postgres => Some(
            spawn_app_with(SpawnOptions {
                overrides: vec![
                    ("PAYERWATCH_DELIVERY_WORKER", "0".to_string()),
                    ("PAYERWATCH_ALLOW_PRIVATE_WEBHOOKS", "1".to_string()),
                ],
                shared_database_url: Some(app.database_url.clone()),
                ..SpawnOptions::default()
            })
            .await,
        ),
        payerwatch::db::Backend::Sqlite => None,
    };
    let other = second.as_ref().map_or(&app.notifier, |s| &s.notifier);
    let mut delivered = 0;
    for _ in 0..3 {
        let (a, b) = tokio::join!(app.notifier.run_once(now), other.run_once(now));
        delivered += a.expect("worker a").delivered + b.expect("worker b").delivered;
    }
    assert_eq!(delivered, 30);
    let mut ids: Vec<i64> = receiver
        .requests()
        .iter()
        .map(|r| {
            r.header("x-payerwatch-delivery")
                .and_then(|v| v.parse().ok())
                .expect("delivery id header")
        })
        .collect();
    assert_eq!(ids.len(), 30);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 30, "no delivery was sent twice");
}

/// Issue 16 row 9: a tenant whose receiver stalls holds one delivery slot, never the
/// others' — tenant B's message goes out at once while tenant A's sends wait in turn,
/// and the overall per-send deadline fails each stalled send (to be retried).
#[actix_web::test]
async fn a_stalled_receiver_of_one_tenant_does_not_delay_another_tenants_delivery() {
    let app = spawn_app_with(SpawnOptions {
        overrides: vec![
            ("PAYERWATCH_DELIVERY_WORKER", "0".to_string()),
            ("PAYERWATCH_ALLOW_PRIVATE_WEBHOOKS", "1".to_string()),
            ("PAYERWATCH_DELIVERY_DEADLINE_SECONDS", "2".to_string()),
        ],
        ..SpawnOptions::default()
    })
    .await;
    let scope_a = admin(&app).await;
    let stalled = start_receiver(0);
    stalled.hold.store(true, Ordering::SeqCst);
    create_channel(
        &app,
        &[
            ("kind", "webhook"),
            ("name", "Stalls"),
            ("url", &stalled.url),
        ],
    )
    .await;
    let other = new_client();
    let pw = app.create_user("Other Clinic", "admin@other.test", Role::Admin, false);
    app.login_with(&other, "admin@other.test", &pw).await;
    let healthy = start_receiver(0);
    let res = app
        .post_form_with(
            &other,
            "/portal/settings/channels",
            "/portal/settings/channels",
            &[
                ("action", "create"),
                ("kind", "webhook"),
                ("name", "Answers"),
                ("url", &healthy.url),
            ],
        )
        .await;
    assert_eq!(res.status(), 200, "the new webhook's secret is shown once");
    let ids = all_channel_ids(&app);
    let (channel_a, channel_b) = (ids[0], ids[1]);
    let scope_b = {
        let mut conn = app.db.get().expect("conn");
        TenantScope::for_system(CustomerId(
            customers::find_by_slug(&mut conn, "other-clinic")
                .expect("customer")
                .id,
        ))
    };
    // Tenant A's two deliveries are older: a single sequential loop would send them
    // first and make B wait for both.
    let now = payerwatch::db::repo::now();
    app.db
        .write(move |conn| {
            deliveries::enqueue_test(
                conn,
                &scope_a,
                channel_a,
                now - chrono::Duration::seconds(2),
            )?;
            deliveries::enqueue_test(
                conn,
                &scope_a,
                channel_a,
                now - chrono::Duration::seconds(1),
            )?;
            deliveries::enqueue_test(conn, &scope_b, channel_b, now)
        })
        .await
        .expect("queued");

    let started = std::time::Instant::now();
    let round = app.notifier.run_once(now).await.expect("round");
    let took = started.elapsed();
    stalled.hold.store(false, Ordering::SeqCst);
    assert_eq!(
        round,
        payerwatch::notify::worker::RoundSummary {
            delivered: 1,
            retrying: 2,
            failed: 0
        }
    );
    let b = healthy.requests();
    assert_eq!(b.len(), 1);
    let b_waited = b[0].arrived.duration_since(started);
    assert!(
        b_waited < Duration::from_millis(1500),
        "tenant B's delivery waited {b_waited:?} behind tenant A's stalled receiver"
    );
    // A's two sends went one after the other, each cut at the 2 s deadline.
    let a = stalled.requests();
    assert_eq!(
        a.len(),
        2,
        "one tenant, one send at a time: both were tried"
    );
    // One after the other: the round lasted at least both deadlines (the receiver's
    // arrival times are not compared — under load a request can reach the handler late).
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(9),
        "two sends bounded by a 2 s deadline took {took:?}"
    );
    let stuck: Vec<Delivery> = all_deliveries(&app)
        .into_iter()
        .filter(|d| d.channel_id == channel_a)
        .collect();
    assert_eq!(stuck.len(), 2);
    for d in &stuck {
        assert_eq!(d.status, deliveries::PENDING, "retried later: {d:?}");
        assert_eq!(
            d.last_error.as_deref(),
            Some("no answer within the 2 s delivery deadline")
        );
        assert!(d.next_attempt_at > now);
    }
}

/// Issue 16 row 9: "send test" is rate limited per channel (and per tenant): a second
/// press within a minute answers 429 with a message saying when, and queues nothing.
#[actix_web::test]
async fn a_second_test_send_within_a_minute_is_refused_with_a_clear_message() {
    let app = spawn(true).await;
    admin(&app).await;
    let receiver = start_receiver(0);
    create_channel(
        &app,
        &[("kind", "webhook"), ("name", "Ops"), ("url", &receiver.url)],
    )
    .await;
    let channel = all_channel_ids(&app)[0].to_string();
    let fields = [("action", "test"), ("channel_id", channel.as_str())];
    let press = || {
        app.post_form(
            "/portal/settings/channels",
            "/portal/settings/channels",
            &fields,
        )
    };
    assert_eq!(press().await.status(), 303);
    let again = press().await;
    assert_eq!(again.status(), 429);
    let wait: u64 = again
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&wait), "{wait}");
    let page = again.text().await.expect("page");
    assert!(
        page.contains("A test message for this channel was queued less than a minute ago"),
        "{page}"
    );
    assert_eq!(
        all_deliveries(&app).len(),
        1,
        "the refused press queued nothing"
    );
}
