//! Deterministic synthetic claims generator (the Rust port of `gen_claims.py`'s behaviour),
//! for tests, benchmarks and the demo: same columns, payers (spellings, base denial rates,
//! median decision days), CPT table, denial reasons, injected drift in the last
//! `recent_days`, malformed-row kinds (incl. PHI-like texts), date styles and outcome
//! spellings. Not byte-identical to Python (own PRNG), but the same options always give the
//! same bytes here.
//!
//! Besides the CSV it returns a `GenTruth`: the injected changes and exact counts of what was
//! written (malformed kinds, expected rejections per reason and column, outcome mix), derived
//! from what the generator put into each row — not by running the validator — so tests can
//! check the ingest pipeline's quality report against it independently.
//!
//! Speed: no per-row allocation, dates and amounts formatted by hand, output buffered in
//! 64 KiB chunks (the caller's writer needs no `BufWriter`).

use std::collections::BTreeMap;
use std::io::{self, Write};

use chrono::{Datelike, Days, NaiveDate};
use serde::Serialize;

use crate::domain::claim::{Column, Outcome, RejectReason};

/// (canonical name, spellings seen in files, base denial rate, median decision days)
struct Payer {
    name: &'static str,
    spellings: &'static [&'static str],
    base_rate: f64,
    median_days: f64,
}

const PAYERS: [Payer; 10] = [
    payer("Aetna", &["Aetna", "AETNA", "Aetna Inc"], 0.10, 18.0),
    payer(
        "Blue Cross Blue Shield",
        &["BCBS", "Blue Cross Blue Shield", "blue cross"],
        0.12,
        21.0,
    ),
    payer("Cigna", &["Cigna", "CIGNA Healthcare"], 0.11, 16.0),
    payer("Humana", &["Humana", "HUMANA"], 0.13, 24.0),
    payer(
        "UnitedHealthcare",
        &["UnitedHealthcare", "UHC", "United Healthcare"],
        0.14,
        20.0,
    ),
    payer("Medicare", &["Medicare", "MEDICARE PART B"], 0.08, 14.0),
    payer("Medicaid", &["Medicaid", "State Medicaid"], 0.15, 30.0),
    payer(
        "Kaiser Permanente",
        &["Kaiser Permanente", "Kaiser"],
        0.07,
        12.0,
    ),
    payer("Anthem", &["Anthem", "ANTHEM BC"], 0.12, 19.0),
    payer("Molina", &["Molina", "Molina Healthcare"], 0.16, 27.0),
];

const fn payer(
    name: &'static str,
    spellings: &'static [&'static str],
    base_rate: f64,
    median_days: f64,
) -> Payer {
    Payer {
        name,
        spellings,
        base_rate,
        median_days,
    }
}

/// CPT code, group, typical allowed amount in dollars — sorted by code like the Python's
/// `sorted(CPTS)`.
const CPTS: [(&str, &str, f64); 30] = [
    ("20610", "SURGERY", 65.0),
    ("27447", "SURGERY", 1450.0),
    ("29881", "SURGERY", 1100.0),
    ("43239", "SURGERY", 390.0),
    ("45378", "SURGERY", 370.0),
    ("64483", "SURGERY", 310.0),
    ("70450", "IMAGING", 190.0),
    ("70551", "IMAGING", 420.0),
    ("71046", "IMAGING", 60.0),
    ("72148", "IMAGING", 410.0),
    ("73721", "IMAGING", 400.0),
    ("74177", "IMAGING", 480.0),
    ("80053", "LAB", 15.0),
    ("81001", "LAB", 5.0),
    ("83036", "LAB", 13.0),
    ("84443", "LAB", 23.0),
    ("85025", "LAB", 11.0),
    ("87086", "LAB", 11.0),
    ("97035", "THERAPY", 14.0),
    ("97110", "THERAPY", 32.0),
    ("97112", "THERAPY", 35.0),
    ("97116", "THERAPY", 31.0),
    ("97140", "THERAPY", 30.0),
    ("97530", "THERAPY", 37.0),
    ("99203", "EVAL_MGMT", 170.0),
    ("99204", "EVAL_MGMT", 255.0),
    ("99212", "EVAL_MGMT", 75.0),
    ("99213", "EVAL_MGMT", 110.0),
    ("99214", "EVAL_MGMT", 165.0),
    ("99215", "EVAL_MGMT", 220.0),
];

const DENIAL_REASONS: [(&str, &str); 8] = [
    ("CO-16", "Claim lacks information needed for adjudication"),
    (
        "CO-97",
        "Service included in another service already adjudicated",
    ),
    ("CO-45", "Charge exceeds fee schedule"),
    ("CO-197", "Precertification or authorization absent"),
    ("CO-50", "Not deemed a medical necessity"),
    ("CO-29", "Time limit for filing has expired"),
    ("PR-1", "Deductible amount"),
    ("CO-18", "Exact duplicate claim or service"),
];

/// Malformed-row kinds, in the Python's order (the index is drawn from the PRNG).
pub const BAD_KINDS: [&str; 11] = [
    "missing_payer",
    "bad_date",
    "decided_before_submitted",
    "unknown_outcome",
    "negative_amount",
    "non_numeric_amount",
    "phi_ssn",
    "phi_name",
    "phi_phone",
    "future_date",
    "missing_cpt",
];

const PAID_SPELLINGS: [&str; 4] = ["PAID", "paid", "Approved", "ACCEPTED"];
const DENIED_SPELLINGS: [&str; 4] = ["DENIED", "denied", "Rejected", "DECLINED"];

const HEADER: &[u8] = b"payer,cpt,submitted_date,decided_date,outcome,allowed_amount,denial_reason_code,denial_reason_text\n";

// The injected changes (also reported in `GenTruth`).
const DRIFT_PAYER: &str = "Cigna";
const DRIFT_GROUP: &str = "IMAGING";
const DRIFT_RATE_FROM: f64 = 0.11;
const DRIFT_RATE_TO: f64 = 0.45;
const DELAY_PAYER: &str = "Humana";
const DELAY_EXTRA_DAYS: i64 = 12;
const SPIKE_PAYER: &str = "UnitedHealthcare";
const SPIKE_REASON: usize = 3; // CO-197
const SPIKE_SHARE: f64 = 0.7;

/// How dates are written: ISO, US (`MM/DD/YYYY`), or 30 % US per cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DateStyle {
    Iso,
    Us,
    Mixed,
}

impl DateStyle {
    pub fn as_str(self) -> &'static str {
        match self {
            DateStyle::Iso => "iso",
            DateStyle::Us => "us",
            DateStyle::Mixed => "mixed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown date style (expected iso, us or mixed)")]
pub struct UnknownDateStyle;

impl std::str::FromStr for DateStyle {
    type Err = UnknownDateStyle;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "iso" => Ok(DateStyle::Iso),
            "us" => Ok(DateStyle::Us),
            "mixed" => Ok(DateStyle::Mixed),
            _ => Err(UnknownDateStyle),
        }
    }
}

/// Generator options; `Default` matches the Python's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct GenOptions {
    pub rows: u64,
    pub seed: u64,
    /// Last possible decision date.
    pub end: NaiveDate,
    /// Span of decision dates before `end`.
    pub days: u32,
    /// Window (ending at `end`) holding the injected changes.
    pub recent_days: u32,
    /// Fraction of malformed rows.
    pub bad_rate: f64,
    /// Inject the behaviour changes (`--no-drift` = false).
    pub drift: bool,
    pub date_style: DateStyle,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            rows: 10_000,
            seed: 42,
            end: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap_or_default(),
            days: 120,
            recent_days: 14,
            bad_rate: 0.01,
            drift: true,
            date_style: DateStyle::Iso,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DenialRateDrift {
    pub payer: &'static str,
    pub cpt_group: &'static str,
    pub from: f64,
    pub to: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionTimeDrift {
    pub payer: &'static str,
    pub extra_days: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DenialReasonSpike {
    pub payer: &'static str,
    pub code: &'static str,
    pub share_of_denials: f64,
}

/// Outcome counts by normalized outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OutcomeCounts {
    pub paid: u64,
    pub denied: u64,
    pub other: u64,
}

impl OutcomeCounts {
    fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Paid => self.paid += 1,
            Outcome::Denied => self.denied += 1,
            Outcome::Other => self.other += 1,
        }
    }
}

/// Exact counts of what was written. "Expected" figures are what a correct ingest must
/// report for an ingest day in `[expected_for_today_from, expected_for_today_to]` (outside
/// it, base rows become `future_date` or the injected future dates stop being future).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GenCounts {
    /// Data rows written (header excluded).
    pub rows: u64,
    /// Rows per malformed kind (every kind listed, zeros included).
    pub malformed: BTreeMap<&'static str, u64>,
    pub expected_rejected_rows: u64,
    pub expected_accepted_rows: u64,
    /// Rejected rows per reason code (every code listed).
    pub expected_rejected_by_reason: BTreeMap<&'static str, u64>,
    /// Rejected rows per column (every column listed).
    pub expected_rejected_by_column: BTreeMap<&'static str, u64>,
    /// Rows whose outcome cell is `PENDING` (→ OTHER, a warning, not a rejection).
    pub outcome_pending: u64,
    /// Rows whose outcome cell is the unknown spelling `MAYBE` (→ OTHER, a warning).
    pub outcome_unknown: u64,
    /// Outcomes of all rows as the validator normalizes them.
    pub outcomes_all: OutcomeCounts,
    /// Outcomes of the expected accepted rows; `other` = the report's outcome warnings.
    pub outcomes_accepted: OutcomeCounts,
    pub expected_for_today_from: NaiveDate,
    pub expected_for_today_to: NaiveDate,
}

/// What the generator injected and produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenTruth {
    pub seed: u64,
    pub end: NaiveDate,
    pub recent_start: NaiveDate,
    pub date_style: DateStyle,
    /// True when no change was injected (the Python's `"none": true`).
    pub none: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denial_rate_drift: Option<DenialRateDrift>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_time_drift: Option<DecisionTimeDrift>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denial_reason_spike: Option<DenialReasonSpike>,
    pub counts: GenCounts,
}

/// Writes `opts.rows` claim rows plus a header to `out` and returns the truth.
/// Errors: the writer's, or `InvalidInput` when the options reach dates outside years
/// 1–9999 (dates are always written with four-digit years) or a bad rate.
pub fn generate<W: Write>(opts: &GenOptions, mut out: W) -> io::Result<GenTruth> {
    let end = opts.end;
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_owned());
    if !(0.0..=1.0).contains(&opts.bad_rate) {
        return Err(invalid("bad_rate must be within 0..=1"));
    }
    // Earliest date we can write: decisions `days` back, submissions up to ~1000 days before
    // (the decision-time tail), the fixed "2000-01-01"; latest: end + 400 (future_date).
    let earliest = end
        .checked_sub_days(Days::new(u64::from(opts.days) + 1000))
        .filter(|d| d.year() >= 1);
    let latest = end
        .checked_add_days(Days::new(400))
        .filter(|d| d.year() <= 9999);
    let (Some(_), Some(future)) = (earliest, latest) else {
        return Err(invalid("dates out of range (years 1..=9999)"));
    };
    let end_n = end.num_days_from_ce();
    let start_n = end_n - opts.days as i32;
    let recent_n = end_n - opts.recent_days as i32;
    let recent_start = from_days(recent_n);
    let future_cell = iso(future);
    let drift = opts.drift;

    let mut rng = Rng::new(opts.seed);
    let mut tally = Tally::default();
    let mut buf: Vec<u8> = Vec::with_capacity(FLUSH_AT + 1024);
    buf.extend_from_slice(HEADER);

    for _ in 0..opts.rows {
        let p = &PAYERS[rng.below(PAYERS.len())];
        let (cpt, group, price) = CPTS[rng.below(CPTS.len())];
        let decided = start_n + rng.below(opts.days as usize + 1) as i32;
        let recent = decided >= recent_n;
        let mut rate = p.base_rate;
        let mut extra = 0;
        if drift && recent && p.name == DRIFT_PAYER && group == DRIFT_GROUP {
            rate = DRIFT_RATE_TO;
        }
        if drift && recent && p.name == DELAY_PAYER {
            extra = DELAY_EXTRA_DAYS;
        }
        // Python: max(1, int(round(median * exp(gauss(0, 0.35))))) + extra — round half even.
        let days =
            ((p.median_days * (rng.gauss() * 0.35).exp()).round_ties_even() as i64).max(1) + extra;
        let submitted = decided - days as i32;
        let denied = rng.random() < rate;
        let (canonical, spellings): (&str, Option<&[&str; 4]>) = if denied {
            ("DENIED", Some(&DENIED_SPELLINGS))
        } else if rng.random() > 0.02 {
            ("PAID", Some(&PAID_SPELLINGS))
        } else {
            ("PENDING", None)
        };
        let mut outcome = match spellings {
            Some(s) if rng.random() < 0.1 => s[rng.below(4)],
            _ => canonical,
        };
        let cents = (price * (rng.gauss() * 0.15).exp() * 100.0).round() as u64;
        let (mut code, mut text) = ("", "");
        if denied {
            let spike = drift && recent && p.name == SPIKE_PAYER && rng.random() < SPIKE_SHARE;
            let reason = if spike {
                SPIKE_REASON
            } else {
                rng.below(DENIAL_REASONS.len())
            };
            (code, text) = DENIAL_REASONS[reason];
        }
        let mut payer_cell = p.spellings[rng.below(p.spellings.len())];
        let mut cpt_cell = cpt;
        let sub = fmt_date(submitted, opts.date_style, &mut rng);
        let dec = fmt_date(decided, opts.date_style, &mut rng);
        let mut sub_cell: &[u8] = &sub;
        let mut dec_cell: &[u8] = &dec;
        let amount = Money::cents(cents);
        let mut amount_cell: &[u8] = amount.as_bytes();

        // At most one corruption per row, so at most one expected problem.
        let mut problem: Option<(Column, RejectReason)> = None;
        let kind = (rng.random() < opts.bad_rate).then(|| rng.below(BAD_KINDS.len()));
        if let Some(k) = kind {
            tally.malformed[k] += 1;
            match BAD_KINDS[k] {
                "missing_payer" => {
                    payer_cell = "";
                    problem = Some((Column::Payer, RejectReason::MissingValue));
                }
                "missing_cpt" => {
                    cpt_cell = "";
                    problem = Some((Column::Cpt, RejectReason::MissingValue));
                }
                "bad_date" => {
                    sub_cell = b"2026-13-45";
                    problem = Some((Column::SubmittedDate, RejectReason::InvalidDate));
                }
                "decided_before_submitted" => {
                    std::mem::swap(&mut sub_cell, &mut dec_cell);
                    if sub_cell == dec_cell {
                        dec_cell = b"2000-01-01";
                    }
                    // Decision days ≥ 1, so the swapped decision is strictly earlier.
                    problem = Some((Column::DecidedDate, RejectReason::DateOrder));
                }
                "unknown_outcome" => outcome = "MAYBE",
                "negative_amount" => {
                    amount_cell = b"-125.00";
                    problem = Some((Column::AllowedAmount, RejectReason::InvalidAmount));
                }
                "non_numeric_amount" => {
                    amount_cell = b"12O.5O";
                    problem = Some((Column::AllowedAmount, RejectReason::InvalidAmount));
                }
                "phi_ssn" | "phi_name" | "phi_phone" => {
                    text = match BAD_KINDS[k] {
                        "phi_ssn" => "Member SSN 123-45-6789 on file",
                        "phi_name" => "Called patient Jennifer about coverage",
                        _ => "Call back at (555) 867-5309",
                    };
                    problem = Some((Column::DenialReasonText, RejectReason::PhiSuspected));
                }
                _ => {
                    // future_date: always ISO, like the Python.
                    dec_cell = &future_cell;
                    problem = Some((Column::DecidedDate, RejectReason::FutureDate));
                }
            }
        }

        let normalized = Outcome::normalize(outcome).unwrap_or(Outcome::Other);
        tally.count(normalized, outcome, problem);

        write_cell(&mut buf, payer_cell.as_bytes());
        buf.push(b',');
        write_cell(&mut buf, cpt_cell.as_bytes());
        buf.push(b',');
        buf.extend_from_slice(sub_cell);
        buf.push(b',');
        buf.extend_from_slice(dec_cell);
        buf.push(b',');
        write_cell(&mut buf, outcome.as_bytes());
        buf.push(b',');
        buf.extend_from_slice(amount_cell);
        buf.push(b',');
        write_cell(&mut buf, code.as_bytes());
        buf.push(b',');
        write_cell(&mut buf, text.as_bytes());
        buf.push(b'\n');
        if buf.len() >= FLUSH_AT {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    out.flush()?;

    let mut counts = tally.finish(opts.rows);
    counts.expected_for_today_from = end.pred_opt().unwrap_or(end);
    counts.expected_for_today_to = from_days(end_n + 399);
    Ok(GenTruth {
        seed: opts.seed,
        end,
        recent_start,
        date_style: opts.date_style,
        none: !drift,
        denial_rate_drift: drift.then_some(DenialRateDrift {
            payer: DRIFT_PAYER,
            cpt_group: DRIFT_GROUP,
            from: DRIFT_RATE_FROM,
            to: DRIFT_RATE_TO,
        }),
        decision_time_drift: drift.then_some(DecisionTimeDrift {
            payer: DELAY_PAYER,
            extra_days: DELAY_EXTRA_DAYS,
        }),
        denial_reason_spike: drift.then_some(DenialReasonSpike {
            payer: SPIKE_PAYER,
            code: DENIAL_REASONS[SPIKE_REASON].0,
            share_of_denials: SPIKE_SHARE,
        }),
        counts,
    })
}

const FLUSH_AT: usize = 64 * 1024;

/// Running counts, in arrays (no map lookups per row).
#[derive(Default)]
struct Tally {
    malformed: [u64; BAD_KINDS.len()],
    by_reason: [u64; RejectReason::ALL.len()],
    by_column: [u64; 8],
    rejected: u64,
    pending: u64,
    unknown: u64,
    all: OutcomeCounts,
    accepted: OutcomeCounts,
}

impl Tally {
    fn count(&mut self, outcome: Outcome, cell: &str, problem: Option<(Column, RejectReason)>) {
        self.all.add(outcome);
        self.pending += u64::from(cell == "PENDING");
        self.unknown += u64::from(cell == "MAYBE");
        match problem {
            Some((column, reason)) => {
                self.rejected += 1;
                self.by_reason[reason.index()] += 1;
                self.by_column[column.index()] += 1;
            }
            None => self.accepted.add(outcome),
        }
    }

    fn finish(self, rows: u64) -> GenCounts {
        GenCounts {
            rows,
            malformed: BAD_KINDS.into_iter().zip(self.malformed).collect(),
            expected_rejected_rows: self.rejected,
            expected_accepted_rows: rows - self.rejected,
            expected_rejected_by_reason: RejectReason::ALL
                .into_iter()
                .map(|r| (r.as_str(), self.by_reason[r.index()]))
                .collect(),
            expected_rejected_by_column: Column::ALL
                .into_iter()
                .map(|c| (c.as_str(), self.by_column[c.index()]))
                .collect(),
            outcome_pending: self.pending,
            outcome_unknown: self.unknown,
            outcomes_all: self.all,
            outcomes_accepted: self.accepted,
            ..GenCounts::default()
        }
    }
}

/// RFC 4180 quoting when needed (no generated value needs it today; kept for safety).
fn write_cell(buf: &mut Vec<u8>, cell: &[u8]) {
    if cell
        .iter()
        .any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        buf.push(b'"');
        for &b in cell {
            if b == b'"' {
                buf.push(b'"');
            }
            buf.push(b);
        }
        buf.push(b'"');
    } else {
        buf.extend_from_slice(cell);
    }
}

fn from_days(n: i32) -> NaiveDate {
    // Range was checked at the start of `generate`.
    NaiveDate::from_num_days_from_ce_opt(n).unwrap_or_default()
}

fn fmt_date(n: i32, style: DateStyle, rng: &mut Rng) -> [u8; 10] {
    let d = from_days(n);
    // Same draw order as the Python: the coin is only flipped in mixed style.
    let us = style == DateStyle::Us || (style == DateStyle::Mixed && rng.random() < 0.3);
    if us { us_date(d) } else { iso(d) }
}

fn iso(d: NaiveDate) -> [u8; 10] {
    let mut b = *b"0000-00-00";
    put4(&mut b[0..4], d.year() as u32);
    put2(&mut b[5..7], d.month());
    put2(&mut b[8..10], d.day());
    b
}

fn us_date(d: NaiveDate) -> [u8; 10] {
    let mut b = *b"00/00/0000";
    put2(&mut b[0..2], d.month());
    put2(&mut b[3..5], d.day());
    put4(&mut b[6..10], d.year() as u32);
    b
}

fn put2(b: &mut [u8], v: u32) {
    b[0] = b'0' + (v / 10 % 10) as u8;
    b[1] = b'0' + (v % 10) as u8;
}

fn put4(b: &mut [u8], v: u32) {
    put2(&mut b[0..2], v / 100);
    put2(&mut b[2..4], v % 100);
}

/// An amount formatted as `units.cc` on the stack.
struct Money {
    buf: [u8; 24],
    start: usize,
}

impl Money {
    fn cents(cents: u64) -> Money {
        let mut buf = [0u8; 24];
        let mut i = buf.len();
        let mut push = |c: u8| {
            i -= 1;
            buf[i] = c;
        };
        push(b'0' + (cents % 10) as u8);
        push(b'0' + (cents / 10 % 10) as u8);
        push(b'.');
        let mut units = cents / 100;
        loop {
            push(b'0' + (units % 10) as u8);
            units /= 10;
            if units == 0 {
                break;
            }
        }
        Money { buf, start: i }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

/// xoshiro256** seeded through SplitMix64, with a Box–Muller standard normal. Small, fast
/// and stable across platforms and releases (the `rand` crate's streams are not promised
/// to be), which is what byte-identical output needs.
struct Rng {
    s: [u64; 4],
    spare_normal: Option<f64>,
}

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng {
            s: [next(), next(), next(), next()],
            spare_normal: None,
        }
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 random bits.
    fn random(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [0, n) (Lemire's multiply-shift; the bias is < n / 2^64).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Standard normal (Box–Muller; the second value of each pair is kept for the next call).
    fn gauss(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        let u1 = 1.0 - self.random(); // (0, 1]: ln is finite
        let u2 = self.random();
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = std::f64::consts::TAU * u2;
        self.spare_normal = Some(r * theta.sin());
        r * theta.cos()
    }
}

/// The payer spellings the generator writes, each with its canonical name: what a
/// customer would enter as payer aliases (the demo seeds them).
pub fn payer_aliases() -> Vec<(&'static str, &'static str)> {
    PAYERS
        .iter()
        .flat_map(|p| p.spellings.iter().map(move |s| (*s, p.name)))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::domain::claim::validate_row;
    use crate::domain::csv_format::resolve_headers;
    use crate::domain::mapping::{default_cpt_group, payer_key};
    use crate::domain::phi::contains_phi;

    fn run(opts: &GenOptions) -> (Vec<u8>, GenTruth) {
        let mut out = Vec::new();
        let truth = generate(opts, &mut out).expect("generate into memory");
        (out, truth)
    }

    fn opts(rows: u64) -> GenOptions {
        GenOptions {
            rows,
            ..GenOptions::default()
        }
    }

    /// Independent re-count of a generated file with the ingest rules.
    #[derive(Default, Debug)]
    struct Observed {
        rows: u64,
        rejected: u64,
        by_reason: BTreeMap<&'static str, u64>,
        by_column: BTreeMap<&'static str, u64>,
        accepted: OutcomeCounts,
        pending: u64,
        /// (canonical payer, cpt group, recent) → (accepted, denied)
        cells: HashMap<(String, &'static str, bool), (u64, u64)>,
        /// payer → (recent?) → (sum of decision days, n)
        days: HashMap<(String, bool), (i64, i64)>,
        /// UHC recent denials → (CO-197, all)
        uhc_recent_reasons: (u64, u64),
    }

    fn reparse(csv_bytes: &[u8], truth: &GenTruth) -> Observed {
        let canonical: HashMap<String, &str> = PAYERS
            .iter()
            .flat_map(|p| p.spellings.iter().map(|s| (payer_key(s), p.name)))
            .collect();
        let mut rdr = csv::Reader::from_reader(csv_bytes);
        let headers = rdr.headers().expect("header").clone();
        let fields: Vec<&str> = headers.iter().collect();
        let map = resolve_headers(&fields).expect("canonical header");
        let today = truth.end;
        let mut obs = Observed::default();
        for record in rdr.records() {
            let record = record.expect("well-formed CSV");
            obs.rows += 1;
            let raw = map.raw_row(&record);
            obs.pending += u64::from(raw.outcome == "PENDING");
            let mut problems = validate_row(&raw, today).err().unwrap_or_default();
            for (column, value) in [
                (Column::Payer, raw.payer),
                (Column::DenialReasonText, raw.denial_reason_text),
            ] {
                if contains_phi(value) {
                    problems.push((column, RejectReason::PhiSuspected));
                }
            }
            if !problems.is_empty() {
                obs.rejected += 1;
                let mut reasons: Vec<_> = problems.iter().map(|p| p.1.as_str()).collect();
                reasons.dedup();
                for r in reasons {
                    *obs.by_reason.entry(r).or_default() += 1;
                }
                let mut columns: Vec<_> = problems.iter().map(|p| p.0.as_str()).collect();
                columns.dedup();
                for c in columns {
                    *obs.by_column.entry(c).or_default() += 1;
                }
                continue;
            }
            let claim = validate_row(&raw, today).expect("accepted above");
            obs.accepted.add(claim.outcome);
            let payer = canonical
                .get(&payer_key(claim.payer))
                .copied()
                .unwrap_or("?")
                .to_owned();
            let recent = claim.decided_date >= truth.recent_start;
            let cell = obs
                .cells
                .entry((payer.clone(), default_cpt_group(claim.cpt.as_str()), recent))
                .or_default();
            cell.0 += 1;
            cell.1 += u64::from(claim.outcome == Outcome::Denied);
            let d = obs.days.entry((payer.clone(), recent)).or_default();
            d.0 += (claim.decided_date - claim.submitted_date).num_days();
            d.1 += 1;
            if payer == SPIKE_PAYER && recent && claim.outcome == Outcome::Denied {
                obs.uhc_recent_reasons.1 += 1;
                obs.uhc_recent_reasons.0 += u64::from(claim.denial_reason_code == Some("CO-197"));
            }
        }
        obs
    }

    fn nonzero(m: &BTreeMap<&'static str, u64>) -> BTreeMap<&'static str, u64> {
        m.iter()
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| (*k, *v))
            .collect()
    }

    fn denial_share(obs: &Observed, payer: &str, group: &str, recent: bool) -> f64 {
        let (n, d) = obs.cells[&(payer.to_owned(), group, recent)];
        d as f64 / n as f64
    }

    #[test]
    fn same_options_same_bytes_other_seed_other_bytes() {
        let (a, ta) = run(&opts(3_000));
        let (b, tb) = run(&opts(3_000));
        assert_eq!(a, b);
        assert_eq!(ta, tb);
        let (c, _) = run(&GenOptions {
            seed: 43,
            ..opts(3_000)
        });
        assert_ne!(a, c);
        assert!(a.starts_with(HEADER));
        assert_eq!(a.iter().filter(|&&b| b == b'\n').count(), 3_001);
    }

    #[test]
    fn truth_counts_match_a_reparse_with_the_ingest_rules() {
        for style in [DateStyle::Iso, DateStyle::Us, DateStyle::Mixed] {
            let o = GenOptions {
                rows: 20_000,
                bad_rate: 0.05,
                date_style: style,
                seed: 7,
                ..GenOptions::default()
            };
            let (csv_bytes, truth) = run(&o);
            let c = &truth.counts;
            let obs = reparse(&csv_bytes, &truth);
            assert_eq!(obs.rows, c.rows);
            assert_eq!(obs.rejected, c.expected_rejected_rows, "{style:?}");
            assert_eq!(
                obs.by_reason,
                nonzero(&c.expected_rejected_by_reason),
                "{style:?}"
            );
            assert_eq!(
                obs.by_column,
                nonzero(&c.expected_rejected_by_column),
                "{style:?}"
            );
            assert_eq!(obs.accepted, c.outcomes_accepted, "{style:?}");
            assert_eq!(obs.pending, c.outcome_pending);
            // Every malformed kind but `unknown_outcome` (a warning) rejects its row.
            assert_eq!(
                c.malformed.values().sum::<u64>(),
                c.expected_rejected_rows + c.malformed["unknown_outcome"]
            );
            // Every kind appears at a 5 % bad rate over 20k rows (≈ 90 each).
            assert!(c.malformed.values().all(|&n| n > 30), "{:?}", c.malformed);
            assert_eq!(c.outcome_unknown, c.malformed["unknown_outcome"]);
            assert!(
                c.outcome_pending > 200 && c.outcome_pending < 600,
                "{}",
                c.outcome_pending
            );
        }
    }

    #[test]
    fn injected_drift_is_in_the_data() {
        let (csv_bytes, truth) = run(&GenOptions {
            rows: 100_000,
            ..GenOptions::default()
        });
        let obs = reparse(&csv_bytes, &truth);
        let recent = denial_share(&obs, "Cigna", "IMAGING", true);
        let before = denial_share(&obs, "Cigna", "IMAGING", false);
        assert!(
            (0.35..0.55).contains(&recent),
            "recent Cigna IMAGING {recent}"
        );
        assert!(
            (0.07..0.15).contains(&before),
            "earlier Cigna IMAGING {before}"
        );
        let mean = |payer: &str, recent: bool| {
            let (sum, n) = obs.days[&(payer.to_owned(), recent)];
            sum as f64 / n as f64
        };
        let delay = mean("Humana", true) - mean("Humana", false);
        assert!((9.0..15.0).contains(&delay), "Humana extra days {delay}");
        let (co197, all) = obs.uhc_recent_reasons;
        let share = co197 as f64 / all as f64;
        // 0.7 forced + 0.3 × 1/8 drawn = 0.74
        assert!((0.6..0.88).contains(&share), "UHC CO-197 share {share}");
        let json = serde_json::to_value(&truth).expect("serializable");
        assert_eq!(json["denial_rate_drift"]["to"], 0.45);
        assert_eq!(json["decision_time_drift"]["extra_days"], 12);
        assert_eq!(json["recent_start"], "2026-11-08");
        assert_eq!(json["none"], false);
    }

    #[test]
    fn no_drift_has_none() {
        let (csv_bytes, truth) = run(&GenOptions {
            rows: 100_000,
            drift: false,
            ..GenOptions::default()
        });
        assert!(truth.none && truth.denial_rate_drift.is_none());
        let obs = reparse(&csv_bytes, &truth);
        let recent = denial_share(&obs, "Cigna", "IMAGING", true);
        assert!(recent < 0.22, "recent Cigna IMAGING {recent}");
        let (sum_r, n_r) = obs.days[&("Humana".to_owned(), true)];
        let (sum_o, n_o) = obs.days[&("Humana".to_owned(), false)];
        let delay = sum_r as f64 / n_r as f64 - sum_o as f64 / n_o as f64;
        assert!(delay.abs() < 4.0, "Humana delay without drift {delay}");
        let (co197, all) = obs.uhc_recent_reasons;
        assert!((co197 as f64 / all as f64) < 0.3);
        let json = serde_json::to_value(&truth).expect("serializable");
        assert_eq!(json["none"], true);
        assert!(json.get("denial_rate_drift").is_none());
    }

    #[test]
    fn zero_rows_and_bad_options() {
        let (bytes, truth) = run(&opts(0));
        assert_eq!(bytes, HEADER);
        assert_eq!(truth.counts.rows, 0);
        let err = generate(
            &GenOptions {
                bad_rate: 1.5,
                ..opts(1)
            },
            Vec::new(),
        );
        assert!(err.is_err());
        let far = GenOptions {
            end: NaiveDate::from_ymd_opt(9_999, 1, 1).expect("date"),
            ..opts(1)
        };
        assert!(generate(&far, Vec::new()).is_err());
    }

    #[test]
    fn formatting_helpers() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 7).expect("date");
        assert_eq!(&iso(d), b"2026-03-07");
        assert_eq!(&us_date(d), b"03/07/2026");
        assert_eq!(Money::cents(0).as_bytes(), b"0.00");
        assert_eq!(Money::cents(5).as_bytes(), b"0.05");
        assert_eq!(Money::cents(123_456).as_bytes(), b"1234.56");
        let mut buf = Vec::new();
        write_cell(&mut buf, b"a,\"b\"");
        assert_eq!(buf, b"\"a,\"\"b\"\"\"");
        assert_eq!("mixed".parse::<DateStyle>(), Ok(DateStyle::Mixed));
        assert!("MIXED".parse::<DateStyle>().is_err());
    }

    #[test]
    fn gaussian_is_standard_normal() {
        let mut rng = Rng::new(1);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| rng.gauss()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
        assert!((0..1000).all(|_| rng.below(7) < 7));
    }

    /// Benchmark-ish: prints rows/s (meaningful in release builds only).
    #[test]
    fn throughput() {
        let rows = if cfg!(debug_assertions) {
            50_000
        } else {
            1_000_000
        };
        let start = std::time::Instant::now();
        let truth = generate(&opts(rows), io::sink()).expect("sink");
        let secs = start.elapsed().as_secs_f64();
        println!(
            "generator: {rows} rows in {secs:.3} s = {:.0} rows/s",
            rows as f64 / secs
        );
        assert_eq!(truth.counts.rows, rows);
    }
}
