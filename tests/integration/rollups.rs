//! Daily claim rollups (issue 21) on the real database (SQLite, or PostgreSQL when
//! `PAYERWATCH_TEST_POSTGRES` is set): after a randomized sequence of uploads (generated
//! files with merged spellings, hand-written rows with every outcome and reason shape),
//! refused deletes, alias and CPT-group re-maps, payer merges and splits, the stored
//! rollups equal the ones recomputed from claims (`payerwatch rollups --verify`), for
//! every tenant, after every step. And a lost rollup is reported, then rebuilt.

use chrono::NaiveDate;
use payerwatch::db::Db;
use payerwatch::db::repo::{mappings, rollups as repo, uploads};
use payerwatch::devtools::generate::{DateStyle, GenOptions};
use payerwatch::domain::tenant::TenantScope;
use payerwatch::ingest::{IngestOptions, UploadStatus};
use payerwatch::services::{mappings as mapping_service, rollups};

use crate::common::{load_generated_claims, migrated_db, new_tenant, upload_csv};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).expect("date")
}

/// A tiny deterministic generator (the sequence must be reproducible from its seed).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Rows written by hand: spellings that merge, aliases' targets, blank and coded
/// reasons, every outcome, missing amounts, several CPT codes.
fn handwritten_csv(rng: &mut Rng, rows: usize) -> String {
    let payers = [
        "Aetna",
        "AETNA",
        "aetna ",
        "Aetna Inc",
        "Humana",
        "HUMANA",
        "Acme Plan",
        "acme plan",
        "Zeta Health",
    ];
    let cpts = [
        "99213", "99214", "70450", "80053", "97110", "27447", "12345",
    ];
    let outcomes = ["PAID", "DENIED", "DENIED", "OTHER"];
    let codes = ["", "CO-197", " CO-45 ", "PR-1"];
    let texts = ["", "Prior auth missing", "  "];
    let mut body = String::from(
        "payer,cpt,submitted_date,decided_date,outcome,allowed_amount,denial_reason_code,denial_reason_text\n",
    );
    for _ in 0..rows {
        let decided = today() - chrono::Days::new(1 + rng.below(150));
        let submitted = decided - chrono::Days::new(rng.below(40));
        let amount = match rng.below(3) {
            0 => String::new(),
            _ => format!("{}.{:02}", rng.below(900), rng.below(100)),
        };
        body.push_str(&format!(
            "\"{}\",{},{submitted},{decided},{},{amount},\"{}\",\"{}\"\n",
            rng.pick(&payers),
            rng.pick(&cpts),
            rng.pick(&outcomes),
            rng.pick(&codes),
            rng.pick(&texts),
        ));
    }
    body
}

/// `own_partition`: on PostgreSQL the upload's claims get a partition of their own (the
/// large-upload path), so re-maps, merges and splits also meet claims stored there.
fn upload(
    db: &Db,
    scope: TenantScope,
    name: &str,
    body: &str,
    own_partition: bool,
) -> (i64, UploadStatus) {
    let out = upload_csv(
        db,
        scope,
        name,
        body.as_bytes(),
        today(),
        own_partition,
        IngestOptions::default(),
    );
    (out.upload_id, out.status)
}

fn assert_verified(db: &Db, tenants: &[TenantScope], step: &str) {
    for scope in tenants {
        let differences = rollups::verify(db, scope).expect("verify");
        assert!(
            differences.is_empty(),
            "after {step}: {} differences, first: {:?}",
            differences.len(),
            differences.first()
        );
    }
}

#[test]
fn rollups_equal_their_claims_after_a_random_sequence_of_changes() {
    let (_database, db) = migrated_db(4);
    let tenants = [new_tenant(&db, "alpha"), new_tenant(&db, "beta")];
    let mut rng = Rng(21);
    let mut with_claims: Vec<(TenantScope, i64)> = Vec::new();
    for step in 0..14 {
        let scope = tenants[rng.below(2) as usize];
        let what = match rng.below(7) {
            0 | 1 => {
                let options = GenOptions {
                    rows: 200 + rng.below(800),
                    seed: rng.below(1_000),
                    end: today(),
                    days: 40 + rng.below(100) as u32,
                    date_style: if rng.below(2) == 0 {
                        DateStyle::Iso
                    } else {
                        DateStyle::Mixed
                    },
                    ..GenOptions::default()
                };
                let stored = load_generated_claims(&db, &scope, &options);
                assert!(stored > 0);
                "generated upload"
            }
            2 | 3 => {
                let rows = 20 + rng.below(200) as usize;
                let body = handwritten_csv(&mut rng, rows);
                let (id, status) = upload(
                    &db,
                    scope,
                    &format!("hand-{step}.csv"),
                    &body,
                    step % 2 == 0,
                );
                assert_ne!(status, UploadStatus::Failed);
                with_claims.push((scope, id));
                "handwritten upload"
            }
            4 => {
                // An upload with claims cannot be deleted (PROTECT): nothing changes.
                if let Some((owner, id)) = with_claims.first().copied() {
                    let refused = db.write_blocking(move |c| uploads::delete(c, &owner, id));
                    assert!(refused.is_err());
                }
                "refused delete"
            }
            5 => {
                let (alias, canonical) = [
                    ("Acme Plan", "Aetna"),
                    ("Zeta Health", "Humana"),
                    ("Aetna Inc", "Aetna Inc"),
                ][rng.below(3) as usize];
                let (code, group) = [("99213", "OFFICE"), ("70450", "LAB"), ("12345", "RARE")]
                    [rng.below(3) as usize];
                db.write_blocking(move |c| {
                    mappings::upsert_payer_alias(c, &scope, alias, canonical)?;
                    mappings::upsert_cpt_group(c, &scope, code, code, group)
                })
                .expect("mappings");
                mapping_service::remap(&db, &scope).expect("remap");
                "alias and CPT re-map"
            }
            _ => {
                // The mappings page's merge and split of stored payers.
                let merged = db.write_blocking(move |c| {
                    if rng_free_choice(c, &scope)? {
                        Ok::<_, payerwatch::db::DbError>(
                            mapping_service::merge(c, &scope, "Humana", "Aetna").is_ok(),
                        )
                    } else {
                        Ok(mapping_service::split(c, &scope, "HUMANA").is_ok())
                    }
                });
                merged.expect("merge or split");
                "merge or split"
            }
        };
        assert_verified(&db, &tenants, &format!("step {step} ({what})"));
    }
    // Something was rolled up, for both tenants.
    for scope in &tenants {
        let mut conn = db.get().expect("conn");
        assert!(
            repo::latest_decided(&mut conn, scope)
                .expect("latest")
                .is_some()
        );
    }
}

/// Merge when the tenant has a Humana to merge, else split (the choice depends on the
/// data, so the sequence exercises both).
fn rng_free_choice(
    conn: &mut payerwatch::db::DbConnection,
    scope: &TenantScope,
) -> Result<bool, payerwatch::db::DbError> {
    Ok(mappings::spelling_claim_counts(conn, scope)?
        .iter()
        .any(|(_, payer, _)| payer == "Humana"))
}

#[test]
fn a_lost_rollup_is_reported_and_rebuilt() {
    let (_database, db) = migrated_db(4);
    let scope = new_tenant(&db, "alpha");
    let options = GenOptions {
        rows: 600,
        seed: 5,
        end: today(),
        ..GenOptions::default()
    };
    load_generated_claims(&db, &scope, &options);
    assert!(rollups::verify(&db, &scope).expect("verify").is_empty());
    // A day row lost (say, restored from an old backup): verify names it.
    db.write_blocking(move |c| {
        use diesel::prelude::*;
        use payerwatch::db::schema::claim_day_rollups as d;
        let day: NaiveDate = d::table
            .filter(d::customer_id.eq(scope.id()))
            .select(d::decided_date)
            .first(c)?;
        diesel::delete(
            d::table
                .filter(d::customer_id.eq(scope.id()))
                .filter(d::decided_date.eq(day)),
        )
        .execute(c)
        .map_err(payerwatch::db::DbError::from)
    })
    .expect("lose a day");
    let differences = rollups::verify(&db, &scope).expect("verify");
    assert!(!differences.is_empty());
    assert!(differences[0].starts_with("day "), "{}", differences[0]);
    let counts = rollups::rebuild(&db, &scope).expect("rebuild");
    assert!(counts.day_rows > 0 && counts.reason_rows > 0);
    assert!(rollups::verify(&db, &scope).expect("verify").is_empty());
}

/// Migration 2026-12-06-999000 moves the text day rows aside; the next start converts them
/// to the stored bytes (the same histograms, every tenant) and drops the text table — as
/// here, where two tenants' rows are put back into a text table as they were stored
/// before.
#[test]
fn text_day_rows_are_converted_to_bytes_at_start() {
    let (_database, db) = migrated_db(4);
    let tenants = [new_tenant(&db, "alpha"), new_tenant(&db, "beta")];
    for (k, scope) in tenants.iter().enumerate() {
        let options = GenOptions {
            rows: 400 + 300 * k as u64,
            seed: 11 + k as u64,
            end: today(),
            ..GenOptions::default()
        };
        load_generated_claims(&db, scope, &options);
    }
    let before: Vec<_> = tenants
        .iter()
        .map(|scope| {
            let scope = *scope;
            db.write_blocking(move |c| repo::stored(c, &scope))
                .expect("stored")
        })
        .collect();
    let backend_text = db
        .write_blocking(|c| -> Result<bool, payerwatch::db::DbError> {
            use diesel::prelude::*;
            use diesel::sql_types::{BigInt, Date, Text};
            diesel::sql_query(
                "CREATE TABLE claim_day_rollups_text (customer_id BIGINT NOT NULL, \
                 decided_date DATE NOT NULL, payer TEXT NOT NULL, cpt_group TEXT NOT NULL, \
                 days TEXT NOT NULL)",
            )
            .execute(c)?;
            for (scope, stored) in tenants.iter().zip(&before) {
                for (key, hist) in &stored.cells {
                    let sql = match c {
                        payerwatch::db::DbConnection::Sqlite(_) => {
                            "INSERT INTO claim_day_rollups_text VALUES (?, ?, ?, ?, ?)"
                        }
                        payerwatch::db::DbConnection::Postgresql(_) => {
                            "INSERT INTO claim_day_rollups_text VALUES ($1, $2, $3, $4, $5)"
                        }
                    };
                    diesel::sql_query(sql)
                        .bind::<BigInt, _>(scope.id())
                        .bind::<Date, _>(key.decided)
                        .bind::<Text, _>(key.payer.clone())
                        .bind::<Text, _>(key.cpt_group.clone())
                        .bind::<Text, _>(repo::encode_histogram(hist))
                        .execute(c)?;
                }
            }
            diesel::sql_query("DELETE FROM claim_day_rollups").execute(c)?;
            repo::has_text_rows(c)
        })
        .expect("text rows");
    assert!(backend_text);
    assert!(before.iter().all(|r| !r.cells.is_empty()));
    db.migrate().expect("converts");
    for (scope, expected) in tenants.iter().zip(&before) {
        let scope = *scope;
        let after = db
            .write_blocking(move |c| repo::stored(c, &scope))
            .expect("stored");
        assert_eq!(&after, expected);
        assert!(rollups::verify(&db, &scope).expect("verify").is_empty());
    }
    assert!(!db.write_blocking(repo::has_text_rows).expect("probe"));
}

/// The equivalence tests' data: generated claims with injected drift (`rows` of them),
/// hand-written rows with every outcome and reason shape, a new and expensive reason in
/// the last days, uncoded denials of a small payer rising, a payer slowing down by
/// submission date.
fn equivalence_data(db: &Db, scope: TenantScope, rows: u64) {
    let options = GenOptions {
        rows,
        seed: 11,
        end: today(),
        ..GenOptions::default()
    };
    load_generated_claims(db, &scope, &options);
    let mut rng = Rng(7);
    let body = handwritten_csv(&mut rng, 400);
    assert_ne!(
        upload(db, scope, "hand.csv", &body, false).1,
        UploadStatus::Failed
    );
    // A new, expensive reason in the last days (new-reason and dollars signals).
    let mut surge = String::from(
        "payer,cpt,submitted_date,decided_date,outcome,allowed_amount,denial_reason_code\n",
    );
    for i in 0..40u64 {
        let decided = today() - chrono::Days::new(1 + i % 4);
        let submitted = decided - chrono::Days::new(1);
        surge.push_str(&format!(
            "Cigna,70450,{submitted},{decided},DENIED,2500.00,CO-999\n"
        ));
    }
    // Uncoded denials of a small payer rising (the old rate rule's bucket).
    let start = NaiveDate::from_ymd_opt(2026, 11, 1).expect("date");
    for i in 0..110u64 {
        let submitted = start + chrono::Days::new(i % 14);
        let outcome = if i < 10 { "DENIED,," } else { "PAID,," };
        let decided = submitted + chrono::Days::new(2);
        surge.push_str(&format!(
            "Zeta Health,99213,{submitted},{decided},{outcome}\n"
        ));
    }
    for i in 0..45u64 {
        let submitted = today() - chrono::Days::new(5 - i % 5);
        let outcome = if i < 15 { "DENIED,," } else { "PAID,," };
        let decided = submitted + chrono::Days::new(1).min(chrono::Days::new(i % 2));
        surge.push_str(&format!(
            "Zeta Health,99213,{submitted},{decided},{outcome}\n"
        ));
    }
    // A payer slowing down by submission date (compat's buckets) week after week.
    for i in 0..60u64 {
        let submitted = today() - chrono::Days::new(70 - i);
        let days = 3 + i / 6;
        let decided = (submitted + chrono::Days::new(days)).min(today());
        surge.push_str(&format!(
            "Slowpoke,97110,{submitted},{decided},PAID,100.00,\n"
        ));
    }
    assert_eq!(
        upload(db, scope, "surge.csv", &surge, true).1,
        UploadStatus::Succeeded
    );
    assert!(rollups::verify(db, &scope).expect("verify").is_empty());
}

/// Issue 21 item 2: every product, both modes, several `as_of` dates, reads the same
/// from the rollups as from claims — outcomes (every finding, p-value, interval, money,
/// insufficient group) and rows counted identical — on data with injected drift, a
/// reason that is new and expensive, every outcome, missing amounts, merged spellings.
#[test]
fn every_product_reads_the_same_from_rollups_as_from_claims() {
    use payerwatch::domain::analytics::{FindingKind, Mode, Product};
    use payerwatch::services::analytics::evaluate_rollups_and_claims;

    let (_database, db) = migrated_db(4);
    let scope = new_tenant(&db, "alpha");
    equivalence_data(&db, scope, 40_000);

    let mut conn = db.get().expect("conn");
    let latest = repo::latest_decided(&mut conn, &scope)
        .expect("latest")
        .expect("claims");
    let mut kinds = std::collections::BTreeSet::new();
    let mut compared = 0;
    for back in [0u64, 1, 9, 30] {
        let as_of = latest + chrono::Days::new(1) - chrono::Days::new(back);
        for product in [
            Product::DriftWatch,
            Product::DenialScope,
            Product::DelayGuard,
        ] {
            for mode in [Mode::Sound, Mode::Compat] {
                let [
                    (from_rollups, rows_r, covered_r),
                    (from_claims, rows_c, covered_c),
                ] = evaluate_rollups_and_claims(&mut conn, &scope, product, mode, as_of)
                    .expect("evaluate");
                let what = format!("{product:?} {mode:?} as of {as_of}");
                assert_eq!(rows_r, rows_c, "{what}: rows counted");
                assert_eq!(covered_r, covered_c, "{what}: claims covered");
                assert!(covered_r > 0, "{what}: claims covered");
                assert_eq!(from_rollups, from_claims, "{what}");
                kinds.extend(
                    from_rollups
                        .findings
                        .iter()
                        .map(|f| format!("{} {}", mode.as_str(), f.kind.as_str())),
                );
                compared += from_rollups.findings.len();
            }
        }
    }
    assert!(compared > 100, "only {compared} findings compared");
    // Each mode's kinds (`dollars_spike` is a kind no rule raises any more: sound mode
    // puts dollars in the severity, compat raises `denial_dollars_spike`).
    use FindingKind::*;
    let sound = [
        DenialRate,
        DecisionTime,
        NewReason,
        ReasonShareSpike,
        VolumeSpike,
        Slowdown,
        Trend,
    ];
    let compat = [
        DenialRate,
        DecisionTime,
        NewDenialReason,
        DenialRateSpike,
        DenialVolumeSpike,
        DenialDollarsSpike,
        Slowdown,
        Trend,
    ];
    let expected = sound
        .iter()
        .map(|k| (Mode::Sound, k))
        .chain(compat.iter().map(|k| (Mode::Compat, k)));
    let missing: Vec<String> = expected
        .map(|(mode, k)| format!("{} {}", mode.as_str(), k.as_str()))
        .filter(|k| !kinds.contains(k))
        .collect();
    assert!(missing.is_empty(), "kinds never compared: {missing:?}");
}

/// Issue 21 (reads): the findings' charts read the daily rollups and plot exactly what the
/// claim-level series plotted — every finding of both modes' runs (denial rates, reason
/// shares, counts and dollars, weekly medians of days to decision) and payer-level
/// findings pooling their groups.
#[test]
fn finding_charts_read_the_same_from_rollups_as_from_claims() {
    use payerwatch::db::repo::analytics::{self as analytics_repo, EventFilter};
    use payerwatch::domain::analytics::chart::Metric;
    use payerwatch::domain::analytics::grouping::ALL_GROUPS;
    use payerwatch::services::analytics::{self as reports, charts};

    let (_database, db) = migrated_db(4);
    let scope = new_tenant(&db, "alpha");
    equivalence_data(&db, scope, 20_000);
    // Both modes' findings, as of the latest data and three weeks earlier.
    let earlier = today() - chrono::Days::new(20);
    for mode in ["sound", "compat"] {
        db.write_blocking(move |c| analytics_repo::set_analytics_mode(c, &scope, mode))
            .expect("mode");
        for as_of in [None, Some(earlier)] {
            for result in reports::run_all(&db, &scope, as_of, "test") {
                result.expect("run");
            }
        }
    }
    let mut conn = db.get().expect("conn");
    let mut events =
        analytics_repo::list_events(&mut conn, &scope, &EventFilter::default(), 1, 10_000)
            .expect("events")
            .items;
    assert!(events.len() > 20, "only {} findings", events.len());
    // A payer-level finding of two groups (its chart pools them), and one of a payer and
    // group the data has no claims of (an empty series).
    let mut pooled = events
        .iter()
        .find(|e| e.product == "drift_watch" && e.payer == "Cigna")
        .cloned()
        .expect("a Cigna drift finding");
    pooled.id = -1;
    pooled.cpt_group = ALL_GROUPS.to_string();
    let member = |group: &str| {
        serde_json::json!({
            "group": group, "baseline_value": 0.1, "current_value": 0.4, "delta": 0.3,
            "p_value": null, "q_value": null, "dollars_per_month": null,
            "baseline_n": 100, "current_n": 100
        })
    };
    pooled.evidence_json =
        serde_json::json!({ "type": "payer_level", "members": [member("IMAGING"), member("LAB")] })
            .to_string();
    let mut nobody = pooled.clone();
    nobody.id = -2;
    nobody.payer = "Nobody Health".to_string();
    events.push(pooled);
    events.push(nobody);
    let refs: Vec<_> = events.iter().collect();
    let [from_rollups, from_claims] =
        charts::series_from_rollups_and_claims(&mut conn, &scope, &refs).expect("series");
    let mut metrics = std::collections::BTreeSet::new();
    for event in &events {
        let (r, c) = (&from_rollups[&event.id], &from_claims[&event.id]);
        assert_eq!(
            r, c,
            "finding {} ({} {} {})",
            event.id, event.product, event.kind, event.payer
        );
        if !r.points.is_empty() {
            metrics.insert(format!("{:?}", r.metric));
        }
    }
    assert!(from_rollups[&-1].title.contains("IMAGING, LAB"));
    assert!(from_rollups[&-1].points.iter().any(|p| p.value.is_some()));
    assert!(from_rollups[&-2].points.is_empty());
    for metric in [Metric::DenialRate, Metric::MedianDays, Metric::ReasonShare] {
        assert!(
            metrics.contains(&format!("{metric:?}")),
            "{metric:?} never compared: {metrics:?}"
        );
    }
}

/// Issue 21 (reads): a payer scorecard reads the daily rollups and shows exactly what the
/// claim-level statements gave — monthly and period denial rates, medians of days to
/// decision, paid and denied dollars, top reasons with their shares, the tenant's other
/// payers — for every payer, with reasons keyed as DenialScope keys them (trimmed code,
/// else text, else none).
#[test]
fn payer_scorecards_read_the_same_from_rollups_as_from_claims() {
    use payerwatch::services::scorecard;

    let (_database, db) = migrated_db(4);
    let scope = new_tenant(&db, "alpha");
    equivalence_data(&db, scope, 20_000);
    let mut conn = db.get().expect("conn");
    let payers = mappings::payer_claim_counts(&mut conn, &scope).expect("payers");
    assert!(payers.len() > 5, "payers: {payers:?}");
    // The payer list reads the day rows; no claim here is REVERSED, so they count all.
    assert_eq!(
        repo::payer_claims(&mut conn, &scope).expect("payer list"),
        payers
    );
    let (mut reasons, mut months) = (0, 0);
    for (payer, _) in &payers {
        let [from_rollups, from_claims] =
            scorecard::figures_from_rollups_and_claims(&mut conn, &scope, payer).expect("figures");
        assert_eq!(from_rollups, from_claims, "{payer}");
        reasons += from_rollups.reasons.len();
        months += from_rollups.months.len();
        assert!(
            from_rollups.current.payer.decided() + from_rollups.prior.payer.decided() > 0
                || from_rollups
                    .months
                    .iter()
                    .any(|m| m.figures.payer.decided() > 0),
            "{payer} has figures"
        );
    }
    assert!(
        reasons > 10 && months > 10,
        "{reasons} reasons, {months} months compared"
    );
}
