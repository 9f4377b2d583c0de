//! Claims ingestion end to end on the real database (SQLite, or PostgreSQL when
//! `PAYERWATCH_TEST_POSTGRES` is set): reason codes, file-level failures, mappings, CSV
//! dialect details, all-or-nothing, PHI never stored, tenant isolation, the generator's
//! truth, and the `import` command.

use chrono::NaiveDate;
use payerwatch::db::repo::{claims, customers, mappings, upload_lifecycle, uploads};
use payerwatch::db::{Db, DbError};
use payerwatch::devtools::generate::{DateStyle, GenOptions, GenTruth, generate};
use payerwatch::domain::tenant::TenantScope;
use payerwatch::ingest::report::QualityReport;
use payerwatch::ingest::{
    self, IngestError, IngestOptions, IngestOutcome, Limits, UploadRequest, UploadStatus,
};

use crate::common::{TestDatabase, migrated_db, new_tenant};

const HEADER: &str = "payer,cpt,submitted_date,decided_date,outcome,allowed_amount,denial_reason_code,denial_reason_text\n";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).expect("date")
}

struct Fixture {
    database: TestDatabase,
    db: Db,
    scope: TenantScope,
}

fn fixture() -> Fixture {
    let (database, db) = migrated_db(4);
    let scope = new_tenant(&db, "acme");
    Fixture {
        database,
        db,
        scope,
    }
}

fn request(scope: TenantScope, name: &str) -> UploadRequest {
    UploadRequest {
        scope,
        file_name: name.to_owned(),
        uploaded_by: None,
        declared_size: None,
        limits: Limits::default(),
        today: today(),
    }
}

fn upload(f: &Fixture, name: &str, body: &[u8]) -> IngestOutcome {
    upload_with(f, request(f.scope, name), body, &IngestOptions::default())
}

fn upload_with(
    f: &Fixture,
    req: UploadRequest,
    body: &[u8],
    options: &IngestOptions,
) -> IngestOutcome {
    ingest::ingest(&f.db, &req, body, options).expect("upload recorded")
}

fn claim_count(f: &Fixture, scope: &TenantScope, upload_id: i64) -> i64 {
    let mut c = f.db.get().expect("conn");
    claims::count_for_upload(&mut c, scope, upload_id).expect("count")
}

fn rejections(f: &Fixture, upload_id: i64) -> Vec<(i64, String, String)> {
    let mut c = f.db.get().expect("conn");
    upload_lifecycle::list_rejections(&mut c, &f.scope, upload_id, 100_000).expect("rejections")
}

fn stored_report(f: &Fixture, upload_id: i64) -> Option<QualityReport> {
    let mut c = f.db.get().expect("conn");
    match upload_lifecycle::find_report(&mut c, &f.scope, upload_id) {
        Ok(json) => Some(serde_json::from_str(&json).expect("report json")),
        Err(DbError::NotFound) => None,
        Err(e) => panic!("{e}"),
    }
}

fn csv(rows: &[&str]) -> Vec<u8> {
    let mut s = HEADER.to_owned();
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s.into_bytes()
}

fn generated(opts: &GenOptions) -> (Vec<u8>, GenTruth) {
    let mut out = Vec::new();
    let truth = generate(opts, &mut out).expect("generate");
    (out, truth)
}

#[test]
fn every_reason_code_is_reported_with_row_column_and_reason_only() {
    let f = fixture();
    let long_code = "CO-16-".to_owned() + &"X".repeat(40);
    let too_long_row = format!("Aetna,99213,2026-01-02,2026-01-10,DENIED,,{long_code},");
    let body = csv(&[
        ",99213,2026-01-02,2026-01-10,PAID,,,",           // 2
        "Aetna,99213,2026-13-45,2026-01-10,PAID,,,",      // 3
        "Aetna,99213,2026-01-10,2026-01-02,PAID,,,",      // 4
        "Aetna,99213,2026-01-02,2027-01-01,PAID,,,",      // 5
        "Aetna,9921,2026-01-02,2026-01-10,PAID,,,",       // 6
        "Aetna,99213,2026-01-02,2026-01-10,PAID,-5.00,,", // 7
        &too_long_row,                                    // 8
        "Aetna,99213,2026-01-02,2026-01-10,DENIED,,CO-16,Member SSN 123-45-6789 on file", // 9
        "Jane jane.doe@example.com,99213,2026-01-02,2026-01-10,PAID,,,", // 10
        ",ABC,bad,bad,,x,,",                              // 11
        "Aetna,99213,2026-01-02,2026-01-02,PAID,10,,",    // 12
        "Aetna,99213,2026-01-02,2026-11-23,PAID,,,",      // 13
    ]);
    let out = upload(&f, "reasons.csv", &body);
    assert_eq!(out.status, UploadStatus::Partial);
    let report = out.report.expect("report");
    assert_eq!(
        (
            report.total_rows,
            report.accepted_rows,
            report.rejected_rows
        ),
        (12, 2, 10)
    );
    let by_reason: Vec<(&str, u64)> = report
        .rejected_by_reason
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        by_reason,
        [
            ("date_order", 1),
            ("future_date", 1),
            ("invalid_amount", 2),
            ("invalid_code", 1),
            ("invalid_cpt", 2),
            ("invalid_date", 2),
            ("missing_value", 2),
            ("phi_suspected", 2),
            ("too_long", 0),
        ]
    );
    assert_eq!(report.rejected_by_column["payer"], 3);
    assert_eq!(report.rejected_by_column["decided_date"], 3);
    assert_eq!(report.rejected_by_column["outcome"], 1);
    assert_eq!(report.quality_score, Some(16.67));
    assert!(report.quality_warning);

    let rows = rejections(&f, out.upload_id);
    let line = |n: i64| -> Vec<(String, String)> {
        rows.iter()
            .filter(|r| r.0 == n)
            .map(|r| (r.1.clone(), r.2.clone()))
            .collect()
    };
    let pair = |c: &str, r: &str| (c.to_owned(), r.to_owned());
    assert_eq!(line(2), [pair("payer", "missing_value")]);
    assert_eq!(line(3), [pair("submitted_date", "invalid_date")]);
    assert_eq!(line(4), [pair("decided_date", "date_order")]);
    assert_eq!(line(5), [pair("decided_date", "future_date")]);
    assert_eq!(line(6), [pair("cpt", "invalid_cpt")]);
    assert_eq!(line(7), [pair("allowed_amount", "invalid_amount")]);
    assert_eq!(line(8), [pair("denial_reason_code", "invalid_code")]);
    assert_eq!(line(9), [pair("denial_reason_text", "phi_suspected")]);
    assert_eq!(line(10), [pair("payer", "phi_suspected")]);
    assert_eq!(line(11).len(), 6, "one line per column and reason");
    assert!(line(12).is_empty() && line(13).is_empty());
    assert_eq!(rows.len(), 15);
    assert_eq!(report.rejection_lines, 15);
    assert_eq!(claim_count(&f, &f.scope, out.upload_id), 2);

    let mut c = f.db.get().expect("conn");
    let upload = uploads::find(&mut c, &f.scope, out.upload_id).expect("upload");
    assert_eq!(upload.status, "partial");
    assert_eq!(upload.quality_score_centi, Some(1667));
    assert_eq!((upload.accepted_rows, upload.rejected_rows), (2, 10));
}

fn assert_failed_with(f: &Fixture, out: &IngestOutcome, needle: &str) {
    assert_eq!(out.status, UploadStatus::Failed, "{:?}", out.message);
    let message = out.message.clone().expect("message");
    assert!(
        message.contains(needle),
        "{message:?} should mention {needle:?}"
    );
    assert_eq!(claim_count(f, &f.scope, out.upload_id), 0);
    assert!(rejections(f, out.upload_id).is_empty());
    assert!(stored_report(f, out.upload_id).is_none());
    let mut c = f.db.get().expect("conn");
    let stored = uploads::find(&mut c, &f.scope, out.upload_id).expect("upload");
    assert_eq!(stored.status, "failed");
    assert_eq!(stored.message.as_deref(), Some(message.as_str()));
    assert!(stored.sha256.is_none());
}

#[test]
fn file_level_failures_store_only_a_failed_upload_with_a_clear_message() {
    let f = fixture();
    let good_row = "Aetna,99213,2026-01-02,2026-01-10,PAID,,,";

    assert_failed_with(&f, &upload(&f, "empty.csv", b""), "empty");
    assert_failed_with(&f, &upload(&f, "blank.csv", b"\n\n"), "empty");
    assert_failed_with(
        &f,
        &upload(&f, "header.csv", HEADER.as_bytes()),
        "no data rows",
    );
    assert_failed_with(
        &f,
        &upload(
            &f,
            "image.png",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe",
        ),
        "not a text CSV",
    );
    let mut latin1 = HEADER.as_bytes().to_vec();
    latin1.extend_from_slice(b"Caf\xe9 Health,99213,2026-01-02,2026-01-10,PAID,,,\n");
    assert_failed_with(&f, &upload(&f, "latin1.csv", &latin1), "not UTF-8");
    assert_failed_with(
        &f,
        &upload(
            &f,
            "missing.csv",
            b"payer,outcome,decided_date\nAetna,PAID,2026-01-02\n",
        ),
        "required columns are missing: cpt, submitted_date",
    );
    assert_failed_with(
        &f,
        &upload(
            &f,
            "repeat.csv",
            format!(
                "{}Payer_Name\n{good_row},x\n",
                HEADER.trim_end().to_owned() + ","
            )
            .as_bytes(),
        ),
        "appears more than once",
    );

    let mut utf16 = vec![0xFF, 0xFE];
    for unit in HEADER.encode_utf16() {
        utf16.extend(unit.to_le_bytes());
    }
    assert_failed_with(&f, &upload(&f, "utf16.csv", &utf16), "UTF-16");
    let cr_only = csv(&[good_row, good_row])
        .iter()
        .map(|&b| if b == b'\n' { b'\r' } else { b })
        .collect::<Vec<u8>>();
    assert_failed_with(&f, &upload(&f, "mac.csv", &cr_only), "CR only");

    let big = csv(&[good_row; 50]);
    let mut req = request(f.scope, "big.csv");
    req.limits.max_bytes = 1024;
    assert_failed_with(
        &f,
        &upload_with(&f, req.clone(), &big, &IngestOptions::default()),
        "larger than the limit",
    );
    req.declared_size = Some(big.len() as u64);
    assert_failed_with(
        &f,
        &upload_with(&f, req, &big, &IngestOptions::default()),
        "larger than the limit",
    );
    let mut req = request(f.scope, "rows.csv");
    req.limits.max_rows = 10;
    assert_failed_with(
        &f,
        &upload_with(&f, req, &big, &IngestOptions::default()),
        "more than the limit of 10 data rows",
    );

    // The same bytes again: refused, pointing at the first upload.
    let first = upload(&f, "first.csv", &big);
    assert_eq!(first.status, UploadStatus::Succeeded);
    let again = upload(&f, "again.csv", &big);
    assert_failed_with(&f, &again, &format!("upload {}", first.upload_id));
    assert_eq!(again.duplicate_of, Some(first.upload_id));
    assert!(matches!(
        again.failure,
        Some(IngestError::Duplicate { earlier }) if earlier == first.upload_id
    ));
    let mut c = f.db.get().expect("conn");
    let stored = uploads::find(&mut c, &f.scope, again.upload_id).expect("upload");
    assert_eq!(stored.duplicate_of, Some(first.upload_id));
}

#[test]
fn every_row_rejected_is_a_failed_upload_with_its_report() {
    let f = fixture();
    let out = upload(
        &f,
        "bad.csv",
        &csv(&[
            ",99213,2026-01-02,2026-01-10,PAID,,,",
            "Aetna,x,2026-01-02,2026-01-10,PAID,,,",
        ]),
    );
    assert_eq!(out.status, UploadStatus::Failed);
    assert!(
        out.message
            .expect("message")
            .contains("every row was rejected")
    );
    assert_eq!(rejections(&f, out.upload_id).len(), 2);
    assert_eq!(
        stored_report(&f, out.upload_id)
            .expect("report")
            .rejected_rows,
        2
    );
    assert_eq!(claim_count(&f, &f.scope, out.upload_id), 0);
}

#[test]
fn payer_aliases_and_cpt_groups_map_claims() {
    let f = fixture();
    let scope = f.scope;
    f.db.write_blocking(move |c| {
        mappings::upsert_payer_alias(c, &scope, "UHC", "UnitedHealthcare")?;
        mappings::upsert_payer_alias(c, &scope, "United  Healthcare", "UnitedHealthcare")?;
        mappings::upsert_cpt_group(c, &scope, "29881", "29881", "ARTHROSCOPY")
    })
    .expect("mappings");
    let out = upload(
        &f,
        "aliases.csv",
        &csv(&[
            "  uhc ,99213,2026-01-02,2026-01-10,PAID,,,",
            "UNITED healthcare,29881,2026-01-02,2026-01-10,PAID,,,",
            "  Acme Health Inc ,70450,2026-01-02,2026-01-10,PAID,,,",
            "Acme Health Inc,0001f,2026-01-02,2026-01-10,PAID,,,",
            "Acme Health Inc,97110,2026-01-02,2026-01-10,PAID,,,",
        ]),
    );
    assert_eq!(out.status, UploadStatus::Succeeded);
    let report = out.report.expect("report");
    assert_eq!(report.distinct_payers, 2);
    assert_eq!(report.unmapped_payers.names, ["Acme Health Inc"]);
    let mut c = f.db.get().expect("conn");
    let mut rows: Vec<(String, String, String, String)> = claims::list_recent(&mut c, &f.scope, 10)
        .expect("claims")
        .into_iter()
        .map(|r| (r.payer_raw, r.payer, r.cpt, r.cpt_group))
        .collect();
    rows.sort();
    let row = |a: &str, b: &str, c: &str, d: &str| {
        (a.to_owned(), b.to_owned(), c.to_owned(), d.to_owned())
    };
    assert_eq!(
        rows,
        [
            row("Acme Health Inc", "Acme Health Inc", "0001F", "OTHER"),
            row("Acme Health Inc", "Acme Health Inc", "70450", "IMAGING"),
            row("Acme Health Inc", "Acme Health Inc", "97110", "THERAPY"),
            row(
                "UNITED healthcare",
                "UnitedHealthcare",
                "29881",
                "ARTHROSCOPY"
            ),
            row("uhc", "UnitedHealthcare", "99213", "EVAL_MGMT"),
        ]
    );
}

#[test]
fn bom_crlf_and_quoted_commas_and_newlines_keep_physical_row_numbers() {
    let f = fixture();
    let body = "\u{feff}Payer,CPT,Submitted_Date,Decided_Date,Outcome,Allowed_Amount,Denial_Reason_Code,Denial_Reason_Text,Notes\r\n\
Aetna,99213,2026-01-02,2026-01-10,PAID,\"$1,234.50\",,,x\r\n\
\"Blue, Cross\",99213,2026-01-02,2026-01-10,DENIED,12.00,CO-16,\"Line one\r\nline two, with comma\",\"note\nwith newline\"\r\n\
Cigna,ABC,2026-01-02,2026-01-10,PAID,,,,\r\n\
Humana,99213,2026-01-02,2026-01-01,PAID,,,,\r\n";
    let out = upload(&f, "dialect.csv", body.as_bytes());
    assert_eq!(out.status, UploadStatus::Partial, "{:?}", out.message);
    let report = out.report.expect("report");
    assert_eq!(report.unknown_columns, ["Notes"]);
    assert_eq!((report.accepted_rows, report.rejected_rows), (2, 2));
    let rows = rejections(&f, out.upload_id);
    let lines: Vec<(i64, &str)> = rows.iter().map(|r| (r.0, r.2.as_str())).collect();
    assert_eq!(lines, [(6, "invalid_cpt"), (7, "date_order")]);
    let mut c = f.db.get().expect("conn");
    let stored = claims::list_recent(&mut c, &f.scope, 10).expect("claims");
    // "Blue, Cross" is a spelling of a common payer: stored under its built-in name.
    let blue = stored
        .iter()
        .find(|r| r.payer == "Blue Cross Blue Shield")
        .expect("quoted payer");
    assert_eq!(
        blue.denial_reason_text.as_deref(),
        Some("Line one\r\nline two, with comma")
    );
    let aetna = stored.iter().find(|r| r.payer == "Aetna").expect("aetna");
    assert_eq!(aetna.allowed_cents, Some(123_450));
    assert_eq!(aetna.decision_days, 8);
}

#[test]
fn three_date_formats_and_outcome_spellings() {
    let f = fixture();
    let out = upload(
        &f,
        "dates.csv",
        &csv(&[
            "A,99213,2026-01-02,2026-01-10,paid,,,",
            "A,99213,01/02/2026,1/10/2026,APPROVED,,,",
            "A,99213,2026/01/02,2026/1/10,Accepted,,,",
            "A,99213,2026-01-02,01/10/2026,Denied,,,",
            "A,99213,2026-01-02,2026-01-10,REJECTED,,,",
            "A,99213,2026-01-02,2026-01-10,declined,,,",
            "A,99213,2026-01-02,2026-01-10,PENDING,,,",
            "A,99213,02-01-2026,2026-01-10,PAID,,,",
        ]),
    );
    let report = out.report.expect("report");
    assert_eq!((report.accepted_rows, report.rejected_rows), (7, 1));
    assert_eq!(
        (
            report.outcomes.paid,
            report.outcomes.denied,
            report.outcomes.other
        ),
        (3, 3, 1)
    );
    assert_eq!(report.warning_rows, 1);
    let range = report.date_range.expect("dates");
    assert_eq!(
        range.submitted_from,
        NaiveDate::from_ymd_opt(2026, 1, 2).expect("d")
    );
    assert_eq!(
        range.decided_to,
        NaiveDate::from_ymd_opt(2026, 1, 10).expect("d")
    );
    let mut c = f.db.get().expect("conn");
    let stored = claims::list_recent(&mut c, &f.scope, 10).expect("claims");
    assert!(stored.iter().all(|r| r.decision_days == 8));
    let mut outcomes: Vec<String> = stored.into_iter().map(|r| r.outcome).collect();
    outcomes.sort();
    assert_eq!(
        outcomes,
        [
            "DENIED", "DENIED", "DENIED", "OTHER", "PAID", "PAID", "PAID"
        ]
    );
}

#[test]
fn an_injected_failure_mid_way_leaves_no_claims_of_the_upload() {
    let f = fixture();
    let (body, _) = generated(&GenOptions {
        rows: 50_000,
        ..GenOptions::default()
    });
    let options = IngestOptions {
        fail_after_rows: Some(20_000),
        ..IngestOptions::default()
    };
    let out = upload_with(&f, request(f.scope, "crash.csv"), &body, &options);
    assert_failed_with(&f, &out, "nothing was stored");
    let mut c = f.db.get().expect("conn");
    assert_eq!(claims::count(&mut c, &f.scope).expect("count"), 0);
    drop(c);
    // The same bytes go in afterwards: a failed upload keeps no hash.
    let retry = upload(&f, "crash.csv", &body);
    assert_eq!(retry.status, UploadStatus::Partial);
    assert_eq!(
        claim_count(&f, &f.scope, retry.upload_id),
        retry.report.expect("report").accepted_rows as i64
    );
}

#[test]
fn phi_is_never_stored_anywhere() {
    let f = fixture();
    let phi = [
        "123-45-6789",
        "Jennifer",
        "(555) 867-5309",
        "jane.doe@example.com",
        "MRN 1234567",
        "01/02/1980",
    ];
    let body = csv(&[
        "Aetna,99213,2026-01-02,2026-01-10,DENIED,,CO-16,Member SSN 123-45-6789 on file",
        "Aetna,99213,2026-01-02,2026-01-10,DENIED,,CO-16,Called patient Jennifer about coverage",
        "Aetna,99213,2026-01-02,2026-01-10,DENIED,,CO-16,Call back at (555) 867-5309",
        "jane.doe@example.com,99213,2026-01-02,2026-01-10,PAID,,,",
        "Aetna,99213,2026-01-02,2026-01-10,DENIED,,CO-16,MRN 1234567 DOB 01/02/1980",
        "Aetna,99213,2026-01-02,2026-01-10,PAID,,,",
    ]);
    let out = upload(&f, "patient Jennifer SSN 123-45-6789.csv", &body);
    assert_eq!(out.status, UploadStatus::Partial);
    assert_eq!(out.file_name, format!("upload-{}.csv", out.upload_id));
    let report_json = {
        let mut c = f.db.get().expect("conn");
        upload_lifecycle::find_report(&mut c, &f.scope, out.upload_id).expect("report")
    };
    let mut c = f.db.get().expect("conn");
    let upload = uploads::find(&mut c, &f.scope, out.upload_id).expect("upload");
    let mut stored_text = vec![
        report_json,
        upload.file_name,
        upload.message.unwrap_or_default(),
    ];
    for r in claims::list_recent(&mut c, &f.scope, 100).expect("claims") {
        stored_text.extend([r.payer_raw, r.payer, r.cpt, r.outcome]);
        stored_text.extend(r.denial_reason_code);
        stored_text.extend(r.denial_reason_text);
    }
    for (_, column, reason) in rejections(&f, out.upload_id) {
        stored_text.extend([column, reason]);
    }
    let all = stored_text.join("\n");
    for needle in phi {
        assert!(!all.contains(needle), "{needle} was stored");
    }
    assert!(all.contains("phi_suspected"));
}

/// Review 2026-12 rows 1, 2 and 7: record-shape limits end as failed uploads naming the
/// limit, before anything is stored; PHI in a reason code or a header never reaches a
/// table, message or report.
#[test]
fn hostile_shapes_fail_naming_the_limit() {
    let f = fixture();
    let mut wide = HEADER.trim_end().to_owned();
    for i in 0..100_000 {
        wide.push_str(&format!(",x{i}"));
    }
    wide.push('\n');
    assert_failed_with(
        &f,
        &upload(&f, "wide.csv", wide.as_bytes()),
        "line 1 has more than the limit of 256 columns",
    );
    let mut commas = csv(&["Aetna,99213,2026-01-02,2026-01-10,PAID,,,"]);
    commas.extend(std::iter::repeat_n(b',', 3_000_000));
    assert_failed_with(
        &f,
        &upload(&f, "commas.csv", &commas),
        "line 3 has more than the limit of 256 columns",
    );
    let mut field = csv(&["Aetna,99213,2026-01-02,2026-01-10,PAID,,,"]);
    field.extend_from_slice(b"Aetna,99213,2026-01-02,2026-01-10,PAID,,,\"");
    field.extend(std::iter::repeat_n(b'a', 1_000_000));
    assert_failed_with(
        &f,
        &upload(&f, "field.csv", &field),
        "starting on line 3 is longer than the limit of 8 KiB",
    );
    let mut record = csv(&[]);
    let cell = "b".repeat(8000);
    record.extend_from_slice(b"Aetna,99213,2026-01-02,2026-01-10,PAID");
    for _ in 0..10 {
        record.extend_from_slice(format!(",{cell}").as_bytes());
    }
    assert_failed_with(
        &f,
        &upload(&f, "record.csv", &record),
        "longer than the limit of 64 KiB (PAYERWATCH_MAX_UPLOAD_RECORD_BYTES)",
    );
    let mut req = request(f.scope, "narrow.csv");
    req.limits.shape.max_columns = 8;
    assert_failed_with(
        &f,
        &upload_with(
            &f,
            req,
            &csv(&["Aetna,99213,2026-01-02,2026-01-10,PAID,,,,"]),
            &IngestOptions::default(),
        ),
        "line 2 has more than the limit of 8 columns",
    );
    // Blank lines cost constant memory and still count for the row numbers.
    let mut blank = HEADER.as_bytes().to_vec();
    blank.extend(std::iter::repeat_n(b'\n', 2_000_000));
    blank.extend_from_slice(b"Aetna,99213,2026-01-02,2026-01-10,PAID,,,x\n");
    let out = upload(&f, "blank.csv", &blank);
    assert_eq!(out.status, UploadStatus::Succeeded, "{:?}", out.message);
}

#[test]
fn phi_in_reason_codes_and_headers_is_never_stored_or_shown() {
    let f = fixture();
    let body = csv(&[
        "Aetna,99213,2026-01-02,2026-01-10,DENIED,,123-45-6789,",
        "Aetna,99213,2026-01-02,2026-01-10,DENIED,,(555) 867-5309,",
        "Aetna,99213,2026-01-02,2026-01-10,DENIED,,free text,",
        "Aetna,99213,2026-01-02,2026-01-10,DENIED,,co-16,",
    ]);
    let out = upload(&f, "codes.csv", &body);
    assert_eq!(out.status, UploadStatus::Partial);
    let rows = rejections(&f, out.upload_id);
    let got: Vec<(i64, &str, &str)> = rows
        .iter()
        .map(|r| (r.0, r.1.as_str(), r.2.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (2, "denial_reason_code", "phi_suspected"),
            (3, "denial_reason_code", "phi_suspected"),
            (4, "denial_reason_code", "invalid_code"),
        ]
    );
    let mut c = f.db.get().expect("conn");
    let stored: Vec<Option<String>> = claims::list_recent(&mut c, &f.scope, 10)
        .expect("claims")
        .into_iter()
        .map(|r| r.denial_reason_code)
        .collect();
    assert_eq!(stored, [Some("CO-16".to_owned())]);

    // A file without a header row: its first data line is judged as the header.
    let headless = b"Jane Doe 123-45-6789,99213,2026-01-02,2026-01-10,PAID,x,jane@example.org,jane@example.org\n";
    let out = upload(&f, "headless.csv", headless);
    let message = out.message.clone().expect("message");
    assert!(message.contains("columns 7 and 8"), "{message}");
    for needle in ["123-45", "Jane", "jane@"] {
        assert!(!message.contains(needle), "{message}");
    }
    // Unknown columns that look like PHI are listed by position.
    let mut named = HEADER.trim_end().to_owned();
    named.push_str(",SSN 123-45-6789\n");
    named.push_str("Aetna,99213,2026-01-02,2026-01-10,PAID,,,,x\n");
    let out = upload(&f, "named.csv", named.as_bytes());
    assert_eq!(out.status, UploadStatus::Succeeded);
    let report = stored_report(&f, out.upload_id).expect("report");
    assert_eq!(
        report.unknown_columns,
        ["column 9 (name withheld: possible PHI)"]
    );
}

#[test]
fn tenants_never_see_each_others_uploads_or_mappings() {
    let f = fixture();
    let other = new_tenant(&f.db, "other");
    f.db.write_blocking(move |c| mappings::upsert_payer_alias(c, &other, "Aetna", "OTHER-TENANT"))
        .expect("alias");
    let out = upload(
        &f,
        "mine.csv",
        &csv(&["Aetna,99213,2026-01-02,2026-01-10,PAID,,,"]),
    );
    assert_eq!(out.status, UploadStatus::Succeeded);
    assert_eq!(claim_count(&f, &other, out.upload_id), 0);
    let mut c = f.db.get().expect("conn");
    assert!(matches!(
        uploads::find(&mut c, &other, out.upload_id),
        Err(DbError::NotFound)
    ));
    assert!(matches!(
        upload_lifecycle::find_report(&mut c, &other, out.upload_id),
        Err(DbError::NotFound)
    ));
    let mine = claims::list_recent(&mut c, &f.scope, 10).expect("claims");
    assert_eq!(
        mine[0].payer, "Aetna",
        "the other tenant's alias does not apply"
    );
    drop(c);
    // The same bytes for another tenant are not a duplicate.
    let theirs = ingest::ingest(
        &f.db,
        &request(other, "theirs.csv"),
        &csv(&["Aetna,99213,2026-01-02,2026-01-10,PAID,,,"])[..],
        &IngestOptions::default(),
    )
    .expect("upload");
    assert_eq!(theirs.status, UploadStatus::Succeeded);
}

#[test]
fn a_generated_file_with_bad_rows_matches_the_generator_truth() {
    let f = fixture();
    let (body, truth) = generated(&GenOptions {
        rows: 30_000,
        seed: 7,
        bad_rate: 0.05,
        date_style: DateStyle::Mixed,
        ..GenOptions::default()
    });
    let mut req = request(f.scope, "generated.csv");
    req.today = truth.end;
    let out = upload_with(&f, req, &body, &IngestOptions::default());
    let report = out.report.expect("report");
    let counts = &truth.counts;
    assert_eq!(report.total_rows, counts.rows);
    assert_eq!(report.accepted_rows, counts.expected_accepted_rows);
    assert_eq!(report.rejected_rows, counts.expected_rejected_rows);
    for (reason, n) in &counts.expected_rejected_by_reason {
        assert_eq!(report.rejected_by_reason[*reason], *n, "{reason}");
    }
    for (column, n) in &counts.expected_rejected_by_column {
        assert_eq!(report.rejected_by_column[*column], *n, "{column}");
    }
    assert_eq!(report.warning_rows, counts.outcomes_accepted.other);
    assert_eq!(report.outcomes.denied, counts.outcomes_accepted.denied);
    assert_eq!(report.outcomes.paid, counts.outcomes_accepted.paid);
    assert_eq!(
        claim_count(&f, &f.scope, out.upload_id),
        counts.expected_accepted_rows as i64
    );
    // One problem per malformed row: one rejection line each.
    assert_eq!(
        rejections(&f, out.upload_id).len() as u64,
        counts.expected_rejected_rows
    );
}

#[test]
fn anomalies_are_found_against_three_earlier_uploads() {
    let f = fixture();
    for seed in 1..=3 {
        let (body, _) = generated(&GenOptions {
            rows: 1_000,
            seed,
            bad_rate: 0.0,
            ..GenOptions::default()
        });
        let out = upload(&f, "daily.csv", &body);
        assert!(out.report.expect("report").anomalies.is_empty());
    }
    let (body, _) = generated(&GenOptions {
        rows: 10_000,
        seed: 4,
        bad_rate: 0.0,
        ..GenOptions::default()
    });
    let out = upload(&f, "huge.csv", &body);
    let report = out.report.expect("report");
    assert_eq!(report.anomaly_baseline_uploads, 3);
    assert!(
        report.anomalies.iter().any(|a| a.check == "volume"),
        "{:?}",
        report.anomalies
    );
    let stored = stored_report(&f, out.upload_id).expect("stored");
    assert_eq!(stored.anomalies, report.anomalies);
}

#[test]
fn remap_applies_changed_mappings_to_stored_claims() {
    let f = fixture();
    let out = upload(
        &f,
        "before.csv",
        &csv(&[
            "RHP,99213,2026-01-02,2026-01-10,PAID,,,",
            "RHP,29881,2026-01-02,2026-01-10,PAID,,,",
            "Aetna,29881,2026-01-02,2026-01-10,PAID,,,",
        ]),
    );
    assert_eq!(out.status, UploadStatus::Succeeded);
    let scope = f.scope;
    f.db.write_blocking(move |c| {
        mappings::upsert_payer_alias(c, &scope, "rhp", "Regional Health Plan")?;
        mappings::upsert_cpt_group(c, &scope, "29881", "29881", "ARTHROSCOPY")
    })
    .expect("mappings");
    let changed = payerwatch::services::mappings::remap(&f.db, &f.scope).expect("remap");
    assert_eq!((changed.payer_rows, changed.cpt_group_rows), (2, 2));
    assert_eq!(
        payerwatch::services::mappings::remap(&f.db, &f.scope)
            .expect("again")
            .payer_rows,
        0
    );
}

#[test]
fn new_customers_start_with_the_default_cpt_groups() {
    let f = fixture();
    let mut c = f.db.get().expect("conn");
    let groups = mappings::list_cpt_groups(&mut c, &f.scope).expect("groups");
    let mut names: Vec<&str> = groups.iter().map(|g| g.group_name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["EVAL_MGMT", "IMAGING", "LAB", "SURGERY", "THERAPY"]);
}

#[test]
fn import_command_prints_the_report_and_fails_loudly() {
    let f = fixture();
    let dir = tempfile::tempdir().expect("tmp");
    let good = dir.path().join("claims.csv");
    std::fs::write(
        &good,
        csv(&[
            "Aetna,99213,2026-01-02,2026-01-10,PAID,,,",
            ",99213,2026-01-02,2026-01-10,PAID,,,",
        ]),
    )
    .expect("write");
    let run = |file: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_payerwatch"))
            .args(["import", file.to_str().expect("path"), "--customer", "acme"])
            .args(["--today", "2026-11-22"])
            .env("DATABASE_URL", f.database.url())
            .env("PAYERWATCH_LOG_FORMAT", "text")
            .env("RUST_LOG", "warn")
            .output()
            .expect("run payerwatch")
    };
    let ok = run(&good);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout.contains("partial"), "{stdout}");
    assert!(stdout.contains("1 accepted, 1 rejected"), "{stdout}");
    assert!(stdout.contains("missing_value 1"), "{stdout}");

    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "payer,cpt\nAetna,99213\n").expect("write");
    let failed = run(&bad);
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("submitted_date, decided_date, outcome"),
        "{stderr}"
    );
}

/// Short commands exit right after their work: a pool that refilled its idle minimum on a
/// background thread crashed in libpq's exit handlers (SIGSEGV in about half the runs of
/// `compute --print-sql` on PostgreSQL). Several runs make the race visible. The
/// database URL is the one an operator writes, without the tests' `sslmode=disable`:
/// the crash needed libpq's default TLS negotiation.
#[test]
fn short_commands_exit_cleanly() {
    let f = fixture();
    let url = f.database.url().replace("?sslmode=disable", "");
    for _ in 0..8 {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_payerwatch"))
            .args(["compute", "--customer", "acme", "--print-sql"])
            .args(["--as-of", "2026-11-22"])
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run payerwatch");
        assert!(
            out.status.success(),
            "{:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("GROUP BY"));
    }
}

#[test]
fn spellings_sharing_a_key_are_stored_under_one_payer_and_history_is_kept() {
    let f = fixture();
    let out = upload(
        &f,
        "first.csv",
        &csv(&[
            "Formula Health,99213,2026-01-02,2026-01-10,PAID,,,",
            "Formula Health,99213,2026-01-03,2026-01-10,PAID,,,",
            "FORMULA HEALTH,99213,2026-01-04,2026-01-10,PAID,,,",
            "Formula Health Inc.,99213,2026-01-04,2026-01-10,PAID,,,",
            "UHC,99213,2026-01-04,2026-01-10,PAID,,,",
        ]),
    );
    assert_eq!(out.status, UploadStatus::Succeeded);
    // A later file spelling it only one other way joins the stored payer.
    let out = upload(
        &f,
        "second.csv",
        &csv(&[
            "formula health,99213,2026-01-05,2026-01-10,PAID,,,",
            "formula health,99213,2026-01-06,2026-01-10,PAID,,,",
            "formula health,99213,2026-01-07,2026-01-10,PAID,,,",
        ]),
    );
    assert_eq!(out.status, UploadStatus::Succeeded);
    let mut c = f.db.get().expect("conn");
    let mut stored = mappings::spelling_claim_counts(&mut c, &f.scope).expect("counts");
    stored.sort();
    let want: Vec<(String, String, u64)> = vec![
        ("FORMULA HEALTH".into(), "Formula Health".into(), 1),
        ("Formula Health".into(), "Formula Health".into(), 2),
        ("Formula Health Inc.".into(), "Formula Health".into(), 1),
        ("UHC".into(), "UnitedHealthcare".into(), 1),
        ("formula health".into(), "Formula Health".into(), 3),
    ];
    assert_eq!(stored, want);
    // remap keeps the merge (most frequent stored spelling).
    let changed = payerwatch::services::mappings::remap(&f.db, &f.scope).expect("remap");
    assert_eq!(changed.payer_rows, 0);
}

/// Issue 21 (merge): the ingest's merge reads the stored payers from the daily rollups.
/// Two stored payers share a key (one kept apart by an alias to itself); a later spelling
/// of that key joins the one with more claims — not the first by name — and follows the
/// counts when they change.
#[test]
fn a_new_spelling_joins_the_stored_payer_of_its_key_with_the_most_claims() {
    let f = fixture();
    let scope = f.scope;
    let stored = |f: &Fixture| {
        let mut c = f.db.get().expect("conn");
        let mut s = mappings::spelling_claim_counts(&mut c, &f.scope).expect("counts");
        s.sort();
        s
    };
    let row = |payer: &str, day: u32| format!("{payer},99213,2026-01-{day:02},2026-01-20,PAID,,,");
    let rows = |payer: &str, days: std::ops::Range<u32>| -> Vec<String> {
        days.map(|d| row(payer, d)).collect()
    };
    let body = |rows: Vec<String>| {
        let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
        csv(&refs)
    };
    // 3 claims of "Acme Health Inc." (no payer of its key yet: stored as written) …
    let out = upload(&f, "inc.csv", &body(rows("Acme Health Inc.", 1..4)));
    assert_eq!(out.status, UploadStatus::Succeeded);
    // … and 1 of "Acme Health", which an alias to itself keeps apart.
    f.db.write_blocking(move |c| {
        mappings::upsert_payer_alias(c, &scope, "Acme Health", "Acme Health")
    })
    .expect("alias");
    let out = upload(&f, "plain.csv", &body(rows("Acme Health", 4..5)));
    assert_eq!(out.status, UploadStatus::Succeeded);
    // A third spelling of the key goes under the payer with more claims ("Acme Health"
    // sorts first by name).
    let out = upload(&f, "third.csv", &body(rows("ACME HEALTH INC", 5..7)));
    assert_eq!(out.status, UploadStatus::Succeeded);
    assert_eq!(
        stored(&f),
        vec![
            ("ACME HEALTH INC".into(), "Acme Health Inc.".into(), 2),
            ("Acme Health".into(), "Acme Health".into(), 1),
            ("Acme Health Inc.".into(), "Acme Health Inc.".into(), 3),
        ]
    );
    // Now "Acme Health" has more (1 + 6 against 5): the next new spelling joins it.
    let out = upload(&f, "more.csv", &body(rows("Acme Health", 7..13)));
    assert_eq!(out.status, UploadStatus::Succeeded);
    let out = upload(&f, "fourth.csv", &body(rows("acme health inc", 13..14)));
    assert_eq!(out.status, UploadStatus::Succeeded);
    let want: Vec<(String, String, u64)> = vec![
        ("ACME HEALTH INC".into(), "Acme Health Inc.".into(), 2),
        ("Acme Health".into(), "Acme Health".into(), 7),
        ("Acme Health Inc.".into(), "Acme Health Inc.".into(), 3),
        ("acme health inc".into(), "Acme Health".into(), 1),
    ];
    assert_eq!(stored(&f), want);
    let mut c = f.db.get().expect("conn");
    assert_eq!(
        payerwatch::db::repo::rollups::payer_claims(&mut c, &f.scope).expect("payers"),
        vec![("Acme Health".into(), 8), ("Acme Health Inc.".into(), 5)]
    );
}

/// A spelling joins a payer of its key that an alias of the same file gives other rows
/// (those rows are written when the merge runs, as before it read the rollups).
#[test]
fn a_spelling_joins_the_payer_an_alias_of_the_same_file_gives() {
    let f = fixture();
    let scope = f.scope;
    f.db.write_blocking(move |c| {
        mappings::upsert_payer_alias(c, &scope, "BHP", "Beta Health Plan")
    })
    .expect("alias");
    let out = upload(
        &f,
        "beta.csv",
        &csv(&[
            "BHP,99213,2026-01-02,2026-01-10,PAID,,,",
            "BETA HEALTH PLAN INC,99213,2026-01-03,2026-01-10,PAID,,,",
            "BETA HEALTH PLAN INC,99213,2026-01-04,2026-01-10,PAID,,,",
        ]),
    );
    assert_eq!(out.status, UploadStatus::Succeeded);
    let mut c = f.db.get().expect("conn");
    let mut stored = mappings::spelling_claim_counts(&mut c, &f.scope).expect("counts");
    stored.sort();
    let want: Vec<(String, String, u64)> = vec![
        ("BETA HEALTH PLAN INC".into(), "Beta Health Plan".into(), 2),
        ("BHP".into(), "Beta Health Plan".into(), 1),
    ];
    assert_eq!(stored, want);
}

/// A reader that hands out `head`, then blocks until told to go on (or `give_up` passes)
/// before the rest: an upload caught in the middle of its parse.
struct Paused {
    head: std::io::Cursor<Vec<u8>>,
    rest: std::io::Cursor<Vec<u8>>,
    go: std::sync::mpsc::Receiver<()>,
    paused: Option<std::sync::mpsc::Sender<()>>,
    give_up: std::time::Duration,
}

impl std::io::Read for Paused {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.head.read(buf)?;
        if n > 0 {
            return Ok(n);
        }
        if let Some(paused) = self.paused.take() {
            let _ = paused.send(());
            let _ = self.go.recv_timeout(self.give_up);
        }
        self.rest.read(buf)
    }
}

/// Issue 16 (the abuse run's finding): on SQLite a long upload held the process-wide
/// writer lock for its whole parse, so other tenants' sign-in and session writes waited
/// for it. Now the parse stages into the scratch database without the lock: another
/// write goes through while the upload is mid-parse, and nothing of the upload is
/// visible until it commits. (PostgreSQL: no process lock; the same test holds.)
#[test]
fn another_tenants_write_is_not_held_up_by_an_upload_mid_parse() {
    use std::time::{Duration, Instant};
    let f = fixture();
    let other = new_tenant(&f.db, "bystander");
    let (body, _) = generated(&GenOptions {
        rows: 20_000,
        ..GenOptions::default()
    });
    // Past the first batch, so the writer has staged rows when the parse stops.
    let split = body.len() / 2
        + body[body.len() / 2..]
            .iter()
            .position(|b| *b == b'\n')
            .expect("nl")
        + 1;
    let (go_tx, go_rx) = std::sync::mpsc::channel();
    let (paused_tx, paused_rx) = std::sync::mpsc::channel();
    let reader = Paused {
        head: std::io::Cursor::new(body[..split].to_vec()),
        rest: std::io::Cursor::new(body[split..].to_vec()),
        go: go_rx,
        paused: Some(paused_tx),
        give_up: Duration::from_secs(20),
    };
    let db = f.db.clone();
    let req = request(f.scope, "long.csv");
    let upload = std::thread::spawn(move || {
        ingest::ingest(&db, &req, reader, &IngestOptions::default()).expect("recorded")
    });
    paused_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the upload reached its pause");

    // Another tenant's write (a new customer row stands in for a sign-in's session row).
    let started = Instant::now();
    let db = f.db.clone();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(db.write_blocking(|c| customers::insert(c, "late", "Late")));
    });
    let write = done_rx.recv_timeout(Duration::from_secs(5));
    let waited = started.elapsed();
    // Nothing of the upload is visible while it is staged.
    let mut c = f.db.get().expect("conn");
    let visible = claims::count(&mut c, &f.scope).expect("count");
    drop(c);
    go_tx.send(()).expect("resume");
    let out = upload.join().expect("upload thread");
    assert!(
        matches!(write, Ok(Ok(_))),
        "a bystander's write waited {waited:?} for an upload's parse"
    );
    assert_eq!(visible, 0, "no claims before the upload commits");
    assert_eq!(out.status, UploadStatus::Partial, "{:?}", out.message);
    let report = out.report.expect("report");
    assert_eq!(
        claim_count(&f, &f.scope, out.upload_id),
        report.accepted_rows as i64
    );
    let mut c = f.db.get().expect("conn");
    let rejections = upload_lifecycle::list_rejections(&mut c, &f.scope, out.upload_id, i64::MAX)
        .expect("rejections");
    assert!(
        report.rejected_rows > 0 && rejections.len() as u64 >= report.rejected_rows,
        "staged rejections moved too"
    );
    assert_eq!(claims::count(&mut c, &other).expect("count"), 0);
}
