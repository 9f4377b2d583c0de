//! Login throttling as a soft lockout (SPEC §6; review 2026-12 rows 4, 5, 6, 15): attempts
//! are reserved atomically before verifying, keyed per account + client network, per
//! network and per account; the password page's re-authentication counts too.

use diesel::prelude::*;
use payerwatch::db::schema::audit_events;
use payerwatch::domain::roles::Role;

use crate::common::{SpawnOptions, TestApp, spawn_app, spawn_app_with};

const OWNER: &str = "owner@clinic.test";

fn count_actions(app: &TestApp, action: &str) -> i64 {
    let mut conn = app.db.get().expect("connection");
    audit_events::table
        .filter(audit_events::action.eq(action))
        .count()
        .get_result(&mut conn)
        .expect("count")
}

/// A browser behind the trusted proxy (127.0.0.1), claiming `addr` as its address.
fn client_from(addr: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", addr.parse().expect("header"));
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .default_headers(headers)
        .build()
        .expect("client")
}

async fn behind_proxy() -> TestApp {
    spawn_app_with(SpawnOptions {
        overrides: vec![("PAYERWATCH_TRUSTED_PROXIES", "127.0.0.1".into())],
        ..SpawnOptions::default()
    })
    .await
}

#[actix_web::test]
async fn parallel_guesses_cannot_exceed_the_limit() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", OWNER, Role::Owner, false);
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let client = crate::common::new_client();
        // Each guess from its own browser, all from one address.
        let page = app
            .get_with(&client, "/login")
            .await
            .text()
            .await
            .expect("page");
        let token = crate::common::csrf_token(&page).expect("token");
        let url = app.url("/login");
        tasks.push(actix_web::rt::spawn(async move {
            client
                .post(url)
                .form(&[
                    ("email", OWNER),
                    ("password", "wrong password guess"),
                    ("csrf_token", token.as_str()),
                ])
                .send()
                .await
                .expect("sent")
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("join"));
    }
    let verified = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(verified, 5, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429 || *s == 503),
        "{statuses:?}"
    );
    assert_eq!(count_actions(&app, "login.failure"), 5);
    assert_eq!(app.login(OWNER, &password).await.status(), 429);
}

#[actix_web::test]
async fn a_stranger_cannot_lock_the_owner_out_from_elsewhere() {
    let app = behind_proxy().await;
    let password = app.create_user("Clinic", OWNER, Role::Owner, false);
    let stranger = client_from("203.0.113.66");
    for _ in 0..6 {
        app.login_with(&stranger, OWNER, "guessing guessing").await;
    }
    assert_eq!(
        app.login_with(&stranger, OWNER, &password).await.status(),
        429,
        "the stranger's own address is locked for this account"
    );
    let owner = client_from("198.51.100.7");
    assert_eq!(app.login_with(&owner, OWNER, &password).await.status(), 303);

    // IPv6: the whole /64 is one client; the header's first line cannot pick another.
    let v6 = client_from("2001:db8:1:2::1");
    for _ in 0..5 {
        app.login_with(&v6, OWNER, "guessing guessing").await;
    }
    let same_64 = client_from("2001:db8:1:2::ffff");
    assert_eq!(
        app.login_with(&same_64, OWNER, &password).await.status(),
        429
    );
}

#[actix_web::test]
async fn one_address_is_limited_across_accounts_and_an_account_across_addresses() {
    let app = behind_proxy().await;
    for i in 0..20 {
        let client = client_from("203.0.113.9");
        app.login_with(
            &client,
            &format!("nobody{i}@clinic.test"),
            "guessing guessing",
        )
        .await;
    }
    let password = app.create_user("Clinic", OWNER, Role::Owner, false);
    let client = client_from("203.0.113.9");
    assert_eq!(
        app.login_with(&client, OWNER, &password).await.status(),
        429
    );

    for i in 0..50 {
        let client = client_from(&format!("192.0.2.{}", i + 1));
        app.login_with(&client, OWNER, "guessing guessing").await;
    }
    let fresh = client_from("198.51.100.200");
    assert_eq!(
        app.login_with(&fresh, OWNER, &password).await.status(),
        429,
        "50 failures across addresses lock the account everywhere"
    );
}

#[actix_web::test]
async fn the_password_page_counts_wrong_current_passwords() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", OWNER, Role::Owner, false);
    assert_eq!(app.login(OWNER, &password).await.status(), 303);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let res = app
            .post_form(
                "/portal/account/password",
                "/portal/account/password",
                &[
                    ("current_password", "not my password"),
                    ("new_password", "a brand new passphrase 42"),
                    ("new_password_confirm", "a brand new passphrase 42"),
                ],
            )
            .await;
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
}
