//! A rule may only name its own tenant's channels (review 2026-12 row 14): creating one with
//! another tenant's channel id answers 404 and stores nothing.

use diesel::prelude::*;
use payerwatch::db::repo::{channels, customers};
use payerwatch::db::schema::alert_rules;
use payerwatch::domain::roles::Role;
use payerwatch::domain::tenant::{CustomerId, TenantScope};

use crate::common::spawn_app;

#[actix_web::test]
async fn a_rule_cannot_name_another_tenants_channel() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", "admin@clinic.test", Role::Admin, false);
    app.create_user("Other", "owner@other.test", Role::Owner, false);
    let (other_channel, clinic_id) = {
        let mut conn = app.db.get().expect("conn");
        let other = customers::find_by_slug(&mut conn, "other")
            .expect("other")
            .id;
        let clinic = customers::find_by_slug(&mut conn, "clinic")
            .expect("clinic")
            .id;
        let channel = channels::insert_channel(
            &mut conn,
            &TenantScope::for_system(CustomerId(other)),
            &channels::NewChannel {
                name: "Theirs".into(),
                kind: "webhook".into(),
                target: "https://example.org/h".into(),
                settings_json: "{}".into(),
            },
            |_| Ok::<_, payerwatch::db::DbError>(None),
        )
        .expect("channel");
        (channel, clinic)
    };
    app.login("admin@clinic.test", &password).await;
    let count = || {
        let mut conn = app.db.get().expect("conn");
        alert_rules::table
            .filter(alert_rules::customer_id.eq(clinic_id))
            .count()
            .get_result::<i64>(&mut conn)
            .expect("count")
    };
    // The first visit may seed the tenant's default rules.
    app.get("/portal/settings/rules").await;
    let before = count();
    let id = other_channel.to_string();
    let res = app
        .post_form(
            "/portal/settings/rules",
            "/portal/settings/rules",
            &[
                ("action", "create"),
                ("name", "Borrowed"),
                ("channels", id.as_str()),
            ],
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(count(), before, "nothing stored");
    let res = app
        .post_form(
            "/portal/settings/rules",
            "/portal/settings/rules",
            &[("action", "create"), ("name", "Mine"), ("channels", "all")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(count(), before + 1);
}

/// Issue 17 item 4: rules in words — a severity label (never a number), money a month and
/// size of change; the list reads them back in words; the conditions are stored.
#[actix_web::test]
async fn rules_say_severity_money_and_size_in_words() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", "admin@clinic.test", Role::Admin, false);
    app.login("admin@clinic.test", &password).await;
    app.get("/portal/settings/rules").await;
    let res = app
        .post_form(
            "/portal/settings/rules",
            "/portal/settings/rules",
            &[
                ("action", "create"),
                ("name", "Big denial jumps"),
                ("product", "drift_watch"),
                ("kind", "denial_rate"),
                ("min_severity", "high"),
                ("min_dollars_per_month", "$5,000"),
                ("min_rate_delta_points", "5"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = app
        .get("/portal/settings/rules")
        .await
        .text()
        .await
        .expect("page");
    assert!(
        page.contains(
            "severity at least high, at least $5,000 a month, rate changed at least 5.0 points"
        ),
        "{page}"
    );
    let stored: (Option<String>, Option<f64>, Option<f64>, Option<f64>) = {
        let mut conn = app.db.get().expect("conn");
        alert_rules::table
            .filter(alert_rules::name.eq("Big denial jumps"))
            .select((
                alert_rules::min_severity,
                alert_rules::min_dollars_per_month,
                alert_rules::min_rate_delta_points,
                alert_rules::min_days_delta,
            ))
            .first(&mut conn)
            .expect("rule")
    };
    assert_eq!(
        stored,
        (Some("high".into()), Some(5_000.0), Some(5.0), None)
    );
    // A number is not a label.
    for (field, value) in [("min_severity", "0.7"), ("min_dollars_per_month", "-5")] {
        let res = app
            .post_form(
                "/portal/settings/rules",
                "/portal/settings/rules",
                &[("action", "create"), ("name", "Bad"), (field, value)],
            )
            .await;
        assert_eq!(res.status(), 400, "{field}={value}");
    }
}
