//! 835 → claim records: one record per service line (SVC), SPEC §2a and
//! `docs/x12-835.md` (the element behind each field).
//!
//! Patient elements are read past, never copied: `NM1` (QC, IL, 74 and every other
//! entity), CLP01 (patient control number), CLP07 (payer claim number), `REF` outside the
//! payer loop (EA, 1L, SY, 6R, …), addresses (`N3`/`N4`). Only codes, amounts, dates and
//! the payer's own name and id leave this module.

use chrono::NaiveDate;

use super::segments::Segment;
use crate::domain::claim_key::TenantClaimKeys;

/// Which element gave the submitted date (reported per upload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmittedSource {
    /// `DTM*050`, claim received by the payer.
    Received,
    /// `DTM*233`, end of the claim's statement period.
    StatementEnd,
    /// `DTM*472` (or `DTM*150`), the line's service date.
    Service,
    Missing,
}

/// What the payer decided for the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineOutcome {
    Paid,
    /// Paid, but less than charged after contractual (CO) adjustments.
    Partial,
    Denied,
    /// Nothing paid and no adjustment explains it.
    Other,
}

impl LineOutcome {
    /// The stored outcome (SPEC §2 values).
    pub fn as_csv(self) -> &'static str {
        match self {
            LineOutcome::Paid | LineOutcome::Partial => "PAID",
            LineOutcome::Denied => "DENIED",
            LineOutcome::Other => "OTHER",
        }
    }
}

/// One CAS adjustment of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    /// CO, PR, OA, PI, CR.
    pub group: String,
    /// The CARC.
    pub reason: String,
    pub cents: i64,
}

impl Adjustment {
    /// `CO-45`.
    pub fn code(&self) -> String {
        format!("{}-{}", self.group, self.reason)
    }
}

/// A mapped service line. Buffers are reused from line to line.
#[derive(Debug, Clone, Default)]
pub struct ServiceLine {
    /// The SVC segment's number (rejections name it).
    pub segment: u64,
    pub payer: String,
    pub payer_id: String,
    /// `HC`, `AD`, `ZZ`, … (SVC01-1).
    pub qualifier: String,
    pub procedure: String,
    pub modifiers: Vec<String>,
    pub charge_cents: Option<i64>,
    pub paid_cents: Option<i64>,
    /// `AMT*B6`, else charge minus CO adjustments.
    pub allowed_cents: Option<i64>,
    pub allowed_from_amt: bool,
    /// `AMT*B6` present but not a number: the row is rejected (`invalid_amount`) rather
    /// than silently falling back to charge minus CO.
    pub allowed_invalid: bool,
    pub submitted: Option<NaiveDate>,
    pub submitted_source: Option<SubmittedSource>,
    /// `DTM*050` present but not a date: rejected (`invalid_date`), no fallback.
    pub submitted_invalid: bool,
    /// BPR16 present but not a date (and no valid DTM*405).
    pub decided_invalid: bool,
    pub decided: Option<NaiveDate>,
    pub service_date: Option<NaiveDate>,
    pub outcome: Option<LineOutcome>,
    /// CLP02 = 22: reverses an earlier claim; reported, never stored as a decision.
    pub reversal: bool,
    /// CLP02 as written (1, 2, 3, 4, 19, 20, 21, 22, 23).
    pub claim_status: String,
    pub adjustments: Vec<Adjustment>,
    /// RARC from LQ*HE (line) and MOA (claim).
    pub remarks: Vec<String>,
    /// Keyed HMAC of the claim's payer + CLP01 + CLP07 (`domain::claim_key`); the raw
    /// numbers never leave the CLP segment. `None` without a key or numbers.
    pub claim_key: Option<i64>,
}

impl ServiceLine {
    /// The denial reason: group + CARC of the largest adjustment, on a denied line.
    pub fn reason(&self) -> Option<String> {
        if self.outcome != Some(LineOutcome::Denied) {
            return None;
        }
        self.adjustments
            .iter()
            // First of equals wins: max_by_key keeps the last, so compare reversed.
            .rev()
            .max_by_key(|a| a.cents)
            .map(Adjustment::code)
    }

    /// Every adjustment and remark code, `CO-45 PR-2 N130` (DenialScope reads them).
    pub fn codes_summary(&self) -> String {
        let mut out = String::new();
        self.codes_into(&mut out);
        out
    }

    /// [`ServiceLine::codes_summary`] into a reused buffer (no allocation per line).
    pub fn codes_into(&self, out: &mut String) {
        out.clear();
        let mut push = |group: &str, code: &str| {
            let taken = out.split(' ').any(|c| match c.split_once('-') {
                Some((g, r)) => g == group && r == code,
                None => group.is_empty() && c == code,
            });
            if !taken {
                if !out.is_empty() {
                    out.push(' ');
                }
                if !group.is_empty() {
                    out.push_str(group);
                    out.push('-');
                }
                out.push_str(code);
            }
        };
        for a in &self.adjustments {
            push(&a.group, &a.reason);
        }
        for r in &self.remarks {
            push("", r);
        }
    }

    /// The stored modifiers (SVC01-3…6): `25 59`; empty when none.
    pub fn modifiers_into(&self, out: &mut String) {
        join_into(out, self.modifiers.iter().map(String::as_str));
    }

    /// The stored remark codes (LQ*HE of the line, then MOA03–07 of its claim): `N130 MA01`.
    pub fn remarks_into(&self, out: &mut String) {
        join_into(out, self.remarks.iter().map(String::as_str));
    }

    /// Every CAS adjustment of the line in file order, with its amount:
    /// `CO-45:30.00 PR-2:20.00` (amounts may be negative; nothing deduplicated; a group
    /// or reason that is not letters and digits is left out).
    pub fn adjustments_into(&self, out: &mut String) {
        use std::fmt::Write;
        out.clear();
        let code = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
        for a in self
            .adjustments
            .iter()
            .filter(|a| code(&a.group) && code(&a.reason))
        {
            if !out.is_empty() {
                out.push(' ');
            }
            let sign = if a.cents < 0 { "-" } else { "" };
            let c = a.cents.unsigned_abs();
            let _ = write!(
                out,
                "{}-{}:{sign}{}.{:02}",
                a.group,
                a.reason,
                c / 100,
                c % 100
            );
        }
    }

    /// [`ServiceLine::reason`] into a reused buffer.
    pub fn reason_into(&self, out: &mut String) {
        out.clear();
        if self.outcome != Some(LineOutcome::Denied) {
            return;
        }
        if let Some(a) = self.adjustments.iter().rev().max_by_key(|a| a.cents) {
            out.push_str(&a.group);
            out.push('-');
            out.push_str(&a.reason);
        }
    }
}

fn join_into<'a>(out: &mut String, items: impl Iterator<Item = &'a str>) {
    out.clear();
    for item in items {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(item);
    }
}

/// Per-file counts for the quality report.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RemitCounts {
    pub transactions: u64,
    pub claims: u64,
    pub service_lines: u64,
    /// Claims of CLP02 = 22 (reversals of earlier claims).
    pub reversal_claims: u64,
    /// Service lines of CLP02 = 22 claims (not stored).
    pub reversal_lines: u64,
    /// Claims reported without any SVC line (nothing to store).
    pub claims_without_lines: u64,
    pub partial_lines: u64,
    pub submitted_from_received: u64,
    pub submitted_from_statement: u64,
    pub submitted_from_service: u64,
}

/// Streams segments in, service lines out.
#[derive(Debug, Default)]
pub struct RemitMapper {
    /// The tenant's claim key; without it no line carries a `claim_key`.
    keys: Option<TenantClaimKeys>,
    payer: String,
    payer_id: String,
    in_payer_loop: bool,
    bpr_date: Option<NaiveDate>,
    production_date: Option<NaiveDate>,
    // Claim
    in_claim: bool,
    claim_status: String,
    claim_received: Option<NaiveDate>,
    claim_received_invalid: bool,
    bpr_invalid: bool,
    claim_statement_end: Option<NaiveDate>,
    claim_remarks: Vec<String>,
    claim_lines: u64,
    claim_segment: u64,
    claim_key: Option<i64>,
    // Line
    line_open: bool,
    line: ServiceLine,
    pub counts: RemitCounts,
}

/// A claim reported without service lines: the CLP segment number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinelessClaim {
    pub segment: u64,
}

/// A reversal claim (CLP02 = 22): it reverses the earlier claim with the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReversalClaim {
    /// The CLP segment number: claims of the same file before it can be reversed by it.
    pub segment: u64,
    pub claim_key: Option<i64>,
    pub lines: u64,
}

/// What one segment produced.
#[derive(Debug)]
pub enum Emit<'a> {
    Line(&'a ServiceLine),
    Lineless(LinelessClaim),
    /// After the reversal claim's lines (which carry `reversal`).
    Reversal(ReversalClaim),
}

impl RemitMapper {
    /// A mapper whose lines carry claim keys of `keys`' tenant.
    pub fn with_keys(keys: Option<TenantClaimKeys>) -> RemitMapper {
        RemitMapper {
            keys,
            ..RemitMapper::default()
        }
    }

    /// A new transaction set (ST) begins: header values reset.
    pub fn start_transaction(&mut self) {
        let counts = std::mem::take(&mut self.counts);
        let keys = self.keys.take();
        *self = RemitMapper::default();
        self.counts = counts;
        self.keys = keys;
        self.counts.transactions += 1;
    }

    /// Maps one body segment. `emit` receives each finished line (and lineless claims).
    pub fn segment(&mut self, seg: &Segment<'_>, emit: &mut dyn FnMut(Emit<'_>)) {
        match seg.id() {
            b"BPR" => {
                self.bpr_date = date(seg.text(16));
                self.bpr_invalid = self.bpr_date.is_none() && !seg.text(16).is_empty();
            }
            b"DTM" => self.dtm(seg),
            b"N1" => {
                self.in_payer_loop = seg.element(1) == b"PR";
                if self.in_payer_loop {
                    self.payer.clear();
                    self.payer.push_str(seg.text(2));
                    self.payer_id.clear();
                    self.payer_id.push_str(seg.text(4));
                }
            }
            b"REF" if self.in_payer_loop && seg.element(1) == b"2U" => {
                self.payer_id.clear();
                self.payer_id.push_str(seg.text(2));
            }
            b"LX" => {
                self.close_claim(emit);
                self.in_payer_loop = false;
            }
            b"CLP" => {
                self.close_claim(emit);
                self.in_payer_loop = false;
                self.in_claim = true;
                self.counts.claims += 1;
                self.claim_segment = seg.number;
                self.claim_status.clear();
                self.claim_status.push_str(seg.text(2));
                self.claim_received = None;
                self.claim_received_invalid = false;
                self.claim_statement_end = None;
                self.claim_remarks.clear();
                self.claim_lines = 0;
                // CLP01 and CLP07 are read here only, into the keyed MAC, never kept.
                let payer = if self.payer_id.is_empty() {
                    &self.payer
                } else {
                    &self.payer_id
                };
                self.claim_key = self
                    .keys
                    .as_ref()
                    .and_then(|k| k.key(payer, seg.text(1), seg.text(7)));
                if self.claim_status == "22" {
                    self.counts.reversal_claims += 1;
                }
            }
            b"MOA" if self.in_claim => {
                for n in 3..=7 {
                    push_code(&mut self.claim_remarks, seg.text(n));
                }
            }
            b"SVC" if self.in_claim => {
                self.close_line(emit);
                self.open_line(seg);
            }
            b"CAS" if self.line_open => {
                let group = seg.text(1).trim();
                for triplet in 0..6 {
                    let reason = seg.text(2 + triplet * 3).trim();
                    if reason.is_empty() {
                        continue;
                    }
                    self.line.adjustments.push(Adjustment {
                        group: group.chars().take(2).collect(),
                        reason: reason.chars().take(5).collect(),
                        cents: cents(seg.text(3 + triplet * 3)).unwrap_or(0),
                    });
                }
            }
            b"AMT" if self.line_open && seg.element(1) == b"B6" => {
                let c = cents(seg.text(2));
                self.line.allowed_cents = c;
                self.line.allowed_from_amt = true;
                self.line.allowed_invalid = c.is_none();
            }
            b"LQ" if self.line_open && seg.element(1) == b"HE" => {
                push_code(&mut self.line.remarks, seg.text(2));
            }
            b"PLB" => self.close_claim(emit),
            // NM1, REF (other than REF*2U in the payer loop), N3, N4, PER, TRN, TS3, …:
            // patient data or nothing the claim record needs. Read past, never copied.
            _ => {}
        }
    }

    /// The transaction set ended (SE): the last line and claim are finished.
    pub fn end_transaction(&mut self, emit: &mut dyn FnMut(Emit<'_>)) {
        self.close_claim(emit);
    }

    fn dtm(&mut self, seg: &Segment<'_>) {
        let d = date(seg.text(2));
        match seg.element(1) {
            b"405" if !self.in_claim => self.production_date = d,
            b"050" if self.in_claim && !self.line_open => {
                self.claim_received = d;
                self.claim_received_invalid = d.is_none();
            }
            b"233" if self.in_claim && !self.line_open => self.claim_statement_end = d,
            // DTM*472 (service date) wins over DTM*150 (period start) whatever the order.
            b"472" if self.line_open => self.line.service_date = d,
            b"150" if self.line_open && self.line.service_date.is_none() => {
                self.line.service_date = d
            }
            _ => {}
        }
    }

    fn open_line(&mut self, seg: &Segment<'_>) {
        self.line_open = true;
        self.claim_lines += 1;
        let l = &mut self.line;
        l.segment = seg.number;
        l.qualifier.clear();
        l.qualifier.push_str(seg.component(1, 1));
        l.procedure.clear();
        l.procedure.push_str(seg.component(1, 2));
        l.modifiers.clear();
        for c in 3..=6 {
            // A modifier is two letters or digits; anything else is not kept.
            let m = seg.component(1, c).trim();
            if m.len() == 2 && m.bytes().all(|b| b.is_ascii_alphanumeric()) {
                l.modifiers.push(m.to_ascii_uppercase());
            }
        }
        l.charge_cents = cents(seg.text(2));
        l.paid_cents = cents(seg.text(3));
        l.allowed_cents = None;
        l.allowed_from_amt = false;
        l.allowed_invalid = false;
        l.service_date = None;
        l.adjustments.clear();
        l.remarks.clear();
    }

    fn close_line(&mut self, emit: &mut dyn FnMut(Emit<'_>)) {
        if !self.line_open {
            return;
        }
        self.line_open = false;
        let l = &mut self.line;
        l.payer.clear();
        l.payer.push_str(&self.payer);
        l.payer_id.clear();
        l.payer_id.push_str(&self.payer_id);
        l.claim_status.clear();
        l.claim_status.push_str(&self.claim_status);
        l.reversal = self.claim_status == "22";
        l.claim_key = self.claim_key;
        for r in &self.claim_remarks {
            push_code(&mut l.remarks, r);
        }
        l.submitted_invalid = self.claim_received_invalid;
        l.decided_invalid = self.bpr_invalid && self.production_date.is_none();
        (l.submitted, l.submitted_source) = match (
            self.claim_received,
            self.claim_statement_end,
            l.service_date,
        ) {
            _ if l.submitted_invalid => (None, Some(SubmittedSource::Received)),
            (Some(d), _, _) => (Some(d), Some(SubmittedSource::Received)),
            (None, Some(d), _) => (Some(d), Some(SubmittedSource::StatementEnd)),
            (None, None, Some(d)) => (Some(d), Some(SubmittedSource::Service)),
            _ => (None, Some(SubmittedSource::Missing)),
        };
        l.decided = self.bpr_date.or(self.production_date);
        if !l.allowed_from_amt {
            let co: i64 = l
                .adjustments
                .iter()
                .filter(|a| a.group == "CO")
                .map(|a| a.cents)
                .sum();
            l.allowed_cents = l.charge_cents.map(|c| c - co).filter(|&a| a >= 0);
        }
        l.outcome = l.paid_cents.map(|paid| {
            if paid > 0 {
                let after_co = l.allowed_cents.or(l.charge_cents).unwrap_or(paid);
                if paid < after_co {
                    LineOutcome::Partial
                } else {
                    LineOutcome::Paid
                }
            } else if !l.adjustments.is_empty() {
                LineOutcome::Denied
            } else {
                LineOutcome::Other
            }
        });
        self.counts.service_lines += 1;
        if l.reversal {
            self.counts.reversal_lines += 1;
        } else {
            match l.submitted_source {
                Some(SubmittedSource::Received) => self.counts.submitted_from_received += 1,
                Some(SubmittedSource::StatementEnd) => self.counts.submitted_from_statement += 1,
                Some(SubmittedSource::Service) => self.counts.submitted_from_service += 1,
                _ => {}
            }
            if l.outcome == Some(LineOutcome::Partial) {
                self.counts.partial_lines += 1;
            }
        }
        emit(Emit::Line(&self.line));
    }

    fn close_claim(&mut self, emit: &mut dyn FnMut(Emit<'_>)) {
        self.close_line(emit);
        if self.in_claim && self.claim_status == "22" {
            emit(Emit::Reversal(ReversalClaim {
                segment: self.claim_segment,
                claim_key: self.claim_key,
                lines: self.claim_lines,
            }));
        } else if self.in_claim && self.claim_lines == 0 {
            self.counts.claims_without_lines += 1;
            emit(Emit::Lineless(LinelessClaim {
                segment: self.claim_segment,
            }));
        }
        self.in_claim = false;
    }
}

/// Keeps a remark code (RARC: letters and digits, at most 8) once.
fn push_code(list: &mut Vec<String>, code: &str) {
    let code = code.trim();
    if !code.is_empty()
        && code.len() <= 8
        && code.bytes().all(|b| b.is_ascii_alphanumeric())
        && !list.iter().any(|c| c == code)
    {
        list.push(code.to_string());
    }
}

/// CCYYMMDD (X12 dates); anything else is absent.
pub fn date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    NaiveDate::from_ymd_opt(n(0..4)? as i32, n(4..6)?, n(6..8)?)
}

/// An X12 decimal (`R` type: optional sign, optional decimal point, at most 2 decimals
/// kept exactly) as cents.
pub fn cents(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() && frac.is_empty()
        || whole.len() > 12
        || frac.len() > 2
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let w: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let f: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    let v = w * 100 + f;
    Some(if neg { -v } else { v })
}
