//! Accounts, sessions and access control through the real pages, on both databases.

use std::time::Duration;

use diesel::prelude::*;
use payerwatch::db::schema::{audit_events, sessions, users};
use payerwatch::domain::roles::Role;

use crate::common::{SpawnOptions, location, new_client, spawn_app, spawn_app_with};

const OWNER: &str = "owner@clinic.test";

type AuditRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn set_cookie_headers(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_string())
        .collect()
}

fn session_cookie(res: &reqwest::Response) -> Option<String> {
    set_cookie_headers(res)
        .into_iter()
        .find(|c| c.starts_with("payerwatch_session="))
}

fn audit_actions(app: &crate::common::TestApp) -> Vec<(String, Option<i64>, Option<String>)> {
    let mut conn = app.db.get().expect("connection");
    audit_events::table
        .order(audit_events::id.asc())
        .select((
            audit_events::action,
            audit_events::actor_user_id,
            audit_events::client_addr,
        ))
        .load(&mut conn)
        .expect("audit rows")
}

#[actix_web::test]
async fn login_page_sets_a_browser_csrf_cookie_with_safe_attributes() {
    let app = spawn_app().await;
    let res = app.get("/login").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        session_cookie(&res),
        None,
        "no session for an anonymous form"
    );
    let cookie = set_cookie_headers(&res)
        .into_iter()
        .find(|c| c.starts_with("payerwatch_login="))
        .expect("nonce cookie for the stateless CSRF token");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(
        !cookie.contains("Max-Age"),
        "ends with the browser: {cookie}"
    );
    assert!(
        !cookie.contains("Expires"),
        "ends with the browser: {cookie}"
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body = res.text().await.expect("body");
    for field in [
        "name=\"email\"",
        "name=\"password\"",
        "name=\"csrf_token\"",
        "name=\"next\"",
    ] {
        assert!(body.contains(field), "{field}");
    }
}

#[actix_web::test]
async fn production_cookies_are_secure_and_host_prefixed() {
    let app = spawn_app_with(SpawnOptions {
        overrides: vec![("PAYERWATCH_SECURE_COOKIES", "true".into())],
        ..SpawnOptions::default()
    })
    .await;
    let res = app.get("/login").await;
    let cookie = set_cookie_headers(&res)
        .into_iter()
        .find(|c| c.starts_with("__Host-payerwatch_login="))
        .expect("__Host- cookie");
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(!cookie.contains("Domain"), "{cookie}");
}

/// Issue 16 row 17: showing the sign-in form stores nothing; the stateless token (HMAC of
/// the nonce cookie) is what a login post must carry.
#[actix_web::test]
async fn cookieless_login_pages_insert_no_session_rows_and_need_the_signed_token() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", OWNER, Role::Owner, false);
    let count = || -> i64 {
        let mut conn = app.db.get().expect("conn");
        sessions::table
            .count()
            .get_result(&mut conn)
            .expect("count")
    };
    let before = count();
    let mut token = String::new();
    for _ in 0..200 {
        // A fresh client each time: no cookie, as a crawler or an attacker would come.
        let page = app.get_with(&new_client(), "/login").await;
        assert_eq!(page.status(), 200);
        token = crate::common::csrf_token(&page.text().await.expect("body")).expect("token");
    }
    assert_eq!(
        count() - before,
        0,
        "200 cookie-less GET /login → 0 new rows"
    );

    // The token without its cookie, or with another visitor's cookie, is refused.
    let fields = [("email", OWNER), ("password", password.as_str())];
    let mut with_token = fields.to_vec();
    with_token.push(("csrf_token", &token));
    let bare = new_client()
        .post(app.url("/login"))
        .form(&with_token)
        .send()
        .await
        .expect("sent");
    assert_eq!(bare.status(), 403, "token without its nonce cookie");
    let other = new_client();
    app.get_with(&other, "/login").await;
    let res = other
        .post(app.url("/login"))
        .form(&with_token)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 403, "token of another visitor's nonce");

    // The real form still signs in, and only then is there a session row.
    let res = app.login(OWNER, &password).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/portal");
    assert_eq!(count() - before, 1);
    assert_eq!(app.get("/portal").await.status(), 200);
}

#[actix_web::test]
async fn signing_in_rotates_the_session_and_shows_the_portal() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", OWNER, Role::Owner, false);
    // The session starts at sign-in (the form before it had none: nothing to fixate).
    let res = app.login(OWNER, &password).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/portal");
    let after = session_cookie(&res).expect("new cookie at login");
    assert!(after.starts_with("payerwatch_session="), "{after}");

    let page = app.get("/portal").await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let body = page.text().await.expect("body");
    assert!(body.contains(OWNER), "signed in as");
    assert!(body.contains("Clinic"), "tenant shown");
    assert!(body.contains("action=\"/logout\""), "logout button");

    let actions = audit_actions(&app);
    let success = actions
        .iter()
        .find(|a| a.0 == "login.success")
        .expect("audited");
    assert_eq!(
        success.2.as_deref(),
        Some("127.0.0.0"),
        "anonymised address"
    );
}

#[actix_web::test]
async fn wrong_password_and_unknown_account_get_the_same_answer() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", OWNER, Role::Owner, false);
    let wrong = app.login(OWNER, "not the password at all").await;
    let unknown = app.login("nobody@clinic.test", &password).await;
    assert_eq!(wrong.status(), 200);
    assert_eq!(unknown.status(), 200);
    let (wrong, unknown) = (
        wrong.text().await.expect("body"),
        unknown.text().await.expect("body"),
    );
    let message = "The e-mail address or password is not correct.";
    assert!(wrong.contains(message) && unknown.contains(message));
    assert!(wrong.contains("value=\"owner@clinic.test\""), "e-mail kept");
    assert!(!wrong.contains("not the password"), "password never echoed");
    assert_eq!(app.get("/portal").await.status(), 303, "still signed out");

    // The failure for an unknown account carries nothing identifying.
    let actions = audit_actions(&app);
    let failures: Vec<_> = actions.iter().filter(|a| a.0 == "login.failure").collect();
    assert_eq!(failures.len(), 2);
    assert!(failures.iter().any(|f| f.1.is_some()) && failures.iter().any(|f| f.1.is_none()));
}

#[actix_web::test]
async fn the_sixth_failure_is_throttled_even_after_a_restart() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", OWNER, Role::Owner, false);
    for attempt in 1..=5 {
        let res = app.login(OWNER, "wrong password here").await;
        assert_eq!(res.status(), 200, "attempt {attempt}");
    }
    let res = app.login(OWNER, &password).await;
    assert_eq!(res.status(), 429, "locked even with the right password");
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=900).contains(&retry), "{retry}");
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("Too many attempts")
    );

    // A second instance (or a restart) on the same database sees the same lock.
    let restarted = spawn_app_with(SpawnOptions {
        shared_database_url: Some(app.database_url.clone()),
        migrate: Some(false),
        ..SpawnOptions::default()
    })
    .await;
    assert_eq!(restarted.login(OWNER, &password).await.status(), 429);
    assert!(audit_actions(&app).iter().any(|a| a.0 == "login.locked"));
}

#[actix_web::test]
async fn logout_ends_the_session_server_side() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", OWNER, Role::Owner, false);
    let login = app.login(OWNER, &password).await;
    let cookie = session_cookie(&login).expect("cookie");
    let cookie_pair = cookie.split(';').next().expect("pair").to_string();

    let res = app.post_form("/portal", "/logout", &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login?signed_out=1");
    assert_eq!(app.get("/portal").await.status(), 303);

    // Replaying the old cookie does not bring the session back.
    let replay = new_client()
        .get(app.url("/portal"))
        .header("cookie", cookie_pair)
        .send()
        .await
        .expect("sent");
    assert_eq!(replay.status(), 303);
    assert!(location(&replay).starts_with("/login"));
    let mut conn = app.db.get().expect("conn");
    let rows: i64 = sessions::table
        .filter(sessions::user_id.is_not_null())
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(rows, 0, "no signed-in session row left");
    assert!(audit_actions(&app).iter().any(|a| a.0 == "logout"));
}

#[actix_web::test]
async fn an_idle_session_expires_and_says_so() {
    let app = spawn_app_with(SpawnOptions {
        overrides: vec![("PAYERWATCH_SESSION_IDLE_SECONDS", "2".into())],
        ..SpawnOptions::default()
    })
    .await;
    let password = app.create_user("Clinic", OWNER, Role::Owner, false);
    app.login(OWNER, &password).await;
    // Activity keeps it alive past the idle time…
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert_eq!(app.get("/portal/settings/users").await.status(), 200);
    }
    // …and idleness ends it.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let res = app.get("/portal/settings/users").await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        location(&res),
        "/login?next=/portal/settings/users&expired=1"
    );
    let page = app.get(&location(&res)).await.text().await.expect("page");
    assert!(page.contains("Your session expired"));
    assert!(audit_actions(&app).iter().any(|a| a.0 == "session.expired"));
}

#[actix_web::test]
async fn a_session_ends_at_the_absolute_limit_despite_activity() {
    let app = spawn_app_with(SpawnOptions {
        overrides: vec![("PAYERWATCH_SESSION_ABSOLUTE_SECONDS", "2".into())],
        ..SpawnOptions::default()
    })
    .await;
    let password = app.create_user("Clinic", OWNER, Role::Owner, false);
    app.login(OWNER, &password).await;
    assert_eq!(app.get("/portal").await.status(), 200);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(app.get("/portal").await.status(), 200);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let res = app.get("/portal").await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).ends_with("expired=1"), "{}", location(&res));
    assert_eq!(app.get("/portal").await.status(), 303, "stays signed out");
}

#[actix_web::test]
async fn state_changes_need_a_valid_csrf_token_and_same_origin() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", OWNER, Role::Owner, false);
    app.login(OWNER, &password).await;
    let fields = [
        ("action", "create"),
        ("email", "new@clinic.test"),
        ("role", "viewer"),
    ];

    let missing = app
        .client
        .post(app.url("/portal/settings/users"))
        .form(&fields)
        .send()
        .await
        .expect("sent");
    assert_eq!(missing.status(), 403);
    assert!(
        missing
            .text()
            .await
            .expect("body")
            .contains("security token")
    );

    let mut wrong = fields.to_vec();
    wrong.push(("csrf_token", "forged"));
    let res = app
        .client
        .post(app.url("/portal/settings/users"))
        .form(&wrong)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 403);

    let page = app
        .get("/portal/settings/users")
        .await
        .text()
        .await
        .expect("page");
    let token = crate::common::csrf_token(&page).expect("token");
    let mut good = fields.to_vec();
    good.push(("csrf_token", &token));
    let cross = app
        .client
        .post(app.url("/portal/settings/users"))
        .header("origin", "https://evil.example")
        .form(&good)
        .send()
        .await
        .expect("sent");
    assert_eq!(cross.status(), 403, "cross-origin post refused");

    let multipart = app
        .client
        .post(app.url("/portal/settings/users"))
        .multipart(reqwest::multipart::Form::new().text("csrf_token", token.clone()))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        multipart.status(),
        403,
        "multipart only where the handler checks it"
    );

    let ok = app
        .client
        .post(app.url("/portal/settings/users"))
        .header("origin", app.address.clone())
        .form(&good)
        .send()
        .await
        .expect("sent");
    assert_eq!(ok.status(), 303);
    let mut conn = app.db.get().expect("conn");
    // An invitation (the account follows when its link is used, issue 16 row 11).
    let created: i64 = payerwatch::db::schema::invitations::table
        .filter(payerwatch::db::schema::invitations::email.eq("new@clinic.test"))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(created, 1, "only the valid request changed anything");

    // Logout needs the token too.
    let res = app
        .client
        .post(app.url("/logout"))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 403);
    // Login itself needs a session token: a bare POST is refused.
    let bare = new_client()
        .post(app.url("/login"))
        .form(&[("email", OWNER), ("password", password.as_str())])
        .send()
        .await
        .expect("sent");
    assert_eq!(bare.status(), 403);
}

#[actix_web::test]
async fn next_only_leads_back_into_the_portal() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", OWNER, Role::Owner, false);
    let res = app.get("/portal/settings/users").await;
    assert_eq!(location(&res), "/login?next=/portal/settings/users");
    for (next, expected) in [
        ("/portal/settings/users", "/portal/settings/users"),
        ("//evil.example/x", "/portal"),
        ("https://evil.example", "/portal"),
        ("/\\evil.example", "/portal"),
    ] {
        let client = new_client();
        let res = app
            .post_form_with(
                &client,
                "/login",
                "/login",
                &[("email", OWNER), ("password", &password), ("next", next)],
            )
            .await;
        assert_eq!(res.status(), 303, "{next}");
        assert_eq!(location(&res), expected, "{next}");
    }
}

#[actix_web::test]
async fn each_role_against_each_settings_route() {
    let app = spawn_app().await;
    let routes = ["/portal/settings/users"];
    for (role, allowed) in [
        (Role::Viewer, false),
        (Role::Analyst, false),
        (Role::Admin, true),
        (Role::Owner, true),
    ] {
        let email = format!("{role}@clinic.test");
        let password = app.create_user("Clinic", &email, role, false);
        let client = new_client();
        app.login_with(&client, &email, &password).await;
        for route in routes {
            let get = app.get_with(&client, route).await;
            let expected = if allowed { 200 } else { 403 };
            assert_eq!(get.status(), expected, "{role} GET {route}");
            let post = app
                .post_form_with(
                    &client,
                    "/portal",
                    route,
                    &[
                        ("action", "create"),
                        ("email", "x@clinic.test"),
                        ("role", "viewer"),
                    ],
                )
                .await;
            if allowed {
                assert_eq!(post.status(), 303, "{role} POST {route}");
            } else {
                assert_eq!(post.status(), 403, "{role} POST {route}");
                assert!(
                    post.text()
                        .await
                        .expect("body")
                        .contains("have access to this")
                );
            }
        }
        // Everyone may see the overview and their own password page.
        assert_eq!(app.get_with(&client, "/portal").await.status(), 200);
        assert_eq!(
            app.get_with(&client, "/portal/account/password")
                .await
                .status(),
            200
        );
    }
    for route in routes {
        assert_eq!(
            new_client()
                .get(app.url(route))
                .send()
                .await
                .expect("sent")
                .status(),
            303,
            "anonymous {route}"
        );
    }
}

#[actix_web::test]
async fn the_last_owner_cannot_be_demoted_or_deactivated_and_admins_cannot_touch_owners() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", OWNER, Role::Owner, false);
    let admin_pw = app.create_user("Clinic", "admin@clinic.test", Role::Admin, false);
    let owner_id = {
        let mut conn = app.db.get().expect("conn");
        users::table
            .filter(users::email.eq(OWNER))
            .select(users::id)
            .first::<i64>(&mut conn)
            .expect("id")
    };
    // An admin may not change an owner.
    let admin = new_client();
    app.login_with(&admin, "admin@clinic.test", &admin_pw).await;
    let owner_id_s = owner_id.to_string();
    let res = app
        .post_form_with(
            &admin,
            "/portal/settings/users",
            "/portal/settings/users",
            &[
                ("action", "role"),
                ("user_id", &owner_id_s),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = app
        .post_form_with(
            &admin,
            "/portal/settings/users",
            "/portal/settings/users",
            &[
                ("action", "create"),
                ("email", "boss@clinic.test"),
                ("role", "owner"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403, "admins cannot create owners");

    // The only owner cannot demote themself.
    app.login(OWNER, &password).await;
    let res = app
        .post_form(
            "/portal/settings/users",
            "/portal/settings/users",
            &[
                ("action", "role"),
                ("user_id", &owner_id_s),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = app
        .get("/portal/settings/users")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("last owner"), "the rule is explained");
    let mut conn = app.db.get().expect("conn");
    let role: String = users::table
        .find(owner_id)
        .select(users::role)
        .first(&mut conn)
        .expect("role");
    assert_eq!(role, "owner");
}

#[actix_web::test]
async fn last_owner_rule_holds_between_owners() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", OWNER, Role::Owner, false);
    app.create_user("Clinic", "second@clinic.test", Role::Owner, false);
    app.login(OWNER, &password).await;
    let second_id = {
        let mut conn = app.db.get().expect("conn");
        users::table
            .filter(users::email.eq("second@clinic.test"))
            .select(users::id)
            .first::<i64>(&mut conn)
            .expect("id")
    };
    let id = second_id.to_string();
    // Two owners: demoting the second is fine.
    let res = app
        .post_form(
            "/portal/settings/users",
            "/portal/settings/users",
            &[("action", "role"), ("user_id", &id), ("role", "admin")],
        )
        .await;
    assert_eq!(res.status(), 303);
    // Promote back, then deactivate the second: still one active owner left, allowed.
    app.post_form(
        "/portal/settings/users",
        "/portal/settings/users",
        &[("action", "role"), ("user_id", &id), ("role", "owner")],
    )
    .await;
    let res = app
        .post_form(
            "/portal/settings/users",
            "/portal/settings/users",
            &[("action", "deactivate"), ("user_id", &id)],
        )
        .await;
    assert_eq!(res.status(), 303);
    // Now the signed-in owner is the last active one: deactivating self is refused.
    let my_id = {
        let mut conn = app.db.get().expect("conn");
        users::table
            .filter(users::email.eq(OWNER))
            .select(users::id)
            .first::<i64>(&mut conn)
            .expect("id")
    };
    let res = app
        .post_form(
            "/portal/settings/users",
            "/portal/settings/users",
            &[("action", "deactivate"), ("user_id", &my_id.to_string())],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = app
        .get("/portal/settings/users")
        .await
        .text()
        .await
        .expect("page");
    assert!(
        page.contains("cannot deactivate your own account"),
        "{page}"
    );
    let mut conn = app.db.get().expect("conn");
    assert!(
        users::table
            .find(my_id)
            .select(users::is_active)
            .first::<bool>(&mut conn)
            .expect("active")
    );
}

#[actix_web::test]
async fn another_tenants_user_ids_are_not_found() {
    let app = spawn_app().await;
    app.create_user("Clinic A", "a-owner@a.test", Role::Owner, false);
    let b_pw = app.create_user("Clinic B", "b-owner@b.test", Role::Owner, false);
    let a_id = {
        let mut conn = app.db.get().expect("conn");
        users::table
            .filter(users::email.eq("a-owner@a.test"))
            .select(users::id)
            .first::<i64>(&mut conn)
            .expect("id")
    };
    app.login("b-owner@b.test", &b_pw).await;
    let page = app
        .get("/portal/settings/users")
        .await
        .text()
        .await
        .expect("page");
    assert!(
        !page.contains("a-owner@a.test"),
        "other tenant's members are invisible"
    );
    for action in ["role", "deactivate", "reset"] {
        let res = app
            .post_form(
                "/portal/settings/users",
                "/portal/settings/users",
                &[
                    ("action", action),
                    ("user_id", &a_id.to_string()),
                    ("role", "viewer"),
                ],
            )
            .await;
        assert_eq!(res.status(), 404, "{action}");
    }
    let mut conn = app.db.get().expect("conn");
    let (role, active): (String, bool) = users::table
        .find(a_id)
        .select((users::role, users::is_active))
        .first(&mut conn)
        .expect("row");
    assert_eq!((role.as_str(), active), ("owner", true), "untouched");
}

#[actix_web::test]
async fn invitations_set_a_password_once_and_deactivation_signs_out() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", OWNER, Role::Owner, false);
    app.login(OWNER, &password).await;
    let res = app
        .post_form(
            "/portal/settings/users",
            "/portal/settings/users",
            &[
                ("action", "create"),
                ("email", "New.Analyst@Clinic.test"),
                ("role", "analyst"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = app
        .get("/portal/settings/users")
        .await
        .text()
        .await
        .expect("page");
    let start = page.find("/set-password/").expect("link shown");
    let link: String = page[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '/' || *c == '-')
        .collect();
    assert!(page.contains("new.analyst@clinic.test"));

    let invitee = new_client();
    assert_eq!(app.get_with(&invitee, &link).await.status(), 200);
    let weak = app
        .post_form_with(
            &invitee,
            &link,
            &link,
            &[("password", "short"), ("password_confirm", "short")],
        )
        .await;
    assert_eq!(weak.status(), 200);
    assert!(weak.text().await.expect("body").contains("at least 12"));
    let chosen = "a sentence that is long enough";
    let res = app
        .post_form_with(
            &invitee,
            &link,
            &link,
            &[("password", chosen), ("password_confirm", chosen)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.get_with(&invitee, &link).await.status(),
        410,
        "single use"
    );
    let res = app
        .login_with(&invitee, "new.analyst@clinic.test", chosen)
        .await;
    assert_eq!(location(&res), "/portal");
    assert_eq!(app.get_with(&invitee, "/portal").await.status(), 200);

    // Deactivation ends the invitee's session at once.
    let id = {
        let mut conn = app.db.get().expect("conn");
        users::table
            .filter(users::email.eq("new.analyst@clinic.test"))
            .select(users::id)
            .first::<i64>(&mut conn)
            .expect("id")
    };
    let res = app
        .post_form(
            "/portal/settings/users",
            "/portal/settings/users",
            &[("action", "deactivate"), ("user_id", &id.to_string())],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.get_with(&invitee, "/portal").await.status(), 303);
    assert_eq!(
        app.login_with(&new_client(), "new.analyst@clinic.test", chosen)
            .await
            .status(),
        200,
        "cannot sign in"
    );

    let actions: Vec<String> = audit_actions(&app).into_iter().map(|a| a.0).collect();
    for expected in [
        "invitation.created",
        "user.created",
        "invitation.accepted",
        "user.deactivated",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
}

#[actix_web::test]
async fn changing_the_password_ends_the_other_sessions() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", OWNER, Role::Owner, false);
    let other = new_client();
    app.login_with(&other, OWNER, &password).await;
    app.login(OWNER, &password).await;
    let new_password = "another long passphrase";
    let res = app
        .post_form(
            "/portal/account/password",
            "/portal/account/password",
            &[
                ("current_password", &password),
                ("new_password", new_password),
                ("new_password_confirm", new_password),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.get("/portal").await.status(),
        200,
        "this session continues"
    );
    assert_eq!(
        app.get_with(&other, "/portal").await.status(),
        303,
        "the other one ended"
    );
    assert_eq!(
        location(&app.login_with(&new_client(), OWNER, new_password).await),
        "/portal"
    );

    let wrong = app
        .post_form(
            "/portal/account/password",
            "/portal/account/password",
            &[
                ("current_password", "wrong wrong wrong"),
                ("new_password", "yet another passphrase"),
                ("new_password_confirm", "yet another passphrase"),
            ],
        )
        .await;
    assert!(
        wrong
            .text()
            .await
            .expect("body")
            .contains("current password is not correct")
    );
}

/// The service alone, without the page: a wrong current password or a refused new one
/// changes nothing; the right one stores the new hash, ends every session of the user and
/// writes its audit row, in one transaction.
#[actix_web::test]
async fn the_password_change_service_checks_first_then_changes_with_its_audit_row() {
    use payerwatch::db::{AuditContext, AuditEntry};
    use payerwatch::domain::tenant::{CustomerId, TenantScope};
    use payerwatch::services::auth::{ChangeError, PasswordChange, change_password};

    let app = spawn_app().await;
    let password = app.create_user("Clinic", OWNER, Role::Owner, false);
    app.login(OWNER, &password).await;
    let mut conn = app.db.get().expect("conn");
    let (user_id, customer_id): (i64, i64) = users::table
        .filter(users::email.eq(OWNER))
        .select((users::id, users::customer_id))
        .first(&mut conn)
        .expect("user");
    let scope = TenantScope::for_system(CustomerId(customer_id));
    let ip = std::net::IpAddr::from([192, 0, 2, 1]);
    let entry = || AuditEntry {
        customer_id: Some(customer_id),
        actor_user_id: Some(user_id),
        action: "password.changed",
        changed_fields: &["password"],
        ..AuditEntry::default()
    };
    let change = |current: &str, new: &str, confirm: &str| PasswordChange {
        current: current.to_string(),
        new: new.to_string(),
        confirm: confirm.to_string(),
    };
    let new_password = "a new long passphrase";
    let ctx = AuditContext::default;

    let wrong = change_password(
        &app.db,
        scope,
        user_id,
        ip,
        change("not the password at all", new_password, new_password),
        ctx(),
        entry(),
    )
    .await;
    assert!(
        matches!(wrong, Err(ChangeError::WrongPassword)),
        "{wrong:?}"
    );
    for (new, confirm) in [
        (new_password, "another long passphrase"),
        (password.as_str(), password.as_str()),
        ("short", "short"),
    ] {
        let refused = change_password(
            &app.db,
            scope,
            user_id,
            ip,
            change(&password, new, confirm),
            ctx(),
            entry(),
        )
        .await;
        assert!(
            matches!(refused, Err(ChangeError::Refused(_))),
            "{refused:?}"
        );
    }
    let user_sessions = |conn: &mut payerwatch::db::PooledDb| -> i64 {
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .count()
            .get_result(conn)
            .expect("sessions")
    };
    assert!(user_sessions(&mut conn) > 0, "signed in");

    change_password(
        &app.db,
        scope,
        user_id,
        ip,
        change(&password, new_password, new_password),
        ctx(),
        entry(),
    )
    .await
    .expect("changed");
    assert_eq!(user_sessions(&mut conn), 0, "every session ended");
    let audited: Vec<Option<String>> = audit_events::table
        .filter(audit_events::action.eq("password.changed"))
        .select(audit_events::target_id)
        .load(&mut conn)
        .expect("audit");
    assert_eq!(audited, vec![Some(user_id.to_string())]);
    assert_eq!(
        location(&app.login_with(&new_client(), OWNER, new_password).await),
        "/portal"
    );
}

#[actix_web::test]
async fn audit_rows_hold_no_secrets() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", OWNER, Role::Owner, false);
    app.login(OWNER, "wrong password value").await;
    app.login(OWNER, &password).await;
    let mut conn = app.db.get().expect("conn");
    let rows: Vec<AuditRow> = audit_events::table
        .select((
            audit_events::action,
            audit_events::target_type,
            audit_events::target_id,
            audit_events::changed_fields,
            audit_events::client_addr,
        ))
        .load(&mut conn)
        .expect("rows");
    let dump = format!("{rows:?}");
    assert!(!dump.contains(&password));
    assert!(!dump.contains("wrong password value"));
    assert!(!dump.contains("127.0.0.1"), "addresses are anonymised");
}

#[actix_web::test]
async fn a_role_change_applies_to_the_members_next_request_despite_the_session_cache() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", OWNER, Role::Owner, false);
    let admin_pw = app.create_user("Clinic", "admin@clinic.test", Role::Admin, false);
    let admin = new_client();
    app.login_with(&admin, "admin@clinic.test", &admin_pw).await;
    // Twice, so the admin's session and user are served from the in-process cache.
    for _ in 0..2 {
        let res = app.get_with(&admin, "/portal/settings/users").await;
        assert_eq!(res.status(), 200);
    }
    let admin_id = {
        let mut conn = app.db.get().expect("conn");
        users::table
            .filter(users::email.eq("admin@clinic.test"))
            .select(users::id)
            .first::<i64>(&mut conn)
            .expect("id")
    };
    app.login(OWNER, &password).await;
    let id = admin_id.to_string();
    let res = app
        .post_form(
            "/portal/settings/users",
            "/portal/settings/users",
            &[("action", "role"), ("user_id", &id), ("role", "viewer")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = app.get_with(&admin, "/portal/settings/users").await;
    assert_eq!(res.status(), 403, "a viewer now, at once");

    // Deactivation ends the cached session at once too.
    let res = app
        .post_form(
            "/portal/settings/users",
            "/portal/settings/users",
            &[("action", "deactivate"), ("user_id", &id)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = app.get_with(&admin, "/portal").await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/login"));
}
