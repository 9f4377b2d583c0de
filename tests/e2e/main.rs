//! End-to-end tests in headless Chromium through the real pages. Screenshots land in
//! `target/e2e/`. Required in CI (`CI=true`) or with `PAYERWATCH_BROWSER_TESTS=1`;
//! otherwise skipped when chromedriver is not installed.

#[path = "../integration/common.rs"]
#[allow(dead_code)]
mod common;
mod webdriver;

use std::time::Duration;

use payerwatch::domain::roles::Role;

use common::{SpawnOptions, spawn_app_with};
use webdriver::Driver;

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
    let scope = {
        let mut conn = app.db.get().expect("conn");
        let customer = payerwatch::db::repo::customers::find_by_slug(&mut conn, "riverside-clinic")
            .expect("customer");
        payerwatch::domain::tenant::TenantScope::for_system(payerwatch::domain::tenant::CustomerId(
            customer.id,
        ))
    };
    let options = payerwatch::generate::GenOptions {
        rows: 40_000,
        ..Default::default()
    };
    common::load_generated_claims(&app.db, &scope, &options);
    let db = app.db.clone();
    actix_web::rt::task::spawn_blocking(move || {
        payerwatch::reports::run_all(&db, &scope, None, "test")
    })
    .await
    .expect("runs");

    let browser = driver.session().await;
    browser.goto(&app.url("/login")).await;
    browser.fill("#email", "analyst@riverside.test").await;
    browser.fill("#password", &password).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("Your account").await;

    browser.goto(&app.url("/portal/drift")).await;
    browser.wait_for_text("Cigna × IMAGING").await;
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
