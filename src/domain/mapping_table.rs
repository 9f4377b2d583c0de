//! Tenant mapping entries as users write them — a payer alias (name in files → canonical
//! payer) and a CPT range (first code, last code → group) — validated once for the form and
//! for CSV import, plus the CSV file form of both tables (export cells and import parsing).
//!
//! Errors name the field (and, for files, the line), never the value: a label may carry
//! patient information pasted by mistake (SPEC §3).

use std::borrow::Cow;
use std::fmt;

use super::claim::CptCode;
use super::phi;

/// Longest alias / canonical payer name (characters, after trimming).
pub const MAX_PAYER_LABEL: usize = 255;
/// Longest CPT group name (characters, after trimming).
pub const MAX_GROUP_NAME: usize = 40;
/// Largest mapping file accepted for import.
pub const MAX_IMPORT_BYTES: usize = 5 * 1024 * 1024;
/// Most data rows in one mapping file.
pub const MAX_IMPORT_ROWS: usize = 50_000;
/// Errors listed for one file before "and N more".
pub const MAX_LISTED_ERRORS: usize = 50;

/// Columns of the payer-alias file, in export order.
pub const ALIAS_COLUMNS: [&str; 2] = ["alias", "canonical"];
/// Columns of the CPT-group file, in export order (`code_end` may be empty on import).
pub const CPT_GROUP_COLUMNS: [&str; 3] = ["code_start", "code_end", "group_name"];

/// What is wrong with one field (the value itself is never part of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    Missing,
    TooLong(usize),
    Phi,
    InvalidCpt,
    RangeOrder,
    InvalidGroup,
    /// The same entry (alias key, or CPT bounds) appears on an earlier line.
    Duplicate(u64),
    NotUtf8,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing => f.write_str("a value is required"),
            Problem::TooLong(max) => write!(f, "too long (at most {max} characters)"),
            Problem::Phi => f.write_str("looks like it contains patient information (PHI)"),
            Problem::InvalidCpt => {
                f.write_str("not a CPT code (5 characters: 5 digits, or 4 digits and a letter)")
            }
            Problem::RangeOrder => f.write_str("the last code is before the first"),
            Problem::InvalidGroup => f.write_str("may only use letters, digits and _"),
            Problem::Duplicate(line) => write!(f, "the same entry is already on line {line}"),
            Problem::NotUtf8 => f.write_str("not UTF-8 text"),
        }
    }
}

/// A field that failed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub problem: Problem,
}

fn required(
    value: &str,
    field: &'static str,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let v = value.trim();
    let problem = if v.is_empty() {
        Problem::Missing
    } else if v.chars().count() > max {
        Problem::TooLong(max)
    } else {
        return Some(v.to_string());
    };
    errors.push(FieldError { field, problem });
    None
}

/// A payer alias: both labels trimmed, length-checked and PHI-checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasEntry {
    pub alias: String,
    pub canonical: String,
}

impl AliasEntry {
    pub fn parse(alias: &str, canonical: &str) -> Result<AliasEntry, Vec<FieldError>> {
        let mut errors = Vec::new();
        let alias = required(alias, "alias", MAX_PAYER_LABEL, &mut errors);
        let canonical = required(canonical, "canonical", MAX_PAYER_LABEL, &mut errors);
        for (field, value) in [("alias", &alias), ("canonical", &canonical)] {
            if value.as_deref().is_some_and(phi::contains_phi) {
                errors.push(FieldError {
                    field,
                    problem: Problem::Phi,
                });
            }
        }
        match (alias, canonical) {
            (Some(alias), Some(canonical)) if errors.is_empty() => {
                Ok(AliasEntry { alias, canonical })
            }
            _ => Err(errors),
        }
    }

    /// The key aliases are unique by (see `mapping::payer_key`).
    pub fn key(&self) -> String {
        super::mapping::payer_key(&self.alias)
    }
}

/// A CPT range (an exact code when `code_start == code_end`) and its group, upper-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CptGroupEntry {
    pub code_start: String,
    pub code_end: String,
    pub group_name: String,
}

impl CptGroupEntry {
    /// `code_end` empty means "just `code_start`".
    pub fn parse(
        code_start: &str,
        code_end: &str,
        group_name: &str,
    ) -> Result<CptGroupEntry, Vec<FieldError>> {
        let mut errors = Vec::new();
        let code = |value: &str, field: &'static str, errors: &mut Vec<FieldError>| {
            let v = value.trim().to_ascii_uppercase();
            match CptCode::parse(&v) {
                Some(c) => Some(c.as_str().to_string()),
                None => {
                    errors.push(FieldError {
                        field,
                        problem: if v.is_empty() {
                            Problem::Missing
                        } else {
                            Problem::InvalidCpt
                        },
                    });
                    None
                }
            }
        };
        let start = code(code_start, "code_start", &mut errors);
        let end = if code_end.trim().is_empty() {
            start.clone()
        } else {
            code(code_end, "code_end", &mut errors)
        };
        if let (Some(s), Some(e)) = (&start, &end)
            && s > e
        {
            errors.push(FieldError {
                field: "code_end",
                problem: Problem::RangeOrder,
            });
        }
        let group = required(group_name, "group_name", MAX_GROUP_NAME, &mut errors)
            .map(|g| g.to_ascii_uppercase());
        if let Some(g) = &group
            && !g.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            errors.push(FieldError {
                field: "group_name",
                problem: Problem::InvalidGroup,
            });
        }
        match (start, end, group) {
            (Some(code_start), Some(code_end), Some(group_name)) if errors.is_empty() => {
                Ok(CptGroupEntry {
                    code_start,
                    code_end,
                    group_name,
                })
            }
            _ => Err(errors),
        }
    }
}

/// Makes a text cell safe for spreadsheets *and* reversible: a value starting with a
/// formula character (`=`, `+`, `-`, `@`, tab, CR, NUL — SPEC §10) or with `'` itself gets
/// one leading `'`, which [`import_cell`] removes again. (Prefixing `'` values too is what
/// makes the round trip lossless: `'=x` exports as `''=x`, not as an ambiguous `'=x`.)
pub fn export_cell(text: &str) -> Cow<'_, str> {
    match text.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\0' | b'\'') => {
            Cow::Owned(format!("'{text}"))
        }
        _ => Cow::Borrowed(text),
    }
}

/// Reverses [`export_cell`]: one leading `'` before a formula character or another `'` is
/// dropped; anything else is kept as written.
pub fn import_cell(cell: &str) -> &str {
    match cell.as_bytes() {
        [
            b'\'',
            b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\0' | b'\'',
            ..,
        ] => &cell[1..],
        _ => cell,
    }
}

/// Why a file was refused. Nothing in it quotes the file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportError {
    Empty,
    TooLarge,
    TooManyRows,
    /// The CSV structure is broken (unterminated quote) at this line.
    Malformed(u64),
    NotUtf8Header,
    MissingColumns(Vec<&'static str>),
    RepeatedColumn(&'static str),
    /// Problems on lines: `(line, field, problem)`, in file order.
    Lines(Vec<(u64, FieldError)>),
}

impl ImportError {
    /// Human-readable lines, at most [`MAX_LISTED_ERRORS`] of them plus "and N more".
    pub fn messages(&self) -> Vec<String> {
        match self {
            ImportError::Empty => {
                vec!["The file is empty: expected a header row and at least one entry.".into()]
            }
            ImportError::TooLarge => vec![format!(
                "The file is larger than {} MB.",
                MAX_IMPORT_BYTES / (1024 * 1024)
            )],
            ImportError::TooManyRows => {
                vec![format!("The file has more than {MAX_IMPORT_ROWS} entries.")]
            }
            ImportError::Malformed(line) => vec![format!(
                "Line {line}: the CSV is malformed (check the quotes)."
            )],
            ImportError::NotUtf8Header => {
                vec!["Line 1: the header is not UTF-8 text; is this a CSV file?".into()]
            }
            ImportError::MissingColumns(cols) => vec![format!(
                "The header lacks the column{} {} (the export of this table has them).",
                if cols.len() == 1 { "" } else { "s" },
                cols.join(", ")
            )],
            ImportError::RepeatedColumn(col) => {
                vec![format!("The header names the column {col} twice.")]
            }
            ImportError::Lines(errors) => {
                let mut out: Vec<String> = errors
                    .iter()
                    .take(MAX_LISTED_ERRORS)
                    .map(|(line, e)| format!("Line {line}, column {}: {}.", e.field, e.problem))
                    .collect();
                if errors.len() > MAX_LISTED_ERRORS {
                    out.push(format!(
                        "… and {} more problems.",
                        errors.len() - MAX_LISTED_ERRORS
                    ));
                }
                out
            }
        }
    }
}

/// Reads a mapping file: header row (names matched case-insensitively after trimming,
/// any order, unknown columns ignored), then one entry per record. `columns` are the
/// table's columns; `optional` those that may be absent. Calls `entry(line, cells)` with
/// the cells in `columns` order (absent → "").
fn read_file<T>(
    bytes: &[u8],
    columns: &[&'static str],
    optional: &[&'static str],
    mut entry: impl FnMut(u64, &[&str]) -> Result<T, Vec<FieldError>>,
) -> Result<Vec<(u64, T)>, ImportError> {
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(ImportError::TooLarge);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ImportError::Empty);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut records = reader.byte_records();
    let header = match records.next() {
        None => return Err(ImportError::Empty),
        Some(Err(_)) => return Err(ImportError::Malformed(1)),
        Some(Ok(h)) => h,
    };
    let mut index: Vec<Option<usize>> = vec![None; columns.len()];
    for (i, raw) in header.iter().enumerate() {
        let name = std::str::from_utf8(raw).map_err(|_| ImportError::NotUtf8Header)?;
        let name = name.trim().to_ascii_lowercase();
        if let Some(c) = columns.iter().position(|c| *c == name) {
            if index[c].is_some() {
                return Err(ImportError::RepeatedColumn(columns[c]));
            }
            index[c] = Some(i);
        }
    }
    let missing: Vec<&'static str> = columns
        .iter()
        .zip(&index)
        .filter(|(c, i)| i.is_none() && !optional.contains(c))
        .map(|(c, _)| *c)
        .collect();
    if !missing.is_empty() {
        return Err(ImportError::MissingColumns(missing));
    }
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(ImportError::Malformed(line));
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if entries.len() + errors.len() >= MAX_IMPORT_ROWS {
            return Err(ImportError::TooManyRows);
        }
        let mut cells: Vec<&str> = Vec::with_capacity(columns.len());
        let mut utf8_ok = true;
        for (c, i) in columns.iter().zip(&index) {
            let raw = i.and_then(|i| record.get(i)).unwrap_or(b"");
            match std::str::from_utf8(raw) {
                Ok(text) => cells.push(import_cell(text)),
                Err(_) => {
                    errors.push((
                        line,
                        FieldError {
                            field: c,
                            problem: Problem::NotUtf8,
                        },
                    ));
                    utf8_ok = false;
                    cells.push("");
                }
            }
        }
        if !utf8_ok {
            continue;
        }
        match entry(line, &cells) {
            Ok(value) => entries.push((line, value)),
            Err(problems) => errors.extend(problems.into_iter().map(|p| (line, p))),
        }
    }
    if !errors.is_empty() {
        return Err(ImportError::Lines(errors));
    }
    if entries.is_empty() {
        return Err(ImportError::Empty);
    }
    Ok(entries)
}

/// Refuses entries whose key appeared on an earlier line (which one would win is a guess).
fn reject_duplicates<T, K: std::hash::Hash + Eq>(
    entries: Vec<(u64, T)>,
    field: &'static str,
    key: impl Fn(&T) -> K,
) -> Result<Vec<T>, ImportError> {
    let mut seen = std::collections::HashMap::new();
    let mut errors = Vec::new();
    for (line, entry) in &entries {
        match seen.entry(key(entry)) {
            std::collections::hash_map::Entry::Occupied(first) => errors.push((
                *line,
                FieldError {
                    field,
                    problem: Problem::Duplicate(*first.get()),
                },
            )),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(*line);
            }
        }
    }
    if errors.is_empty() {
        Ok(entries.into_iter().map(|(_, e)| e).collect())
    } else {
        Err(ImportError::Lines(errors))
    }
}

/// Parses a payer-alias file (`alias,canonical`): every line valid or nothing.
pub fn parse_alias_file(bytes: &[u8]) -> Result<Vec<AliasEntry>, ImportError> {
    let entries = read_file(bytes, &ALIAS_COLUMNS, &[], |_, c| {
        AliasEntry::parse(c[0], c[1])
    })?;
    reject_duplicates(entries, "alias", AliasEntry::key)
}

/// Parses a CPT-group file (`code_start,code_end,group_name`; `code_end` may be empty or
/// absent): every line valid or nothing.
pub fn parse_cpt_group_file(bytes: &[u8]) -> Result<Vec<CptGroupEntry>, ImportError> {
    let entries = read_file(bytes, &CPT_GROUP_COLUMNS, &["code_end"], |_, c| {
        CptGroupEntry::parse(c[0], c[1], c[2])
    })?;
    reject_duplicates(entries, "code_start", |e| {
        (e.code_start.clone(), e.code_end.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_round_trip_and_stay_formula_safe() {
        for value in [
            "Aetna",
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-Blue",
            "@cmd",
            "'quoted",
            "'=x",
            "''",
            "a'b",
            "",
        ] {
            let cell = export_cell(value);
            assert!(
                !matches!(cell.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@')),
                "{value:?} exported unsafely"
            );
            assert_eq!(import_cell(&cell), value, "{value:?}");
        }
        assert_eq!(import_cell("'abc"), "'abc", "a hand-written quote stays");
    }

    #[test]
    fn alias_entries_validate_like_the_form() {
        assert_eq!(
            AliasEntry::parse("  AETNA inc ", " Aetna "),
            Ok(AliasEntry {
                alias: "AETNA inc".into(),
                canonical: "Aetna".into()
            })
        );
        let errors = AliasEntry::parse("", "Called patient Jennifer").expect_err("invalid");
        assert_eq!(
            errors,
            vec![
                FieldError {
                    field: "alias",
                    problem: Problem::Missing
                },
                FieldError {
                    field: "canonical",
                    problem: Problem::Phi
                }
            ]
        );
        assert!(AliasEntry::parse(&"x".repeat(256), "y").is_err());
    }

    #[test]
    fn cpt_entries_validate_like_the_form() {
        assert_eq!(
            CptGroupEntry::parse("0001f", "", "quality"),
            Ok(CptGroupEntry {
                code_start: "0001F".into(),
                code_end: "0001F".into(),
                group_name: "QUALITY".into()
            })
        );
        let errors = CptGroupEntry::parse("99999", "10000", "bad group").expect_err("invalid");
        let problems: Vec<_> = errors.iter().map(|e| (e.field, e.problem)).collect();
        assert_eq!(
            problems,
            vec![
                ("code_end", Problem::RangeOrder),
                ("group_name", Problem::InvalidGroup)
            ]
        );
        assert!(CptGroupEntry::parse("9921", "", "X").is_err());
        assert!(CptGroupEntry::parse("99213", "", "").is_err());
    }

    #[test]
    fn files_are_all_or_nothing_and_name_lines_and_columns_only() {
        let ok = parse_alias_file(b"\xEF\xBB\xBFCanonical , ALIAS,notes\r\nAetna,AETNA INC,x\r\n\"Blue, Inc\",\"BCBS\nTX\",\r\n")
            .expect("valid");
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0].alias, "AETNA INC");
        assert_eq!(ok[1].alias, "BCBS\nTX");

        let err = parse_alias_file(
            b"alias,canonical\nAETNA INC,Aetna\n\"two\nlines\",Cigna\naetna  inc,Aetna\nCalled patient Jennifer,Aetna\n,Aetna\n",
        )
        .expect_err("invalid");
        let messages = err.messages().join("\n");
        assert_eq!(
            messages,
            "Line 6, column alias: looks like it contains patient information (PHI).\n\
             Line 7, column alias: a value is required."
        );
        assert!(!messages.contains("Jennifer"));

        let dup = parse_alias_file(b"alias,canonical\nAETNA INC,Aetna\naetna  inc,Aetna\n")
            .expect_err("duplicate");
        assert_eq!(
            dup.messages(),
            vec!["Line 3, column alias: the same entry is already on line 2.".to_string()]
        );
        assert_eq!(
            parse_alias_file(b"payer,name\nx,y\n"),
            Err(ImportError::MissingColumns(vec!["alias", "canonical"]))
        );
        assert_eq!(parse_alias_file(b""), Err(ImportError::Empty));
        assert_eq!(
            parse_alias_file(b"alias,canonical\n"),
            Err(ImportError::Empty)
        );
        assert_eq!(
            parse_alias_file(b"alias,alias,canonical\n"),
            Err(ImportError::RepeatedColumn("alias"))
        );
    }

    #[test]
    fn cpt_files_accept_an_empty_or_absent_last_code() {
        let groups = parse_cpt_group_file(b"group_name,code_start\nlab,80000\n").expect("valid");
        assert_eq!(groups[0].code_end, "80000");
        let groups = parse_cpt_group_file(
            b"code_start,code_end,group_name\n99202,99215,EVAL_MGMT\n0001F,,QUALITY\n",
        )
        .expect("valid");
        assert_eq!(groups.len(), 2);
        let err =
            parse_cpt_group_file(b"code_start,code_end,group_name\n9921X1,,A\n99213,99212,B\n")
                .expect_err("invalid");
        assert_eq!(
            err.messages(),
            vec![
                "Line 2, column code_start: not a CPT code (5 characters: 5 digits, or 4 digits and a letter).".to_string(),
                "Line 3, column code_end: the last code is before the first.".to_string(),
            ]
        );
    }
}
