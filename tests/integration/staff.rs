//! Staff accounts are managed only from the CLI (SPEC §1; review 2026-12 row 12): a tenant
//! owner cannot reset, re-role or deactivate one, even when it sits in the owner's customer.

use diesel::prelude::*;
use payerwatch::db::schema::{password_tokens, users};
use payerwatch::domain::roles::Role;

use crate::common::spawn_app;

#[actix_web::test]
async fn a_tenant_owner_cannot_manage_a_staff_account() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", "owner@clinic.test", Role::Owner, false);
    app.create_user("Clinic", "ops@platform.test", Role::Viewer, true);
    app.login("owner@clinic.test", &password).await;
    let staff_id: i64 = {
        let mut conn = app.db.get().expect("conn");
        users::table
            .filter(users::email.eq("ops@platform.test"))
            .select(users::id)
            .first(&mut conn)
            .expect("staff")
    };
    let id = staff_id.to_string();
    for fields in [
        vec![("action", "reset"), ("user_id", id.as_str())],
        vec![
            ("action", "role"),
            ("user_id", id.as_str()),
            ("role", "owner"),
        ],
        vec![("action", "deactivate"), ("user_id", id.as_str())],
    ] {
        let res = app
            .post_form("/portal/settings/users", "/portal/settings/users", &fields)
            .await;
        assert_eq!(res.status(), 404, "{fields:?}");
    }
    let mut conn = app.db.get().expect("conn");
    let links: i64 = password_tokens::table
        .filter(password_tokens::user_id.eq(staff_id))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(links, 0, "no reset link was issued for the staff account");
    let (role, active): (String, bool) = users::table
        .filter(users::id.eq(staff_id))
        .select((users::role, users::is_active))
        .first(&mut conn)
        .expect("staff");
    assert_eq!((role.as_str(), active), ("viewer", true));
}

/// SPEC §1 / issue 16 row 12: staff hold no tenant data — even a staff account that sits in
/// a customer with data gets 404 on every tenant page (the answer for another tenant's
/// object), lands on the dashboard, and keeps only its own password page.
#[actix_web::test]
async fn staff_accounts_see_no_tenant_pages() {
    let app = spawn_app().await;
    app.create_user("Clinic", "owner@clinic.test", Role::Owner, false);
    let password = app.create_user("Clinic", "ops@platform.test", Role::Owner, true);
    let res = app.login("ops@platform.test", &password).await;
    assert_eq!(res.status(), 303);
    let res = app.get("/portal").await;
    assert_eq!(res.status(), 303, "the front page sends staff on");
    assert_eq!(crate::common::location(&res), "/portal/admin/metrics");
    for path in [
        "/portal/uploads",
        "/portal/uploads/1",
        "/portal/alerts",
        "/portal/alerts.csv",
        "/portal/drift",
        "/portal/denials",
        "/portal/delays",
        "/portal/drift.csv",
        "/portal/settings/mappings",
        "/portal/settings/rules",
        "/portal/settings/analytics",
        "/portal/settings/channels",
        "/portal/settings/users",
        "/portal/settings/audit",
        "/portal/settings/audit.csv",
    ] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
    let res = app
        .post_form(
            "/portal/account/password",
            "/portal/settings/users",
            &[
                ("action", "create"),
                ("email", "x@clinic.test"),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(res.status(), 404, "no tenant writes either");
    let dashboard = app.get("/portal/admin/metrics").await;
    assert_eq!(dashboard.status(), 200);
    let html = dashboard.text().await.expect("page");
    assert!(!html.contains("href=\"/portal/uploads\""), "no tenant nav");
    assert!(html.contains("href=\"/portal/account/password\""));
    assert_eq!(app.get("/portal/account/password").await.status(), 200);
}
