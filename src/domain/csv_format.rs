//! Upload CSV header rules (SPEC §2): which file column holds which canonical `Column`,
//! header aliases, unknown columns, and the file-level header errors (missing required
//! columns, a repeated name, an empty name). Also turns a parsed `csv` record into a
//! borrowed `RawRow` through the resolved positions, without copying cells.
//!
//! Matching: trim, strip a UTF-8 BOM from the first header, lowercase, and treat runs of
//! spaces/hyphens as `_` — spreadsheet exports write "Decided Date" or "Allowed-Amount", and
//! a billing team would not expect those to be "missing". Then the aliases of SPEC §2.

use std::collections::HashMap;

use thiserror::Error;

use crate::domain::claim::{Column, RawRow};
use crate::domain::phi;

/// File-level header problems. Messages name column positions and canonical names, never
/// header text: a file without a header row has data (possibly PHI) in its first line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HeaderError {
    #[error("the file has no header row")]
    NoColumns,
    /// `position` is 1-based, as a spreadsheet user counts columns.
    #[error("column {position} has an empty header name")]
    EmptyHeader { position: usize },
    /// Two headers resolve to the same column. `name` is the canonical column when the
    /// repeat is a known one; positions are 1-based.
    #[error("{} appears more than once (columns {first} and {second})", match .name { Some(n) => format!("column \"{n}\""), None => "a header name".to_owned() })]
    DuplicateColumn {
        name: Option<&'static str>,
        first: usize,
        second: usize,
    },
    #[error("required column{} missing: {}", if .0.len() == 1 { " is" } else { "s are" }, .0.join(", "))]
    MissingColumns(Vec<&'static str>),
}

/// A row cell that is not valid UTF-8 (the pipeline turns this into the file-level
/// "not UTF-8" error). Names the column only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("column \"{column}\" is not valid UTF-8")]
pub struct NotUtf8 {
    pub column: Column,
}

/// Resolved header row: file position of each canonical column, plus the unknown columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderMap {
    positions: [Option<usize>; 8],
    unknown: Vec<String>,
    width: usize,
}

/// Every column with the header names accepted for it, the canonical name first (SPEC §2
/// aliases). The parser and the upload page's column guide both read it.
pub const HEADER_NAMES: [(Column, &[&str]); 8] = [
    (Column::Payer, &["payer", "payer_name"]),
    (Column::Cpt, &["cpt", "cpt_code", "procedure_code"]),
    (
        Column::SubmittedDate,
        &["submitted_date", "date_submitted", "submit_date"],
    ),
    (
        Column::DecidedDate,
        &["decided_date", "date_decided", "decision_date"],
    ),
    (Column::Outcome, &["outcome", "status"]),
    (
        Column::AllowedAmount,
        &["allowed_amount", "allowed", "amount"],
    ),
    (Column::DenialReasonCode, &["denial_reason_code"]),
    (Column::DenialReasonText, &["denial_reason_text"]),
];

/// Header text → canonical column, for an already-normalized name.
fn canonical(normalized: &str) -> Option<Column> {
    HEADER_NAMES
        .iter()
        .find(|(_, names)| names.contains(&normalized))
        .map(|(column, _)| *column)
}

/// What a column must hold, in words, with an example value (the column guide).
pub fn column_rule(column: Column) -> (&'static str, &'static str) {
    match column {
        Column::Payer => (
            "The payer's name as your system writes it (at most 255 characters). Spellings of one payer are merged; Settings → Mappings shows how.",
            "UnitedHealthcare",
        ),
        Column::Cpt => (
            "The procedure code: 5 digits, or 4 digits and a letter (Category II/III). Keep leading zeros (format the column as text).",
            "99213",
        ),
        Column::SubmittedDate => (
            "When the claim was submitted: YYYY-MM-DD, MM/DD/YYYY or YYYY/MM/DD.",
            "2026-11-02",
        ),
        Column::DecidedDate => (
            "When the payer decided: same formats, not before the submission, at most one day after today.",
            "2026-11-16",
        ),
        Column::Outcome => (
            "PAID, APPROVED or ACCEPTED count as paid; DENIED, REJECTED or DECLINED as denied (any case). Anything else is stored as other and counted as a warning.",
            "DENIED",
        ),
        Column::AllowedAmount => (
            "The allowed amount in dollars: at least 0, at most 2 decimals; $ and thousands commas are fine. May be empty.",
            "1,204.50",
        ),
        Column::DenialReasonCode => (
            "The CARC or RARC code of a denial, with or without its group (CO-197, PR-1, N130). May be empty.",
            "CO-197",
        ),
        Column::DenialReasonText => (
            "The denial reason in words (at most 500 characters). Never patient details: rows that look like patient information are rejected. May be empty.",
            "Precertification absent",
        ),
    }
}

/// The downloadable CSV template: the header in canonical order and three example rows
/// that a fresh tenant can upload as is (no patient information, every rule met).
pub const TEMPLATE_CSV: &str = "payer,cpt,submitted_date,decided_date,outcome,allowed_amount,denial_reason_code,denial_reason_text\r\n\
Aetna,99213,2026-11-02,2026-11-16,PAID,112.40,,\r\n\
UnitedHealthcare,71046,2026-11-03,2026-11-20,DENIED,0.00,CO-197,Precertification absent\r\n\
Cigna,80053,2026-11-05,2026-11-12,PAID,\"1,204.50\",,\r\n";

/// Trim, lowercase, and fold runs of spaces/hyphens/underscores into one `_`.
fn normalize(header: &str) -> String {
    let mut out = String::with_capacity(header.len());
    let mut pending_sep = false;
    for ch in header.trim().chars() {
        if ch == ' ' || ch == '-' || ch == '_' || ch.is_whitespace() {
            pending_sep = true;
            continue;
        }
        if pending_sep && !out.is_empty() {
            out.push('_');
        }
        pending_sep = false;
        out.extend(ch.to_lowercase());
    }
    out
}

/// Resolves a header row. Errors, in order: no columns, an empty name, a repeated name (after
/// normalization and aliases, so `payer` + `Payer_Name` is a repeat), missing required
/// columns (all of them listed). Linear in the number of headers (the quadratic repeat check
/// took 30 s for 160k columns under the write lock); the reader caps the width anyway.
pub fn resolve_headers(headers: &[&str]) -> Result<HeaderMap, HeaderError> {
    if headers.is_empty() || (headers.len() == 1 && clean(headers[0], 0).is_empty()) {
        return Err(HeaderError::NoColumns);
    }
    let mut positions = [None; 8];
    let mut unknown: Vec<String> = Vec::new();
    let mut unknown_keys: HashMap<String, usize> = HashMap::new();
    for (i, raw) in headers.iter().enumerate() {
        let written = clean(raw, i);
        if written.is_empty() {
            return Err(HeaderError::EmptyHeader { position: i + 1 });
        }
        let key = normalize(written);
        match canonical(&key) {
            Some(col) => match positions[col.index()] {
                Some(first) => {
                    return Err(HeaderError::DuplicateColumn {
                        name: Some(col.as_str()),
                        first: first + 1,
                        second: i + 1,
                    });
                }
                None => positions[col.index()] = Some(i),
            },
            None => {
                if let Some(first) = unknown_keys.get(&key) {
                    return Err(HeaderError::DuplicateColumn {
                        name: None,
                        first: first + 1,
                        second: i + 1,
                    });
                }
                unknown.push(unknown_label(written, i));
                unknown_keys.insert(key, i);
            }
        }
    }
    let missing: Vec<&'static str> = Column::ALL
        .into_iter()
        .filter(|c| c.is_required() && positions[c.index()].is_none())
        .map(Column::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(HeaderError::MissingColumns(missing));
    }
    Ok(HeaderMap {
        positions,
        unknown,
        width: headers.len(),
    })
}

/// How an unknown column is listed in the report: its name, unless the name looks like PHI
/// (SPEC §3), then only its position.
fn unknown_label(written: &str, position: usize) -> String {
    if phi::contains_phi(written) {
        format!("column {} (name withheld: possible PHI)", position + 1)
    } else {
        written.chars().take(MAX_UNKNOWN_NAME_CHARS).collect()
    }
}

/// Unknown names are listed in the report; a field may be 8 KiB, a report line need not.
const MAX_UNKNOWN_NAME_CHARS: usize = 100;

/// A header as written, minus surrounding whitespace and (first column only) a BOM.
fn clean(raw: &str, position: usize) -> &str {
    let s = if position == 0 {
        raw.strip_prefix('\u{feff}').unwrap_or(raw)
    } else {
        raw
    };
    s.trim()
}

impl HeaderMap {
    /// File position (0-based) of a canonical column; `None` for an absent optional column.
    pub fn index(&self, column: Column) -> Option<usize> {
        self.positions[column.index()]
    }

    pub fn has(&self, column: Column) -> bool {
        self.index(column).is_some()
    }

    /// Unknown headers in file order, as written (trimmed): ignored, listed in the report.
    pub fn unknown_columns(&self) -> &[String] {
        &self.unknown
    }

    /// Number of header cells.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Builds a row from any cell accessor; a missing cell (absent column, short record) is "".
    pub fn raw_row_with<'r>(&self, cell: impl Fn(usize) -> Option<&'r str>) -> RawRow<'r> {
        let get = |c: Column| self.positions[c.index()].and_then(&cell).unwrap_or("");
        RawRow::from_array(Column::ALL.map(get))
    }

    /// Borrowed row from a `csv::StringRecord` (UTF-8 already checked by the reader).
    pub fn raw_row<'r>(&self, record: &'r csv::StringRecord) -> RawRow<'r> {
        self.raw_row_with(|i| record.get(i))
    }

    /// Borrowed row from a `csv::ByteRecord`, checking UTF-8 only in the eight mapped cells
    /// (the faster reader path: unknown columns are never decoded).
    pub fn raw_row_from_bytes<'r>(
        &self,
        record: &'r csv::ByteRecord,
    ) -> Result<RawRow<'r>, NotUtf8> {
        let mut cells = [""; 8];
        for column in Column::ALL {
            if let Some(bytes) = self.positions[column.index()].and_then(|i| record.get(i)) {
                cells[column.index()] =
                    std::str::from_utf8(bytes).map_err(|_| NotUtf8 { column })?;
            }
        }
        Ok(RawRow::from_array(cells))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANONICAL: [&str; 8] = [
        "payer",
        "cpt",
        "submitted_date",
        "decided_date",
        "outcome",
        "allowed_amount",
        "denial_reason_code",
        "denial_reason_text",
    ];

    #[test]
    fn canonical_header_in_order() {
        let map = resolve_headers(&CANONICAL).expect("valid");
        for (i, c) in Column::ALL.into_iter().enumerate() {
            assert_eq!(map.index(c), Some(i));
        }
        assert!(map.unknown_columns().is_empty());
        assert_eq!(map.width(), 8);
    }

    #[test]
    fn aliases_case_bom_whitespace_and_any_order() {
        let map = resolve_headers(&[
            "\u{feff}Status",
            " AMOUNT ",
            "Decision_Date",
            "Procedure Code",
            "notes",
            "date-submitted",
            "PAYER_NAME",
        ])
        .expect("valid");
        assert_eq!(map.index(Column::Outcome), Some(0));
        assert_eq!(map.index(Column::AllowedAmount), Some(1));
        assert_eq!(map.index(Column::DecidedDate), Some(2));
        assert_eq!(map.index(Column::Cpt), Some(3));
        assert_eq!(map.index(Column::SubmittedDate), Some(5));
        assert_eq!(map.index(Column::Payer), Some(6));
        assert!(!map.has(Column::DenialReasonText));
        assert_eq!(map.unknown_columns(), ["notes"]);
    }

    #[test]
    fn every_alias_of_the_spec() {
        for (alias, col) in [
            ("payer_name", Column::Payer),
            ("cpt_code", Column::Cpt),
            ("procedure_code", Column::Cpt),
            ("date_submitted", Column::SubmittedDate),
            ("submit_date", Column::SubmittedDate),
            ("date_decided", Column::DecidedDate),
            ("decision_date", Column::DecidedDate),
            ("status", Column::Outcome),
            ("allowed", Column::AllowedAmount),
            ("amount", Column::AllowedAmount),
        ] {
            assert_eq!(canonical(&normalize(alias)), Some(col), "{alias}");
        }
    }

    #[test]
    fn missing_required_columns_are_all_named() {
        let err = resolve_headers(&["payer", "outcome", "extra"]).expect_err("missing");
        assert_eq!(
            err,
            HeaderError::MissingColumns(vec!["cpt", "submitted_date", "decided_date"])
        );
        assert_eq!(
            err.to_string(),
            "required columns are missing: cpt, submitted_date, decided_date"
        );
        let one = resolve_headers(&["payer", "cpt", "submitted_date", "decided_date"]);
        assert_eq!(
            one.map_err(|e| e.to_string()),
            Err("required column is missing: outcome".to_owned())
        );
    }

    #[test]
    fn repeated_header_is_named_by_position_never_by_text() {
        let mut headers = CANONICAL.to_vec();
        headers.push("Payer_Name");
        let err = resolve_headers(&headers).expect_err("repeat");
        assert_eq!(
            err,
            HeaderError::DuplicateColumn {
                name: Some("payer"),
                first: 1,
                second: 9
            }
        );
        assert_eq!(
            err.to_string(),
            "column \"payer\" appears more than once (columns 1 and 9)"
        );

        // A file without a header row: its first data line is read as the header.
        let mut headers = CANONICAL.to_vec();
        headers.extend(["SSN 123-45-6789", " ssn 123-45-6789 "]);
        let err = resolve_headers(&headers).expect_err("repeat");
        assert_eq!(
            err,
            HeaderError::DuplicateColumn {
                name: None,
                first: 9,
                second: 10
            }
        );
        assert!(!err.to_string().contains("123-45"), "{err}");
    }

    #[test]
    fn unknown_names_that_look_like_phi_are_listed_by_position() {
        let mut headers = CANONICAL.to_vec();
        headers.extend(["notes", "555-867-5309", "jane.doe@example.org"]);
        let map = resolve_headers(&headers).expect("valid");
        assert_eq!(
            map.unknown_columns(),
            [
                "notes",
                "column 10 (name withheld: possible PHI)",
                "column 11 (name withheld: possible PHI)"
            ]
        );
    }

    #[test]
    fn wide_headers_resolve_in_linear_time() {
        // 200k distinct unknown names: quadratic resolution took minutes here.
        let names: Vec<String> = (0..200_000).map(|i| format!("x{i}")).collect();
        let mut headers: Vec<&str> = CANONICAL.to_vec();
        headers.extend(names.iter().map(String::as_str));
        let map = resolve_headers(&headers).expect("valid");
        assert_eq!(map.unknown_columns().len(), 200_000);
    }

    #[test]
    fn empty_header_and_empty_row() {
        let mut headers = CANONICAL.to_vec();
        headers.push("  ");
        assert_eq!(
            resolve_headers(&headers),
            Err(HeaderError::EmptyHeader { position: 9 })
        );
        assert_eq!(resolve_headers(&[]), Err(HeaderError::NoColumns));
        assert_eq!(resolve_headers(&["\u{feff}"]), Err(HeaderError::NoColumns));
    }

    #[test]
    fn rows_from_string_and_byte_records() {
        let map = resolve_headers(&[
            "cpt",
            "x",
            "payer",
            "submitted_date",
            "decided_date",
            "outcome",
        ])
        .expect("valid");
        let rec = csv::StringRecord::from(vec![
            "99213",
            "junk",
            "Aetna",
            "2026-01-01",
            "2026-01-02",
            "PAID",
        ]);
        let row = map.raw_row(&rec);
        assert_eq!(row.payer, "Aetna");
        assert_eq!(row.cpt, "99213");
        assert_eq!(row.outcome, "PAID");
        assert_eq!(row.allowed_amount, "");

        let short = csv::StringRecord::from(vec!["99213", "junk", "Aetna"]);
        assert_eq!(map.raw_row(&short).decided_date, "");

        let mut bytes = csv::ByteRecord::new();
        for f in [
            &b"99213"[..],
            b"\xff",
            b"Aetna",
            b"2026-01-01",
            b"2026-01-02",
            b"PAID",
        ] {
            bytes.push_field(f);
        }
        assert_eq!(map.raw_row_from_bytes(&bytes).map(|r| r.payer), Ok("Aetna"));
        let mut bad = csv::ByteRecord::new();
        for f in [&b"99213"[..], b"x", b"Ae\xfftna"] {
            bad.push_field(f);
        }
        assert_eq!(
            map.raw_row_from_bytes(&bad),
            Err(NotUtf8 {
                column: Column::Payer
            })
        );
    }
}
