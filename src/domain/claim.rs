//! Claim field rules (SPEC §2): the canonical columns, outcome normalization, strict date,
//! CPT and amount parsing, and `validate_row`, which checks one CSV row and reports every
//! problem as a `(Column, RejectReason)` pair.
//!
//! What this module does NOT do: PHI detection (`domain::phi`, run by the pipeline on the
//! payer and free-text columns), payer alias and CPT group mapping (`domain::mapping`), and
//! anything about row numbers or storage.
//!
//! The happy path allocates nothing: values are borrowed from the row (trimmed), dates are
//! hand-parsed and money becomes integer cents. Only a rejected row allocates its problem list.

use chrono::{Days, NaiveDate};

/// The eight canonical upload columns, in the SPEC's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    Payer,
    Cpt,
    SubmittedDate,
    DecidedDate,
    Outcome,
    AllowedAmount,
    DenialReasonCode,
    DenialReasonText,
}

impl Column {
    /// All columns in canonical order; `ALL[c.index()] == c`.
    pub const ALL: [Column; 8] = [
        Column::Payer,
        Column::Cpt,
        Column::SubmittedDate,
        Column::DecidedDate,
        Column::Outcome,
        Column::AllowedAmount,
        Column::DenialReasonCode,
        Column::DenialReasonText,
    ];

    /// The canonical header name.
    pub fn as_str(self) -> &'static str {
        match self {
            Column::Payer => "payer",
            Column::Cpt => "cpt",
            Column::SubmittedDate => "submitted_date",
            Column::DecidedDate => "decided_date",
            Column::Outcome => "outcome",
            Column::AllowedAmount => "allowed_amount",
            Column::DenialReasonCode => "denial_reason_code",
            Column::DenialReasonText => "denial_reason_text",
        }
    }

    /// Canonical name → column (exact, lowercase; header aliases live in `csv_format`).
    pub fn parse(name: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Position in `Column::ALL` (stable; used to index per-column arrays).
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn is_required(self) -> bool {
        matches!(
            self,
            Column::Payer
                | Column::Cpt
                | Column::SubmittedDate
                | Column::DecidedDate
                | Column::Outcome
        )
    }
}

impl std::fmt::Display for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Row-level rejection reasons: the fixed list of SPEC §2. The codes are stored and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    MissingValue,
    InvalidDate,
    DateOrder,
    FutureDate,
    InvalidCpt,
    InvalidAmount,
    InvalidCode,
    TooLong,
    PhiSuspected,
}

impl RejectReason {
    pub const ALL: [RejectReason; 9] = [
        RejectReason::MissingValue,
        RejectReason::InvalidDate,
        RejectReason::DateOrder,
        RejectReason::FutureDate,
        RejectReason::InvalidCpt,
        RejectReason::InvalidAmount,
        RejectReason::InvalidCode,
        RejectReason::TooLong,
        RejectReason::PhiSuspected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::MissingValue => "missing_value",
            RejectReason::InvalidDate => "invalid_date",
            RejectReason::DateOrder => "date_order",
            RejectReason::FutureDate => "future_date",
            RejectReason::InvalidCpt => "invalid_cpt",
            RejectReason::InvalidAmount => "invalid_amount",
            RejectReason::InvalidCode => "invalid_code",
            RejectReason::TooLong => "too_long",
            RejectReason::PhiSuspected => "phi_suspected",
        }
    }

    /// Code → reason (exact match; codes come from our own database).
    pub fn parse(code: &str) -> Option<RejectReason> {
        RejectReason::ALL.into_iter().find(|r| r.as_str() == code)
    }

    /// Position in `RejectReason::ALL` (for per-reason counter arrays).
    pub fn index(self) -> usize {
        self as usize
    }

    /// What went wrong, in a billing person's words (the upload page; the code itself
    /// stays in `rejections.csv` and the API).
    pub fn label(self) -> &'static str {
        match self {
            RejectReason::MissingValue => "A required value is empty",
            RejectReason::InvalidDate => "A date cannot be read",
            RejectReason::DateOrder => "Decided before it was submitted",
            RejectReason::FutureDate => "Decision date in the future",
            RejectReason::InvalidCpt => "Not a CPT code",
            RejectReason::InvalidAmount => "Allowed amount is not a dollar figure",
            RejectReason::InvalidCode => "Denial code is not a code",
            RejectReason::TooLong => "A value is too long",
            RejectReason::PhiSuspected => "Looks like patient information",
        }
    }

    /// How to fix the rows rejected for this reason.
    pub fn how_to_fix(self) -> &'static str {
        match self {
            RejectReason::MissingValue => {
                "Fill in payer, cpt, submitted_date, decided_date and outcome on every row."
            }
            RejectReason::InvalidDate => {
                "Write dates as 2026-11-30, 11/30/2026 or 2026/11/30 (text, not a spreadsheet date number)."
            }
            RejectReason::DateOrder => {
                "Check the two dates are not swapped: decided_date must be on or after submitted_date."
            }
            RejectReason::FutureDate => {
                "A decision can be dated at most one day after today; check the year."
            }
            RejectReason::InvalidCpt => {
                "Use 5 characters: 5 digits (99213) or 4 digits and a letter (0001F); keep leading zeros."
            }
            RejectReason::InvalidAmount => {
                "Use a number of at least 0 with at most 2 decimals; $ and thousands commas are fine."
            }
            RejectReason::InvalidCode => {
                "Use a CARC or RARC code such as CO-197, PR-1 or N130; put explanations in denial_reason_text."
            }
            RejectReason::TooLong => {
                "Keep payer names within 255 characters and denial_reason_text within 500."
            }
            RejectReason::PhiSuspected => {
                "Remove names, birth dates, SSNs, phone numbers, e-mail addresses and record numbers; they are never stored."
            }
        }
    }
}

impl std::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Normalized claim outcome. `Other` is accepted but counted as a warning in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Paid,
    Denied,
    Other,
}

crate::domain::names::from_stored_name!(Outcome, "outcome");

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Paid => "PAID",
            Outcome::Denied => "DENIED",
            Outcome::Other => "OTHER",
        }
    }

    /// Maps a raw cell (trimmed, case-insensitive) to an outcome; `None` for an empty cell.
    pub fn normalize(raw: &str) -> Option<Outcome> {
        let v = raw.trim();
        if v.is_empty() {
            return None;
        }
        let is = |word: &str| v.eq_ignore_ascii_case(word);
        Some(if is("PAID") || is("APPROVED") || is("ACCEPTED") {
            Outcome::Paid
        } else if is("DENIED") || is("REJECTED") || is("DECLINED") {
            Outcome::Denied
        } else {
            Outcome::Other
        })
    }

    pub const ALL: [Outcome; 3] = [Outcome::Paid, Outcome::Denied, Outcome::Other];

    /// Parses the stored form (`PAID`, `DENIED`, `OTHER`; its `as_str`).
    pub fn parse(stored: &str) -> Option<Outcome> {
        stored.parse().ok()
    }
}

/// A valid CPT code: 5 ASCII characters, 5 digits or 4 digits + an uppercase letter.
/// Kept inline (no allocation); a lowercase Category II/III letter is uppercased so
/// `0001f` and `0001F` are one code for mapping and analytics.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CptCode([u8; 5]);

impl CptCode {
    /// Strict parse of an already-trimmed value.
    pub fn parse(s: &str) -> Option<CptCode> {
        let b: [u8; 5] = s.as_bytes().try_into().ok()?;
        if !b[..4].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let last = b[4];
        if last.is_ascii_digit() || last.is_ascii_alphabetic() {
            let mut code = b;
            code[4] = last.to_ascii_uppercase();
            Some(CptCode(code))
        } else {
            None
        }
    }

    /// A CPT code, or (835 input only, SPEC §2a) a HCPCS Level II code: a letter and
    /// four digits (`J1100`), grouped `OTHER` unless the tenant maps it.
    pub fn parse_procedure(s: &str) -> Option<CptCode> {
        CptCode::parse(s).or_else(|| {
            let b: [u8; 5] = s.as_bytes().try_into().ok()?;
            (b[0].is_ascii_alphabetic() && b[1..].iter().all(u8::is_ascii_digit)).then(|| {
                let mut code = b;
                code[0] = b[0].to_ascii_uppercase();
                CptCode(code)
            })
        })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits and letters are ever stored (see `parse`).
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// True for Category II/III codes (4 digits + a letter).
    pub fn has_letter(&self) -> bool {
        self.0[4].is_ascii_alphabetic()
    }
}

impl std::fmt::Debug for CptCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CptCode({})", self.as_str())
    }
}

impl std::fmt::Display for CptCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Strict date parse of an already-trimmed value: `YYYY-MM-DD` (exactly two-digit month and
/// day, as ISO 8601 requires), `MM/DD/YYYY` or `YYYY/MM/DD` (month/day one or two digits,
/// because spreadsheet exports write `1/5/2026`). Nothing else: no times, no two-digit years.
/// Hand-parsed: about ten times cheaper than chrono's format-string parser on this hot path.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() < 8 || b.len() > 10 {
        return None;
    }
    // `M/DD/YYYY` also has a '/' at index 4 ("1/10/2026"): the year-first forms need
    // four leading digits.
    let year_first = b[..4].iter().all(u8::is_ascii_digit);
    let (y, m, d) = if year_first && b[4] == b'-' {
        if b.len() != 10 || b[7] != b'-' {
            return None;
        }
        (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?)
    } else if year_first && b[4] == b'/' {
        // YYYY/M/D
        let (m, rest) = small_field(&b[5..], b'/')?;
        let (d, rest) = small_field(rest, 0)?;
        if !rest.is_empty() {
            return None;
        }
        (digits(&b[0..4])?, m, d)
    } else {
        // M/D/YYYY
        let (m, rest) = small_field(b, b'/')?;
        let (d, rest) = small_field(rest, b'/')?;
        if rest.len() != 4 {
            return None;
        }
        (digits(rest)?, m, d)
    };
    NaiveDate::from_ymd_opt(y as i32, m, d)
}

/// Value of a run of ASCII digits (callers keep runs ≤ 4 long, so no overflow).
fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// A 1–2 digit field terminated by `sep` (or by the end when `sep == 0`); returns the rest
/// after the separator.
fn small_field(b: &[u8], sep: u8) -> Option<(u32, &[u8])> {
    let len = if sep == 0 {
        b.len()
    } else {
        b.iter().position(|&c| c == sep)?
    };
    if len == 0 || len > 2 {
        return None;
    }
    let v = digits(&b[..len])?;
    let rest = if sep == 0 { &b[len..] } else { &b[len + 1..] };
    Some((v, rest))
}

/// Parses a money amount (already trimmed) into integer cents.
///
/// Accepted: `125`, `125.5`, `125.50`, `$125.50`, `1,234.56`, `$1,234,567`. Rejected: a sign
/// (`-125.00`, `+5`: an allowed amount is never negative), letters (`12O.5O`), more than two
/// decimals (`1.234`), misplaced commas (`1,23`, `1234,567`), a bare `.5` or `5.`, spaces
/// inside (`$ 12`), and values that overflow `i64` cents.
pub fn parse_amount_cents(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let b = b.strip_prefix(b"$").unwrap_or(b);
    let (int_part, frac_part) = match b.iter().position(|&c| c == b'.') {
        Some(dot) => (&b[..dot], Some(&b[dot + 1..])),
        None => (b, None),
    };
    if int_part.is_empty() {
        return None;
    }
    let mut units: i64 = 0;
    if int_part.contains(&b',') {
        // Thousands separators: a 1–3 digit head, then groups of exactly three.
        let mut groups = int_part.split(|&c| c == b',');
        let head = groups.next()?;
        if head.is_empty() || head.len() > 3 {
            return None;
        }
        units = push_digits(units, head)?;
        for g in groups {
            if g.len() != 3 {
                return None;
            }
            units = push_digits(units, g)?;
        }
    } else {
        units = push_digits(units, int_part)?;
    }
    let cents = match frac_part {
        None => 0,
        Some([d]) => i64::from(digit(*d)?) * 10,
        Some([d1, d2]) => i64::from(digit(*d1)?) * 10 + i64::from(digit(*d2)?),
        Some(_) => return None,
    };
    units.checked_mul(100)?.checked_add(cents)
}

fn digit(c: u8) -> Option<u8> {
    c.is_ascii_digit().then(|| c - b'0')
}

fn push_digits(mut v: i64, b: &[u8]) -> Option<i64> {
    for &c in b {
        v = v.checked_mul(10)?.checked_add(i64::from(digit(c)?))?;
    }
    Some(v)
}

/// Maximum lengths in characters (not bytes: a payer name in another script must not be
/// rejected earlier than an ASCII one).
pub const MAX_PAYER_CHARS: usize = 255;
pub const MAX_REASON_TEXT_CHARS: usize = 500;

fn longer_than(s: &str, max_chars: usize) -> bool {
    // A string of at most `max_chars` bytes cannot have more chars: skip the count.
    s.len() > max_chars && s.chars().count() > max_chars
}

/// One data row as raw cells, by canonical column. A column absent from the file is `""`.
/// Built by `csv_format::HeaderMap`; values are borrowed from the CSV record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawRow<'a> {
    pub payer: &'a str,
    pub cpt: &'a str,
    pub submitted_date: &'a str,
    pub decided_date: &'a str,
    pub outcome: &'a str,
    pub allowed_amount: &'a str,
    pub denial_reason_code: &'a str,
    pub denial_reason_text: &'a str,
}

impl<'a> RawRow<'a> {
    /// Builds a row from cells in `Column::ALL` order.
    pub fn from_array(cells: [&'a str; 8]) -> RawRow<'a> {
        let [
            payer,
            cpt,
            submitted_date,
            decided_date,
            outcome,
            allowed_amount,
            code,
            text,
        ] = cells;
        RawRow {
            payer,
            cpt,
            submitted_date,
            decided_date,
            outcome,
            allowed_amount,
            denial_reason_code: code,
            denial_reason_text: text,
        }
    }

    pub fn get(&self, column: Column) -> &'a str {
        match column {
            Column::Payer => self.payer,
            Column::Cpt => self.cpt,
            Column::SubmittedDate => self.submitted_date,
            Column::DecidedDate => self.decided_date,
            Column::Outcome => self.outcome,
            Column::AllowedAmount => self.allowed_amount,
            Column::DenialReasonCode => self.denial_reason_code,
            Column::DenialReasonText => self.denial_reason_text,
        }
    }
}

/// A row that passed every field rule. Text values are trimmed and borrowed; optional
/// columns that were empty are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidClaim<'a> {
    /// Trimmed, as written (alias mapping happens later).
    pub payer: &'a str,
    pub cpt: CptCode,
    pub submitted_date: NaiveDate,
    pub decided_date: NaiveDate,
    /// `Outcome::Other` means the raw value was not a known spelling: a report warning.
    pub outcome: Outcome,
    pub allowed_cents: Option<i64>,
    pub denial_reason_code: Option<&'a str>,
    pub denial_reason_text: Option<&'a str>,
}

/// Every problem of one row, one entry per (column, reason), in column order.
pub type RowProblems = Vec<(Column, RejectReason)>;

/// Checks every SPEC §2 field rule of one row and returns all problems at once.
///
/// `today` is the ingest day; a decision may be dated at most `today + 1` (time zones: a
/// payer a few hours ahead may already date tomorrow). Date order and the future check are
/// independent, so a row can carry both. PHI is not checked here (see `domain::phi`).
pub fn validate_row<'a>(raw: &RawRow<'a>, today: NaiveDate) -> Result<ValidClaim<'a>, RowProblems> {
    validate_row_with(raw, today, CptCode::parse)
}

/// [`validate_row`] with the procedure-code rule given (835 input also takes HCPCS).
pub fn validate_row_with<'a>(
    raw: &RawRow<'a>,
    today: NaiveDate,
    procedure: fn(&str) -> Option<CptCode>,
) -> Result<ValidClaim<'a>, RowProblems> {
    // Lazily allocated: the happy path never touches the heap.
    let mut problems: RowProblems = Vec::new();
    let mut fail = |c: Column, r: RejectReason| problems.push((c, r));

    let payer = raw.payer.trim();
    if payer.is_empty() {
        fail(Column::Payer, RejectReason::MissingValue);
    } else if longer_than(payer, MAX_PAYER_CHARS) {
        fail(Column::Payer, RejectReason::TooLong);
    }

    let cpt_raw = raw.cpt.trim();
    let cpt = if cpt_raw.is_empty() {
        fail(Column::Cpt, RejectReason::MissingValue);
        None
    } else {
        let c = procedure(cpt_raw);
        if c.is_none() {
            fail(Column::Cpt, RejectReason::InvalidCpt);
        }
        c
    };

    let mut date = |column: Column, value: &str| {
        let v = value.trim();
        if v.is_empty() {
            fail(column, RejectReason::MissingValue);
            return None;
        }
        let d = parse_date(v);
        if d.is_none() {
            fail(column, RejectReason::InvalidDate);
        }
        d
    };
    let submitted = date(Column::SubmittedDate, raw.submitted_date);
    let decided = date(Column::DecidedDate, raw.decided_date);
    if matches!((submitted, decided), (Some(s), Some(d)) if d < s) {
        fail(Column::DecidedDate, RejectReason::DateOrder);
    }
    if let Some(d) = decided {
        // `checked_add_days` only fails at chrono's max date, where nothing is in the future.
        let limit = today
            .checked_add_days(Days::new(1))
            .unwrap_or(NaiveDate::MAX);
        if d > limit {
            fail(Column::DecidedDate, RejectReason::FutureDate);
        }
    }

    let outcome = Outcome::normalize(raw.outcome);
    if outcome.is_none() {
        fail(Column::Outcome, RejectReason::MissingValue);
    }

    let amount_raw = raw.allowed_amount.trim();
    let allowed_cents = if amount_raw.is_empty() {
        None
    } else {
        let a = parse_amount_cents(amount_raw);
        if a.is_none() {
            fail(Column::AllowedAmount, RejectReason::InvalidAmount);
        }
        a
    };

    // Anything but a code shape is refused: free text here is where an SSN or a phone
    // number was stored and then shown as an analytics group (review 2026-12, row 7).
    let code = non_empty(raw.denial_reason_code);
    if code.is_some_and(|c| !is_reason_code(c)) {
        fail(Column::DenialReasonCode, RejectReason::InvalidCode);
    }
    let text = non_empty(raw.denial_reason_text);
    if text.is_some_and(|t| longer_than(t, MAX_REASON_TEXT_CHARS)) {
        fail(Column::DenialReasonText, RejectReason::TooLong);
    }

    match (cpt, submitted, decided, outcome) {
        (Some(cpt), Some(submitted_date), Some(decided_date), Some(outcome))
            if problems.is_empty() =>
        {
            Ok(ValidClaim {
                payer,
                cpt,
                submitted_date,
                decided_date,
                outcome,
                allowed_cents,
                denial_reason_code: code,
                denial_reason_text: text,
            })
        }
        _ => Err(problems),
    }
}

/// SPEC §2: after upper-casing, `^([A-Z]{2}-)?[A-Z0-9]{1,5}$` (CARC `CO-197`, `PR-1`,
/// RARC `N130`). Case-insensitive here; the pipeline stores the upper-cased form.
pub fn is_reason_code(code: &str) -> bool {
    let b = code.as_bytes();
    let rest = match b {
        [g1, g2, b'-', rest @ ..] if g1.is_ascii_alphabetic() && g2.is_ascii_alphabetic() => rest,
        _ => b,
    };
    (1..=5).contains(&rest.len()) && rest.iter().all(u8::is_ascii_alphanumeric)
}

fn non_empty(s: &str) -> Option<&str> {
    let t = s.trim();
    (!t.is_empty()).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
    }

    fn good_row() -> RawRow<'static> {
        RawRow::from_array([
            "Aetna",
            "99213",
            "2026-11-01",
            "2026-11-20",
            "PAID",
            "110.00",
            "",
            "",
        ])
    }

    fn today() -> NaiveDate {
        ymd(2026, 11, 22)
    }

    #[test]
    fn column_and_reason_names_round_trip() {
        for c in Column::ALL {
            assert_eq!(Column::parse(c.as_str()), Some(c));
            assert_eq!(Column::ALL[c.index()], c);
        }
        let codes: Vec<_> = RejectReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            codes,
            [
                "missing_value",
                "invalid_date",
                "date_order",
                "future_date",
                "invalid_cpt",
                "invalid_amount",
                "invalid_code",
                "too_long",
                "phi_suspected"
            ]
        );
        for r in RejectReason::ALL {
            assert_eq!(RejectReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(RejectReason::parse("Missing_Value"), None);
        assert!(Column::Payer.is_required() && !Column::AllowedAmount.is_required());
    }

    #[test]
    fn outcome_spellings() {
        for (raw, want) in [
            ("PAID", Outcome::Paid),
            ("paid", Outcome::Paid),
            (" Approved ", Outcome::Paid),
            ("ACCEPTED", Outcome::Paid),
            ("Denied", Outcome::Denied),
            ("rejected", Outcome::Denied),
            ("DECLINED", Outcome::Denied),
            ("PENDING", Outcome::Other),
            ("MAYBE", Outcome::Other),
            ("paid in full", Outcome::Other),
        ] {
            assert_eq!(Outcome::normalize(raw), Some(want), "{raw}");
        }
        assert_eq!(Outcome::normalize("  "), None);
        assert_eq!(Outcome::parse("OTHER"), Some(Outcome::Other));
        assert_eq!(Outcome::Denied.as_str(), "DENIED");
    }

    #[test]
    fn dates_in_three_formats() {
        assert_eq!(parse_date("2026-11-22"), Some(ymd(2026, 11, 22)));
        assert_eq!(parse_date("11/22/2026"), Some(ymd(2026, 11, 22)));
        assert_eq!(parse_date("2026/11/22"), Some(ymd(2026, 11, 22)));
        assert_eq!(parse_date("1/5/2026"), Some(ymd(2026, 1, 5)));
        assert_eq!(parse_date("2026/1/5"), Some(ymd(2026, 1, 5)));
        // One-digit month with a two-digit day puts a '/' where a year-first date has it.
        assert_eq!(parse_date("1/10/2026"), Some(ymd(2026, 1, 10)));
        assert_eq!(parse_date("1/1/2026"), Some(ymd(2026, 1, 1)));
        assert_eq!(parse_date("2024-02-29"), Some(ymd(2024, 2, 29)));
    }

    #[test]
    fn dates_rejected() {
        for bad in [
            "2026-13-45",
            "2025-02-29",
            "2026-1-5",
            "26-11-22",
            "11/22/26",
            "22.11.2026",
            "2026-11-22T00:00",
            "2026-11-2x",
            "123/1/2026",
            "11//2026",
            "2026/11/",
            "2026/11/22/",
            "2026-11/22",
            "Nov 22 2026",
            "",
            "２０２６-11-22",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn cpt_codes() {
        for ok in ["99213", "0001F", "0075T", "0001f"] {
            assert!(CptCode::parse(ok).is_some(), "{ok}");
        }
        assert_eq!(
            CptCode::parse("0001f").map(|c| c.to_string()),
            Some("0001F".into())
        );
        assert!(CptCode::parse("0001F").is_some_and(|c| c.has_letter()));
        for bad in [
            "9921", "992134", "A9921", "9921-", "99 13", "F0001", "ü9921", "9921ü",
        ] {
            assert_eq!(CptCode::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn amounts() {
        for (raw, cents) in [
            ("0", 0),
            ("125", 12_500),
            ("125.5", 12_550),
            ("125.05", 12_505),
            ("$125.50", 12_550),
            ("1,234.56", 123_456),
            ("$1,234,567", 123_456_700),
            ("007.10", 710),
        ] {
            assert_eq!(parse_amount_cents(raw), Some(cents), "{raw}");
        }
        for bad in [
            "12O.5O",
            "-125.00",
            "+5",
            "1,23",
            "1.234",
            "1234,567",
            ",123",
            "1,,234",
            ".5",
            "5.",
            "$",
            "",
            "$ 12",
            "12 34",
            "1.2.3",
            "$$5",
            "5$",
            "99999999999999999999",
        ] {
            assert_eq!(parse_amount_cents(bad), None, "{bad}");
        }
    }

    #[test]
    fn happy_row_borrows_trimmed_values() {
        let mut row = good_row();
        row.payer = "  Aetna Inc ";
        row.denial_reason_code = " CO-16 ";
        let claim = validate_row(&row, today()).expect("valid");
        assert_eq!(claim.payer, "Aetna Inc");
        assert_eq!(claim.cpt.as_str(), "99213");
        assert_eq!(claim.submitted_date, ymd(2026, 11, 1));
        assert_eq!(claim.outcome, Outcome::Paid);
        assert_eq!(claim.allowed_cents, Some(11_000));
        assert_eq!(claim.denial_reason_code, Some("CO-16"));
        assert_eq!(claim.denial_reason_text, None);
    }

    #[test]
    fn optional_columns_may_be_empty_and_other_outcome_is_accepted() {
        let mut row = good_row();
        row.allowed_amount = " ";
        row.outcome = "PENDING";
        let claim = validate_row(&row, today()).expect("valid");
        assert_eq!(claim.allowed_cents, None);
        assert_eq!(claim.outcome, Outcome::Other);
    }

    #[test]
    fn same_day_decision_and_tomorrow_are_valid() {
        let mut row = good_row();
        row.submitted_date = "2026-11-23";
        row.decided_date = "11/23/2026";
        assert!(validate_row(&row, today()).is_ok());
        row.decided_date = "2026-11-24";
        row.submitted_date = "2026-11-24";
        assert_eq!(
            validate_row(&row, today()),
            Err(vec![(Column::DecidedDate, RejectReason::FutureDate)])
        );
    }

    #[test]
    fn every_problem_is_listed() {
        let code = "X".repeat(33);
        let text = "é".repeat(501);
        let row = RawRow::from_array([
            " ",
            "ABCDE",
            "2026-13-45",
            "2027-01-01",
            "",
            "-1",
            &code,
            &text,
        ]);
        let problems = validate_row(&row, today()).expect_err("invalid");
        assert_eq!(
            problems,
            vec![
                (Column::Payer, RejectReason::MissingValue),
                (Column::Cpt, RejectReason::InvalidCpt),
                (Column::SubmittedDate, RejectReason::InvalidDate),
                (Column::DecidedDate, RejectReason::FutureDate),
                (Column::Outcome, RejectReason::MissingValue),
                (Column::AllowedAmount, RejectReason::InvalidAmount),
                (Column::DenialReasonCode, RejectReason::InvalidCode),
                (Column::DenialReasonText, RejectReason::TooLong),
            ]
        );
    }

    #[test]
    fn date_order_and_future_can_both_apply() {
        let mut row = good_row();
        row.submitted_date = "2027-03-01";
        row.decided_date = "2027-02-01";
        assert_eq!(
            validate_row(&row, today()),
            Err(vec![
                (Column::DecidedDate, RejectReason::DateOrder),
                (Column::DecidedDate, RejectReason::FutureDate),
            ])
        );
    }

    #[test]
    fn missing_required_values() {
        let row = RawRow::default();
        let problems = validate_row(&row, today()).expect_err("invalid");
        let cols: Vec<_> = problems.iter().map(|p| p.0).collect();
        assert_eq!(
            cols,
            [
                Column::Payer,
                Column::Cpt,
                Column::SubmittedDate,
                Column::DecidedDate,
                Column::Outcome
            ]
        );
        assert!(problems.iter().all(|p| p.1 == RejectReason::MissingValue));
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let mut row = good_row();
        let payer = "é".repeat(255); // 510 bytes, 255 chars
        row.payer = &payer;
        let text = "ß".repeat(500);
        row.denial_reason_text = &text;
        assert!(validate_row(&row, today()).is_ok());
        let long = "a".repeat(256);
        row.payer = &long;
        assert_eq!(
            validate_row(&row, today()),
            Err(vec![(Column::Payer, RejectReason::TooLong)])
        );
    }

    #[test]
    fn reason_codes_must_look_like_codes() {
        for ok in ["CO-197", "PR-1", "N130", "co-16", "OA-23", "1", "MA130"] {
            assert!(is_reason_code(ok), "{ok}");
        }
        for bad in [
            "123-45-6789",
            "555-867-5309",
            "CO197X1",
            "C-197",
            "CO-",
            "CO-197ABC",
            "",
            "jane@x.org",
            "ü",
        ] {
            assert!(!is_reason_code(bad), "{bad}");
        }
        let mut row = good_row();
        row.denial_reason_code = " 123-45-6789 ";
        assert_eq!(
            validate_row(&row, today()),
            Err(vec![(Column::DenialReasonCode, RejectReason::InvalidCode)])
        );
        row.denial_reason_code = " n130 ";
        assert!(validate_row(&row, today()).is_ok());
    }
}
