//! Record-shape limits enforced on the raw bytes, before the CSV reader sees them (SPEC §2:
//! at most 256 columns, a record of at most 64 KiB, a field of at most 8 KiB).
//!
//! The `csv` crate builds a whole record before returning it: 30 MB of commas became a
//! record of 30 M field bounds (≈ 42× the file in memory), and a 160k-column header reached
//! the header resolution at all. This scanner follows csv-core's default dialect (comma,
//! `"` quoting with doubled quotes, CR or LF ends records, blank lines skipped) closely
//! enough to bound what the reader can accumulate: it fails the read that would carry a
//! record past a limit, so the reader never holds more than one limit plus one buffer.

use thiserror::Error;

/// The three limits (settings `PAYERWATCH_MAX_UPLOAD_COLUMNS`, `_RECORD_BYTES`,
/// `_FIELD_BYTES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShapeLimits {
    pub max_columns: usize,
    pub max_record_bytes: usize,
    pub max_field_bytes: usize,
}

impl Default for ShapeLimits {
    fn default() -> Self {
        ShapeLimits {
            max_columns: 256,
            max_record_bytes: 64 * 1024,
            max_field_bytes: 8 * 1024,
        }
    }
}

/// A record over a limit. `line` is the physical line where the record starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ShapeError {
    #[error(
        "line {line} has more than the limit of {limit} columns (PAYERWATCH_MAX_UPLOAD_COLUMNS)"
    )]
    TooManyColumns { line: u64, limit: usize },
    #[error(
        "the record starting on line {line} is longer than the limit of {} KiB (PAYERWATCH_MAX_UPLOAD_RECORD_BYTES)",
        limit / 1024
    )]
    RecordTooLong { line: u64, limit: usize },
    #[error(
        "a field of the record starting on line {line} is longer than the limit of {} KiB (PAYERWATCH_MAX_UPLOAD_FIELD_BYTES)",
        limit / 1024
    )]
    FieldTooLong { line: u64, limit: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between records (blank lines are skipped, as csv-core does).
    StartRecord,
    StartField,
    InField,
    InQuoted,
    /// A `"` inside a quoted field: either a doubled quote or the closing one.
    QuoteInQuoted,
}

/// Incremental scanner; feed it the file in order, in any chunking.
#[derive(Debug, Clone)]
pub struct Shape {
    limits: ShapeLimits,
    state: State,
    /// LF bytes seen so far (line numbers for the messages).
    lines: u64,
    record_line: u64,
    record_bytes: usize,
    field_bytes: usize,
    fields: usize,
    records: u64,
}

impl Shape {
    pub fn new(limits: ShapeLimits) -> Shape {
        Shape {
            limits,
            state: State::StartRecord,
            lines: 0,
            record_line: 1,
            record_bytes: 0,
            field_bytes: 0,
            fields: 0,
            records: 0,
        }
    }

    /// Records completed so far (a terminator seen after a non-blank record).
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Scans `chunk`; on error nothing after the offending byte matters.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), ShapeError> {
        for &b in chunk {
            if b == b'\n' {
                self.lines += 1;
            }
            if self.state == State::StartRecord {
                if b == b'\n' || b == b'\r' {
                    continue;
                }
                // The LF just counted (if any) ended the previous line.
                self.record_line = self.lines + 1;
                self.record_bytes = 0;
                self.field_bytes = 0;
                self.fields = 1;
                self.state = State::StartField;
            }
            self.record_bytes += 1;
            if self.record_bytes > self.limits.max_record_bytes {
                return Err(ShapeError::RecordTooLong {
                    line: self.record_line,
                    limit: self.limits.max_record_bytes,
                });
            }
            let terminator = b == b'\n' || b == b'\r';
            match self.state {
                State::InQuoted => {
                    if b == b'"' {
                        self.state = State::QuoteInQuoted;
                    }
                    self.grow_field()?;
                    continue;
                }
                State::QuoteInQuoted if b == b'"' => {
                    self.state = State::InQuoted;
                    self.grow_field()?;
                    continue;
                }
                State::StartField if b == b'"' => {
                    self.state = State::InQuoted;
                    self.grow_field()?;
                    continue;
                }
                _ => {}
            }
            if terminator {
                self.records += 1;
                self.state = State::StartRecord;
            } else if b == b',' {
                self.fields += 1;
                if self.fields > self.limits.max_columns {
                    return Err(ShapeError::TooManyColumns {
                        line: self.record_line,
                        limit: self.limits.max_columns,
                    });
                }
                self.field_bytes = 0;
                self.state = State::StartField;
            } else {
                self.state = State::InField;
                self.grow_field()?;
            }
        }
        Ok(())
    }

    /// End of input: a last record without a terminator still counts.
    pub fn finish(&mut self) {
        if self.state != State::StartRecord {
            self.records += 1;
            self.state = State::StartRecord;
        }
    }

    fn grow_field(&mut self) -> Result<(), ShapeError> {
        self.field_bytes += 1;
        if self.field_bytes > self.limits.max_field_bytes {
            return Err(ShapeError::FieldTooLong {
                line: self.record_line,
                limit: self.limits.max_field_bytes,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> ShapeLimits {
        ShapeLimits {
            max_columns: 4,
            max_record_bytes: 40,
            max_field_bytes: 10,
        }
    }

    fn scan(input: &[u8], chunk: usize) -> Result<u64, ShapeError> {
        let mut s = Shape::new(small());
        for c in input.chunks(chunk.max(1)) {
            s.feed(c)?;
        }
        s.finish();
        Ok(s.records())
    }

    #[test]
    fn counts_records_in_any_chunking() {
        let input = b"a,b,c\r\n\n\n\"x\ny\",\"q\"\"q\",z\nlast";
        for chunk in [1, 2, 3, 7, 100] {
            assert_eq!(scan(input, chunk), Ok(3), "chunk {chunk}");
        }
    }

    #[test]
    fn columns_over_the_limit_name_the_line() {
        assert_eq!(scan(b"a,b,c,d\n", 3), Ok(1));
        assert_eq!(
            scan(b"a,b\n\n\na,b,c,d,e\n", 3),
            Err(ShapeError::TooManyColumns { line: 4, limit: 4 })
        );
        // Commas inside quotes are data.
        assert_eq!(scan(b"\"a,,,,b\"\n", 5), Ok(1));
    }

    #[test]
    fn fields_and_records_over_the_limit() {
        assert_eq!(scan(b"0123456789\n", 4), Ok(1));
        assert_eq!(
            scan(b"x\n01234567890\n", 4),
            Err(ShapeError::FieldTooLong { line: 2, limit: 10 })
        );
        // An unbalanced quote swallows the rest of the file into one field.
        assert_eq!(
            scan(b"\"abc\n\n\n\n\n\n\n\n\n\n\n", 4),
            Err(ShapeError::FieldTooLong { line: 1, limit: 10 })
        );
        let long = b"0123456789,0123456789,0123456789,0123456789\n";
        assert_eq!(
            scan(long, 8),
            Err(ShapeError::RecordTooLong { line: 1, limit: 40 })
        );
        assert!(
            ShapeError::RecordTooLong {
                line: 1,
                limit: 65536
            }
            .to_string()
            .contains("64 KiB")
        );
    }

    #[test]
    fn commas_alone_stop_at_the_column_limit() {
        let commas = vec![b','; 1_000_000];
        assert!(matches!(
            scan(&commas, 4096),
            Err(ShapeError::TooManyColumns { line: 1, .. })
        ));
    }
}
