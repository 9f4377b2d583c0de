//! Parser, envelope and mapping tests on hand-written 835s (the project's own; patient
//! names and ids below are invented and must never come out).

use super::remit::{LineOutcome, ServiceLine, SubmittedSource};
use super::segments::{Delimiters, SegmentReader};
use super::*;
use chrono::NaiveDate;

const ISA: &str = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *261201*1200*^*00501*000000101*0*P*:~";

/// One transaction set body (between ST and SE, exclusive).
const BODY: &[&str] = &[
    "BPR*I*150.00*C*ACH*CCP*01*111*DA*33*1234567890**01*111*DA*22*20261115",
    "TRN*1*12345*1512345678",
    "DTM*405*20261114",
    "N1*PR*ACME HEALTH PLAN*XV*87726",
    "N3*PO BOX 1",
    "N4*HARTFORD*CT*06101",
    "REF*2U*ACME01",
    "N1*PE*CLINIC*XX*1234567893",
    "LX*1",
    "CLP*PCN-SECRET-1*1*200.00*150.00*20.00*12*PAYERCLAIM-SECRET-1*11",
    "NM1*QC*1*ZEBULON*QUINCY****MI*MEMBERSECRET1",
    "NM1*IL*1*ZEBULON*QUINCY****MI*SUBSCRIBERSECRET1",
    "REF*EA*MRNSECRET1",
    "DTM*050*20261020",
    "DTM*233*20261005",
    "SVC*HC:99213:25:59*200.00*150.00**1",
    "DTM*472*20261001",
    "CAS*CO*45*30.00",
    "CAS*PR*2*20.00",
    "AMT*B6*170.00",
    "LQ*HE*N130",
    "CLP*PCN-SECRET-2*4*80.00*0*0*12*PAYERCLAIM-SECRET-2*11",
    "NM1*QC*1*YOLANDA*XAVIER****MI*MEMBERSECRET2",
    "DTM*233*20261008",
    "SVC*HC:J1100*80.00*0**1",
    "DTM*472*20261002",
    "CAS*CO*45*10.00*1*97*70.00",
    "MOA***MA130",
];

fn transaction(control: &str, body: &[&str]) -> String {
    let mut s = format!("ST*835*{control}*005010X221A1~");
    for seg in body {
        s.push_str(seg);
        s.push('~');
    }
    s.push_str(&format!("SE*{}*{control}~", body.len() + 2));
    s
}

fn file(sets: &[String]) -> String {
    let mut s = String::from(ISA);
    s.push_str("GS*HP*SENDER*RECEIVER*20261201*1200*7*X*005010X221A1~");
    for t in sets {
        s.push_str(t);
    }
    s.push_str(&format!("GE*{}*7~IEA*1*000000101~", sets.len()));
    s
}

fn lines(input: &str) -> Result<(Vec<ServiceLine>, Vec<u64>, Summary), X12Error> {
    let mut out = Vec::new();
    let mut lineless = Vec::new();
    let summary = read(input.as_bytes(), 1_000_000, None, |e| {
        match e {
            Emit::Line(l) => out.push(l.clone()),
            Emit::Lineless(c) => lineless.push(c.segment),
            Emit::Reversal(_) => {}
        }
        true
    })?;
    Ok((out, lineless, summary))
}

fn d(y: i32, m: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, day)
}

#[test]
fn maps_one_record_per_service_line() {
    let (lines, lineless, summary) = lines(&file(&[transaction("0001", BODY)])).expect("parses");
    assert_eq!(lines.len(), 2);
    assert!(lineless.is_empty());
    assert_eq!(summary.counts.transactions, 1);
    assert_eq!(summary.counts.claims, 2);
    assert_eq!(summary.counts.service_lines, 2);
    assert!(summary.enveloped);

    let a = &lines[0];
    assert_eq!(a.payer, "ACME HEALTH PLAN");
    assert_eq!(a.payer_id, "ACME01", "REF*2U wins over N1*PR04");
    assert_eq!(
        (a.qualifier.as_str(), a.procedure.as_str()),
        ("HC", "99213")
    );
    assert_eq!(a.modifiers, vec!["25", "59"]);
    assert_eq!(a.charge_cents, Some(20_000));
    assert_eq!(a.paid_cents, Some(15_000));
    assert_eq!(a.allowed_cents, Some(17_000), "AMT*B6");
    assert_eq!(a.submitted, d(2026, 10, 20), "DTM*050 first");
    assert_eq!(a.submitted_source, Some(SubmittedSource::Received));
    assert_eq!(a.decided, d(2026, 11, 15), "BPR16");
    assert_eq!(a.service_date, d(2026, 10, 1));
    assert_eq!(a.outcome, Some(LineOutcome::Partial));
    assert_eq!(a.outcome.map(LineOutcome::as_csv), Some("PAID"));
    assert_eq!(a.reason(), None, "a paid line has no denial reason");
    assert_eq!(a.codes_summary(), "CO-45 PR-2 N130");
    assert_eq!(a.segment, 19, "the SVC's segment number");

    let b = &lines[1];
    assert_eq!(b.procedure, "J1100");
    assert_eq!(b.submitted, d(2026, 10, 8), "DTM*233 without DTM*050");
    assert_eq!(b.submitted_source, Some(SubmittedSource::StatementEnd));
    assert_eq!(b.outcome, Some(LineOutcome::Denied));
    assert_eq!(b.reason().as_deref(), Some("CO-97"), "largest CAS amount");
    assert_eq!(b.allowed_cents, Some(0), "charge minus CO adjustments");
    assert_eq!(
        b.codes_summary(),
        "CO-45 CO-97 MA130",
        "MOA remarks apply to the claim's lines"
    );
}

#[test]
fn submitted_date_falls_back_to_the_service_date_and_decided_to_dtm405() {
    let body = [
        "BPR*H*0*C*NON************",
        "DTM*405*20261114",
        "N1*PR*PAYER",
        "LX*1",
        "CLP*X*4*10*0**12*Y*11",
        "SVC*HC:99214*10*0**1",
        "DTM*472*20261003",
        "CAS*PR*1*10",
    ];
    let (l, _, s) = lines(&file(&[transaction("1", &body)])).expect("parses");
    assert_eq!(l[0].submitted, d(2026, 10, 3));
    assert_eq!(l[0].submitted_source, Some(SubmittedSource::Service));
    assert_eq!(l[0].decided, d(2026, 11, 14));
    assert_eq!(l[0].reason().as_deref(), Some("PR-1"));
    assert_eq!(s.counts.submitted_from_service, 1);
    assert_eq!(l[0].payer_id, "", "no N1*PR04, no REF*2U");
}

#[test]
fn paid_line_without_adjustments_is_paid_and_unexplained_zero_is_other() {
    let body = [
        "BPR*I*10*C*ACH*CCP*01*111*DA*33*1**01*111*DA*22*20261115",
        "N1*PR*PAYER*PI*555",
        "CLP*X*1*10*10**12*Y*11",
        "SVC*HC:99213*10*10**1",
        "SVC*HC:99214*5*0**1",
    ];
    let (l, _, _) = lines(&file(&[transaction("1", &body)])).expect("parses");
    assert_eq!(l[0].outcome, Some(LineOutcome::Paid));
    assert_eq!(l[0].allowed_cents, Some(1000), "charge minus no CO");
    assert_eq!(l[0].payer_id, "555", "N1*PR04");
    assert_eq!(l[1].outcome, Some(LineOutcome::Other));
}

#[test]
fn reversals_are_flagged_and_counted() {
    let body = [
        "BPR*I*0*C*NON************20261115",
        "N1*PR*PAYER",
        "CLP*X*22*-10*-10**12*Y*11",
        "SVC*HC:99213*-10*-10**-1",
        "CAS*CR*45*0",
    ];
    let (l, _, s) = lines(&file(&[transaction("1", &body)])).expect("parses");
    assert!(l[0].reversal);
    assert_eq!(l[0].paid_cents, Some(-1000));
    assert_eq!(s.counts.reversal_lines, 1);
    assert_eq!(s.counts.reversal_claims, 1);
}

#[test]
fn modifiers_remarks_and_every_adjustment_are_kept_per_line() {
    let (l, _, _) = lines(&file(&[transaction("0001", BODY)])).expect("parses");
    let (mut m, mut r, mut a) = (String::new(), String::new(), String::new());
    l[0].modifiers_into(&mut m);
    l[0].remarks_into(&mut r);
    l[0].adjustments_into(&mut a);
    assert_eq!((m.as_str(), r.as_str()), ("25 59", "N130"));
    assert_eq!(a, "CO-45:30.00 PR-2:20.00");
    l[1].modifiers_into(&mut m);
    l[1].remarks_into(&mut r);
    l[1].adjustments_into(&mut a);
    assert_eq!((m.as_str(), r.as_str()), ("", "MA130"), "MOA of the claim");
    assert_eq!(a, "CO-45:10.00 CO-97:70.00", "both triplets of one CAS");

    // Odd modifiers are not kept; negative and repeated adjustments are.
    let body = [
        "N1*PR*PAYER",
        "CLP*X*1*10*10**12*Y*11",
        "SVC*HC:99213:x:TOOLONG:lt*10*10**1",
        "CAS*CO*45*-5*1*45*5",
        "CAS*O A*1*1",
        "LQ*HE*N 1",
    ];
    let (l, _, _) = lines(&file(&[transaction("1", &body)])).expect("parses");
    l[0].modifiers_into(&mut m);
    l[0].adjustments_into(&mut a);
    l[0].remarks_into(&mut r);
    assert_eq!(m, "LT");
    assert_eq!(
        a, "CO-45:-5.00 CO-45:5.00",
        "a group with a blank is left out"
    );
    assert_eq!(r, "", "a remark with a blank is left out");
}

#[test]
fn claims_carry_a_keyed_reference_never_their_numbers() {
    use crate::domain::claim_key::ClaimKeys;
    let keys = ClaimKeys::from_instance_secret(b"test secret").for_tenant(7);
    let input = file(&[transaction("0001", BODY)]);
    let mut got = Vec::new();
    read(input.as_bytes(), 1_000, Some(keys.clone()), |e| {
        if let Emit::Line(l) = e {
            got.push(l.claim_key);
        }
        true
    })
    .expect("parses");
    // Payer id (REF*2U) + CLP01 + CLP07.
    assert_eq!(
        got,
        vec![
            keys.key("ACME01", "PCN-SECRET-1", "PAYERCLAIM-SECRET-1"),
            keys.key("ACME01", "PCN-SECRET-2", "PAYERCLAIM-SECRET-2"),
        ]
    );
    assert!(got.iter().all(Option::is_some));
    let (plain, _, _) = lines(&input).expect("parses");
    assert!(
        plain.iter().all(|l| l.claim_key.is_none()),
        "no keys, no key"
    );
}

#[test]
fn a_reversal_claim_is_emitted_with_its_segment_and_key() {
    use crate::domain::claim_key::ClaimKeys;
    let keys = ClaimKeys::from_instance_secret(b"test secret").for_tenant(7);
    let body = [
        "N1*PR*PAYER*XV*555",
        "CLP*PCN9*22*-10*-10**12*ICN9*11",
        "SVC*HC:99213*-10*-10**-1",
        "SVC*HC:99214*-5*-5**-1",
        "CLP*PCN9*1*10*8**12*ICN9*11",
        "SVC*HC:99213*10*8**1",
    ];
    let mut reversals = Vec::new();
    let mut stored = Vec::new();
    read(
        file(&[transaction("1", &body)]).as_bytes(),
        1_000,
        Some(keys.clone()),
        |e| {
            match e {
                Emit::Reversal(r) => reversals.push(r),
                Emit::Line(l) if !l.reversal => stored.push(l.claim_key),
                _ => {}
            }
            true
        },
    )
    .expect("parses");
    let key = keys.key("555", "PCN9", "ICN9");
    assert_eq!(
        reversals,
        vec![remit::ReversalClaim {
            segment: 5,
            claim_key: key,
            lines: 2
        }]
    );
    assert_eq!(
        stored,
        vec![key],
        "the correction has the same key, after it"
    );
}

#[test]
fn claims_without_service_lines_are_reported_by_segment() {
    let body = ["N1*PR*PAYER", "CLP*X*4*10*0**12*Y*11", "CAS*CO*50*10"];
    let (l, lineless, s) = lines(&file(&[transaction("1", &body)])).expect("parses");
    assert!(l.is_empty());
    assert_eq!(lineless, vec![5]);
    assert_eq!(s.counts.claims_without_lines, 1);
}

#[test]
fn several_groups_and_transaction_sets() {
    let t1 = transaction("0001", BODY);
    let t2 = transaction("0002", BODY);
    let mut s = String::from(ISA);
    s.push_str("GS*HP*S*R*20261201*1200*7*X*005010X221A1~");
    s.push_str(&t1);
    s.push_str(&t2);
    s.push_str("GE*2*7~GS*HP*S*R*20261201*1200*8*X*005010X221A1~");
    s.push_str(&t1);
    s.push_str("GE*1*8~IEA*2*000000101~");
    let (l, _, sum) = lines(&s).expect("parses");
    assert_eq!(l.len(), 6);
    assert_eq!(sum.counts.transactions, 3);
}

#[test]
fn delimiters_come_from_the_isa_and_newlines_between_segments_are_ignored() {
    let standard = file(&[transaction("0001", BODY)]);
    // 005010 with | elements, > components, ^ repetition, newline terminators (CRLF).
    let exotic = standard
        .replace('*', "|")
        .replace("HC:", "HC>")
        .replace(":25:59", ">25>59")
        .replace("|P|:~", "|P|>\n")
        .replace('~', "\r\n");
    let (a, _, _) = lines(&standard).expect("standard");
    let (b, _, _) = lines(&exotic).expect("exotic");
    assert_eq!(a.len(), b.len());
    assert_eq!(b[0].modifiers, vec!["25", "59"]);
    assert_eq!(b[0].allowed_cents, a[0].allowed_cents);

    // ~ terminator with a newline after each segment.
    let pretty = standard.replace('~', "~\n");
    assert_eq!(lines(&pretty).expect("pretty").0.len(), 2);

    let reader = SegmentReader::new(exotic.as_bytes()).expect("reads");
    assert_eq!(
        reader.start().delimiters,
        Delimiters {
            element: b'|',
            component: b'>',
            repetition: Some(b'^'),
            segment: b'\n'
        }
    );
}

#[test]
fn version_004010_has_no_repetition_separator() {
    let old = file(&[transaction("0001", BODY)]).replace("*^*00501*", "*U*00401*");
    let reader = SegmentReader::new(old.as_bytes()).expect("reads");
    assert_eq!(reader.start().delimiters.repetition, None);
    assert_eq!(lines(&old).expect("parses").0.len(), 2);
}

#[test]
fn a_file_starting_at_st_is_read_without_envelope() {
    let bare = transaction("1234", BODY);
    let (l, _, s) = lines(&bare).expect("parses");
    assert_eq!(l.len(), 2);
    assert!(!s.enveloped);
    assert!(looks_like_x12(bare.as_bytes()));
    assert!(looks_like_x12(b"\xef\xbb\xbf\n ISA*00*"));
    assert!(!looks_like_x12(b"payer,cpt,submitted_date"));
    assert!(!looks_like_x12(b"ST*850*1~"));
}

fn error_of(input: &str) -> String {
    match lines(input) {
        Ok(_) => panic!("expected a file-level error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn envelope_errors_name_the_segment() {
    let good = file(&[transaction("0001", BODY)]);
    let n = BODY.len() as u64 + 4; // ISA, GS, ST, body, SE
    let wrong_count = good.replace(&format!("SE*{}*0001", BODY.len() + 2), "SE*5*0001");
    assert_eq!(
        error_of(&wrong_count),
        format!(
            "segment {n} (SE): it counts 5 segments, the file has {}",
            BODY.len() + 2
        )
    );
    let wrong_control = good.replace(
        &format!("SE*{}*0001", BODY.len() + 2),
        &format!("SE*{}*0002", BODY.len() + 2),
    );
    assert_eq!(
        error_of(&wrong_control),
        format!("segment {n} (SE): its control number does not match the one in segment 3")
    );
    assert!(error_of(&good.replace("GE*1*7", "GE*1*8")).contains("(GE): its control number"));
    assert!(
        error_of(&good.replace("GE*1*7", "GE*2*7")).contains("(GE): it counts 2 transaction sets")
    );
    assert!(
        error_of(&good.replace("IEA*1*000000101", "IEA*1*000000102"))
            .contains("(IEA): its control number")
    );
    assert!(error_of(&good.replace("IEA*1*", "IEA*3*")).contains("functional groups"));
    let truncated = &good[..good.len() - 30];
    let e = error_of(truncated);
    assert!(e.contains("ends"), "{e}");
    assert!(error_of(&good.replace("ST*835", "ST*837")).contains("not an 835"));
    assert_eq!(
        error_of(&format!("{ISA}GS*HP*S*R*1*1*7*X*1~GE*0*7~IEA*1*000000101~")),
        "the file holds no 835 transaction set"
    );
}

#[test]
fn malformed_files_are_file_errors() {
    assert_eq!(
        error_of("payer,cpt\nA,99213\n"),
        SegmentError::NotX12.to_string()
    );
    assert_eq!(error_of("ISA*00*short~"), SegmentError::BadIsa.to_string());
    let good = file(&[transaction("0001", BODY)]);
    let binary = good.replace("TRN*1*12345", "TRN*1*\u{0}\u{1}");
    assert_eq!(
        error_of(&binary),
        "segment 5 holds binary data (not an X12 text file)"
    );
    let long = good.replace("TRN*1*12345", &format!("TRN*1*{}", "9".repeat(70_000)));
    assert!(error_of(&long).contains("segment 5 is longer than"));
    let wide = good.replace("TRN*1*12345", &format!("TRN{}", "*1".repeat(300)));
    assert!(error_of(&wide).contains("more than 256 elements"));
    // Segment limit.
    let e = read(good.as_bytes(), 10, None, |_| true).expect_err("limit");
    assert_eq!(e, X12Error::TooManySegments { limit: 10 });
}

#[test]
fn amounts_and_dates() {
    use remit::{cents, date};
    assert_eq!(cents("12"), Some(1200));
    assert_eq!(cents("12.5"), Some(1250));
    assert_eq!(cents(".05"), Some(5));
    assert_eq!(cents("-10.01"), Some(-1001));
    assert_eq!(cents("1.234"), None);
    assert_eq!(cents("1e3"), None);
    assert_eq!(cents(""), None);
    assert_eq!(date("20261231"), d(2026, 12, 31));
    assert_eq!(date("20261332"), None);
    assert_eq!(date("261231"), None);
}

#[test]
fn no_patient_value_reaches_a_line() {
    let (l, _, _) = lines(&file(&[transaction("0001", BODY)])).expect("parses");
    let dump = format!("{l:?}");
    for secret in [
        "SECRET", "ZEBULON", "QUINCY", "YOLANDA", "XAVIER", "PCN-", "HARTFORD",
    ] {
        assert!(!dump.contains(secret), "{secret} leaked into {dump}");
    }
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// Arbitrary bytes: an error or a result, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = read(&bytes[..], 10_000, None, |_| true);
        }

        /// A valid file with bytes flipped, cut or inserted: never a panic.
        #[test]
        fn mutated_files_never_panic(
            cut in 0usize..2000,
            edits in proptest::collection::vec((0usize..2000, any::<u8>()), 0..8),
        ) {
            let mut bytes = file(&[transaction("0001", BODY), transaction("0002", BODY)]).into_bytes();
            for (at, b) in edits {
                let at = at % bytes.len();
                bytes[at] = b;
            }
            bytes.truncate(cut.min(bytes.len()));
            let _ = read(&bytes[..], 10_000, None, |_| true);
        }

        /// Segments drawn from the 835 vocabulary with random elements: never a panic.
        #[test]
        fn random_segments_never_panic(
            segs in proptest::collection::vec(
                (prop::sample::select(vec!["CLP", "SVC", "CAS", "DTM", "AMT", "LQ", "MOA", "N1", "REF", "BPR", "LX", "PLB", "SE", "ST", "GS", "GE"]),
                 proptest::collection::vec("[0-9A-Z:.\\-]{0,12}", 0..20)),
                0..40)
        ) {
            let mut s = String::from("ST*835*1~");
            for (id, els) in segs {
                s.push_str(id);
                for e in els {
                    s.push('*');
                    s.push_str(&e);
                }
                s.push('~');
            }
            let _ = read(s.as_bytes(), 10_000, None, |_| true);
        }
    }
}
