//! End-to-end tests in headless Chromium through the real pages. Screenshots land in
//! `target/e2e/`. Required in CI (`CI=true`) or with `PAYERWATCH_BROWSER_TESTS=1`;
//! otherwise skipped when chromedriver is not installed.

#[path = "../integration/common.rs"]
#[allow(dead_code)]
mod common;
#[path = "../integration/receivers.rs"]
#[allow(dead_code)]
mod receivers;
mod webdriver;

use std::time::Duration;

use payerwatch::domain::roles::Role;

use common::{SpawnOptions, spawn_app_with};
use webdriver::Driver;

/// Loads 40,000 generated claims (with the generator's injected changes) into the tenant
/// `slug` and runs every analytics product on them: findings, charts and alerts to show.
async fn with_drifted_claims(app: &common::TestApp, slug: &str) {
    let options = payerwatch::devtools::generate::GenOptions {
        rows: 40_000,
        ..Default::default()
    };
    app.analysed(app.scope_of(slug), &options).await;
}

#[actix_web::test]
async fn sign_in_idle_timeout_and_sign_out_in_a_real_browser() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = spawn_app_with(SpawnOptions {
        overrides: vec![("PAYERWATCH_SESSION_IDLE_SECONDS", "3".into())],
        ..SpawnOptions::default()
    })
    .await;
    let password = app.create_user(
        "Riverside Clinic",
        "lead@riverside.test",
        Role::Owner,
        false,
    );
    let browser = driver.session().await;

    browser.goto(&app.url("/portal")).await;
    browser.wait_for_text("Sign in").await;
    assert!(browser.current_url().await.contains("/login?next=/portal"));
    browser.screenshot("01-login").await;

    browser.fill("#email", "lead@riverside.test").await;
    browser.fill("#password", "not the password").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("not correct").await;
    browser.screenshot("02-login-failed").await;

    browser.fill("#password", &password).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("Your account").await;
    assert!(browser.current_url().await.ends_with("/portal"));
    assert!(
        browser
            .text_of(".topbar-user")
            .await
            .contains("lead@riverside.test")
    );
    browser.screenshot("03-overview").await;

    browser.goto(&app.url("/portal/settings/users")).await;
    browser.wait_for_text("Invite someone").await;
    // An invitation is listed as pending with its one-time link in the flash.
    browser
        .fill("#invite-email", "new.analyst@riverside.test")
        .await;
    browser.click("form.form-row button[type=submit]").await;
    browser.wait_for_text("Pending invitations").await;
    assert!(browser.source().await.contains("/set-password/"));
    browser.screenshot("04-users").await;

    // Idle past the timeout: the next page view leads back to the login form.
    tokio::time::sleep(Duration::from_secs(4)).await;
    browser.goto(&app.url("/portal")).await;
    browser.wait_for_text("Your session expired").await;
    browser.screenshot("05-expired").await;

    browser.fill("#email", "lead@riverside.test").await;
    browser.fill("#password", &password).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("Your account").await;

    browser.click(".topbar-user button[type=submit]").await;
    browser.wait_for_text("You have been signed out").await;
    browser.screenshot("06-signed-out").await;
    browser.goto(&app.url("/portal")).await;
    browser.wait_for_text("Sign in").await;
    assert!(browser.current_url().await.contains("/login"));
    browser.quit().await;
}

#[actix_web::test]
async fn the_drift_feed_shows_the_injected_change_with_its_chart() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = common::spawn_app().await;
    let password = app.create_user(
        "Riverside Clinic",
        "analyst@riverside.test",
        Role::Analyst,
        false,
    );
    with_drifted_claims(&app, "riverside-clinic").await;

    let browser = driver.session().await;
    sign_in(
        &browser,
        &app.url("/login"),
        "analyst@riverside.test",
        &password,
    )
    .await;
    browser.wait_for_text("Your account").await;

    browser.goto(&app.url("/portal/drift")).await;
    browser.wait_for_text("Cigna</a> × IMAGING").await;
    assert!(browser.source().await.contains("<svg class=\"chart\""));
    browser.screenshot("10-drift-feed").await;

    browser.goto(&app.url("/portal/delays")).await;
    browser.wait_for_text("Humana").await;
    browser.screenshot("11-delays").await;

    browser.goto(&app.url("/portal/denials")).await;
    browser.wait_for_text("UnitedHealthcare").await;
    browser.screenshot("12-denials").await;
    browser.quit().await;
}

async fn slow_page() -> actix_web::HttpResponse {
    tokio::time::sleep(Duration::from_millis(2100)).await;
    actix_web::HttpResponse::Ok().body("slow")
}

async fn failing_page() -> actix_web::HttpResponse {
    actix_web::HttpResponse::InternalServerError().body("boom")
}

#[actix_web::test]
async fn staff_dashboard_and_audit_trail_render() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = spawn_app_with(SpawnOptions {
        extra_routes: common::extra_routes(|cfg| {
            cfg.route("/test/slow", actix_web::web::get().to(slow_page))
                .route("/test/fail/{id}", actix_web::web::get().to(failing_page));
        }),
        ..SpawnOptions::default()
    })
    .await;
    let password = app.create_user("PayerWatch Ops", "ops@payerwatch.test", Role::Owner, true);
    let owner_password = app.create_user(
        "PayerWatch Ops",
        "owner@payerwatch.test",
        Role::Owner,
        false,
    );
    for i in 0..25 {
        app.get(if i % 5 == 0 { "/readyz" } else { "/healthz" })
            .await;
    }
    app.get("/no/such/page").await;
    app.get("/test/fail/12").await;
    app.get("/test/slow").await;
    let customer_id = {
        let mut conn = app.db.get().expect("conn");
        payerwatch::db::repo::customers::find_by_slug(&mut conn, "payerwatch-ops")
            .expect("customer")
            .id
    };
    let now = payerwatch::db::repo::now();
    for (minutes, action, target, fields) in [
        (
            90,
            "mapping.changed",
            ("payer_alias", "17"),
            Some("alias,canonical"),
        ),
        (
            60,
            "rule.changed",
            ("alert_rule", "3"),
            Some("min_severity,enabled"),
        ),
        (30, "upload.created", ("upload", "42"), None),
        (10, "user.role_changed", ("user", "5"), Some("role")),
    ] {
        let event = payerwatch::db::repo::audit::NewAuditEvent {
            occurred_at: now - chrono::Duration::minutes(minutes),
            customer_id: Some(customer_id),
            actor_user_id: None,
            action: action.to_string(),
            target_type: Some(target.0.to_string()),
            target_id: Some(target.1.to_string()),
            changed_fields: fields.map(str::to_string),
            client_addr: Some("198.51.0.0".to_string()),
            request_id: Some(uuid::Uuid::new_v4().to_string()),
        };
        app.db
            .write_blocking(move |conn| payerwatch::db::repo::audit::insert(conn, &event))
            .expect("audit event");
    }

    let browser = driver.session().await;
    sign_in(
        &browser,
        &app.url("/login"),
        "ops@payerwatch.test",
        &password,
    )
    .await;
    // Staff land on the dashboard: they see no tenant pages (SPEC §1).
    browser.wait_for_text("Figures are per instance").await;

    browser.resize(1280, 2600).await;
    browser.goto(&app.url("/portal/admin/metrics")).await;
    browser.wait_for_text("Figures are per instance").await;
    let source = browser.source().await;
    assert!(source.contains("<svg class=\"sparkline\""));
    assert!(source.contains("data-autorefresh=\"30\""));
    browser.screenshot("20-metrics").await;

    browser
        .goto(&app.url("/portal/admin/metrics?sort=p95"))
        .await;
    browser.wait_for_text("Slowest requests").await;
    browser.screenshot("21-metrics-by-p95").await;

    // The audit trail is a tenant page: the customer's own owner reads it.
    browser.click("form[action='/logout'] button").await;
    browser.wait_for_text("You have been signed out").await;
    browser.fill("#email", "owner@payerwatch.test").await;
    browser.fill("#password", &owner_password).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("Your account").await;
    browser.resize(1280, 900).await;
    browser.goto(&app.url("/portal/settings/audit")).await;
    browser.wait_for_text("Audit trail").await;
    assert!(browser.source().await.contains("login.success"));
    browser.screenshot("22-audit").await;
    browser.quit().await;
}

#[actix_web::test]
async fn an_analyst_uploads_a_file_in_the_browser_and_reads_its_report() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = common::spawn_app().await;
    let password = app.create_user(
        "Riverside Clinic",
        "analyst@riverside.test",
        Role::Analyst,
        false,
    );
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("october-decisions.csv");
    let options = payerwatch::devtools::generate::GenOptions {
        rows: 2_000,
        bad_rate: 0.05,
        ..Default::default()
    };
    let mut bytes = Vec::new();
    payerwatch::devtools::generate::generate(&options, &mut bytes).expect("generated");
    std::fs::write(&file, bytes).expect("written");

    let browser = driver.session().await;
    sign_in(
        &browser,
        &app.url("/login"),
        "analyst@riverside.test",
        &password,
    )
    .await;
    browser.wait_for_text("Your account").await;

    browser.goto(&app.url("/portal/uploads")).await;
    browser.wait_for_text("Upload a claims file").await;
    browser.screenshot("30-uploads-empty").await;
    browser.fill("#file", &file.display().to_string()).await;
    browser.click("form[enctype] button[type=submit]").await;
    browser
        .wait_for_text("What it changed in the analytics")
        .await;
    browser.wait_for_text("Why rows were rejected").await;
    browser.wait_for_text("new finding").await;
    let page = browser.source().await;
    assert!(
        !page.contains("123-45-6789") && !page.contains("Jennifer"),
        "no PHI on the page"
    );
    assert!(
        !page.contains("phi_suspected"),
        "reasons in words, not codes"
    );
    // Issue 19 item 5: the outcome, then the reasons, with the sample collapsed.
    assert!(page.find("id=\"outcome\"") < page.find("Why rows were rejected"));
    browser.screenshot("31-upload-report").await;
    // At 390 and 1440 px: no sideways scroll (screenshots 60-upload-report-*, 60-column-guide-*).
    let report_url = browser.current_url().await;
    let mut problems = Vec::new();
    check_widths(
        &browser,
        &report_url,
        "upload-report",
        "Why rows were rejected",
        &mut problems,
    )
    .await;
    check_widths(
        &browser,
        &app.url("/portal/uploads/columns"),
        "column-guide",
        "Column guide",
        &mut problems,
    )
    .await;
    assert!(problems.is_empty(), "{problems:#?}");
    browser.quit().await;
}

/// Signs in through the login form at `login_url`.
async fn sign_in(browser: &webdriver::Browser<'_>, login_url: &str, email: &str, password: &str) {
    browser.goto(login_url).await;
    browser.fill("#email", email).await;
    browser.fill("#password", password).await;
    browser.click("button[type=submit]").await;
}

/// Reloads `path` until its source contains `needle` (background work: pipeline,
/// analytics, the delivery worker); returns the page.
async fn reload_until(browser: &webdriver::Browser<'_>, url: &str, needle: &str) -> String {
    for _ in 0..120 {
        browser.goto(url).await;
        let page = browser.source().await;
        if page.contains(needle) {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    browser.screenshot("49-reload-timeout").await;
    panic!("{url} never showed {needle:?}");
}

#[actix_web::test]
async fn upload_drifted_data_then_an_alert_is_judged_and_its_webhook_delivered() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = spawn_app_with(SpawnOptions {
        overrides: vec![
            ("PAYERWATCH_ALLOW_PRIVATE_WEBHOOKS", "1".to_string()),
            ("PAYERWATCH_DELIVERY_POLL_MS", "200".to_string()),
        ],
        ..SpawnOptions::default()
    })
    .await;
    let password = app.create_user(
        "Riverside Clinic",
        "admin@riverside.test",
        Role::Admin,
        false,
    );
    // The payer spellings of generated files, mapped as a customer maps them (through
    // the mappings form).
    app.login("admin@riverside.test", &password).await;
    for (alias, canonical) in payerwatch::devtools::generate::payer_aliases() {
        let res = app
            .post_form(
                "/portal/settings/mappings",
                "/portal/settings/mappings",
                &[
                    ("action", "alias"),
                    ("alias", alias),
                    ("canonical", canonical),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "alias {alias}");
    }
    let receiver = receivers::start_receiver(0);
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("q4-decisions.csv");
    let mut bytes = Vec::new();
    payerwatch::devtools::generate::generate(
        &payerwatch::devtools::generate::GenOptions {
            rows: 40_000,
            ..Default::default()
        },
        &mut bytes,
    )
    .expect("generated");
    std::fs::write(&file, bytes).expect("written");

    let browser = driver.session().await;
    browser.resize(1280, 1600).await;
    sign_in(
        &browser,
        &app.url("/login"),
        "admin@riverside.test",
        &password,
    )
    .await;
    browser.wait_for_text("Your account").await;

    // A signed webhook channel; its secret is shown once.
    browser.goto(&app.url("/portal/settings/channels")).await;
    browser.wait_for_text("Add a channel").await;
    browser.fill("#c-name", "Billing receiver").await;
    browser.fill("#c-url", &receiver.url).await;
    browser
        .click("form input[value=create] ~ button[type=submit]")
        .await;
    browser.wait_for_text("shown only this once").await;
    let secret = browser.text_of("#new-secret").await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    browser.screenshot("40-channel-secret-once").await;

    // Upload drifted claims; the upload's analytics raise the alerts.
    browser.goto(&app.url("/portal/uploads")).await;
    browser.fill("#file", &file.display().to_string()).await;
    browser.click("form[enctype] button[type=submit]").await;
    browser
        .wait_for_text("What it changed in the analytics")
        .await;
    browser.screenshot("44-upload-done").await;
    let alerts_url = app.url("/portal/alerts?product=drift_watch");
    let list = reload_until(&browser, &alerts_url, "Cigna × IMAGING").await;
    browser.screenshot("41-alerts").await;
    // The alert's own link (its title also labels the row's checkbox).
    let at = list.find("\">Cigna × IMAGING").expect("alert row");
    let href_at = list[..at].rfind("/portal/alerts/").expect("link");
    let id: String = list[href_at + "/portal/alerts/".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();

    // Judge it.
    let alert_url = app.url(&format!("/portal/alerts/{id}"));
    browser.goto(&alert_url).await;
    browser.wait_for_text("Your verdict").await;
    browser
        .fill("#note", "Confirmed with the payer rep: new imaging policy")
        .await;
    // No verdict is preset: submitting without a choice saves nothing (the browser asks).
    browser
        .click("form[action$=judgment] button[type=submit]")
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !browser.source().await.contains("Your judgment was saved"),
        "judging requires a choice"
    );
    browser.click("#verdict-real").await;
    browser
        .click("form[action$=judgment] button[type=submit]")
        .await;
    browser.wait_for_text("Your judgment was saved").await;

    // The delivery log on the alert shows the webhook delivered.
    let page = reload_until(&browser, &alert_url, "badge-ok\">delivered").await;
    assert!(page.contains("Billing receiver (Webhook)"));
    assert!(page.contains("real"), "the verdict is listed");
    browser.screenshot("42-alert-judged-delivered").await;
    browser.goto(&app.url("/portal/settings/channels")).await;
    browser.wait_for_text("Recent deliveries").await;
    browser.screenshot("43-channels-delivery-log").await;
    browser.goto(&app.url("/portal")).await;
    browser.wait_for_text("Open alerts").await;
    browser.screenshot("45-overview").await;
    browser.quit().await;

    let requests = receiver.requests();
    let mine: Vec<_> = requests
        .iter()
        .filter(|r| r.body.contains(&format!("\"id\":{id},")))
        .collect();
    assert_eq!(mine.len(), 1, "exactly one delivery of the alert");
    let now = chrono::Utc::now().timestamp();
    payerwatch::domain::webhook::verify(
        secret.as_bytes(),
        mine[0].header("x-payerwatch-signature").expect("signed"),
        mine[0].body.as_bytes(),
        now,
    )
    .expect("signature verifies");
}

/// Issue 19 item 2: from a finding on the drift feed to the Cigna scorecard (a viewer).
#[actix_web::test]
async fn a_viewer_opens_the_cigna_scorecard_from_the_drift_feed() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = common::spawn_app().await;
    let password = app.create_user(
        "Riverside Clinic",
        "viewer@riverside.test",
        Role::Viewer,
        false,
    );
    with_drifted_claims(&app, "riverside-clinic").await;

    let browser = driver.session().await;
    sign_in(
        &browser,
        &app.url("/login"),
        "viewer@riverside.test",
        &password,
    )
    .await;
    browser.wait_for_text("Your account").await;

    browser.goto(&app.url("/portal/drift?payer=Cigna")).await;
    browser.wait_for_text("Cigna</a> × IMAGING").await;
    browser.click("h3 a[href='/portal/payers/Cigna']").await;
    browser.wait_for_text("Payer scorecard").await;
    assert!(
        browser
            .current_url()
            .await
            .ends_with("/portal/payers/Cigna")
    );
    let page = browser.source().await;
    assert!(page.contains("<svg class=\"chart monthly-chart\""));
    assert!(page.contains("CO-197"), "top reasons with their codes");
    assert!(
        page.contains("/claims\">claims</a>"),
        "findings link their claims"
    );
    browser.resize(1440, 2600).await;
    browser.screenshot("50-payer-scorecard").await;
    browser.resize(390, 2600).await;
    browser.screenshot("51-payer-scorecard-narrow").await;
    browser.quit().await;
}

/// The page's width against the viewport's: `(scrollWidth, innerWidth)`, plus the
/// elements that stick out past the right edge (for the failure message).
async fn overflow(browser: &webdriver::Browser<'_>) -> (u64, u64, String) {
    let value = browser
        .execute(
            "var w = window.innerWidth; var out = [];
             function scrolls(el) {
               for (var p = el.parentElement; p; p = p.parentElement) {
                 var o = getComputedStyle(p).overflowX;
                 if (o === 'auto' || o === 'scroll' || o === 'hidden') return true;
               }
               return false;
             }
             document.querySelectorAll('body *').forEach(function (el) {
               var r = el.getBoundingClientRect();
               var p = el.parentElement;
               if (r.right > w + 1 && out.length < 6 && !scrolls(el)
                   && !(p && p.getBoundingClientRect().right > w + 1)) {
                 out.push(el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ').join('.') : '') + ' right=' + Math.round(r.right));
               }
             });
             return [document.documentElement.scrollWidth, w, out.join(', ')];",
        )
        .await;
    (
        value[0].as_u64().unwrap_or(u64::MAX),
        value[1].as_u64().unwrap_or(0),
        value[2].as_str().unwrap_or_default().to_string(),
    )
}

/// Shows `url` at each of `sizes` and records where the document is wider than the
/// viewport (a page a phone has to scroll sideways, "Sign out" cut off); screenshots
/// `target/e2e/<backend>-60-<name>-<width>.png`.
async fn check_widths(
    browser: &webdriver::Browser<'_>,
    url: &str,
    name: &str,
    needle: &str,
    problems: &mut Vec<String>,
) {
    for (width, height) in [(390, 844), (1440, 900)] {
        browser.resize(width, height).await;
        browser.goto(url).await;
        browser.wait_for_text(needle).await;
        let (scroll, inner, culprits) = overflow(browser).await;
        if scroll > inner {
            problems.push(format!(
                "{name} at {width}px: document {scroll}px > viewport {inner}px ({culprits})"
            ));
        }
        // The whole page in the picture (up to a limit), to be looked at.
        let tall = browser
            .execute("return document.documentElement.scrollHeight;")
            .await
            .as_u64()
            .unwrap_or(u64::from(height));
        let tall = u32::try_from(tall).unwrap_or(height).clamp(height, 3200);
        browser.resize(width, tall + 150).await;
        browser.screenshot(&format!("60-{name}-{width}")).await;
    }
}

#[actix_web::test]
async fn every_top_level_page_fits_a_phone_and_a_desktop() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = common::spawn_app().await;
    let password = app.create_user(
        "Riverside Community Clinic",
        "billing.lead@riverside-community.test",
        Role::Owner,
        false,
    );
    let staff_password =
        app.create_user("PayerWatch Ops", "ops@payerwatch.test", Role::Owner, true);
    // Real tables and charts on every page: claims, findings and the alerts they raise.
    with_drifted_claims(&app, "riverside-community-clinic").await;

    let browser = driver.session().await;
    let mut problems = Vec::new();
    check_widths(
        &browser,
        &app.url("/login"),
        "login",
        "Sign in",
        &mut problems,
    )
    .await;
    browser.resize(1440, 900).await;
    browser
        .fill("#email", "billing.lead@riverside-community.test")
        .await;
    browser.fill("#password", &password).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("Your account").await;

    // Every sidebar page an owner has (the NAV table: a new page is checked by adding it).
    let owner_pages = payerwatch::web::view::nav::nav_for(Role::Owner, false, "");
    assert!(owner_pages.len() >= 14, "the owner's sidebar");
    for item in &owner_pages {
        let name = item.href.trim_start_matches("/portal").trim_matches('/');
        let name = if name.is_empty() { "overview" } else { name }.replace('/', "-");
        check_widths(
            &browser,
            &app.url(item.href),
            &name,
            "Sign out",
            &mut problems,
        )
        .await;
    }
    // On a phone the sidebar folds behind "Menu" (no script: a checkbox and its label).
    browser.resize(390, 844).await;
    browser.goto(&app.url("/portal")).await;
    browser.wait_for_text("Sign out").await;
    let shown = "return getComputedStyle(document.querySelector('.sidenav ul')).display;";
    assert_eq!(browser.execute(shown).await, "none", "menu folded");
    browser.click(".nav-toggle-label").await;
    assert_ne!(browser.execute(shown).await, "none", "menu opened");
    browser.screenshot("60-menu-open-390").await;
    browser.click(".sidenav a[href='/portal/alerts']").await;
    browser
        .wait_for_text("Findings that matched your alert rules")
        .await;

    // One alert and the claims behind it: the pages people act on.
    browser.goto(&app.url("/portal/alerts")).await;
    let list = browser.source().await;
    let at = list
        .find("href=\"/portal/alerts/")
        .expect("an alert on the list")
        + "href=\"/portal/alerts/".len();
    let id: String = list[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    check_widths(
        &browser,
        &app.url(&format!("/portal/alerts/{id}")),
        "alert",
        "Sign out",
        &mut problems,
    )
    .await;
    check_widths(
        &browser,
        &app.url(&format!("/portal/alerts/{id}/claims")),
        "alert-claims",
        "Sign out",
        &mut problems,
    )
    .await;

    // A payer's scorecard (linked from every payer name, not in the sidebar).
    check_widths(
        &browser,
        &app.url("/portal/payers/Cigna"),
        "payer-scorecard",
        "Sign out",
        &mut problems,
    )
    .await;

    // Staff: the metrics dashboard.
    browser.click(".topbar-user button[type=submit]").await;
    browser.wait_for_text("You have been signed out").await;
    browser.fill("#email", "ops@payerwatch.test").await;
    browser.fill("#password", &staff_password).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("Figures are per instance").await;
    check_widths(
        &browser,
        &app.url("/portal/admin/metrics"),
        "admin-metrics",
        "Figures are per instance",
        &mut problems,
    )
    .await;
    browser.quit().await;
    assert!(
        problems.is_empty(),
        "pages wider than the screen:\n{}",
        problems.join("\n")
    );
}

/// Issue 19 item 3 in the browser: tick two alerts and resolve them from the list, judge
/// an alert (the form presets no verdict: submitting without one saves nothing), assign it
/// with a due date and comment on it.
#[actix_web::test]
async fn an_analyst_bulk_resolves_judges_assigns_and_comments_alerts() {
    use payerwatch::db::repo::alerts as repo;
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = common::spawn_app().await;
    let password = app.create_user(
        "Riverside Clinic",
        "analyst@riverside.test",
        Role::Analyst,
        false,
    );
    app.create_user(
        "Riverside Clinic",
        "colleague@riverside.test",
        Role::Analyst,
        false,
    );
    let (scope, colleague) = {
        let mut conn = app.db.get().expect("conn");
        let customer = payerwatch::db::repo::customers::find_by_slug(&mut conn, "riverside-clinic")
            .expect("customer");
        let colleague =
            payerwatch::db::repo::users::find_by_email(&mut conn, "colleague@riverside.test")
                .expect("user")
                .id;
        (
            payerwatch::domain::tenant::TenantScope::for_system(
                payerwatch::domain::tenant::CustomerId(customer.id),
            ),
            colleague,
        )
    };
    // Three data-quality alerts (an alert names a finding or an upload; no analytics needed).
    let ids: Vec<i64> = {
        let mut conn = app.db.get().expect("conn");
        let rule_id = repo::ensure_default_rules(&mut conn, &scope).expect("rules")[0].id;
        (0..3)
            .map(|i| {
                let upload_id = payerwatch::db::repo::uploads::insert_processing(
                    &mut conn,
                    &scope,
                    &format!("claims-{i}.csv"),
                    None,
                )
                .expect("upload");
                let alert = repo::NewAlert {
                    customer_id: scope.id(),
                    drift_event_id: None,
                    upload_id: Some(upload_id),
                    rule_id,
                    product: "data_quality".into(),
                    kind: "quality_score".into(),
                    payer: String::new(),
                    cpt_group: String::new(),
                    severity: 1.0,
                    severity_label: "high".into(),
                    title: format!("Upload claims-{i}.csv scored below 90"),
                    payload_json: r#"{"quality_score": 82.5}"#.into(),
                    initial_status: "open".into(),
                    suppression_json: None,
                    created_at: payerwatch::db::repo::now() - chrono::Duration::minutes(10 - i),
                };
                repo::insert_alert(&mut conn, &scope, &alert).expect("alert")
            })
            .collect()
    };
    let status = |id: i64| {
        let mut conn = app.db.get().expect("conn");
        repo::find_alert(&mut conn, &scope, id)
            .expect("alert")
            .status
    };

    let browser = driver.session().await;
    browser.resize(1440, 1400).await;
    sign_in(
        &browser,
        &app.url("/login"),
        "analyst@riverside.test",
        &password,
    )
    .await;
    browser.wait_for_text("Your account").await;

    // Bulk resolve: tick two, choose "Resolve", apply.
    browser.goto(&app.url("/portal/alerts")).await;
    browser.wait_for_text("Apply to ticked alerts").await;
    browser.click(&format!("#tick-{}", ids[0])).await;
    browser.click(&format!("#tick-{}", ids[1])).await;
    browser
        .execute("document.querySelector('#bulk-action').value = 'resolve'; return true;")
        .await;
    browser.click(".bulk-actions button[type=submit]").await;
    browser.wait_for_text("2 alerts resolved.").await;
    browser.screenshot("70-alerts-bulk-resolved").await;
    assert_eq!(
        (status(ids[0]), status(ids[1]), status(ids[2])),
        ("resolved".into(), "resolved".into(), "open".into())
    );

    // Judging requires a choice: the browser refuses the empty form, nothing is saved.
    let path = format!("/portal/alerts/{}", ids[2]);
    browser.goto(&app.url(&path)).await;
    browser.wait_for_text("Save judgment").await;
    browser
        .click("form[action$='/judgment'] button[type=submit]")
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!browser.source().await.contains("Your judgment was saved."));
    browser.click("#verdict-needs_follow_up").await;
    browser
        .click("form[action$='/judgment'] button[type=submit]")
        .await;
    browser.wait_for_text("Your judgment was saved.").await;

    // Assign with a due date, then comment.
    browser
        .execute(&format!(
            "document.querySelector('#assignee').value = '{colleague}'; return true;"
        ))
        .await;
    browser.fill("#due_on", "2026-12-20").await;
    browser.click("#assignment button[type=submit]").await;
    browser.wait_for_text("Assignment saved.").await;
    browser
        .fill(
            "#comment-body",
            "Asked the payer's rep about the file layout.",
        )
        .await;
    browser.click("#comments button[type=submit]").await;
    browser.wait_for_text("Comment added.").await;
    let page = browser.source().await;
    assert!(page.contains("assigned to <strong>colleague@riverside.test</strong>"));
    assert!(page.contains("due 2026-12-20"));
    assert!(page.contains("Asked the payer"));
    assert!(
        page.contains("Needs follow-up") || page.contains("needs follow-up"),
        "the verdict"
    );
    browser.screenshot("71-alert-assigned-commented").await;

    browser
        .goto(&app.url("/portal/alerts?assignee=none&sort=due"))
        .await;
    browser.wait_for_text("Apply to ticked alerts").await;
    browser.resize(390, 1400).await;
    browser.screenshot("72-alerts-narrow").await;
    browser.quit().await;
}

/// The rows of the overview's "Top findings" table as visible text, in page order.
fn top_findings_rows(source: &str) -> Vec<String> {
    let section = source
        .split("<h2>Top findings</h2>")
        .nth(1)
        .and_then(|s| s.split("</section>").next())
        .unwrap_or_default();
    let body = section.split("<tbody>").nth(1).unwrap_or_default();
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            let mut text = String::new();
            let mut in_tag = false;
            for c in row.chars() {
                match c {
                    '<' => {
                        in_tag = true;
                        text.push(' ');
                    }
                    '>' => in_tag = false,
                    _ if !in_tag => text.push(c),
                    _ => {}
                }
            }
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .collect()
}

/// The first dollar figure of a row (`$25,569` → 25569).
fn money_of(row: &str) -> u64 {
    row.split('$')
        .nth(1)
        .map(|s| {
            s.chars()
                .take_while(|c| c.is_ascii_digit() || *c == ',')
                .filter(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
}

fn severity_rank(row: &str) -> usize {
    ["low", "medium", "high", "critical"]
        .iter()
        .rposition(|l| row.split_whitespace().next() == Some(l))
        .unwrap_or(0)
}

/// Issue 17: the demo as a billing lead reads it — one Humana entry listing its CPT groups,
/// Cigna × IMAGING (a busy group's denial rate quadrupling) above reason-share findings,
/// dollars on the overview and the cards, and no `e-` notation on any page.
#[actix_web::test]
async fn the_demo_reads_right_to_a_billing_lead() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = common::spawn_app().await;
    let password = app.create_user("Demo Clinic", "owner@demo.test", Role::Owner, false);
    let scope = app.scope_of("demo-clinic");
    // What `payerwatch demo` loads: the payer spellings mapped, 50,000 generated rows
    // ending today, then every product's run.
    app.db
        .write_blocking(|conn| {
            for (alias, canonical) in payerwatch::devtools::generate::payer_aliases() {
                payerwatch::db::repo::mappings::upsert_payer_alias(conn, &scope, alias, canonical)?;
            }
            Ok::<_, payerwatch::db::DbError>(())
        })
        .expect("aliases");
    let options = payerwatch::devtools::generate::GenOptions {
        rows: 50_000,
        end: chrono::Utc::now().date_naive(),
        ..Default::default()
    };
    app.analysed(scope, &options).await;

    let browser = driver.session().await;
    browser.resize(1280, 2400).await;
    sign_in(&browser, &app.url("/login"), "owner@demo.test", &password).await;
    browser.wait_for_text("Top findings").await;
    browser.screenshot("70-demo-overview").await;

    let rows = top_findings_rows(&browser.source().await);
    assert!(!rows.is_empty(), "no top findings");
    let humana: Vec<&String> = rows.iter().filter(|r| r.contains("Humana")).collect();
    assert_eq!(humana.len(), 1, "one Humana change: {rows:#?}");
    // Its CPT groups are listed with it (the generator slows Humana in every group).
    assert!(
        humana[0].matches(',').count() >= 1,
        "Humana's groups listed: {}",
        humana[0]
    );
    let cigna = rows
        .iter()
        .position(|r| r.contains("Cigna") && r.contains("IMAGING") && r.contains("denial rate"))
        .unwrap_or_else(|| panic!("Cigna × IMAGING among the top findings: {rows:#?}"));
    // Ranked by money: a reason-share finding outranks Cigna × IMAGING only with more
    // dollars at stake (the demo's injected UnitedHealthcare CO-197 surge, a 60-point
    // share rise, does); a few-point share change never does.
    assert!(
        severity_rank(&rows[cigna]) >= 2,
        "Cigna is high or critical: {rows:#?}"
    );
    for (i, row) in rows.iter().enumerate() {
        if row.contains("reason share") || row.contains("new reason") {
            if i < cigna {
                assert!(
                    money_of(row) > money_of(&rows[cigna]),
                    "{row} ranked above Cigna × IMAGING with less money: {rows:#?}"
                );
                assert!(
                    severity_rank(row) >= severity_rank(&rows[cigna]),
                    "{rows:#?}"
                );
            } else {
                assert!(
                    severity_rank(&rows[cigna]) >= severity_rank(row),
                    "{rows:#?}"
                );
            }
        }
    }
    for pair in rows.windows(2) {
        assert!(
            (severity_rank(&pair[0]), money_of(&pair[0]))
                >= (severity_rank(&pair[1]), money_of(&pair[1])),
            "top findings sorted by severity, then money: {rows:#?}"
        );
    }
    assert!(
        rows[cigna].contains('$') && rows[cigna].contains("a month"),
        "money on the overview: {}",
        rows[cigna]
    );

    // Every page a billing lead reads: dollars on the cards, numbers never in `e-`
    // notation (in what the page shows, charts' hover texts included).
    let scientific = |text: &str| {
        let bytes = text.as_bytes();
        (1..bytes.len().saturating_sub(2)).any(|i| {
            bytes[i - 1].is_ascii_digit()
                && (bytes[i] == b'e' || bytes[i] == b'E')
                && bytes[i + 1] == b'-'
                && bytes[i + 2].is_ascii_digit()
        })
    };
    let overview_text = browser.text_of("body").await;
    assert!(!scientific(&overview_text), "e- notation on the overview");
    for (path, needle, shot) in [
        ("/portal/drift", "Cigna</a> × IMAGING", "71-demo-drift"),
        ("/portal/denials", "share of the payer", "72-demo-denials"),
        ("/portal/delays", "Humana", "73-demo-delays"),
        ("/portal/alerts", "Alerts", "74-demo-alerts"),
        ("/portal/help", "false-alarm control", "75-demo-help"),
    ] {
        browser.goto(&app.url(path)).await;
        browser.wait_for_text(needle).await;
        browser.screenshot(shot).await;
        let text = browser.text_of("body").await;
        assert!(!scientific(&text), "e- notation on {path}");
        let source = browser.source().await;
        let titles: String = source
            .split("<title>")
            .skip(1)
            .filter_map(|t| t.split("</title>").next())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(!scientific(&titles), "e- notation in {path}'s chart titles");
        if path != "/portal/help" && path != "/portal/alerts" {
            let money = if path == "/portal/delays" {
                "of payments held up"
            } else {
                "a month more denied"
            };
            assert!(
                text.contains(money) && text.contains('$'),
                "no dollars on {path}"
            );
            // Each chart plots the card's metric, with a value on hover.
            assert!(
                source.contains("<svg class=\"chart\""),
                "no chart on {path}"
            );
            assert!(
                source.contains("<title>Week of "),
                "no hover values on {path}"
            );
        }
    }
    // An alert's page: its finding's card with the money and the chart of its metric.
    browser.goto(&app.url("/portal/alerts")).await;
    browser.click("tbody a[href^='/portal/alerts/']").await;
    browser.wait_for_text("Money at stake").await;
    browser.screenshot("76-demo-alert").await;
    let source = browser.source().await;
    assert!(
        source.contains("<title>Week of "),
        "the alert's chart has hover values"
    );
    assert!(
        !scientific(&browser.text_of("body").await),
        "e- notation on an alert"
    );
    // A reason finding's chart plots the reason's share, not the payer's denial rate.
    browser.goto(&app.url("/portal/denials")).await;
    let source = browser.source().await;
    assert!(
        source.contains("weekly share of the payer&#x27;s denials")
            || source.contains("weekly share of the payer's denials")
    );
    assert!(
        !source.contains("weekly denial rate"),
        "a denials card plots a denial rate"
    );
    browser.goto(&app.url("/portal/delays")).await;
    assert!(
        browser
            .source()
            .await
            .contains("weekly median days to decision")
    );
    browser.quit().await;
}

/// Issue 19 item 8 and the list's "tick all": an admin edits a rule through its form, then
/// ticks every alert with one box and resolves them (both databases; screenshots at 390
/// and 1440 px under target/e2e/).
#[actix_web::test]
async fn an_admin_edits_a_rule_and_resolves_every_alert_with_tick_all() {
    use payerwatch::db::repo::alerts as repo;
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = common::spawn_app().await;
    let password = app.create_user(
        "Riverside Clinic",
        "admin@riverside.test",
        Role::Admin,
        false,
    );
    let scope = {
        let mut conn = app.db.get().expect("conn");
        let customer = payerwatch::db::repo::customers::find_by_slug(&mut conn, "riverside-clinic")
            .expect("customer");
        payerwatch::domain::tenant::TenantScope::for_system(payerwatch::domain::tenant::CustomerId(
            customer.id,
        ))
    };
    let (rule_id, ids): (i64, Vec<i64>) = {
        let mut conn = app.db.get().expect("conn");
        let rule_id = repo::ensure_default_rules(&mut conn, &scope).expect("rules")[0].id;
        let ids = (0..3)
            .map(|i| {
                let upload_id = payerwatch::db::repo::uploads::insert_processing(
                    &mut conn,
                    &scope,
                    &format!("claims-{i}.csv"),
                    None,
                )
                .expect("upload");
                let alert = repo::NewAlert {
                    customer_id: scope.id(),
                    drift_event_id: None,
                    upload_id: Some(upload_id),
                    rule_id,
                    product: "data_quality".into(),
                    kind: "quality_score".into(),
                    payer: String::new(),
                    cpt_group: String::new(),
                    severity: 1.0,
                    severity_label: "high".into(),
                    title: format!("Upload claims-{i}.csv scored below 90"),
                    payload_json: r#"{"quality_score": 82.5}"#.into(),
                    initial_status: "open".into(),
                    suppression_json: None,
                    created_at: payerwatch::db::repo::now() - chrono::Duration::minutes(10 - i),
                };
                repo::insert_alert(&mut conn, &scope, &alert).expect("alert")
            })
            .collect();
        (rule_id, ids)
    };

    let browser = driver.session().await;
    browser.resize(1440, 900).await;
    sign_in(
        &browser,
        &app.url("/login"),
        "admin@riverside.test",
        &password,
    )
    .await;
    browser.wait_for_text("Your account").await;

    // Edit the first rule through its form.
    browser.goto(&app.url("/portal/settings/rules")).await;
    browser.wait_for_text("New rule").await;
    browser
        .click(&format!(
            "a[href='/portal/settings/rules?edit={rule_id}#rule-form']"
        ))
        .await;
    browser.wait_for_text("Edit rule").await;
    browser
        .fill("#r-name", "Denial rate worse, critical only")
        .await;
    browser
        .execute("document.querySelector('#r-min-sev').value = 'critical'; return true;")
        .await;
    browser.screenshot("75-rule-edit-1440").await;
    browser.resize(390, 844).await;
    browser.screenshot("75-rule-edit-390").await;
    browser.resize(1440, 900).await;
    browser.click("#rule-form button[type=submit]").await;
    browser.wait_for_text("The rule was saved").await;
    let page = browser.source().await;
    assert!(page.contains("Denial rate worse, critical only"));
    assert!(page.contains("severity at least critical"));
    let rule = {
        let mut conn = app.db.get().expect("conn");
        repo::find_rule(&mut conn, &scope, rule_id).expect("rule")
    };
    assert_eq!(rule.name, "Denial rate worse, critical only");
    assert_eq!(rule.min_severity.as_deref(), Some("critical"));

    // Tick all: one box ticks every row (the script mirrors it), then resolve.
    browser.goto(&app.url("/portal/alerts")).await;
    browser.wait_for_text("Apply to ticked alerts").await;
    browser.click("#tick-all").await;
    let ticked = browser
        .execute("return Array.from(document.querySelectorAll('input[name=alert_id]')).filter(function (b) { return b.checked; }).length;")
        .await;
    assert_eq!(ticked.as_u64(), Some(3), "every row ticked");
    browser
        .execute("document.querySelector('#bulk-action').value = 'resolve'; return true;")
        .await;
    browser.screenshot("75-alerts-tick-all-1440").await;
    browser.resize(390, 844).await;
    browser.screenshot("75-alerts-tick-all-390").await;
    browser.resize(1440, 900).await;
    browser.click(".bulk-actions button[type=submit]").await;
    browser.wait_for_text("3 alerts resolved.").await;
    for id in ids {
        let mut conn = app.db.get().expect("conn");
        assert_eq!(
            repo::find_alert(&mut conn, &scope, id)
                .expect("alert")
                .status,
            "resolved"
        );
    }
    browser.quit().await;
}

/// Issue 19 item 8, mappings: an analyst edits an alias through its form, then re-maps the
/// stored claims with the page's button (both databases). The page fits a phone and a
/// desktop (screenshots `76-mappings-*` at 390 and 1440 px under target/e2e/).
#[actix_web::test]
async fn an_analyst_edits_an_alias_and_remaps_stored_claims_from_the_page() {
    use payerwatch::db::repo::mappings as repo;
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = common::spawn_app().await;
    let password = app.create_user(
        "Riverside Clinic",
        "analyst@riverside.test",
        Role::Analyst,
        false,
    );
    let scope = app.scope_of("riverside-clinic");
    let mut csv = String::from("payer,cpt,submitted_date,decided_date,outcome\n");
    for (payer, cpt, n) in [
        ("Acme Health Plan", "99213", 30),
        ("Zenith Mutual of the Great Lakes Region", "71045", 12),
        ("Blue Cross Blue Shield of Somewhere Long", "80053", 8),
    ] {
        for _ in 0..n {
            csv.push_str(&format!("{payer},{cpt},2026-11-02,2026-11-10,PAID\n"));
        }
    }
    let request = payerwatch::ingest::UploadRequest {
        scope,
        file_name: "claims.csv".into(),
        uploaded_by: None,
        declared_size: None,
        limits: payerwatch::ingest::Limits::default(),
        today: chrono::NaiveDate::from_ymd_opt(2026, 11, 22).expect("date"),
    };
    payerwatch::ingest::ingest(
        &app.db,
        &request,
        csv.as_bytes(),
        &payerwatch::ingest::IngestOptions::default(),
    )
    .expect("upload");
    let alias_id = app
        .db
        .write_blocking(|conn| {
            repo::upsert_payer_alias(
                conn,
                &scope,
                "Zenith Mutual of the Great Lakes Region",
                "Zenith",
            )?;
            Ok::<_, payerwatch::db::DbError>(repo::list_payer_aliases(conn, &scope)?[0].id)
        })
        .expect("alias");

    let browser = driver.session().await;
    browser.resize(1440, 900).await;
    sign_in(
        &browser,
        &app.url("/login"),
        "analyst@riverside.test",
        &password,
    )
    .await;
    browser.wait_for_text("Your account").await;

    let mut problems = Vec::new();
    check_widths(
        &browser,
        &app.url("/portal/settings/mappings"),
        "76-mappings",
        "Re-map stored claims now",
        &mut problems,
    )
    .await;
    browser.resize(1440, 900).await;
    browser.goto(&app.url("/portal/settings/mappings")).await;
    browser
        .click(&format!(
            "a[href='/portal/settings/mappings?edit_alias={alias_id}#alias-form']"
        ))
        .await;
    browser.wait_for_text("Edit alias").await;
    browser.fill("#m-canonical", "Acme Health Plan").await;
    for (width, height) in [(1440, 900), (390, 844)] {
        browser.resize(width, height).await;
        browser
            .screenshot(&format!("76-mappings-edit-{width}"))
            .await;
    }
    browser.resize(1440, 900).await;
    browser.click("#alias-form button[type=submit]").await;
    browser.wait_for_text("The alias was saved").await;

    // The button asks first (data-confirm); the test answers yes.
    browser
        .execute("window.confirm = function () { return true; }; return true;")
        .await;
    browser.click("#remap button[type=submit]").await;
    // The re-map is a job: the page says it is under way, and shows its result once the
    // app's workers have run it.
    browser
        .wait_for_text("Re-mapping 1 payer spelling in the background")
        .await;
    let mut done = false;
    for _ in 0..100 {
        browser.goto(&app.url("/portal/settings/mappings")).await;
        if browser
            .source()
            .await
            .contains("12 stored claims re-mapped")
        {
            done = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(done, "the re-map job ended and its result is shown");
    for (width, height) in [(1440, 900), (390, 844)] {
        browser.resize(width, height).await;
        let (scroll, inner, culprits) = overflow(&browser).await;
        if scroll > inner {
            problems.push(format!(
                "re-mapped mappings page at {width}px: document {scroll}px > viewport {inner}px ({culprits})"
            ));
        }
        browser
            .screenshot(&format!("76-mappings-remapped-{width}"))
            .await;
    }
    assert!(problems.is_empty(), "{problems:#?}");
    let stored = {
        let mut conn = app.db.get().expect("conn");
        repo::spelling_claim_counts(&mut conn, &scope).expect("claims")
    };
    assert!(
        stored.contains(&(
            "Zenith Mutual of the Great Lakes Region".into(),
            "Acme Health Plan".into(),
            12
        )),
        "{stored:?}"
    );
    browser.quit().await;
}

/// Runs `fetch(url)` in the page (the session's cookies) and returns the response's
/// status, content type, content disposition and body.
async fn fetch_in_page(
    browser: &webdriver::Browser<'_>,
    url: &str,
) -> (u64, String, String, String) {
    let script = format!(
        "return fetch({url:?}).then(function (r) {{ return r.text().then(function (t) {{
           return [r.status, r.headers.get('content-type') || '', r.headers.get('content-disposition') || '', t];
         }}); }});"
    );
    let v = browser.execute(&script).await;
    (
        v[0].as_u64().unwrap_or(0),
        v[1].as_str().unwrap_or_default().to_string(),
        v[2].as_str().unwrap_or_default().to_string(),
        v[3].as_str().unwrap_or_default().to_string(),
    )
}

/// Issue 19 Tests: the drill-down from an alert to its claims and their CSV; a refused
/// filter on the alert list and on the claims re-shows the page with the message beside
/// the field; a signed-in person's 404 and 403 pages keep the portal (sidebar, "Sign
/// out", no "Sign in"); the alerts.csv links use the address the browser came to.
#[actix_web::test]
async fn an_analyst_follows_an_alert_to_its_claims_and_errors_keep_the_portal() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = common::spawn_app().await;
    let password = app.create_user(
        "Riverside Clinic",
        "analyst@riverside.test",
        Role::Analyst,
        false,
    );
    with_drifted_claims(&app, "riverside-clinic").await;

    let browser = driver.session().await;
    browser.resize(1440, 1200).await;
    sign_in(
        &browser,
        &app.url("/login"),
        "analyst@riverside.test",
        &password,
    )
    .await;
    browser.wait_for_text("Your account").await;

    // An alert on a finding, from the list.
    browser
        .goto(&app.url("/portal/alerts?product=drift_watch"))
        .await;
    browser
        .wait_for_text("Findings that matched your alert rules")
        .await;
    let list = browser.source().await;
    let at = list
        .find("href=\"/portal/alerts/")
        .expect("an alert on the list")
        + "href=\"/portal/alerts/".len();
    let id: String = list[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    browser
        .goto(&app.url(&format!("/portal/alerts/{id}")))
        .await;
    browser
        .wait_for_text("See the claims behind this alert")
        .await;
    browser
        .click(&format!("a[href='/portal/alerts/{id}/claims']"))
        .await;
    browser.wait_for_text("Claims behind:").await;
    assert!(
        browser
            .current_url()
            .await
            .ends_with(&format!("/portal/alerts/{id}/claims")),
        "the link leads to the alert's claims"
    );
    let page = browser.source().await;
    let rows = page.matches("<tr><td>").count();
    assert!(rows > 0 && rows <= 50, "a page of claims: {rows}");
    browser.screenshot("70-alert-claims").await;

    // The page's CSV link, fetched as the browser would download it.
    let csv_path = format!("/portal/alerts/{id}/claims.csv");
    let at = page
        .find(&format!("href=\"{csv_path}"))
        .expect("a CSV link")
        + "href=\"".len();
    let href = page[at..][..page[at..].find('"').expect("link end")].replace("&amp;", "&");
    let (status, content_type, disposition, body) = fetch_in_page(&browser, &href).await;
    assert_eq!(status, 200, "{href}");
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    assert!(
        disposition.contains("attachment")
            && disposition.contains(&format!("alert-{id}-claims.csv")),
        "{disposition}"
    );
    let mut lines = body.lines();
    assert!(
        lines
            .next()
            .is_some_and(|h| h.starts_with("claim_id,window,payer,cpt")),
        "the header line"
    );
    assert!(lines.count() >= rows, "every claim of the page in the CSV");

    // A refused order on the claims page: the same page, the message beside the field.
    browser
        .goto(&app.url(&format!("/portal/alerts/{id}/claims?sort=bogus&dir=asc")))
        .await;
    browser.wait_for_text("Fix the order above").await;
    let page = browser.source().await;
    assert!(
        page.contains("id=\"c-sort-error\""),
        "message beside the sort"
    );
    assert!(page.contains("Sign out") && page.contains("class=\"sidenav\""));
    browser.screenshot("71-claims-refused-sort").await;

    // A refused filter on the alert list: the list, the message beside severity, the
    // status kept.
    browser
        .goto(&app.url("/portal/alerts?severity=extreme&status=open"))
        .await;
    browser.wait_for_text("Fix the filter above").await;
    assert_eq!(
        browser
            .execute("return document.querySelector('#a-status').value;")
            .await,
        "open",
        "the status filter kept"
    );
    assert_eq!(
        browser
            .execute("return document.querySelector('#a-sev').getAttribute('aria-describedby');")
            .await,
        "a-sev-error"
    );
    assert!(browser.text_of("#a-sev-error").await.contains("severity"));
    browser.screenshot("72-alerts-refused-filter").await;

    // Error pages keep the portal for a signed-in person: a 404 and a 403 (channels are
    // for admins).
    for (path, name, words) in [
        ("/portal/alerts/999999999", "73-not-found", "Page not found"),
        (
            "/portal/settings/channels",
            "74-forbidden",
            "have access to this",
        ),
    ] {
        browser.goto(&app.url(path)).await;
        browser.wait_for_text("Sign out").await;
        let page = browser.source().await;
        assert!(page.contains("class=\"sidenav\""), "{path}: the sidebar");
        assert!(!page.contains(">Sign in<"), "{path}: no 'Sign in' link");
        assert!(
            page.to_lowercase().contains(&words.to_lowercase()),
            "{path}: the error's heading {words:?}"
        );
        browser.screenshot(name).await;
    }

    // The alerts.csv link answers with links to the address the browser used.
    let (status, _, _, body) = fetch_in_page(&browser, "/portal/alerts.csv").await;
    assert_eq!(status, 200);
    let base = app.url("/portal/alerts/");
    let url_cells = body
        .lines()
        .skip(1)
        .filter(|l| l.contains("/portal/alerts/"));
    let mut n = 0;
    for line in url_cells {
        assert!(line.contains(&base), "links use {base}: {line}");
        n += 1;
    }
    assert!(n > 0, "alerts in the export");
    browser.quit().await;
}
