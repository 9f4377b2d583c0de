//! The claims behind an alert or a finding (issue 19 item 1, SPEC §10), on both databases:
//! its windows, payer and group or reason only; paged and sorted; CSV for analysts;
//! another tenant's id is 404.

use diesel::dsl::count_star;
use diesel::prelude::*;
use payerwatch::db::repo::alerts::{self as repo, AlertFilter};
use payerwatch::db::repo::analytics;
use payerwatch::db::repo::customers;
use payerwatch::db::schema::claim_records;
use payerwatch::devtools::generate::GenOptions;
use payerwatch::domain::roles::Role;
use payerwatch::domain::tenant::{CustomerId, TenantScope};
use payerwatch::services::drilldown::EXPORT_BATCH;

use crate::common::{load_generated_claims, new_client, spawn_app};

fn rows_of(csv: &str) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    reader
        .records()
        .map(|r| r.expect("record").iter().map(str::to_string).collect())
        .collect()
}

#[actix_web::test]
async fn an_alert_leads_to_exactly_its_claims_paged_sorted_and_as_csv() {
    let app = spawn_app().await;
    let analyst_pw = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    let viewer_pw = app.create_user("Clinic", "viewer@clinic.test", Role::Viewer, false);
    let other_pw = app.create_user("Other", "admin@other.test", Role::Admin, false);
    let scope = app.scope_of("clinic");
    app.analysed(
        scope,
        &GenOptions {
            rows: 40_000,
            ..GenOptions::default()
        },
    )
    .await;
    let mut conn = app.db.get().expect("conn");
    let alerts = repo::list_alerts(&mut conn, &scope, &AlertFilter::default(), 1, 100)
        .expect("alerts")
        .0
        .items;
    let cigna = alerts
        .iter()
        .find(|a| a.alert.payer == "Cigna" && a.alert.cpt_group == "IMAGING")
        .expect("the Cigna × IMAGING alert");
    let uhc = alerts
        .iter()
        .find(|a| a.alert.cpt_group == "CO-197")
        .expect("the CO-197 alert");
    let event = analytics::find_event(
        &mut conn,
        &scope,
        cigna.alert.drift_event_id.expect("finding"),
    )
    .expect("finding");
    // The claims the finding was computed on, counted independently of the page.
    let expected: i64 = claim_records::table
        .filter(claim_records::customer_id.eq(scope.id()))
        .filter(claim_records::payer.eq("Cigna"))
        .filter(claim_records::cpt_group.eq("IMAGING"))
        .filter(
            claim_records::decided_date
                .ge(event.baseline_start)
                .and(claim_records::decided_date.lt(event.current_end)),
        )
        .select(count_star())
        .first(&mut conn)
        .expect("count");
    // Every claim's order keys, to check the CSV's order independently of the SQL.
    let mut keys: Vec<(i64, Option<i64>, chrono::NaiveDate)> = claim_records::table
        .filter(claim_records::customer_id.eq(scope.id()))
        .filter(claim_records::payer.eq("Cigna"))
        .filter(claim_records::cpt_group.eq("IMAGING"))
        .filter(
            claim_records::decided_date
                .ge(event.baseline_start)
                .and(claim_records::decided_date.lt(event.current_end)),
        )
        .select((
            claim_records::id,
            claim_records::allowed_cents,
            claim_records::decided_date,
        ))
        .load(&mut conn)
        .expect("keys");
    // Every other claim without an allowed amount (NULL sorts differently on the two
    // databases unless the query says how), so batches end both inside and outside them.
    let unpriced: Vec<i64> = keys.iter().step_by(2).map(|k| k.0).collect();
    diesel::update(claim_records::table.filter(claim_records::id.eq_any(&unpriced)))
        .set(claim_records::allowed_cents.eq(None::<i64>))
        .execute(&mut conn)
        .expect("unpriced claims");
    for k in keys.iter_mut().step_by(2) {
        k.1 = None;
    }
    // A claim whose cells look like spreadsheet formulas (a hostile or broken file).
    let hostile = keys[keys.len() / 2].0;
    diesel::update(claim_records::table.filter(claim_records::id.eq(hostile)))
        .set((
            claim_records::cpt.eq("=2+5"),
            claim_records::denial_reason_code.eq(Some("ZZ-999")),
            claim_records::denial_reason_text.eq(Some("@SUM(A1)")),
        ))
        .execute(&mut conn)
        .expect("hostile claim");
    drop(conn);
    assert!(expected > 50, "more than one page: {expected}");
    assert!(
        expected > EXPORT_BATCH,
        "the CSV streams more than one batch: {expected}"
    );
    assert!(
        keys.iter().any(|k| k.1.is_none()) && keys.iter().any(|k| k.1.is_some()),
        "claims with and without an amount"
    );

    let viewer = new_client();
    app.login_with(&viewer, "viewer@clinic.test", &viewer_pw)
        .await;
    let alert_page = app
        .get_with(&viewer, &format!("/portal/alerts/{}", cigna.alert.id))
        .await
        .text()
        .await
        .expect("page");
    let claims_path = format!("/portal/alerts/{}/claims", cigna.alert.id);
    assert!(
        alert_page.contains(&claims_path),
        "the alert links its claims"
    );
    let page = app.get_with(&viewer, &claims_path).await;
    assert_eq!(page.status(), 200);
    let body = page.text().await.expect("body");
    let total = payerwatch::domain::format::thousands(expected.unsigned_abs());
    assert!(body.contains(&format!("{total} claims")), "total {total}");
    assert!(body.contains("IMAGING") && !body.contains("LAB</td>"));
    assert_eq!(body.matches("<tr><td>").count(), 50, "one page of 50");
    assert!(body.contains("page=2"), "a next page");
    assert!(!body.contains(".csv?"), "viewers get no CSV link");
    assert_eq!(
        app.get_with(&viewer, &format!("{claims_path}.csv"))
            .await
            .status(),
        403
    );
    // Issue 19 item 6: a refused sort, direction or page answers 400 on the claims page
    // itself (portal chrome, the evidence), the message beside its field and the other
    // values kept in the form; no claims listed until it is fixed.
    for (query, field, kept) in [
        (
            "sort=patient&dir=asc",
            "c-sort",
            "<option value=\"asc\" selected>",
        ),
        (
            "sort=amount&dir=sideways",
            "c-dir",
            "<option value=\"amount\" selected>",
        ),
        (
            "sort=days&page=0",
            "c-page",
            "<option value=\"days\" selected>",
        ),
    ] {
        let res = app
            .get_with(&viewer, &format!("{claims_path}?{query}"))
            .await;
        assert_eq!(res.status(), 400, "{query}");
        let body = res.text().await.expect("body");
        assert!(body.contains("Sign out"), "{query}: portal chrome");
        assert!(body.contains("Evidence"), "{query}: the claims page itself");
        assert!(
            body.contains(&format!(
                "aria-invalid=\"true\" aria-describedby=\"{field}-error\""
            )) && body.contains(&format!("<p class=\"field-error\" id=\"{field}-error\"")),
            "{query}: the message beside {field}"
        );
        assert!(body.contains("is not valid"), "{query}");
        assert!(body.contains(kept), "{query}: other values kept");
        assert!(body.contains("Fix the order above"), "{query}");
        assert_eq!(body.matches("<tr><td>").count(), 0, "{query}: no rows");
        assert!(
            !body.contains("<p>0 claims"),
            "{query}: no count of claims not counted"
        );
    }
    let res = app
        .get_with(
            &viewer,
            &format!("/portal/findings/{}/claims?page=x", event.id),
        )
        .await;
    assert_eq!(res.status(), 400);
    let body = res.text().await.expect("body");
    assert!(body.contains("value=\"x\""), "the page as typed");
    assert!(body.contains("id=\"c-page-error\""));
    let finding_path = format!("/portal/findings/{}", event.id);
    for path in [finding_path.clone(), format!("{finding_path}/claims")] {
        let res = app.get_with(&viewer, &path).await;
        assert_eq!(res.status(), 200, "{path}");
    }

    // The CSV: every claim, sorted as asked, formula-safe writer, audited.
    app.login("analyst@clinic.test", &analyst_pw).await;
    let res = app
        .get(&format!("{claims_path}.csv?sort=amount&dir=asc"))
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/csv")
    );
    let rows = rows_of(&res.text().await.expect("csv"));
    assert_eq!(rows.len() as i64, expected, "every claim behind the alert");
    assert!(rows.iter().all(|r| r[2] == "Cigna" && r[4] == "IMAGING"));
    assert!(rows.iter().any(|r| r[1] == "baseline") && rows.iter().any(|r| r[1] == "current"));
    let amounts: Vec<f64> = rows.iter().filter_map(|r| r[9].parse().ok()).collect();
    assert!(amounts.windows(2).all(|w| w[0] <= w[1]), "sorted by amount");
    // Exactly the page's order across batches: no claim twice, none skipped. Claims
    // without an amount are the smallest on both databases, then the id breaks ties.
    let ids = |rows: &[Vec<String>]| -> Vec<i64> {
        rows.iter().map(|r| r[0].parse().expect("id")).collect()
    };
    let mut by_amount: Vec<(Option<i64>, i64)> = keys.iter().map(|k| (k.1, k.0)).collect();
    by_amount.sort();
    assert_eq!(
        ids(&rows),
        by_amount.iter().map(|k| k.1).collect::<Vec<_>>(),
        "amount ascending"
    );
    let hostile_row = rows
        .iter()
        .find(|r| r[0] == hostile.to_string())
        .expect("the hostile claim");
    assert_eq!(
        (hostile_row[3].as_str(), hostile_row[11].as_str()),
        ("'=2+5", "'@SUM(A1)"),
        "formula-looking cells are written as text"
    );
    by_amount.reverse();
    let res = app
        .get(&format!("{claims_path}.csv?sort=amount&dir=desc"))
        .await;
    assert_eq!(
        ids(&rows_of(&res.text().await.expect("csv"))),
        by_amount.iter().map(|k| k.1).collect::<Vec<_>>(),
        "amount descending, claims without an amount last"
    );
    let mut by_decided: Vec<(chrono::NaiveDate, i64)> = keys.iter().map(|k| (k.2, k.0)).collect();
    by_decided.sort();
    by_decided.reverse();
    let res = app.get(&format!("{claims_path}.csv")).await;
    assert_eq!(
        ids(&rows_of(&res.text().await.expect("csv"))),
        by_decided.iter().map(|k| k.1).collect::<Vec<_>>(),
        "newest decision first by default"
    );
    let finding_csv = app.get(&format!("{finding_path}/claims.csv")).await;
    assert_eq!(finding_csv.status(), 200);
    assert_eq!(
        rows_of(&finding_csv.text().await.expect("csv")).len(),
        rows.len()
    );

    // DenialScope: the reason's claims, with the code in words.
    let res = app
        .get(&format!("/portal/alerts/{}/claims.csv", uhc.alert.id))
        .await;
    let rows = rows_of(&res.text().await.expect("csv"));
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| r[10] == "CO-197" && r[11].contains("authorization")),
        "{:?}",
        rows.first()
    );

    // Remark codes (RARC) of 835 claims: each code shown, with our words when we have them;
    // the denials page puts the reason code's words beside it.
    {
        let mut conn = app.db.get().expect("conn");
        diesel::update(
            claim_records::table
                .filter(claim_records::customer_id.eq(scope.id()))
                .filter(claim_records::denial_reason_code.eq(Some("CO-197"))),
        )
        .set(claim_records::remark_codes.eq(Some("N130 N9999")))
        .execute(&mut conn)
        .expect("remark codes");
    }
    let page = app
        .get(&format!("/portal/alerts/{}/claims", uhc.alert.id))
        .await
        .text()
        .await
        .expect("page");
    assert!(
        page.contains("<strong>N130</strong> <span class=\"muted\">Check the plan")
            && page.contains("benefit limits and exclusions"),
        "RARC words on the drill-down"
    );
    assert!(
        page.contains("<strong>N9999</strong></td>"),
        "an unknown remark code is shown alone"
    );
    let denials = app.get("/portal/denials").await.text().await.expect("page");
    assert!(
        denials.contains(
            "CO-197 <span class=\"muted\">Prior authorization or pre-certification missing</span>"
        ),
        "reason words on the denials page"
    );

    // Another tenant: 404 for every form of the id.
    let other = new_client();
    app.login_with(&other, "admin@other.test", &other_pw).await;
    for path in [
        claims_path.clone(),
        format!("{claims_path}.csv"),
        finding_path.clone(),
        format!("{finding_path}/claims"),
        format!("{finding_path}/claims.csv"),
    ] {
        assert_eq!(app.get_with(&other, &path).await.status(), 404, "{path}");
    }
}

/// The claims behind a finding are the same whichever mode picks them: by decided date, or
/// by submitted date (compat), whose query also bounds the decided date (a claim is decided
/// on or after its submission) so it walks the windows' days of the tenant's decided-date
/// index, not all its claims; and their count, read from the day rollups unless a reason
/// code narrows them, is the number listed. Compared with the windows' claims picked in
/// Rust.
#[test]
fn the_claims_behind_a_finding_are_its_windows_claims_in_both_modes() {
    use chrono::NaiveDate;
    use payerwatch::db::Db;
    use payerwatch::db::repo::claims;
    use payerwatch::domain::drilldown::{ClaimSelection, ClaimSort};

    let database = crate::common::TestDatabase::create();
    let db = Db::connect(database.url(), 2).expect("database");
    db.migrate().expect("migrations");
    let id = db
        .write_blocking(|c| customers::insert(c, "modes", "Modes"))
        .expect("customer");
    let scope = TenantScope::for_system(CustomerId(id));
    let end = NaiveDate::from_ymd_opt(2026, 11, 22).expect("date");
    load_generated_claims(
        &db,
        &scope,
        &GenOptions {
            rows: 6_000,
            seed: 5,
            end,
            ..GenOptions::default()
        },
    );
    let mut conn = db.get().expect("conn");
    let all: Vec<claims::ClaimRecord> = claim_records::table
        .filter(claim_records::customer_id.eq(scope.id()))
        .select(claims::ClaimRecord::as_select())
        .load(&mut conn)
        .expect("claims");
    let day = |n: u64| end - chrono::Days::new(n);
    // A payer, a payer and group (counted from the day rollups), a payer and reason code
    // (counted on claims).
    let narrowed = [
        (None, None),
        (Some("IMAGING"), None),
        (None, Some("CO-197")),
    ];
    for (by_submitted, (group, reason)) in [false, true]
        .into_iter()
        .flat_map(|m| narrowed.map(|n| (m, n)))
    {
        let selection = ClaimSelection {
            payer: "Cigna".to_string(),
            cpt_group: group.map(str::to_string),
            reason_code: reason.map(str::to_string),
            by_submitted,
            baseline: (day(60), day(30)),
            current: (day(14), day(0)),
        };
        let within = |d: NaiveDate, (a, b): (NaiveDate, NaiveDate)| a <= d && d < b;
        let mut expected: Vec<i64> = all
            .iter()
            .filter(|c| c.payer == "Cigna" && c.outcome != "REVERSED")
            .filter(|c| group.is_none_or(|g| c.cpt_group == g))
            .filter(|c| reason.is_none_or(|r| c.denial_reason_code.as_deref() == Some(r)))
            .filter(|c| {
                let d = if by_submitted {
                    c.submitted_date
                } else {
                    c.decided_date
                };
                within(d, selection.baseline) || within(d, selection.current)
            })
            .map(|c| c.id)
            .collect();
        expected.sort_unstable();
        let case = format!("by_submitted {by_submitted}, group {group:?}, reason {reason:?}");
        assert!(!expected.is_empty(), "{case}: no claims");
        let page = claims::behind_finding(
            &mut conn,
            &scope,
            &selection,
            ClaimSort::Decided,
            false,
            1,
            100_000,
        )
        .expect("claims");
        let mut got: Vec<i64> = page.items.iter().map(|c| c.id).collect();
        got.sort_unstable();
        assert_eq!(
            page.total,
            expected.len() as i64,
            "by_submitted {by_submitted}"
        );
        assert_eq!(got, expected, "by_submitted {by_submitted}");
    }
}
