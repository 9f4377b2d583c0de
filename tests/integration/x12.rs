//! X12 835 imports end to end on the real database (SQLite, or PostgreSQL when
//! `PAYERWATCH_TEST_POSTGRES` is set): a generated 835 stores exactly the claims of its CSV
//! twin, patient elements never reach any table, envelope errors fail the upload naming
//! the segment, duplicates are refused, reversals are reported and not stored.

use chrono::NaiveDate;
use payerwatch::db::repo::{claims, customers, upload_lifecycle, uploads};
use payerwatch::db::{Backend, Db};
use payerwatch::devtools::generate::{GenOptions, generate};
use payerwatch::devtools::x12_835::generate_835;
use payerwatch::domain::tenant::{CustomerId, TenantScope};
use payerwatch::ingest::report::QualityReport;
use payerwatch::ingest::{self, IngestOptions, IngestOutcome, Limits, UploadRequest, UploadStatus};

use crate::common::TestDatabase;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).expect("date")
}

struct Fixture {
    database: TestDatabase,
    db: Db,
}

fn fixture() -> Fixture {
    let database = TestDatabase::create();
    let db = Db::connect(database.url(), 4).expect("database");
    db.migrate().expect("migrations");
    Fixture { database, db }
}

fn customer(f: &Fixture, slug: &str) -> TenantScope {
    let slug = slug.to_owned();
    let id =
        f.db.write_blocking(move |c| customers::insert(c, &slug, "Customer"))
            .expect("customer");
    TenantScope::for_system(CustomerId(id))
}

fn upload(f: &Fixture, scope: TenantScope, name: &str, body: &[u8]) -> IngestOutcome {
    let req = UploadRequest {
        scope,
        file_name: name.to_owned(),
        uploaded_by: None,
        declared_size: None,
        limits: Limits::default(),
        today: today(),
    };
    ingest::ingest(&f.db, &req, body, &keyed()).expect("upload recorded")
}

/// Production options: claim references keyed by the instance secret.
fn keyed() -> IngestOptions {
    IngestOptions::with_instance_secret(b"x12 integration test instance secret")
}

fn report(f: &Fixture, scope: &TenantScope, id: i64) -> QualityReport {
    let mut c = f.db.get().expect("conn");
    let json = upload_lifecycle::find_report(&mut c, scope, id).expect("report");
    serde_json::from_str(&json).expect("report json")
}

type ClaimKey = (
    String,
    String,
    String,
    NaiveDate,
    NaiveDate,
    String,
    Option<i64>,
    Option<String>,
);

fn stored_claims(f: &Fixture, scope: &TenantScope) -> Vec<ClaimKey> {
    let mut c = f.db.get().expect("conn");
    let mut all: Vec<ClaimKey> = claims::list_recent(&mut c, scope, 1_000_000)
        .expect("claims")
        .into_iter()
        .map(|r| {
            (
                r.payer,
                r.cpt,
                r.cpt_group,
                r.submitted_date,
                r.decided_date,
                r.outcome,
                r.allowed_cents,
                r.denial_reason_code,
            )
        })
        .collect();
    all.sort();
    all
}

#[test]
fn a_generated_835_stores_exactly_the_claims_of_its_csv_twin() {
    let f = fixture();
    let (csv_scope, x12_scope) = (customer(&f, "csv"), customer(&f, "x12"));
    let opts = GenOptions {
        rows: 3_000,
        seed: 7,
        ..GenOptions::default()
    };
    let mut csv = Vec::new();
    let csv_truth = generate(&opts, &mut csv).expect("csv");
    let mut x12 = Vec::new();
    let x12_truth = generate_835(&opts, &mut x12).expect("835");
    assert_eq!(csv_truth.counts.rows, x12_truth.counts.rows);

    let a = upload(&f, csv_scope, "claims.csv", &csv);
    let b = upload(&f, x12_scope, "remit.835", &x12);
    assert_eq!(a.status, UploadStatus::Partial);
    assert_eq!(b.status, UploadStatus::Partial, "{:?}", b.message);

    let (ra, rb) = (
        report(&f, &csv_scope, a.upload_id),
        report(&f, &x12_scope, b.upload_id),
    );
    assert_eq!(rb.total_rows, x12_truth.counts.rows);
    assert_eq!(rb.accepted_rows, x12_truth.counts.expected_accepted_rows);
    assert_eq!(rb.rejected_rows, x12_truth.counts.expected_rejected_rows);
    assert_eq!(ra.accepted_rows, rb.accepted_rows);
    assert_eq!(ra.outcomes, rb.outcomes);
    assert_eq!(ra.rejected_by_reason, rb.rejected_by_reason);
    for (column, n) in &x12_truth.counts.expected_rejected_by_column {
        assert_eq!(
            rb.rejected_by_column.get(*column).copied().unwrap_or(0),
            *n,
            "{column}"
        );
    }
    let x = rb.x12.as_ref().expect("835 counts in the report");
    assert_eq!(x.service_lines, x12_truth.counts.rows);
    assert_eq!(x.claims, x12_truth.counts.rows);
    assert!(x.transactions > 1);
    assert!(x.enveloped);
    assert!(ra.x12.is_none());

    // The same claims, field for field: every analytics input is identical.
    assert_eq!(stored_claims(&f, &csv_scope), stored_claims(&f, &x12_scope));

    // The same bytes again: refused as a duplicate.
    let again = upload(&f, x12_scope, "remit-again.835", &x12);
    assert_eq!(again.status, UploadStatus::Failed);
    assert_eq!(again.duplicate_of, Some(b.upload_id));
}

const ISA: &str = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *261201*1200*^*00501*000000101*0*P*:~\n";

fn remittance(body: &[&str]) -> String {
    let mut s =
        format!("{ISA}GS*HP*SENDER*RECEIVER*20261201*1200*7*X*005010X221A1~\nST*835*0001~\n");
    for seg in body {
        s.push_str(seg);
        s.push_str("~\n");
    }
    s.push_str(&format!(
        "SE*{}*0001~\nGE*1*7~\nIEA*1*000000101~\n",
        body.len() + 2
    ));
    s
}

const PATIENT_BODY: &[&str] = &[
    "BPR*I*150.00*C*ACH*CCP*01*111*DA*33*1234567890**01*111*DA*22*20261115",
    "TRN*1*12345*1512345678",
    "N1*PR*ACME HEALTH PLAN*XV*87726",
    "N1*PE*CLINIC*XX*1234567893",
    "N3*12 ZEBULON LANE",
    "LX*1",
    "CLP*PCNQUINCY77*1*200.00*150.00*20.00*12*PAYERCLAIM998877*11",
    "NM1*QC*1*ZEBULON*QUINCY****MI*MEMBERQ55443",
    "NM1*IL*1*ZEBULON*QUINCY****MI*SUBSCR66554",
    "NM1*74*1*ZEBULONNEW*QUINCY****C*CORR11223",
    "REF*EA*MRNQ33221",
    "REF*1L*GROUPQ44332",
    "REF*SY*987654320",
    "DTM*050*20261020",
    "SVC*HC:99213:25*200.00*150.00**1",
    "DTM*472*20261001",
    "CAS*CO*45*30.00",
    "CAS*PR*2*20.00",
    "AMT*B6*170.00",
    "LQ*HE*N130",
    "CLP*PCNQUINCY78*22*-200.00*-150.00**12*PAYERCLAIM998877*11",
    "NM1*QC*1*ZEBULON*QUINCY****MI*MEMBERQ55443",
    "SVC*HC:99213:25*-200.00*-150.00**-1",
    "CAS*CR*45*-30.00",
];

/// Every table, dumped by the database's own tool: the patient elements of the file
/// must appear nowhere.
fn dump_all_tables(f: &Fixture) -> String {
    let out = match f.database.backend() {
        Backend::Sqlite => {
            let path = f.database.url().trim_start_matches("sqlite://").to_owned();
            std::process::Command::new("sqlite3")
                .arg(path)
                .arg(".dump")
                .output()
        }
        Backend::Postgres => std::process::Command::new("pg_dump")
            .arg("--data-only")
            .arg(f.database.url())
            .output(),
    }
    .expect("dump tool runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn patient_elements_never_reach_a_table_and_reversals_are_reported_not_stored() {
    let f = fixture();
    let scope = customer(&f, "acme");
    let out = upload(&f, scope, "era.835", remittance(PATIENT_BODY).as_bytes());
    assert_eq!(out.status, UploadStatus::Succeeded, "{:?}", out.message);
    let r = report(&f, &scope, out.upload_id);
    assert_eq!(r.total_rows, 1, "the reversal line is not a decision");
    let x = r.x12.as_ref().expect("x12 counts");
    assert_eq!((x.claims, x.service_lines, x.reversal_lines), (2, 2, 1));
    assert!(x.warnings.iter().any(|w| w.contains("reverse")));

    let stored = stored_claims(&f, &scope);
    assert_eq!(stored.len(), 1);
    let (payer, cpt, _, submitted, decided, outcome, allowed, code) = &stored[0];
    assert_eq!(payer, "ACME HEALTH PLAN");
    assert_eq!(cpt, "99213");
    assert_eq!(
        *submitted,
        NaiveDate::from_ymd_opt(2026, 10, 20).expect("d")
    );
    assert_eq!(*decided, NaiveDate::from_ymd_opt(2026, 11, 15).expect("d"));
    assert_eq!(outcome, "PAID");
    assert_eq!(*allowed, Some(17_000));
    assert_eq!(*code, None);

    let dump = dump_all_tables(&f);
    assert!(
        dump.contains("ACME HEALTH PLAN"),
        "the dump holds the claims"
    );
    for secret in [
        "ZEBULON",
        "QUINCY",
        "MEMBERQ55443",
        "SUBSCR66554",
        "CORR11223",
        "MRNQ33221",
        "GROUPQ44332",
        "987654320",
        "PCNQUINCY",
        "PAYERCLAIM998877",
    ] {
        assert!(!dump.contains(secret), "{secret} was stored");
        let msg = out.message.clone().unwrap_or_default();
        assert!(!msg.contains(secret));
    }
}

#[test]
fn envelope_errors_fail_the_upload_naming_the_segment() {
    let f = fixture();
    let scope = customer(&f, "acme");
    let good = remittance(PATIENT_BODY);
    let bad = good.replace(
        &format!("SE*{}*0001", PATIENT_BODY.len() + 2),
        &format!("SE*{}*0001", PATIENT_BODY.len() + 5),
    );
    let out = upload(&f, scope, "bad.835", bad.as_bytes());
    assert_eq!(out.status, UploadStatus::Failed);
    let msg = out.message.clone().expect("message");
    assert!(
        msg.contains(&format!("segment {} (SE)", PATIENT_BODY.len() + 4)),
        "{msg}"
    );
    let mut c = f.db.get().expect("conn");
    assert_eq!(
        claims::count_for_upload(&mut c, &scope, out.upload_id).expect("n"),
        0
    );
    let up = uploads::find(&mut c, &scope, out.upload_id).expect("upload");
    assert_eq!(up.status, "failed");

    // Truncated and binary files are file-level errors too.
    let cut = &good[..good.len() / 2];
    let out = upload(&f, scope, "cut.835", cut.as_bytes());
    assert_eq!(out.status, UploadStatus::Failed);
    let garbage = [b"ISA*".as_slice(), &[0u8, 1, 2, 3, 255, 254][..]].concat();
    let out = upload(&f, scope, "garbage.835", &garbage);
    assert_eq!(out.status, UploadStatus::Failed);
}

/// The upload form takes an 835 like a CSV: detected by content, processed, reported.
#[actix_web::test]
async fn the_upload_form_takes_an_835_and_shows_no_patient_data() {
    use crate::common::{csrf_token, location, spawn_app};
    use payerwatch::domain::roles::Role;

    let app = spawn_app().await;
    let password = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    app.login("analyst@clinic.test", &password).await;
    let page = app.get("/portal/uploads").await.text().await.expect("page");
    assert!(page.contains(".835"), "the file picker offers 835 files");
    let token = csrf_token(&page).expect("token");
    let part = reqwest::multipart::Part::bytes(remittance(PATIENT_BODY).into_bytes())
        .file_name("era-november.835")
        .mime_str("application/edi-x12")
        .expect("mime");
    let res = app
        .client
        .post(app.url("/portal/uploads"))
        .multipart(
            reqwest::multipart::Form::new()
                .text("csrf_token", token)
                .part("file", part),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 303);
    let path = location(&res);
    let mut page = String::new();
    for _ in 0..100 {
        page = app.get(&path).await.text().await.expect("page");
        if !page.contains("Processing…") && !page.contains("Queued…") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(page.contains("succeeded"), "{page}");
    for secret in [
        "ZEBULON",
        "QUINCY",
        "MEMBERQ55443",
        "PAYERCLAIM998877",
        "PCNQUINCY",
    ] {
        assert!(!page.contains(secret), "{secret} shown");
    }
}

/// Every stored claim of the tenant, with the 835 columns.
fn records(f: &Fixture, scope: &TenantScope) -> Vec<payerwatch::db::repo::claims::ClaimRecord> {
    let mut c = f.db.get().expect("conn");
    let mut all = claims::list_recent(&mut c, scope, 1_000_000).expect("claims");
    all.sort_by_key(|r| (r.upload_id, r.svc_segment));
    all
}

/// A claim with one service line: CLP01, CLP02 status, CLP07, procedure (with
/// modifiers), charge, paid, CAS segments.
fn claim(pcn: &str, status: &str, icn: &str, svc: &str, paid: &str, cas: &[&str]) -> Vec<String> {
    let mut v = vec![
        format!("CLP*{pcn}*{status}*100.00*{paid}**12*{icn}*11"),
        "NM1*QC*1*ZEBULON*QUINCY****MI*MEMBERQ55443".to_string(),
        format!("SVC*{svc}*100.00*{paid}**1"),
        "DTM*472*20261001".to_string(),
    ];
    v.extend(cas.iter().map(|c| c.to_string()));
    v
}

fn era(payer: &str, claims: &[Vec<String>]) -> String {
    eras(&[(&[payer], claims.to_vec())])
}

#[test]
fn service_lines_keep_modifiers_remarks_every_adjustment_and_the_payer_id() {
    let f = fixture();
    let scope = customer(&f, "acme");
    let out = upload(&f, scope, "era.835", remittance(PATIENT_BODY).as_bytes());
    assert_eq!(out.status, UploadStatus::Succeeded, "{:?}", out.message);
    let r = records(&f, &scope);
    assert_eq!(r.len(), 1);
    let c = &r[0];
    assert_eq!(c.payer_id.as_deref(), Some("87726"), "N1*PR04");
    assert_eq!(c.modifiers.as_deref(), Some("25"), "SVC01-3");
    assert_eq!(c.remark_codes.as_deref(), Some("N130"), "LQ*HE");
    assert_eq!(
        c.adjustments.as_deref(),
        Some("CO-45:30.00 PR-2:20.00"),
        "every CAS with its amount"
    );
    assert!(c.claim_key.is_some(), "a keyed reference, not the numbers");
    assert_eq!(c.svc_segment, Some(18), "the SVC's segment number");
    assert_eq!(c.reversed_by, None);
    // A CSV row has none of them.
    let csv =
        "payer,cpt,submitted_date,decided_date,outcome\nAetna,99213,2026-10-01,2026-10-10,PAID\n";
    let other = customer(&f, "csv");
    upload(&f, other, "c.csv", csv.as_bytes());
    let c = &records(&f, &other)[0];
    assert_eq!(
        (
            &c.payer_id,
            &c.modifiers,
            &c.adjustments,
            c.claim_key,
            c.svc_segment
        ),
        (&None, &None, &None, None, None)
    );
}

/// Analytics inputs of the whole time range: (payer, paid, denied) per payer.
fn payer_totals(f: &Fixture, scope: &TenantScope) -> Vec<(String, i64, i64)> {
    use payerwatch::db::repo::analytics::{BucketBy, payer_totals};
    let mut c = f.db.get().expect("conn");
    let from = NaiveDate::from_ymd_opt(2000, 1, 1).expect("d");
    let to = NaiveDate::from_ymd_opt(2100, 1, 1).expect("d");
    let mut rows: Vec<(String, i64, i64)> =
        payer_totals(&mut c, scope, BucketBy::Decided, from, to)
            .expect("totals")
            .into_iter()
            .map(|r| (r.payer, r.paid, r.denied))
            .collect();
    rows.sort();
    rows
}

const PAYER: &str = "N1*PR*ACME HEALTH PLAN*XV*87726";

#[test]
fn a_reversal_in_a_later_upload_voids_the_earlier_claim_and_keeps_the_correction() {
    let f = fixture();
    let scope = customer(&f, "acme");
    let first = era(
        PAYER,
        &[
            claim("PCN1", "4", "ICN1", "HC:99213", "0", &["CAS*CO*50*100.00"]),
            claim("PCN2", "1", "ICN2", "HC:99214", "100.00", &[]),
        ],
    );
    let a = upload(&f, scope, "first.835", first.as_bytes());
    assert_eq!(a.status, UploadStatus::Succeeded, "{:?}", a.message);
    assert_eq!(
        payer_totals(&f, &scope),
        vec![("ACME HEALTH PLAN".into(), 1, 1)]
    );

    // The payer reverses the denial of PCN1 and pays it (correction, CLP02 = 1).
    let second = era(
        PAYER,
        &[
            claim(
                "PCN1",
                "22",
                "ICN1",
                "HC:99213",
                "0",
                &["CAS*CO*50*-100.00"],
            ),
            claim("PCN1", "1", "ICN1", "HC:99213", "100.00", &[]),
        ],
    );
    let b = upload(&f, scope, "second.835", second.as_bytes());
    assert_eq!(b.status, UploadStatus::Succeeded, "{:?}", b.message);
    let x = report(&f, &scope, b.upload_id).x12.expect("x12");
    assert_eq!((x.reversal_claims, x.reversal_lines), (1, 1));
    assert_eq!(x.reversed_lines_earlier_uploads, 1);
    assert_eq!(x.reversed_lines_this_file, 0);
    assert_eq!(x.reversals_unmatched, 0);

    let r = records(&f, &scope);
    assert_eq!(r.len(), 3, "the reversal is no claim of its own");
    let denied = r
        .iter()
        .find(|c| c.cpt == "99213" && c.upload_id == a.upload_id);
    let denied = denied.expect("the first upload's claim stays stored");
    assert_eq!(denied.outcome, "REVERSED");
    assert_eq!(denied.reversed_by, Some(b.upload_id));
    let correction = r.iter().find(|c| c.upload_id == b.upload_id).expect("kept");
    assert_eq!(
        (correction.outcome.as_str(), correction.reversed_by),
        ("PAID", None)
    );
    // Analytics: the voided denial is gone, the correction counts.
    assert_eq!(
        payer_totals(&f, &scope),
        vec![("ACME HEALTH PLAN".into(), 2, 0)]
    );

    // A reversal another tenant sends matches nothing of this one.
    let other = customer(&f, "other");
    let c = upload(&f, other, "third.835", second.as_bytes());
    let x = report(&f, &other, c.upload_id).x12.expect("x12");
    assert_eq!(
        (x.reversed_lines_earlier_uploads, x.reversals_unmatched),
        (0, 1)
    );
    assert!(
        x.warnings
            .iter()
            .any(|w| w.contains("found no earlier claim"))
    );
    assert_eq!(records(&f, &scope)[0].reversed_by, Some(b.upload_id));
    assert_rollups_agree(&f, &[scope, other]);
}

/// The daily rollups took the reversed claims out in the same transaction (issue 21).
fn assert_rollups_agree(f: &Fixture, tenants: &[TenantScope]) {
    for scope in tenants {
        let differences = payerwatch::services::rollups::verify(&f.db, scope).expect("verify");
        assert_eq!(differences, Vec::<String>::new());
    }
}

#[test]
fn a_reversal_in_the_same_file_voids_the_claims_before_it_only() {
    let f = fixture();
    let scope = customer(&f, "acme");
    let body = era(
        PAYER,
        &[
            claim(
                "PCN1",
                "1",
                "ICN1",
                "HC:99213",
                "80.00",
                &["CAS*CO*45*20.00"],
            ),
            claim(
                "PCN1",
                "22",
                "ICN1",
                "HC:99213",
                "-80.00",
                &["CAS*CO*45*-20.00"],
            ),
            claim(
                "PCN1",
                "1",
                "ICN1",
                "HC:99213",
                "90.00",
                &["CAS*CO*45*10.00"],
            ),
            claim("PCN9", "22", "ICN9", "HC:99213", "-10.00", &[]),
        ],
    );
    let out = upload(&f, scope, "same.835", body.as_bytes());
    assert_eq!(out.status, UploadStatus::Succeeded, "{:?}", out.message);
    let x = report(&f, &scope, out.upload_id).x12.expect("x12");
    assert_eq!(x.reversal_claims, 2);
    assert_eq!(x.reversed_lines_this_file, 1);
    assert_eq!(x.reversed_lines_earlier_uploads, 0);
    assert_eq!(x.reversals_unmatched, 1, "PCN9 was never uploaded");
    let r = records(&f, &scope);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].outcome, "REVERSED");
    assert_eq!(r[0].adjustments.as_deref(), Some("CO-45:20.00"));
    assert_eq!(
        r[1].outcome, "PAID",
        "the correction after the reversal stays"
    );
    assert_eq!(r[1].adjustments.as_deref(), Some("CO-45:10.00"));
    assert_eq!(
        payer_totals(&f, &scope),
        vec![("ACME HEALTH PLAN".into(), 1, 0)]
    );
    assert_rollups_agree(&f, &[scope]);
    // Nothing of CLP01/CLP07 is stored, only the keyed reference.
    let dump = dump_all_tables(&f);
    for secret in ["PCN1", "ICN1", "PCN9", "ICN9", "ZEBULON", "MEMBERQ55443"] {
        assert!(!dump.contains(secret), "{secret} was stored");
    }
}

/// An interchange of several transaction sets, each a payer loop (its segments) and
/// claims; counts and control numbers right.
fn eras(sets: &[(&[&str], Vec<Vec<String>>)]) -> String {
    let mut s = format!("{ISA}GS*HP*SENDER*RECEIVER*20261201*1200*7*X*005010X221A1~\n");
    for (n, (payer, claims)) in sets.iter().enumerate() {
        let mut body: Vec<String> =
            vec!["BPR*I*150.00*C*ACH*CCP*01*111*DA*33*1234567890**01*111*DA*22*20261115".into()];
        body.extend(payer.iter().map(|p| p.to_string()));
        body.push("LX*1".into());
        for c in claims {
            body.extend(c.iter().cloned());
        }
        s.push_str(&format!("ST*835*{n:04}~\n"));
        for seg in &body {
            s.push_str(seg);
            s.push_str("~\n");
        }
        s.push_str(&format!("SE*{}*{n:04}~\n", body.len() + 2));
    }
    s.push_str(&format!("GE*{}*7~\nIEA*1*000000101~\n", sets.len()));
    s
}

#[test]
fn spellings_with_one_payer_id_are_one_payer() {
    let f = fixture();
    let scope = customer(&f, "acme");
    let line = |pcn: &str| claim(pcn, "1", "I", "HC:99213", "100.00", &[]);
    // Two spellings of one payer id (N1*PR04) in one file: the first one's name wins.
    let first = eras(&[
        (&["N1*PR*ACME HEALTH PLAN*XV*87726"], vec![line("A1")]),
        (&["N1*PR*ACME HLTH PLN OF OHIO*XV*87726"], vec![line("A2")]),
    ]);
    let out = upload(&f, scope, "ids.835", first.as_bytes());
    assert_eq!(out.status, UploadStatus::Succeeded, "{:?}", out.message);
    assert_eq!(
        payer_totals(&f, &scope),
        vec![("ACME HEALTH PLAN".into(), 2, 0)]
    );
    let raw: Vec<String> = records(&f, &scope)
        .into_iter()
        .map(|c| c.payer_raw)
        .collect();
    assert_eq!(
        raw,
        vec!["ACME HEALTH PLAN", "ACME HLTH PLN OF OHIO"],
        "as written"
    );

    // The mappings page says why the second spelling is stored under the first.
    {
        use payerwatch::domain::payer_identity::MergeReason;
        let mut c = f.db.get().expect("conn");
        let overview = payerwatch::services::mappings::overview(&mut c, &scope).expect("overview");
        let acme = overview
            .payers
            .iter()
            .find(|p| p.canonical == "ACME HEALTH PLAN")
            .expect("merged payer");
        let reasons: Vec<(&str, MergeReason)> = acme
            .spellings
            .iter()
            .map(|s| (s.raw.as_str(), s.reason))
            .collect();
        assert!(
            reasons.contains(&("ACME HLTH PLN OF OHIO", MergeReason::SamePayerId)),
            "{reasons:?}"
        );
        assert!(MergeReason::SamePayerId.explain().contains("payer id"));
    }
    // A later file spelling it a third way (REF*2U carries the id) joins the stored payer.
    let later = eras(&[(&["N1*PR*ACME OHIO", "REF*2U*87726"], vec![line("A3")])]);
    let out = upload(&f, scope, "later.835", later.as_bytes());
    assert_eq!(out.status, UploadStatus::Succeeded, "{:?}", out.message);
    assert_eq!(
        payer_totals(&f, &scope),
        vec![("ACME HEALTH PLAN".into(), 3, 0)]
    );
    // Another id is another payer, even with a name written like the merged one's.
    let other = eras(&[(&["N1*PR*ACME OHIO*XV*99999"], vec![line("A4")])]);
    upload(&f, scope, "other.835", other.as_bytes());
    assert_eq!(
        payer_totals(&f, &scope),
        vec![
            ("ACME HEALTH PLAN".into(), 3, 0),
            ("ACME OHIO".into(), 1, 0)
        ]
    );
}
