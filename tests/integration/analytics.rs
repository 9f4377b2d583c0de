//! Report runs over stored claims, on both databases: the injected changes of generated
//! data are found, unchanged data raises no denial-rate events, re-runs create no
//! duplicates, and exact vectors survive the round trip through SQL.

use chrono::NaiveDate;
use payerwatch::db::repo::analytics::{self as repo, EventFilter};
use payerwatch::db::repo::claims::NewClaim;
use payerwatch::db::repo::{claim_writer, customers, uploads};
use payerwatch::devtools::generate::GenOptions;
use payerwatch::domain::analytics::Product;
use payerwatch::domain::tenant::{CustomerId, TenantScope};
use payerwatch::services::analytics::{self as reports, ReportError};

use crate::common::{load_generated_claims, spawn_app};

fn tenant(app: &crate::common::TestApp, slug: &str) -> TenantScope {
    let mut conn = app.db.get().expect("conn");
    TenantScope::for_system(CustomerId(
        customers::insert(&mut conn, slug, slug).expect("customer"),
    ))
}

fn events(
    app: &crate::common::TestApp,
    scope: &TenantScope,
    product: &str,
) -> Vec<repo::DriftEvent> {
    let mut conn = app.db.get().expect("conn");
    let filter = EventFilter {
        products: vec![product.parse().expect("a product")],
        ..EventFilter::default()
    };
    repo::list_events(&mut conn, scope, &filter, 1, 500)
        .expect("events")
        .items
}

#[actix_web::test]
async fn generated_drift_is_found_and_reruns_add_nothing() {
    let app = spawn_app().await;
    let scope = tenant(&app, "clinic");
    let options = GenOptions {
        rows: 40_000,
        seed: 42,
        ..GenOptions::default()
    };
    let stored = load_generated_claims(&app.db, &scope, &options);
    assert!(stored > 39_000, "{stored}");

    let db = app.db.clone();
    let summaries =
        actix_web::rt::task::spawn_blocking(move || reports::run_all(&db, &scope, None, "test"))
            .await
            .expect("joined");
    for summary in &summaries {
        let s = summary.as_ref().expect("run succeeded");
        assert_eq!(
            s.as_of,
            NaiveDate::from_ymd_opt(2026, 11, 23),
            "day after the latest decision"
        );
        assert!(s.rows_scanned > 0);
    }

    let drift = events(&app, &scope, "drift_watch");
    let cigna = drift
        .iter()
        .find(|e| e.payer == "Cigna" && e.cpt_group == "IMAGING" && e.kind == "denial_rate")
        .unwrap_or_else(|| panic!("Cigna × IMAGING found: {drift:#?}"));
    assert_eq!(cigna.direction, "worse");
    assert!(
        cigna.ci_low.expect("interval") > 0.0,
        "interval excludes zero"
    );
    let false_rate_events: Vec<_> = drift
        .iter()
        .filter(|e| e.kind == "denial_rate" && !(e.payer == "Cigna" && e.cpt_group == "IMAGING"))
        .collect();
    assert!(
        false_rate_events.len() <= 1,
        "no noise: {false_rate_events:#?}"
    );

    let delays = events(&app, &scope, "delay_guard");
    assert!(
        delays
            .iter()
            .any(|e| e.payer == "Humana" && e.kind == "slowdown"),
        "Humana slowdown found: {delays:#?}"
    );
    assert!(
        !delays
            .iter()
            .any(|e| e.kind == "slowdown" && e.payer != "Humana"),
        "{delays:#?}"
    );

    let denials = events(&app, &scope, "denial_scope");
    assert!(
        denials
            .iter()
            .any(|e| e.payer == "UnitedHealthcare" && e.cpt_group == "CO-197"),
        "UnitedHealthcare CO-197 surge found: {denials:#?}"
    );

    // Same data, same as-of: the same events, no duplicates.
    let before = drift.len() + delays.len() + denials.len();
    let db = app.db.clone();
    let again =
        actix_web::rt::task::spawn_blocking(move || reports::run_all(&db, &scope, None, "test"))
            .await
            .expect("joined");
    for summary in again {
        assert_eq!(summary.expect("ok").events_created, 0);
    }
    let after = events(&app, &scope, "drift_watch").len()
        + events(&app, &scope, "delay_guard").len()
        + events(&app, &scope, "denial_scope").len();
    assert_eq!(before, after);
}

#[actix_web::test]
async fn unchanged_payers_raise_no_denial_rate_events() {
    let app = spawn_app().await;
    let scope = tenant(&app, "steady");
    let options = GenOptions {
        rows: 40_000,
        seed: 7,
        drift: false,
        ..GenOptions::default()
    };
    load_generated_claims(&app.db, &scope, &options);
    let db = app.db.clone();
    let summary = actix_web::rt::task::spawn_blocking(move || {
        reports::run(&db, &scope, Product::DriftWatch, None, "test")
    })
    .await
    .expect("joined")
    .expect("run");
    let rate_events = events(&app, &scope, "drift_watch")
        .into_iter()
        .filter(|e| e.kind == "denial_rate")
        .count();
    assert_eq!(rate_events, 0, "{summary:?}");
    assert!(summary.compat_events >= summary.sound_events, "{summary:?}");
}

fn vector_claims(
    scope: &TenantScope,
    upload: i64,
    start: NaiveDate,
    days: i64,
    n: u32,
    denied: u32,
) -> Vec<NewClaim> {
    (0..n)
        .map(|i| {
            let decided = start + chrono::Duration::days(i64::from(i) % days);
            NewClaim {
                customer_id: scope.id(),
                upload_id: upload,
                payer_raw: "A".into(),
                payer: "A".into(),
                cpt: "99213".into(),
                cpt_group: "EVAL_MGMT".into(),
                // Compat buckets by submission: keep both dates in the same window.
                submitted_date: decided,
                decided_date: decided,
                decision_days: 0,
                outcome: if i < denied { "DENIED" } else { "PAID" }.into(),
                allowed_cents: Some(10_000),
                denial_reason_code: None,
                denial_reason_text: None,
            }
        })
        .collect()
}

#[actix_web::test]
async fn compat_vector_v1_is_reproduced_exactly_through_sql() {
    let app = spawn_app().await;
    let scope = tenant(&app, "vectors");
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
    let mut conn = app.db.get().expect("conn");
    let upload = uploads::insert_processing(&mut conn, &scope, "v1.csv", None).expect("upload");
    let mut rows = vector_claims(
        &scope,
        upload,
        as_of - chrono::Duration::days(104),
        90,
        50,
        10,
    );
    rows.extend(vector_claims(
        &scope,
        upload,
        as_of - chrono::Duration::days(14),
        14,
        50,
        30,
    ));
    payerwatch::db::transaction(&mut conn, |c| claim_writer::insert_many(c, &scope, &rows))
        .expect("claims");
    repo::set_analytics_mode(&mut conn, &scope, "compat").expect("mode");
    drop(conn);

    let db = app.db.clone();
    let summary = actix_web::rt::task::spawn_blocking(move || {
        reports::run(&db, &scope, Product::DriftWatch, Some(as_of), "test")
    })
    .await
    .expect("joined")
    .expect("run");
    assert_eq!(summary.mode, "compat");
    assert_eq!(summary.groups_considered, 1);
    let stored = events(&app, &scope, "drift_watch");
    let rate = stored
        .iter()
        .find(|e| e.kind == "denial_rate")
        .expect("rate event");
    assert_eq!(rate.delta, 0.39999999999999997);
    assert_eq!(rate.severity, 0.7999999999999999);
    assert_eq!(rate.confidence, Some(0.8333333333333334));
    assert_eq!(rate.baseline_n, 50);
    assert_eq!(rate.current_n, 50);
    assert_eq!(summary.sound_events, 1, "sound mode agrees on V1");
}

#[actix_web::test]
async fn a_second_run_of_the_same_product_is_refused_while_one_runs() {
    let app = spawn_app().await;
    let scope = tenant(&app, "busy");
    let mut conn = app.db.get().expect("conn");
    repo::start_run(
        &mut conn,
        &scope,
        &repo::NewRun {
            product: "drift_watch",
            mode: "sound",
            trigger: "test",
            parameters_json: "{}",
            lease_until: payerwatch::db::repo::now() + chrono::Duration::minutes(5),
            job_id: None,
        },
    )
    .expect("first run");
    drop(conn);
    let db = app.db.clone();
    let err = actix_web::rt::task::spawn_blocking(move || {
        reports::run(&db, &scope, Product::DriftWatch, None, "test")
    })
    .await
    .expect("joined")
    .expect_err("refused");
    assert!(matches!(err, ReportError::AlreadyRunning(_)), "{err}");
    // Other products are independent.
    let db = app.db.clone();
    let other = actix_web::rt::task::spawn_blocking(move || {
        reports::run(&db, &scope, Product::DelayGuard, None, "test")
    })
    .await
    .expect("joined")
    .expect("delay run");
    assert_eq!(other.events_created, 0, "no claims, no events");
}

#[actix_web::test]
async fn findings_pages_show_only_the_tenants_events_and_name_bad_parameters() {
    let app = spawn_app().await;
    let a_password = app.create_user(
        "Clinic A",
        "viewer@a.test",
        payerwatch::domain::roles::Role::Viewer,
        false,
    );
    let b_password = app.create_user(
        "Clinic B",
        "viewer@b.test",
        payerwatch::domain::roles::Role::Viewer,
        false,
    );
    let scope_a = {
        let mut conn = app.db.get().expect("conn");
        TenantScope::for_system(CustomerId(
            customers::find_by_slug(&mut conn, "clinic-a")
                .expect("a")
                .id,
        ))
    };
    load_generated_claims(
        &app.db,
        &scope_a,
        &GenOptions {
            rows: 40_000,
            ..GenOptions::default()
        },
    );
    let db = app.db.clone();
    actix_web::rt::task::spawn_blocking(move || reports::run_all(&db, &scope_a, None, "test"))
        .await
        .expect("runs");

    app.login("viewer@a.test", &a_password).await;
    let page = app.get("/portal/drift").await;
    assert_eq!(page.status(), 200);
    let body = page.text().await.expect("body");
    assert!(
        body.contains("Cigna</a> × IMAGING"),
        "tenant A sees its finding"
    );
    assert!(body.contains("<svg class=\"chart\""), "with a chart");
    let filtered = app
        .get("/portal/drift?payer=Cigna&kind=denial_rate&min_severity=medium&page=1")
        .await;
    assert_eq!(filtered.status(), 200);
    assert!(
        filtered
            .text()
            .await
            .expect("body")
            .contains("Cigna</a> × IMAGING")
    );
    assert!(
        app.get("/portal/delays")
            .await
            .text()
            .await
            .expect("body")
            .contains("Humana")
    );
    assert!(
        app.get("/portal/denials")
            .await
            .text()
            .await
            .expect("body")
            .contains("CO-197")
    );
    assert!(
        app.get("/portal")
            .await
            .text()
            .await
            .expect("body")
            .contains("Top findings")
    );

    // Plain words (issue 17 item 5): money, how sure in words, claims with separators, a
    // help page for the terms, and no `e-` notation on any page.
    let e_notation = |body: &str| {
        body.as_bytes().windows(3).enumerate().any(|(i, w)| {
            w[0].is_ascii_digit()
                && (w[1] == b'e' || w[1] == b'E')
                && (w[2] == b'-' || w[2] == b'+')
                && body.as_bytes().get(i + 3).is_some_and(u8::is_ascii_digit)
        })
    };
    for path in [
        "/portal",
        "/portal/drift",
        "/portal/denials",
        "/portal/delays",
        "/portal/help",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        let body = res.text().await.expect("body");
        assert!(!e_notation(&body), "{path} shows e- notation");
        if path != "/portal/help" {
            assert!(body.contains('$'), "{path} shows dollars");
        }
        if path.starts_with("/portal/d") {
            assert!(body.contains("Money at stake"), "{path}");
            assert!(body.contains("by chance less than once in"), "{path}");
            assert!(body.contains("/portal/help"), "{path} links the help page");
        }
    }
    let help = app.get("/portal/help").await.text().await.expect("help");
    for words in [
        "strict statistics (recommended)",
        "legacy thresholds",
        "Benjamini–Hochberg",
        "Windows",
    ] {
        assert!(
            help.to_lowercase().contains(&words.to_lowercase()),
            "{words}"
        );
    }
    let delays = app
        .get("/portal/delays")
        .await
        .text()
        .await
        .expect("delays");
    assert!(!delays.contains(" d → "), "days are spelled out");

    for sort in ["money", "newest"] {
        let res = app.get(&format!("/portal/drift?sort={sort}")).await;
        assert_eq!(res.status(), 200, "sort={sort}");
    }
    // "Data up to" names the last day with data (the window's exclusive end minus one),
    // the day the cards' "14 days to …" show, not the day after.
    let as_of = {
        let mut conn = app.db.get().expect("conn");
        payerwatch::db::repo::analytics::latest_run_of(&mut conn, &scope_a, "drift_watch")
            .expect("run")
            .and_then(|r| r.as_of)
            .expect("as_of")
    };
    let body = app.get("/portal/drift").await.text().await.expect("body");
    let last_day = as_of.pred_opt().expect("day");
    assert!(
        body.contains(&format!("on data up to {last_day}")),
        "data up to {last_day}"
    );
    assert!(
        !body.contains(&format!("on data up to {as_of}")),
        "the exclusive end is not a day with data"
    );
    // Money first by default: labels never rise down the list.
    let ranked = events(&app, &scope_a, "drift_watch");
    let ranks: Vec<f64> = ranked.iter().map(|e| e.severity).collect();
    assert!(ranks.windows(2).all(|w| w[0] >= w[1]), "{ranks:?}");

    for (query, name) in [
        ("from=last-week", "from"),
        ("page=-1", "page"),
        ("min_severity=9", "min_severity"),
        ("kind=x", "kind"),
        ("direction=up", "direction"),
        ("sort=severity", "sort"),
    ] {
        let res = app.get(&format!("/portal/drift?{query}")).await;
        assert_eq!(res.status(), 400, "{query}");
        let body = res.text().await.expect("body");
        assert!(
            body.contains("is not valid") && body.contains(name),
            "{query}"
        );
        // SPEC §10: the 400 is the feed page itself: navigation, the filter form and the
        // message beside the field, not a bare error page.
        assert!(
            body.contains("aria-label=\"Filters\""),
            "{query}: no filter form"
        );
        assert!(body.contains("Sign out"), "{query}: no portal chrome");
        assert!(body.contains("Fix the filter above"), "{query}");
    }
    // What was typed stays in the form, beside its message; other filters are kept.
    let res = app
        .get("/portal/drift?payer=Cigna&from=2026-11-30&to=2026-11-01")
        .await;
    assert_eq!(res.status(), 400);
    let body = res.text().await.expect("body");
    assert!(
        body.contains("id=\"f-from-error\""),
        "message beside 'from'"
    );
    assert!(body.contains("value=\"2026-11-30\""), "from kept");
    assert!(body.contains("value=\"2026-11-01\""), "to kept");
    assert!(
        body.contains("<option value=\"Cigna\" selected>"),
        "payer kept"
    );

    let b = crate::common::new_client();
    app.login_with(&b, "viewer@b.test", &b_password).await;
    for path in [
        "/portal/drift",
        "/portal/denials",
        "/portal/delays",
        "/portal",
    ] {
        let body = app.get_with(&b, path).await.text().await.expect("body");
        assert!(
            !body.contains("Cigna"),
            "{path} leaks another tenant's findings"
        );
        assert!(
            !body.contains("Humana"),
            "{path} leaks another tenant's findings"
        );
    }
    assert!(
        app.get_with(&b, "/portal/drift")
            .await
            .text()
            .await
            .expect("body")
            .contains("No findings")
    );
    assert_eq!(
        crate::common::new_client()
            .get(app.url("/portal/drift"))
            .send()
            .await
            .expect("sent")
            .status(),
        303
    );
}

#[actix_web::test]
async fn admins_switch_the_mode_and_runs_show_both_modes_counts() {
    use payerwatch::domain::roles::Role;
    let app = spawn_app().await;
    let admin_pw = app.create_user("Clinic", "admin@clinic.test", Role::Admin, false);
    let viewer_pw = app.create_user("Clinic", "viewer@clinic.test", Role::Viewer, false);

    let viewer = crate::common::new_client();
    app.login_with(&viewer, "viewer@clinic.test", &viewer_pw)
        .await;
    assert_eq!(
        app.get_with(&viewer, "/portal/settings/analytics")
            .await
            .status(),
        200
    );
    let res = app
        .post_form_with(
            &viewer,
            "/portal/settings/analytics",
            "/portal/settings/analytics",
            &[("action", "mode"), ("mode", "compat")],
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = app
        .post_form_with(
            &viewer,
            "/portal/settings/analytics",
            "/portal/settings/analytics",
            &[("action", "run")],
        )
        .await;
    assert_eq!(res.status(), 403, "viewers cannot start runs");

    app.login("admin@clinic.test", &admin_pw).await;
    let res = app
        .post_form(
            "/portal/settings/analytics",
            "/portal/settings/analytics",
            &[("action", "mode"), ("mode", "compat")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let scope = {
        let mut conn = app.db.get().expect("conn");
        let customer = customers::find_by_slug(&mut conn, "clinic").expect("customer");
        assert_eq!(customer.analytics_mode, "compat");
        TenantScope::for_system(CustomerId(customer.id))
    };
    load_generated_claims(
        &app.db,
        &scope,
        &GenOptions {
            rows: 20_000,
            drift: false,
            ..GenOptions::default()
        },
    );
    let db = app.db.clone();
    actix_web::rt::task::spawn_blocking(move || {
        reports::run(&db, &scope, Product::DriftWatch, None, "test")
    })
    .await
    .expect("joined")
    .expect("run");
    let page = app
        .get("/portal/settings/analytics")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("Compat would raise") && page.contains("succeeded"));
    let bad = app
        .post_form(
            "/portal/settings/analytics",
            "/portal/settings/analytics",
            &[("action", "mode"), ("mode", "loud")],
        )
        .await;
    assert_eq!(bad.status(), 400);
}

#[actix_web::test]
async fn the_drift_export_has_the_documented_columns_and_needs_an_analyst() {
    use payerwatch::domain::roles::Role;
    let app = spawn_app().await;
    let analyst_pw = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    let viewer_pw = app.create_user("Clinic", "viewer@clinic.test", Role::Viewer, false);
    let scope = {
        let mut conn = app.db.get().expect("conn");
        TenantScope::for_system(CustomerId(
            customers::find_by_slug(&mut conn, "clinic").expect("c").id,
        ))
    };
    load_generated_claims(
        &app.db,
        &scope,
        &GenOptions {
            rows: 40_000,
            ..GenOptions::default()
        },
    );
    let db = app.db.clone();
    actix_web::rt::task::spawn_blocking(move || {
        reports::run(&db, &scope, Product::DriftWatch, None, "test")
    })
    .await
    .expect("run")
    .expect("ok");

    let viewer = crate::common::new_client();
    app.login_with(&viewer, "viewer@clinic.test", &viewer_pw)
        .await;
    assert_eq!(
        app.get_with(&viewer, "/portal/drift.csv").await.status(),
        403
    );

    app.login("analyst@clinic.test", &analyst_pw).await;
    let res = app.get("/portal/drift.csv?kind=denial_rate").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/csv")
    );
    let body = res.text().await.expect("csv");
    let mut lines = body.lines();
    assert_eq!(
        lines.next(),
        Some(
            "payer,cpt_group,kind,direction,baseline_value,current_value,delta,ci_low,ci_high,p_value,q_value,severity_label,dollars_per_month,baseline_n,current_n,baseline_start,baseline_last_day,current_start,current_last_day,mode"
        )
    );
    let cigna = lines
        .find(|l| l.starts_with("Cigna,IMAGING,denial_rate,worse,"))
        .expect("Cigna row");
    assert!(cigna.ends_with(",sound"), "{cigna}");
    let cells: Vec<&str> = cigna.split(',').collect();
    // Money a month, in whole dollars.
    assert!(
        cells[12]
            .parse::<f64>()
            .is_ok_and(|d| d > 0.0 && d.fract() == 0.0),
        "{cigna}"
    );
    // Rates in percent to 0.1 (issue 19 item 7: no 17-digit fractions): 0.11 → 45 %.
    for cell in &cells[4..9] {
        let decimals = cell.split_once('.').map_or(0, |(_, f)| f.len());
        assert!(
            decimals <= 1 && cell.parse::<f64>().is_ok(),
            "{cell} in {cigna}"
        );
    }
    let current: f64 = cells[5].parse().expect("current");
    assert!((30.0..60.0).contains(&current), "a percentage: {cigna}");
    // p and q to 2 significant digits, as plain numbers.
    for cell in &cells[9..11] {
        let digits = cell.trim_start_matches(['0', '.']).replace('.', "");
        assert!(
            digits.len() <= 2 && !cell.contains('e'),
            "{cell} in {cigna}"
        );
    }
    // The windows as the page shows them: the last day, not the exclusive end.
    let event = {
        let mut conn = app.db.get().expect("conn");
        repo::list_events(&mut conn, &scope, &Default::default(), 1, 500)
            .expect("events")
            .items
            .into_iter()
            .find(|e| e.payer == "Cigna" && e.cpt_group == "IMAGING" && e.kind == "denial_rate")
            .expect("event")
    };
    let last = event.current_end.pred_opt().expect("day");
    assert_eq!(cells[18], last.to_string(), "{cigna}");
    assert_eq!(cells[17], event.current_start.to_string());
    let page = app
        .get("/portal/drift?payer=Cigna")
        .await
        .text()
        .await
        .expect("page");
    assert!(
        page.contains(&format!("days to {last}")),
        "the page shows the same last day"
    );
    // The "window ends" filter takes that day as shown: up to it includes the finding.
    let up_to = |day: NaiveDate| format!("/portal/drift?payer=Cigna&from={day}&to={day}");
    let page = app.get(&up_to(last)).await.text().await.expect("page");
    assert!(
        page.contains("Cigna</a> × IMAGING"),
        "to = the last day shown"
    );
    let page = app.get(&up_to(last.pred_opt().expect("day"))).await;
    assert!(
        !page
            .text()
            .await
            .expect("page")
            .contains("Cigna</a> × IMAGING")
    );
    assert!(
        body.lines().skip(1).all(|l| l.contains(",denial_rate,")),
        "filter applied"
    );
    assert_eq!(app.get("/portal/drift.csv?from=bad").await.status(), 400);
    for (path, expected) in [
        ("/portal/denials.csv", "denial_scope"),
        ("/portal/delays.csv", "delay_guard"),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        let body = res.text().await.expect("csv");
        assert!(body.starts_with("payer,cpt_group,kind,"), "{path}");
        assert!(
            !body.contains("drift_watch"),
            "{path} holds only {expected} findings"
        );
    }
    assert_eq!(
        app.get_with(&viewer, "/portal/delays.csv").await.status(),
        403
    );
    let mut conn = app.db.get().expect("conn");
    let exported = payerwatch::db::repo::audit::list_recent(&mut conn, &scope, 50).expect("audit");
    assert!(exported.iter().any(|a| a.action == "export.drift_csv"));
}

/// SPEC §9 "a run reports 'claims covered'": each run records the counted claims its
/// windows covered — by decided date in sound mode, by submitted date in compat mode, from
/// its earliest window's start to `as_of`, REVERSED left out — counted here from claims
/// independently; the analytics settings page lists it per run and the findings pages'
/// "on data up to" line says it.
#[actix_web::test]
async fn every_run_reports_the_claims_its_windows_covered() {
    use diesel::prelude::*;
    use payerwatch::db::schema::{claim_records as c, report_runs as r};
    use payerwatch::domain::analytics::windows;
    use payerwatch::domain::format::thousands;
    use payerwatch::domain::roles::Role;

    let app = spawn_app().await;
    let admin_pw = app.create_user("Clinic", "admin@clinic.test", Role::Admin, false);
    let scope = {
        let mut conn = app.db.get().expect("conn");
        let customer = customers::find_by_slug(&mut conn, "clinic").expect("customer");
        TenantScope::for_system(CustomerId(customer.id))
    };
    load_generated_claims(
        &app.db,
        &scope,
        &GenOptions {
            rows: 20_000,
            days: 200,
            ..GenOptions::default()
        },
    );
    // A voided claim inside every window counts nowhere.
    {
        let mut conn = app.db.get().expect("conn");
        let id: i64 = c::table
            .filter(c::customer_id.eq(scope.id()))
            .order(c::decided_date.desc())
            .select(c::id)
            .first(&mut conn)
            .expect("a claim");
        diesel::update(c::table.filter(c::id.eq(id)))
            .set(c::outcome.eq("REVERSED"))
            .execute(&mut conn)
            .expect("voided");
        // The rollups follow the claims (what a reversal's upkeep does).
        let expected =
            payerwatch::db::repo::rollups::recompute(&mut conn, &scope).expect("recompute");
        payerwatch::db::repo::rollups::replace(&mut conn, &scope, &expected).expect("replace");
    }
    let total: i64 = {
        let mut conn = app.db.get().expect("conn");
        c::table
            .filter(c::customer_id.eq(scope.id()))
            .count()
            .get_result(&mut conn)
            .expect("count")
    };
    let mut last_drift = 0;
    for mode in ["sound", "compat"] {
        let db = app.db.clone();
        let summaries = actix_web::rt::task::spawn_blocking(move || {
            db.write_blocking(|conn| repo::set_analytics_mode(conn, &scope, mode))
                .expect("mode");
            reports::run_all(&db, &scope, None, "test")
        })
        .await
        .expect("joined");
        let mut conn = app.db.get().expect("conn");
        for summary in summaries {
            let s = summary.expect("run");
            let as_of = s.as_of.expect("as of");
            let start = match s.product {
                "drift_watch" => windows::drift_windows(as_of),
                "denial_scope" if mode == "sound" => windows::denial_windows_sound(as_of),
                "denial_scope" => windows::denial_windows(as_of),
                _ => windows::delay_windows(as_of),
            }
            .expect("windows")
            .baseline
            .start;
            let counted = c::table
                .filter(c::customer_id.eq(scope.id()))
                .filter(c::outcome.ne("REVERSED"))
                .into_boxed();
            let counted = if mode == "sound" {
                counted
                    .filter(c::decided_date.ge(start))
                    .filter(c::decided_date.lt(as_of))
            } else {
                counted
                    .filter(c::submitted_date.ge(start))
                    .filter(c::submitted_date.lt(as_of))
            };
            let expected: i64 = counted.count().get_result(&mut conn).expect("count");
            let what = format!("{} {mode}", s.product);
            assert!(
                expected > 0 && expected < total - 1,
                "{what}: {expected} of {total}"
            );
            assert_eq!(s.claims_covered, expected, "{what}");
            let stored: Option<i64> = r::table
                .filter(r::id.eq(s.run_id))
                .select(r::claims_covered)
                .first(&mut conn)
                .expect("run");
            assert_eq!(stored, Some(expected), "{what}: stored");
            if s.product == "drift_watch" {
                last_drift = expected;
            }
        }
    }
    app.login("admin@clinic.test", &admin_pw).await;
    let settings = app
        .get("/portal/settings/analytics")
        .await
        .text()
        .await
        .expect("page");
    assert!(settings.contains(">Claims covered</th>"));
    assert!(settings.contains(&format!(
        "<td class=\"num\">{}</td>",
        thousands(last_drift as u64)
    )));
    let feed = app.get("/portal/drift").await.text().await.expect("feed");
    assert!(
        feed.contains(&format!(
            "({} claims covered)",
            thousands(last_drift as u64)
        )),
        "the drift feed's run line"
    );
}
