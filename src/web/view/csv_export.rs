//! CSV exports (drift, alerts, rejections, audit): RFC 4180 quoting, formula-injection
//! protection and numbers written as numbers (SPEC §10), plus the audit trail's columns.
//!
//! A text cell whose first character is `=`, `+`, `-`, `@`, tab, CR or NUL gets a leading
//! `'` so a spreadsheet shows it as text instead of evaluating it. Numeric cells are typed
//! ([`Cell::Int`], [`Cell::Float`]) and never prefixed, so `-5` stays a number.

use std::borrow::Cow;
use std::io::Write;

use actix_web::http::header;
use actix_web::{HttpResponse, HttpResponseBuilder};

use crate::db::repo::audit::AuditEvent;

/// The head of a CSV download saved as `filename` (the name is ours, never the user's).
pub fn attachment(filename: &str) -> HttpResponseBuilder {
    let mut resp = HttpResponse::Ok();
    resp.content_type("text/csv; charset=utf-8").insert_header((
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{filename}\""),
    ));
    resp
}

/// One cell of an export row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Text(&'a str),
    Int(i64),
    Float(f64),
    Empty,
}

impl<'a> From<&'a str> for Cell<'a> {
    fn from(s: &'a str) -> Self {
        Cell::Text(s)
    }
}

impl<'a> From<Option<&'a str>> for Cell<'a> {
    fn from(s: Option<&'a str>) -> Self {
        s.map_or(Cell::Empty, Cell::Text)
    }
}

impl From<i64> for Cell<'_> {
    fn from(n: i64) -> Self {
        Cell::Int(n)
    }
}

impl From<Option<i64>> for Cell<'_> {
    fn from(n: Option<i64>) -> Self {
        n.map_or(Cell::Empty, Cell::Int)
    }
}

/// Neutralises spreadsheet formulas in a text cell.
pub fn neutralize(text: &str) -> Cow<'_, str> {
    match text.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\0') => Cow::Owned(format!("'{text}")),
        _ => Cow::Borrowed(text),
    }
}

/// Writes rows of cells: RFC 4180 (CRLF line ends, fields quoted when they contain a
/// comma, quote, CR or LF; quotes doubled).
pub struct CsvExport<W: Write> {
    writer: csv::Writer<W>,
}

impl<W: Write> CsvExport<W> {
    pub fn new(out: W) -> Self {
        CsvExport {
            writer: csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .quote_style(csv::QuoteStyle::Necessary)
                .from_writer(out),
        }
    }

    /// A header row (plain text, neutralised like any text).
    pub fn header(&mut self, names: &[&str]) -> csv::Result<()> {
        self.row(names.iter().map(|n| Cell::Text(n)))
    }

    pub fn row<'a>(&mut self, cells: impl IntoIterator<Item = Cell<'a>>) -> csv::Result<()> {
        for cell in cells {
            match cell {
                Cell::Text(text) => self.writer.write_field(neutralize(text).as_bytes())?,
                Cell::Int(n) => self.writer.write_field(n.to_string())?,
                Cell::Float(x) if x.is_finite() => self.writer.write_field(x.to_string())?,
                Cell::Float(_) | Cell::Empty => self.writer.write_field("")?,
            }
        }
        self.writer.write_record(None::<&[u8]>)
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(self) -> Result<W, std::io::Error> {
        self.writer
            .into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}

/// Columns of the audit trail export.
pub const AUDIT_COLUMNS: [&str; 9] = [
    "occurred_at_utc",
    "action",
    "actor_user_id",
    "actor",
    "target_type",
    "target_id",
    "changed_fields",
    "client_addr",
    "request_id",
];

/// Writes one audit event; `actor` is the display name the page resolved (e-mail), if any.
pub fn write_audit_event<W: Write>(
    out: &mut CsvExport<W>,
    event: &AuditEvent,
    actor: Option<&str>,
) -> csv::Result<()> {
    let at = event.occurred_at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    out.row([
        Cell::Text(&at),
        Cell::Text(&event.action),
        event.actor_user_id.into(),
        actor.into(),
        event.target_type.as_deref().into(),
        event.target_id.as_deref().into(),
        event.changed_fields.as_deref().into(),
        event.client_addr.as_deref().into(),
        event.request_id.as_deref().into(),
    ])
}

/// One chunk of a streamed CSV download: the rows `write` adds, as bytes. Streamed exports
/// (rejections, alerts) write one keyset batch per chunk, so no export holds a whole table.
pub fn stream_chunk(
    write: impl FnOnce(&mut CsvExport<Vec<u8>>) -> csv::Result<()>,
) -> Result<actix_web::web::Bytes, crate::web::errors::AppError> {
    let mut export = CsvExport::new(Vec::new());
    write(&mut export)?;
    let bytes = export
        .finish()
        .map_err(|e| crate::web::errors::AppError::Internal(anyhow::Error::new(e)))?;
    Ok(actix_web::web::Bytes::from(bytes))
}

/// A streamed CSV download read by keyset: the `header`, then one chunk per batch of up to
/// `batch` rows that `fetch(after)` returns (`after` is `None` for the first batch, then
/// `key` of the previous batch's last row), each row written by `write`, until a batch comes
/// back short or empty. `fetch` is a service call (its read runs on the blocking pool, off
/// the runtime), so an export holds one batch at a time whatever its size — every streamed
/// export (alerts, claims, rejections, audit trail) is this loop. A failed batch ends the
/// download early (logged; the client sees a truncated body, never a partial row).
pub fn stream_keyset<T, K, E, Fetch, Fut, Key, Write>(
    header: &'static [&'static str],
    batch: i64,
    mut fetch: Fetch,
    key: Key,
    write: Write,
) -> impl futures_util::Stream<Item = Result<actix_web::web::Bytes, crate::web::errors::AppError>>
+ 'static
where
    T: 'static,
    K: 'static,
    E: Into<crate::web::errors::AppError>,
    Fetch: FnMut(Option<K>) -> Fut + 'static,
    Fut: std::future::Future<Output = Result<Vec<T>, E>> + 'static,
    Key: Fn(&T) -> K + Clone + 'static,
    Write: Fn(&mut CsvExport<Vec<u8>>, &T) -> csv::Result<()> + 'static,
{
    enum Next<K> {
        Header,
        After(Option<K>),
        Done,
    }
    enum Step<F> {
        Header,
        Fetch(F),
        Done,
    }
    let write = std::rc::Rc::new(write);
    futures_util::stream::try_unfold(Next::Header, move |next| {
        let step = match next {
            Next::Header => Step::Header,
            Next::After(after) => Step::Fetch(fetch(after)),
            Next::Done => Step::Done,
        };
        let (write, key) = (std::rc::Rc::clone(&write), key.clone());
        async move {
            let rows = match step {
                Step::Done => return Ok(None),
                Step::Header => {
                    return Ok(Some((
                        stream_chunk(|e| e.header(header))?,
                        Next::After(None),
                    )));
                }
                Step::Fetch(rows) => rows.await.map_err(|e| {
                    let e = e.into();
                    tracing::error!(error = %e, "CSV export failed mid-stream");
                    e
                })?,
            };
            let Some(last) = rows.last() else {
                return Ok(None);
            };
            let next = if (rows.len() as i64) < batch {
                Next::Done
            } else {
                Next::After(Some(key(last)))
            };
            let chunk = stream_chunk(|export| rows.iter().try_for_each(|row| write(export, row)))?;
            Ok(Some((chunk, next)))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(rows: &[Vec<Cell<'_>>]) -> String {
        let mut out = CsvExport::new(Vec::new());
        for row in rows {
            out.row(row.iter().copied()).expect("row");
        }
        String::from_utf8(out.finish().expect("flush")).expect("utf-8")
    }

    #[test]
    fn formula_cells_are_prefixed() {
        for (input, expected) in [
            ("=SUM(A1:A2)", "'=SUM(A1:A2)"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@cmd", "'@cmd"),
            ("\tx", "'\tx"),
            ("\0x", "'\0x"),
            ("Aetna", "Aetna"),
            ("", ""),
            ("a=b", "a=b"),
        ] {
            assert_eq!(neutralize(input), expected, "{input:?}");
        }
        // CR makes the field quoted as well as prefixed.
        assert_eq!(render(&[vec![Cell::Text("\rx")]]), "\"'\rx\"\r\n");
    }

    #[test]
    fn quoting_follows_rfc_4180() {
        let csv = render(&[
            vec![
                Cell::Text("a,b"),
                Cell::Text("say \"hi\""),
                Cell::Text("two\nlines"),
            ],
            vec![Cell::Text("plain"), Cell::Empty, Cell::Text("x")],
        ]);
        assert_eq!(
            csv,
            "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\"\r\nplain,,x\r\n"
        );
    }

    #[test]
    fn numbers_stay_numbers() {
        let csv = render(&[vec![
            Cell::Int(-5),
            Cell::Int(42),
            Cell::Float(-0.25),
            Cell::Float(f64::NAN),
            Cell::Text("-5"),
        ]]);
        assert_eq!(csv, "-5,42,-0.25,,'-5\r\n");
    }

    #[test]
    fn audit_rows_are_safe() {
        let event = AuditEvent {
            id: 1,
            occurred_at: chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
                .and_then(|d| d.and_hms_opt(9, 30, 0))
                .expect("valid"),
            customer_id: Some(3),
            actor_user_id: Some(7),
            action: "mapping.changed".into(),
            target_type: Some("payer_alias".into()),
            target_id: Some("=HYPERLINK(\"http://x\")".into()),
            changed_fields: Some("alias,canonical".into()),
            client_addr: Some("203.0.0.0".into()),
            request_id: Some("req-1".into()),
        };
        let mut out = CsvExport::new(Vec::new());
        out.header(&AUDIT_COLUMNS).expect("header");
        write_audit_event(&mut out, &event, Some("ann@clinic.example")).expect("row");
        let csv = String::from_utf8(out.finish().expect("flush")).expect("utf-8");
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[0], AUDIT_COLUMNS.join(","));
        assert_eq!(
            lines[1],
            "2026-11-24T09:30:00Z,mapping.changed,7,ann@clinic.example,payer_alias,\"'=HYPERLINK(\"\"http://x\"\")\",\"alias,canonical\",203.0.0.0,req-1"
        );
    }
}
