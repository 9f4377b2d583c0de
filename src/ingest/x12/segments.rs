//! The X12 segment grammar, streamed: delimiters come from the ISA header (or, for a file
//! that starts at ST, are the usual `*`, `:` and `~`), segments are read one at a time into
//! a reused buffer, so memory is bounded by the longest allowed segment, never the file.
//!
//! Line breaks between segments (after the terminator) are common and ignored. Bytes that
//! no text file holds (NUL and other control characters) make the file "not X12".

use std::io::{BufRead, BufReader, Chain, Cursor, Read};
use std::ops::Range;

/// A segment longer than this is a file-level error (the CSV record limit).
pub const MAX_SEGMENT_BYTES: usize = 64 * 1024;
/// Elements per segment (the CSV column limit).
pub const MAX_ELEMENTS: usize = 256;

/// The four separators of an interchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiters {
    pub element: u8,
    pub component: u8,
    /// ISA11 in 005010 (`^` usually); 004010 has none.
    pub repetition: Option<u8>,
    pub segment: u8,
}

impl Default for Delimiters {
    /// The usual set, assumed for files that start at ST (no ISA to read them from).
    fn default() -> Self {
        Delimiters {
            element: b'*',
            component: b':',
            repetition: Some(b'^'),
            segment: b'~',
        }
    }
}

/// Why the byte stream is not a readable X12 file. Messages name segment numbers, never
/// element values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    #[error("the file does not start with an ISA or ST segment")]
    NotX12,
    #[error("the ISA segment is malformed (it must be 106 characters with fixed-width fields)")]
    BadIsa,
    #[error("segment {segment} holds binary data (not an X12 text file)")]
    Binary { segment: u64 },
    #[error("segment {segment} is longer than {MAX_SEGMENT_BYTES} bytes")]
    TooLong { segment: u64 },
    #[error("segment {segment} has more than {MAX_ELEMENTS} elements")]
    TooManyElements { segment: u64 },
    #[error("segment {segment} has no valid segment identifier")]
    BadId { segment: u64 },
    #[error("the file ends inside segment {segment} (no segment terminator)")]
    Truncated { segment: u64 },
    #[error("reading the file failed: {0}")]
    Read(String),
}

/// Positions of the ISA element separators in its fixed 106-byte layout.
const ISA_SEPARATORS: [usize; 16] = [
    3, 6, 17, 20, 31, 34, 50, 53, 69, 76, 81, 83, 89, 99, 101, 103,
];
const ISA_LEN: usize = 106;

/// How the file begins: the delimiters and whether it has an interchange envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    pub delimiters: Delimiters,
    pub enveloped: bool,
}

/// True when the first bytes (after a BOM and whitespace) look like X12: `ISA` followed
/// by a separator, or `ST` + separator + `835`. Used for format detection by content.
pub fn looks_like_x12(head: &[u8]) -> bool {
    let head = skip_preamble(head);
    if head.len() >= 4 && head.starts_with(b"ISA") && !head[3].is_ascii_alphanumeric() {
        return true;
    }
    head.len() >= 6
        && head.starts_with(b"ST")
        && !head[2].is_ascii_alphanumeric()
        && &head[3..6] == b"835"
}

fn skip_preamble(b: &[u8]) -> &[u8] {
    let b = b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b);
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

/// One segment, borrowed from the reader's buffer until the next call.
#[derive(Debug)]
pub struct Segment<'a> {
    /// 1-based position in the file (ISA = 1).
    pub number: u64,
    buf: &'a [u8],
    elements: &'a [Range<u32>],
    component: u8,
    repetition: Option<u8>,
}

impl<'a> Segment<'a> {
    /// The segment identifier (`CLP`, `SVC`, …).
    pub fn id(&self) -> &'a [u8] {
        self.slice(0)
    }

    /// Element `n` (1-based as in the implementation guides: `CLP02` = `element(2)`),
    /// empty when absent.
    pub fn element(&self, n: usize) -> &'a [u8] {
        self.slice(n)
    }

    /// Element `n` as text; empty when absent or not UTF-8.
    pub fn text(&self, n: usize) -> &'a str {
        std::str::from_utf8(self.element(n)).unwrap_or("").trim()
    }

    /// Component `c` (1-based) of composite element `n`.
    pub fn component(&self, n: usize, c: usize) -> &'a str {
        let e = self.element(n);
        let e = match self.repetition {
            Some(r) => e.split(|&b| b == r).next().unwrap_or(e),
            None => e,
        };
        e.split(|&b| b == self.component)
            .nth(c.saturating_sub(1))
            .and_then(|s| std::str::from_utf8(s).ok())
            .unwrap_or("")
            .trim()
    }

    /// Elements after the identifier.
    pub fn len(&self) -> usize {
        self.elements.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn slice(&self, n: usize) -> &'a [u8] {
        self.elements
            .get(n)
            .map_or(&[][..], |r| &self.buf[r.start as usize..r.end as usize])
    }
}

/// Streams the segments of an X12 file.
pub struct SegmentReader<R> {
    inner: BufReader<Chain<Cursor<Vec<u8>>, R>>,
    start: Start,
    buf: Vec<u8>,
    elements: Vec<Range<u32>>,
    number: u64,
}

impl<R: Read> SegmentReader<R> {
    /// Reads the start of the file (the ISA, or the ST's first bytes) to learn the
    /// delimiters; nothing is consumed.
    pub fn new(mut inner: R) -> Result<Self, SegmentError> {
        let head_buf = read_head(&mut inner, 512)?;
        let skipped = head_buf.len() - skip_preamble(&head_buf).len();
        let head = &head_buf[skipped..];
        let start = if head.starts_with(b"ISA") {
            if head.len() < ISA_LEN {
                return Err(SegmentError::BadIsa);
            }
            let element = head[3];
            if element.is_ascii_alphanumeric() || ISA_SEPARATORS.iter().any(|&i| head[i] != element)
            {
                return Err(SegmentError::BadIsa);
            }
            let component = head[104];
            let segment = head[105];
            // ISA11 is the repetition separator from 00501 on (ISA12), a standards
            // identifier letter before.
            let rep = head[82];
            let repetition = (&head[84..89] >= b"00501".as_slice() && !rep.is_ascii_alphanumeric())
                .then_some(rep);
            if [component, segment]
                .iter()
                .any(|b| b.is_ascii_alphanumeric())
                || component == element
                || segment == element
            {
                return Err(SegmentError::BadIsa);
            }
            Start {
                delimiters: Delimiters {
                    element,
                    component,
                    repetition,
                    segment,
                },
                enveloped: true,
            }
        } else if looks_like_x12(head) {
            let element = head[2];
            let mut d = Delimiters {
                element,
                ..Delimiters::default()
            };
            // Without an ISA the terminator is whatever ends the ST segment: the first
            // byte after "ST*835*<control number>" that is not part of an element.
            if let Some(&t) = head[3..]
                .iter()
                .find(|b| !b.is_ascii_alphanumeric() && **b != element && **b != b' ')
            {
                d.segment = t;
            }
            if d.component == d.segment || d.component == element {
                d.component = b'>';
            }
            Start {
                delimiters: d,
                enveloped: false,
            }
        } else {
            return Err(SegmentError::NotX12);
        };
        let mut head_buf = head_buf;
        head_buf.drain(..skipped);
        let inner = BufReader::with_capacity(256 * 1024, Cursor::new(head_buf).chain(inner));
        Ok(SegmentReader {
            inner,
            start,
            buf: Vec::with_capacity(1024),
            elements: Vec::with_capacity(32),
            number: 0,
        })
    }

    pub fn start(&self) -> Start {
        self.start
    }

    /// The number of the last segment returned.
    pub fn segments_read(&self) -> u64 {
        self.number
    }

    /// The next segment, or `None` at the end of the file.
    pub fn next_segment(&mut self) -> Result<Option<Segment<'_>>, SegmentError> {
        let d = self.start.delimiters;
        self.buf.clear();
        self.elements.clear();
        // Skip line breaks and spaces between segments.
        loop {
            let avail = self.inner.fill_buf().map_err(read_error)?;
            if avail.is_empty() {
                return Ok(None);
            }
            let ws = avail.iter().take_while(|b| b.is_ascii_whitespace()).count();
            let done = ws < avail.len();
            self.inner.consume(ws);
            if done {
                break;
            }
        }
        self.number += 1;
        let number = self.number;
        loop {
            let avail = self.inner.fill_buf().map_err(read_error)?;
            if avail.is_empty() {
                return Err(SegmentError::Truncated { segment: number });
            }
            match memchr::memchr(d.segment, avail) {
                Some(i) => {
                    if self.buf.len() + i > MAX_SEGMENT_BYTES {
                        return Err(SegmentError::TooLong { segment: number });
                    }
                    self.buf.extend_from_slice(&avail[..i]);
                    self.inner.consume(i + 1);
                    break;
                }
                None => {
                    let n = avail.len();
                    if self.buf.len() + n > MAX_SEGMENT_BYTES {
                        return Err(SegmentError::TooLong { segment: number });
                    }
                    self.buf.extend_from_slice(avail);
                    self.inner.consume(n);
                }
            }
        }
        // A CR before a newline-style terminator, or trailing spaces, belong to no element.
        while self.buf.last().is_some_and(|b| b.is_ascii_whitespace()) {
            self.buf.pop();
        }
        if self
            .buf
            .iter()
            .any(|&b| b < 0x20 && b != b'\t' && b != b'\r' && b != b'\n' || b == 0x7f)
        {
            return Err(SegmentError::Binary { segment: number });
        }
        let mut from = 0u32;
        for i in memchr::memchr_iter(d.element, &self.buf) {
            self.elements.push(from..i as u32);
            from = i as u32 + 1;
            if self.elements.len() > MAX_ELEMENTS {
                return Err(SegmentError::TooManyElements { segment: number });
            }
        }
        self.elements.push(from..self.buf.len() as u32);
        let id = &self.buf[self.elements[0].start as usize..self.elements[0].end as usize];
        if !(2..=3).contains(&id.len()) || !id.iter().all(u8::is_ascii_alphanumeric) {
            return Err(SegmentError::BadId { segment: number });
        }
        Ok(Some(Segment {
            number,
            buf: &self.buf,
            elements: &self.elements,
            component: d.component,
            repetition: d.repetition,
        }))
    }
}

fn read_error(e: std::io::Error) -> SegmentError {
    SegmentError::Read(e.to_string())
}

/// Reads up to `n` bytes (fewer only at the end of the input).
fn read_head<R: Read>(r: &mut R, n: usize) -> Result<Vec<u8>, SegmentError> {
    let mut head = vec![0u8; n];
    let mut have = 0;
    while have < n {
        match r.read(&mut head[have..]) {
            Ok(0) => break,
            Ok(k) => have += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_error(e)),
        }
    }
    head.truncate(have);
    Ok(head)
}
