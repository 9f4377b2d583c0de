//! Working alerts as a team (issue 19 item 3), on both databases: assignee and due date,
//! comments (PHI-checked, audited), bulk acknowledge/resolve/assign from the list, sorting
//! and the verdict/assignee filters, saved filters per person. Viewers change nothing.

use chrono::NaiveDate;
use diesel::prelude::*;
use payerwatch::db::repo::alerts::{self as repo, AlertFilter};
use payerwatch::db::schema::{alert_comments, audit_events};
use payerwatch::domain::alert_work::{AlertSort, AssigneeFilter};
use payerwatch::domain::roles::Role;
use payerwatch::domain::tenant::TenantScope;

use crate::common::{TestApp, location, new_client, spawn_app};

fn user_id(app: &TestApp, email: &str) -> i64 {
    let mut conn = app.db.get().expect("conn");
    payerwatch::db::repo::users::find_by_email(&mut conn, email)
        .expect("user")
        .id
}

/// `n` data-quality alerts of the tenant, one minute apart, severities rising with `i`
/// (no finding needed: an alert names a finding or an upload). Returns their ids, oldest
/// first.
fn raise_alerts(app: &TestApp, scope: &TenantScope, n: i64) -> Vec<i64> {
    let mut conn = app.db.get().expect("conn");
    let rule_id = repo::ensure_default_rules(&mut conn, scope).expect("rules")[0].id;
    let start = NaiveDate::from_ymd_opt(2026, 11, 1)
        .expect("date")
        .and_hms_opt(0, 0, 0)
        .expect("time");
    (0..n)
        .map(|i| {
            let upload_id =
                payerwatch::db::repo::uploads::insert_processing(&mut conn, scope, "q.csv", None)
                    .expect("upload");
            let alert = repo::NewAlert {
                customer_id: scope.id(),
                drift_event_id: None,
                upload_id: Some(upload_id),
                rule_id,
                product: "data_quality".into(),
                kind: "quality_score".into(),
                payer: "Aetna".into(),
                cpt_group: String::new(),
                severity: 0.1 * i as f64,
                severity_label: "high".into(),
                title: format!("Quality alert number {i}"),
                payload_json: "{}".into(),
                initial_status: "open".into(),
                suppression_json: None,
                created_at: start + chrono::Duration::minutes(i),
            };
            repo::insert_alert(&mut conn, scope, &alert).expect("alert")
        })
        .collect()
}

fn audit_rows(app: &TestApp, action: &str) -> Vec<Option<String>> {
    let mut conn = app.db.get().expect("conn");
    audit_events::table
        .filter(audit_events::action.eq(action))
        .order(audit_events::id.asc())
        .select(audit_events::target_id)
        .load(&mut conn)
        .expect("audit")
}

#[actix_web::test]
async fn analysts_assign_and_comment_viewers_and_other_tenants_cannot() {
    let app = spawn_app().await;
    let pw = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    app.create_user("Clinic", "colleague@clinic.test", Role::Analyst, false);
    let viewer_pw = app.create_user("Clinic", "viewer@clinic.test", Role::Viewer, false);
    let other_pw = app.create_user("Other", "admin@other.test", Role::Admin, false);
    let scope = app.scope_of("clinic");
    let id = raise_alerts(&app, &scope, 1)[0];
    let path = format!("/portal/alerts/{id}");
    let colleague = user_id(&app, "colleague@clinic.test").to_string();
    let viewer_id = user_id(&app, "viewer@clinic.test").to_string();
    let outsider = user_id(&app, "admin@other.test").to_string();

    app.login("analyst@clinic.test", &pw).await;
    let res = app
        .post_form(
            &path,
            &format!("{path}/assignment"),
            &[("assignee", &colleague), ("due_on", "2026-12-20")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), path);
    let page = app.get(&path).await.text().await.expect("page");
    assert!(
        page.contains("assigned to <strong>colleague@clinic.test</strong>"),
        "{page}"
    );
    assert!(page.contains("due 2026-12-20"));
    let mut conn = app.db.get().expect("conn");
    let work = repo::find_work(&mut conn, &scope, id).expect("work");
    assert_eq!(
        work.assignee_user_id.map(|i| i.to_string()),
        Some(colleague.clone())
    );
    assert_eq!(work.due_on, NaiveDate::from_ymd_opt(2026, 12, 20));
    drop(conn);
    assert_eq!(
        audit_rows(&app, "alert.assigned"),
        vec![Some(id.to_string())]
    );

    // Another tenant's user, a viewer (who could not act on it), a bad date: 400, unchanged.
    for fields in [
        [("assignee", outsider.as_str()), ("due_on", "")],
        [("assignee", viewer_id.as_str()), ("due_on", "")],
        [("assignee", "abc"), ("due_on", "")],
        [("assignee", ""), ("due_on", "20/12/2026")],
    ] {
        let res = app
            .post_form(&path, &format!("{path}/assignment"), &fields)
            .await;
        assert_eq!(res.status(), 400, "{fields:?}");
    }
    let mut conn = app.db.get().expect("conn");
    assert_eq!(
        repo::find_work(&mut conn, &scope, id)
            .expect("work")
            .assignee_user_id
            .map(|i| i.to_string()),
        Some(colleague.clone())
    );
    drop(conn);

    // Comments: shown with author and time, audited; PHI refused and never echoed.
    let res = app
        .post_form(
            &path,
            &format!("{path}/comments"),
            &[(
                "body",
                "Asked Cigna's rep about the new edit; answer due Friday.",
            )],
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = app
        .post_form(
            &path,
            &format!("{path}/comments"),
            &[("body", "called patient Jennifer at 555-867-5309")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = app
        .post_form(&path, &format!("{path}/comments"), &[("body", "   ")])
        .await;
    assert_eq!(res.status(), 400, "an empty comment");
    let page = app.get(&path).await.text().await.expect("page");
    assert!(
        page.contains("Asked Cigna&#39;s rep about the new edit")
            || page.contains("Asked Cigna's rep"),
        "{page}"
    );
    assert!(
        page.contains("<strong>analyst@clinic.test</strong> · 20"),
        "author and time"
    );
    assert!(
        !page.contains("Jennifer") && !page.contains("867-5309"),
        "PHI never echoed"
    );
    let mut conn = app.db.get().expect("conn");
    let bodies: Vec<String> = alert_comments::table
        .select(alert_comments::body)
        .load(&mut conn)
        .expect("comments");
    assert_eq!(bodies.len(), 1, "the PHI comment was not stored");
    drop(conn);
    assert_eq!(
        audit_rows(&app, "alert.commented"),
        vec![Some(id.to_string())]
    );

    // A viewer sees all of it and can change none of it.
    let viewer = new_client();
    app.login_with(&viewer, "viewer@clinic.test", &viewer_pw)
        .await;
    let page = app
        .get_with(&viewer, &path)
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("colleague@clinic.test") && page.contains("Asked Cigna"));
    assert!(
        !page.contains("/assignment\"") && !page.contains("/comments\""),
        "no forms"
    );
    for (to, fields) in [
        (
            format!("{path}/assignment"),
            vec![("assignee", ""), ("due_on", "")],
        ),
        (format!("{path}/comments"), vec![("body", "viewer says hi")]),
        (
            "/portal/alerts/bulk".to_string(),
            vec![
                ("alert_id", id.to_string().leak() as &str),
                ("action", "resolve"),
            ],
        ),
    ] {
        let res = app.post_form_with(&viewer, &path, &to, &fields).await;
        assert_eq!(res.status(), 403, "{to}");
    }
    let list = app
        .get_with(&viewer, "/portal/alerts")
        .await
        .text()
        .await
        .expect("list");
    assert!(!list.contains("name=\"alert_id\""), "no ticks for viewers");

    // Another tenant: 404 on every change.
    let other = new_client();
    app.login_with(&other, "admin@other.test", &other_pw).await;
    for (to, fields) in [
        (
            format!("{path}/assignment"),
            vec![("assignee", ""), ("due_on", "")],
        ),
        (format!("{path}/comments"), vec![("body", "hello")]),
        (
            "/portal/alerts/bulk".to_string(),
            vec![
                ("alert_id", id.to_string().leak() as &str),
                ("action", "resolve"),
            ],
        ),
    ] {
        let res = app.post_form_with(&other, "/portal", &to, &fields).await;
        assert_eq!(res.status(), 404, "{to}");
    }
    let mut conn = app.db.get().expect("conn");
    assert_eq!(
        repo::find_alert(&mut conn, &scope, id)
            .expect("alert")
            .status,
        "open"
    );
}

#[actix_web::test]
async fn the_list_bulk_moves_ticked_alerts_sorts_filters_and_saves_filters() {
    let app = spawn_app().await;
    let pw = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    let colleague_pw = app.create_user("Clinic", "colleague@clinic.test", Role::Analyst, false);
    let scope = app.scope_of("clinic");
    let ids = raise_alerts(&app, &scope, 6);
    let me = user_id(&app, "analyst@clinic.test");
    let colleague = user_id(&app, "colleague@clinic.test").to_string();
    app.login("analyst@clinic.test", &pw).await;

    // Bulk resolve three, one of them twice (counts once); one audit row per alert.
    let (a, b, c) = (ids[0].to_string(), ids[1].to_string(), ids[2].to_string());
    let res = app
        .post_form(
            "/portal/alerts",
            "/portal/alerts/bulk",
            &[
                ("alert_id", &a),
                ("alert_id", &b),
                ("alert_id", &c),
                ("alert_id", &c),
                ("action", "resolve"),
                ("back", "status=open&page=2&evil=x"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        location(&res),
        "/portal/alerts?status=open",
        "filters kept, nothing else"
    );
    let list = app
        .get("/portal/alerts?status=open")
        .await
        .text()
        .await
        .expect("list");
    assert!(list.contains("3 alerts resolved."), "{list}");
    let resolved = audit_rows(&app, "alert.status_changed");
    assert_eq!(
        resolved,
        vec![Some(a.clone()), Some(b.clone()), Some(c.clone())]
    );
    // Resolving again changes nothing and says so; acknowledging a resolved one is skipped.
    let res = app
        .post_form(
            "/portal/alerts",
            "/portal/alerts/bulk",
            &[
                ("alert_id", &a),
                ("alert_id", &ids[3].to_string()),
                ("action", "acknowledge"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let list = app.get("/portal/alerts").await.text().await.expect("list");
    assert!(
        list.contains("1 alert acknowledged. 1 left as they were"),
        "{list}"
    );
    let mut conn = app.db.get().expect("conn");
    let status = |conn: &mut _, id: i64| repo::find_alert(conn, &scope, id).expect("alert").status;
    assert_eq!(status(&mut conn, ids[0]), "resolved");
    assert_eq!(status(&mut conn, ids[3]), "acknowledged");
    assert_eq!(status(&mut conn, ids[4]), "open");
    drop(conn);

    // Nothing ticked: back to the list with a message; a made-up action: 400.
    let res = app
        .post_form(
            "/portal/alerts",
            "/portal/alerts/bulk",
            &[("action", "resolve")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = app
        .post_form(
            "/portal/alerts",
            "/portal/alerts/bulk",
            &[("alert_id", &a), ("action", "delete")],
        )
        .await;
    assert_eq!(res.status(), 400);

    // Bulk assign to the colleague and to me.
    let (d, e) = (ids[4].to_string(), ids[5].to_string());
    let res = app
        .post_form(
            "/portal/alerts",
            "/portal/alerts/bulk",
            &[
                ("alert_id", &d),
                ("action", "assign"),
                ("assignee", &colleague),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let mine = me.to_string();
    let res = app
        .post_form(
            "/portal/alerts",
            "/portal/alerts/bulk",
            &[("alert_id", &e), ("action", "assign"), ("assignee", &mine)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        audit_rows(&app, "alert.assigned"),
        vec![Some(d.clone()), Some(e.clone())]
    );

    // Filters: assignee me / nobody / a member; verdict.
    let list = app
        .get("/portal/alerts?assignee=me")
        .await
        .text()
        .await
        .expect("list");
    assert!(list.contains("Quality alert number 5") && !list.contains("Quality alert number 4"));
    let list = app
        .get(&format!("/portal/alerts?assignee={colleague}"))
        .await
        .text()
        .await
        .expect("list");
    assert!(list.contains("Quality alert number 4") && !list.contains("Quality alert number 5"));
    let list = app
        .get("/portal/alerts?assignee=none")
        .await
        .text()
        .await
        .expect("list");
    assert!(list.contains("Quality alert number 0") && !list.contains("Quality alert number 4"));
    let res = app
        .post_form(
            &format!("/portal/alerts/{}", ids[2]),
            &format!("/portal/alerts/{}/judgment", ids[2]),
            &[("verdict", "needs_follow_up")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let list = app
        .get("/portal/alerts?verdict=needs_follow_up")
        .await
        .text()
        .await
        .expect("list");
    assert!(list.contains("Quality alert number 2") && !list.contains("Quality alert number 1<"));
    let list = app
        .get("/portal/alerts?verdict=none")
        .await
        .text()
        .await
        .expect("list");
    assert!(!list.contains("Quality alert number 2<") && list.contains("Quality alert number 1<"));
    for bad in ["verdict=maybe", "assignee=boss", "sort=patient"] {
        assert_eq!(
            app.get(&format!("/portal/alerts?{bad}")).await.status(),
            400,
            "{bad}"
        );
    }

    // Sorting, in SQL: severity, oldest, due (dated first, soonest first).
    let mut conn = app.db.get().expect("conn");
    repo::set_due(
        &mut conn,
        &scope,
        ids[1],
        NaiveDate::from_ymd_opt(2026, 12, 9),
    )
    .expect("due");
    repo::set_due(
        &mut conn,
        &scope,
        ids[3],
        NaiveDate::from_ymd_opt(2026, 12, 1),
    )
    .expect("due");
    let order = |conn: &mut _, sort: AlertSort| -> Vec<i64> {
        let filter = AlertFilter {
            sort,
            ..AlertFilter::default()
        };
        repo::list_alerts(conn, &scope, &filter, 1, 25)
            .expect("list")
            .0
            .items
            .iter()
            .map(|a| a.alert.id)
            .collect()
    };
    let newest: Vec<i64> = ids.iter().rev().copied().collect();
    assert_eq!(order(&mut conn, AlertSort::Newest), newest);
    assert_eq!(
        order(&mut conn, AlertSort::Severity),
        newest,
        "severity rises with i"
    );
    assert_eq!(order(&mut conn, AlertSort::Oldest), ids);
    assert_eq!(
        order(&mut conn, AlertSort::Due),
        vec![ids[3], ids[1], ids[0], ids[2], ids[4], ids[5]]
    );
    let filter = AlertFilter {
        assignee: Some(AssigneeFilter::User(me)),
        ..AlertFilter::default()
    };
    assert_eq!(
        repo::list_alerts(&mut conn, &scope, &filter, 1, 25)
            .expect("list")
            .0
            .total,
        1
    );
    drop(conn);
    let list = app
        .get("/portal/alerts?sort=due")
        .await
        .text()
        .await
        .expect("list");
    let first = list.find("Quality alert number 3").expect("3");
    let second = list.find("Quality alert number 1<").expect("1");
    assert!(first < second, "due soonest first on the page");

    // Saved filters: per person, list, delete; someone else's answers 404.
    let res = app
        .post_form(
            "/portal/alerts",
            "/portal/alerts/filters",
            &[
                ("name", "My open work"),
                ("query", "status=open&assignee=me&page=4&x=1"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/portal/alerts?status=open&assignee=me");
    let list = app.get("/portal/alerts").await.text().await.expect("list");
    assert!(
        list.contains("href=\"/portal/alerts?status=open&#38;assignee=me\">My open work</a>"),
        "{list}"
    );
    let res = app
        .post_form(
            "/portal/alerts",
            "/portal/alerts/filters",
            &[("name", "Nothing"), ("query", "")],
        )
        .await;
    assert_eq!(res.status(), 303, "no filters: a message, nothing saved");
    let mut conn = app.db.get().expect("conn");
    let saved =
        payerwatch::db::repo::saved_filters::list_saved_filters(&mut conn, &scope, me, "alerts")
            .expect("saved");
    assert_eq!(saved.len(), 1);
    drop(conn);
    let colleague_client = new_client();
    app.login_with(&colleague_client, "colleague@clinic.test", &colleague_pw)
        .await;
    let theirs = app
        .get_with(&colleague_client, "/portal/alerts")
        .await
        .text()
        .await
        .expect("list");
    assert!(
        !theirs.contains("My open work"),
        "saved filters are personal"
    );
    let delete = format!("/portal/alerts/filters/{}/delete", saved[0].id);
    let res = app
        .post_form_with(&colleague_client, "/portal/alerts", &delete, &[])
        .await;
    assert_eq!(res.status(), 404);
    let res = app.post_form("/portal/alerts", &delete, &[]).await;
    assert_eq!(res.status(), 303);
    let list = app.get("/portal/alerts").await.text().await.expect("list");
    assert!(!list.contains("My open work</a>"));
}

/// The opt-in daily digest: queued once a day from the digest hour for each subscriber,
/// listing new alerts assigned to them or to nobody, sent through the delivery queue on
/// the tenant's e-mail channel (a failed send is retried), to that person only.
#[actix_web::test]
async fn the_daily_digest_mails_new_alerts_for_me_or_nobody_through_the_queue() {
    use crate::common::{SpawnOptions, spawn_app_with};
    use crate::notifications::start_smtp_sink_on;
    use payerwatch::db::schema::{alert_digests, deliveries};

    let app = spawn_app_with(SpawnOptions {
        overrides: vec![
            ("PAYERWATCH_DELIVERY_WORKER", "0".to_string()),
            ("PAYERWATCH_ALLOW_PRIVATE_WEBHOOKS", "1".to_string()),
        ],
        ..SpawnOptions::default()
    })
    .await;
    let admin_pw = app.create_user("Clinic", "admin@clinic.test", Role::Admin, false);
    let pw = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    app.create_user("Clinic", "colleague@clinic.test", Role::Analyst, false);
    let scope = app.scope_of("clinic");

    // The SMTP server is down at first: its port refuses connections.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let admin = new_client();
    app.login_with(&admin, "admin@clinic.test", &admin_pw).await;
    let port_text = port.to_string();
    let res = app
        .post_form_with(
            &admin,
            "/portal/settings/channels",
            "/portal/settings/channels",
            &[
                ("action", "create"),
                ("kind", "email"),
                ("name", "Billing leads"),
                ("recipients", "lead@clinic.test"),
                ("smtp_host", "127.0.0.1"),
                ("smtp_port", &port_text),
                ("smtp_tls", "none"),
                ("smtp_from", "payerwatch@clinic.test"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);

    // The analyst opts in on the account page.
    app.login("analyst@clinic.test", &pw).await;
    let page = app
        .get("/portal/account/password")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("Daily alert digest") && !page.contains("value=\"on\" checked"));
    let res = app
        .post_form(
            "/portal/account/password",
            "/portal/account/digest",
            &[("digest", "on")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = app
        .get("/portal/account/password")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("value=\"on\" checked"), "{page}");

    // Alerts of 2026-11-01 00:00–00:03: unassigned, mine, the colleague's, resolved.
    let ids = raise_alerts(&app, &scope, 4);
    let me = user_id(&app, "analyst@clinic.test");
    let colleague = user_id(&app, "colleague@clinic.test");
    let mut conn = app.db.get().expect("conn");
    repo::set_assignee(&mut conn, &scope, ids[1], Some(me)).expect("assign");
    repo::set_assignee(&mut conn, &scope, ids[2], Some(colleague)).expect("assign");
    repo::append_status(&mut conn, &scope, ids[3], "resolved", me).expect("resolve");
    drop(conn);
    let at = |day: u32, h: u32, m: u32| {
        NaiveDate::from_ymd_opt(2026, 11, day)
            .and_then(|d| d.and_hms_opt(h, m, 0))
            .expect("time")
    };
    let digests = |app: &TestApp| -> Vec<(NaiveDate, String)> {
        let mut conn = app.db.get().expect("conn");
        alert_digests::table
            .order(alert_digests::id.asc())
            .select((alert_digests::digest_on, alert_digests::alert_ids))
            .load(&mut conn)
            .expect("digests")
    };

    // Before the digest hour: nothing.
    let round = app.notifier.run_once(at(1, 11, 0)).await.expect("round");
    assert_eq!((round.delivered, round.retrying), (0, 0));
    assert!(digests(&app).is_empty());
    // From it: one digest (the subscriber's), its send fails and is retried.
    let round = app.notifier.run_once(at(1, 12, 30)).await.expect("round");
    assert_eq!(round.retrying, 1, "{round:?}");
    assert_eq!(
        digests(&app),
        vec![(at(1, 0, 0).date(), format!("{},{}", ids[0], ids[1]))],
        "new alerts for me or nobody; not the colleague's, not resolved ones"
    );
    let (_, mails) = start_smtp_sink_on(
        std::net::TcpListener::bind(("127.0.0.1", port)).expect("rebind the port"),
    );
    let round = app.notifier.run_once(at(1, 12, 31)).await.expect("round");
    assert_eq!(round.delivered, 1, "{round:?}");
    let sent = mails.lock().expect("lock").clone();
    assert_eq!(sent.len(), 1);
    let mail = &sent[0];
    assert!(
        mail.contains("analyst@clinic.test"),
        "to the subscriber: {mail}"
    );
    assert!(
        !mail.contains("lead@clinic.test"),
        "not to the channel's list"
    );
    assert!(
        mail.contains("Daily digest 2026-11-01: 2 new alerts"),
        "{mail}"
    );
    for needle in [
        "Quality alert number 0".to_string(),
        "Quality alert number 1".to_string(),
        "assigned to you".to_string(),
        format!("/portal/alerts/{}", ids[1]),
    ] {
        assert!(mail.contains(&needle), "{needle} in {mail}");
    }
    assert!(!mail.contains("Quality alert number 2") && !mail.contains("Quality alert number 3"));

    // Once a day: later the same day nothing more; the next day, with nothing new, no mail.
    app.notifier.run_once(at(1, 18, 0)).await.expect("round");
    app.notifier.run_once(at(2, 12, 5)).await.expect("round");
    assert_eq!(digests(&app).len(), 2);
    assert_eq!(digests(&app)[1].1, "", "nothing new since the last digest");
    assert_eq!(mails.lock().expect("lock").len(), 1);
    let mut conn = app.db.get().expect("conn");
    let queued: i64 = deliveries::table
        .filter(deliveries::digest_id.is_not_null())
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(queued, 1);
    let channel_id: i64 = deliveries::table
        .filter(deliveries::digest_id.is_not_null())
        .select(deliveries::channel_id)
        .first(&mut conn)
        .expect("channel");
    drop(conn);
    // The channel's delivery log names it.
    let channel_page = app
        .get_with(&admin, &format!("/portal/settings/channels/{channel_id}"))
        .await
        .text()
        .await
        .expect("page");
    assert!(channel_page.contains("daily digest"), "{channel_page}");

    // Opting out is audited like opting in.
    let res = app
        .post_form("/portal/account/password", "/portal/account/digest", &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(audit_rows(&app, "account.digest_changed").len(), 2);
    app.notifier.run_once(at(3, 12, 5)).await.expect("round");
    assert_eq!(digests(&app).len(), 2, "no digest once turned off");
}

/// "Tick all" without script: the header box sends `tick_all=page` and the page's alerts
/// travel as `page_alert_id`; the server applies the action to all of them. The page
/// carries the box and the ids; the list's script only mirrors the ticks.
#[actix_web::test]
async fn tick_all_applies_the_bulk_action_to_every_alert_on_the_page() {
    let app = spawn_app().await;
    let pw = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    let scope = app.scope_of("clinic");
    let ids = raise_alerts(&app, &scope, 3);
    app.login("analyst@clinic.test", &pw).await;
    let html = app.get("/portal/alerts").await.text().await.expect("page");
    assert!(html.contains(
        "<input type=\"checkbox\" name=\"tick_all\" value=\"page\" id=\"tick-all\" data-tick-all=\"alert_id\">"
    ));
    for id in &ids {
        assert!(html.contains(&format!(
            "<input type=\"hidden\" name=\"page_alert_id\" value=\"{id}\">"
        )));
    }
    let page_ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    let mut form: Vec<(&str, &str)> = page_ids
        .iter()
        .map(|id| ("page_alert_id", id.as_str()))
        .collect();
    // Unticked: the page's ids alone do nothing.
    form.push(("action", "resolve"));
    let res = app
        .post_form("/portal/alerts", "/portal/alerts/bulk", &form)
        .await;
    assert_eq!(res.status(), 303);
    let list = app
        .get("/portal/alerts?status=resolved")
        .await
        .text()
        .await
        .expect("page");
    assert!(!list.contains("Quality alert number"), "nothing resolved");
    form.push(("tick_all", "page"));
    let res = app
        .post_form("/portal/alerts", "/portal/alerts/bulk", &form)
        .await;
    assert_eq!(res.status(), 303);
    let list = app
        .get("/portal/alerts?status=open")
        .await
        .text()
        .await
        .expect("page");
    assert!(
        !list.contains("Quality alert number"),
        "every alert resolved"
    );
    assert_eq!(audit_rows(&app, "alert.status_changed").len(), 3);
}

/// Issue 19 item 6 on the alert list (as the drift feed): a refused filter answers 400 on
/// the list itself, portal chrome and form kept, the message beside its field
/// (aria-invalid/aria-describedby), every other filter still in the form; nothing listed,
/// saved or exported from a refused query.
#[actix_web::test]
async fn a_refused_alert_filter_reshows_the_list_with_the_message_beside_it() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    let scope = app.scope_of("clinic");
    raise_alerts(&app, &scope, 2);
    app.login("analyst@clinic.test", &password).await;
    for (query, field, kept) in [
        (
            "severity=extreme&status=open&payer=Aetna",
            "a-sev",
            "<option value=\"open\" selected>",
        ),
        (
            "status=closed&severity=high",
            "a-status",
            "<option value=\"high\" selected>",
        ),
        (
            "product=x&payer=Cigna",
            "a-product",
            "name=\"payer\" value=\"Cigna\"",
        ),
        (
            "verdict=maybe&sort=oldest",
            "a-verdict",
            "<option value=\"oldest\" selected>",
        ),
        (
            "assignee=boss&verdict=real",
            "a-assignee",
            "<option value=\"real\" selected>",
        ),
        (
            "sort=patient&severity=low",
            "a-sort",
            "<option value=\"low\" selected>",
        ),
        (
            "page=0&status=open",
            "a-page",
            "<option value=\"open\" selected>",
        ),
    ] {
        let res = app.get(&format!("/portal/alerts?{query}")).await;
        assert_eq!(res.status(), 400, "{query}");
        let body = res.text().await.expect("body");
        assert!(body.contains("Sign out"), "{query}: portal chrome");
        assert!(body.contains("aria-label=\"Filters\""), "{query}: the form");
        assert!(
            body.contains(&format!("<p class=\"field-error\" id=\"{field}-error\"")),
            "{query}: the message beside {field}"
        );
        if field != "a-page" {
            assert!(
                body.contains(&format!(
                    "aria-invalid=\"true\" aria-describedby=\"{field}-error\""
                )),
                "{query}: {field} marked invalid"
            );
        }
        assert!(body.contains("is not valid"), "{query}");
        assert!(body.contains(kept), "{query}: other filters kept");
        assert!(body.contains("Fix the filter above"), "{query}");
        assert!(
            !body.contains("Quality alert number"),
            "{query}: nothing listed"
        );
        assert!(
            !body.contains("Save filters"),
            "{query}: a refused query is not saved"
        );
    }
    // The export refuses the same query plainly (a download has no form to show).
    assert_eq!(
        app.get("/portal/alerts.csv?severity=extreme")
            .await
            .status(),
        400
    );
    // A valid query still lists.
    let res = app.get("/portal/alerts?status=open&payer=Aetna").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("Quality alert number 1")
    );
}

/// PostgreSQL: two people working overlapping alerts at once wait for each other and both
/// commit — no deadlock on the tenant's alert version (it moves at commit: deferred
/// triggers, migration 2026-12-07-000100). Before, the first write of a transaction locked
/// the version row to its end: a bulk action (A, then B) and an assignment of B at the same
/// moment waited on each other. SQLite writes one transaction at a time.
#[actix_web::test]
async fn overlapping_alert_work_at_once_waits_instead_of_deadlocking() {
    use diesel::connection::SimpleConnection;
    let app = spawn_app().await;
    if app.own_database().backend() != payerwatch::db::Backend::Postgres {
        return;
    }
    app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    let scope = app.scope_of("clinic");
    let ids = raise_alerts(&app, &scope, 2);
    let (a, b) = (ids[0], ids[1]);
    let url = app.own_database().url().to_string();
    let version = |conn: &mut PgConnection| -> i64 {
        diesel::sql_query("SELECT version FROM alert_versions WHERE customer_id = $1")
            .bind::<diesel::sql_types::BigInt, _>(scope.id())
            .get_result::<Version>(conn)
            .expect("version")
            .version
    };
    #[derive(QueryableByName)]
    struct Version {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        version: i64,
    }
    let due = |id: i64, day: u32| {
        format!(
            "UPDATE alert_current_status SET due_on = DATE '2026-12-{day:02}' WHERE alert_id = {id}"
        )
    };
    let connect = || {
        let mut conn = PgConnection::establish(&url).expect("connection");
        // A statement that waits longer than this fails the test instead of hanging it.
        conn.batch_execute("SET lock_timeout = '10s'")
            .expect("timeout");
        conn
    };
    let (mut bulk, mut single) = (connect(), connect());
    let before = version(&mut bulk);

    bulk.batch_execute(&format!("BEGIN; {}", due(a, 1)))
        .expect("the bulk action writes A");
    single
        .batch_execute(&format!("BEGIN; {}", due(b, 2)))
        .expect("the assignment writes B while the bulk action is open");
    let bulk_rest = std::thread::spawn(move || -> (QueryResult<()>, PgConnection) {
        // Waits for the assignment's lock on B, then commits.
        let done = bulk
            .batch_execute(&due(b, 3))
            .and_then(|()| bulk.batch_execute("COMMIT"));
        (done, bulk)
    });
    // Past PostgreSQL's deadlock_timeout (1 s): a deadlock would be detected by now.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    single
        .batch_execute("COMMIT")
        .expect("the assignment commits");
    let (done, mut bulk) = bulk_rest.join().expect("thread");
    done.expect("the bulk action commits after waiting");

    assert_eq!(
        version(&mut bulk),
        before + 3,
        "one move per alert row written"
    );
    use payerwatch::db::schema::alert_current_status as current;
    let b_due: Option<NaiveDate> = current::table
        .find(b)
        .select(current::due_on)
        .first(&mut bulk)
        .expect("status");
    assert_eq!(
        b_due,
        NaiveDate::from_ymd_opt(2026, 12, 3),
        "the later write wins"
    );
}
