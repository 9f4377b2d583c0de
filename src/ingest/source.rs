//! The byte source of an upload: counts bytes against the size limit, computes the
//! SHA-256 and notes where lines end while the CSV reader pulls data, so the file is read
//! exactly once and never held in memory.
//!
//! Line numbers: csv-core's own line counter skips newlines inside quoted fields (its
//! fast copy path does not count them), so rejections would point at the wrong line.
//! We count LF bytes ourselves and translate a record's byte offset into the physical
//! line where it starts. Only the newlines of the last two reads are queued (a record's
//! end is always in the latest read, see [`HashingReader::read`]), so 40 MB of blank lines
//! no longer queue 40 M offsets. The record-shape limits ([`Shape`]) are checked here too,
//! on the bytes before the CSV reader accumulates them.

use std::collections::VecDeque;
use std::io::{self, Read};

use sha2::{Digest, Sha256};

use super::shape::{Shape, ShapeError, ShapeLimits};

/// Wraps the upload's reader; fails the read that crosses `limit`.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    limit: u64,
    exceeded: bool,
    /// Offsets of LF bytes of the last two reads not yet passed by a record start.
    newlines: VecDeque<u64>,
    lines_passed: u64,
    /// Where the previous read started: older newlines are folded into `lines_passed`.
    previous_read: u64,
    shape: Shape,
    shape_error: Option<ShapeError>,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R, limit: u64) -> Self {
        Self::with_shape(inner, limit, ShapeLimits::default())
    }

    pub fn with_shape(inner: R, limit: u64, shape: ShapeLimits) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
            limit,
            exceeded: false,
            newlines: VecDeque::new(),
            lines_passed: 0,
            previous_read: 0,
            shape: Shape::new(shape),
            shape_error: None,
        }
    }

    /// The record-shape limit that stopped the reading, if any.
    pub fn shape_error(&self) -> Option<ShapeError> {
        self.shape_error
    }

    /// The 1-based physical line of the byte at `offset` (LF bytes before it + 1).
    /// Offsets must not decrease between calls (records come in file order).
    pub fn line_at(&mut self, offset: u64) -> u64 {
        while self.newlines.front().is_some_and(|&nl| nl < offset) {
            self.newlines.pop_front();
            self.lines_passed += 1;
        }
        self.lines_passed + 1
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// True once the input went over the size limit.
    pub fn exceeded(&self) -> bool {
        self.exceeded
    }

    /// Hex SHA-256 of everything read.
    pub fn finish(self) -> String {
        hex::encode(self.hasher.finalize())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        if self.bytes > self.limit {
            self.exceeded = true;
            return Err(io::Error::other("upload exceeds the size limit"));
        }
        if let Err(e) = self.shape.feed(&buf[..n]) {
            self.shape_error = Some(e);
            return Err(io::Error::other("upload record over a shape limit"));
        }
        let start = self.bytes - n as u64;
        // The CSV reader only reads again once its buffer is consumed, and returns a
        // record as soon as it reads the record's terminator, so every later `line_at`
        // offset lies in this read or after it. One read of margin is kept regardless.
        while self
            .newlines
            .front()
            .is_some_and(|&nl| nl < self.previous_read)
        {
            self.newlines.pop_front();
            self.lines_passed += 1;
        }
        self.previous_read = start;
        self.newlines
            .extend(memchr::memchr_iter(b'\n', &buf[..n]).map(|i| start + i as u64));
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Reads the head of an upload up to the end of its first record (the header), bounded by
/// the record limit plus one read, so the header can be checked before any database lock
/// or connection is taken. Returns the bytes read, whether they hold the whole first record
/// (false only after many leading blank lines), and the rest of the input.
pub fn read_head<R: Read>(mut input: R, shape: ShapeLimits) -> io::Result<(Vec<u8>, bool, R)> {
    const READ: usize = 16 * 1024;
    let cap = shape.max_record_bytes.saturating_add(READ);
    let mut scanner = Shape::new(ShapeLimits {
        max_record_bytes: usize::MAX,
        max_field_bytes: usize::MAX,
        max_columns: usize::MAX,
    });
    let mut head = Vec::new();
    let mut chunk = vec![0u8; READ];
    let mut complete = false;
    while !complete && head.len() < cap {
        let n = match input.read(&mut chunk) {
            Ok(0) => {
                complete = true;
                break;
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        head.extend_from_slice(&chunk[..n]);
        // Unlimited here: the limits are judged by the real reader, with its messages.
        let _ = scanner.feed(&chunk[..n]);
        complete = scanner.records() > 0;
    }
    Ok((head, complete, input))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_counts() {
        let mut r = HashingReader::new(&b"abc"[..], 10);
        let mut out = Vec::new();
        r.read_to_end(&mut out).expect("read");
        assert_eq!(r.bytes_read(), 3);
        assert_eq!(
            r.finish(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn lines_of_offsets() {
        let mut r = HashingReader::new(&b"a\nb\"x\ny\"\nc\n"[..], 100);
        let mut out = Vec::new();
        r.read_to_end(&mut out).expect("read");
        assert_eq!(r.line_at(0), 1);
        assert_eq!(r.line_at(2), 2);
        assert_eq!(r.line_at(10), 4);
    }

    #[test]
    fn refuses_past_the_limit() {
        let mut r = HashingReader::new(&b"abcdef"[..], 4);
        let mut out = Vec::new();
        assert!(r.read_to_end(&mut out).is_err());
        assert!(r.exceeded());
    }

    #[test]
    fn blank_lines_queue_no_offsets() {
        let newlines = vec![b'\n'; 1_000_000];
        let mut r = HashingReader::new(&newlines[..], u64::MAX);
        let mut buf = vec![0u8; 4096];
        while r.read(&mut buf).expect("read") > 0 {}
        assert!(r.newlines.len() <= 2 * 4096, "{}", r.newlines.len());
        assert_eq!(r.line_at(999_999), 1_000_000);
    }

    #[test]
    fn shape_limits_stop_the_read() {
        let commas = vec![b','; 100_000];
        let mut r = HashingReader::new(&commas[..], u64::MAX);
        let mut out = Vec::new();
        assert!(r.read_to_end(&mut out).is_err());
        assert!(matches!(
            r.shape_error(),
            Some(ShapeError::TooManyColumns { limit: 256, .. })
        ));
    }

    #[test]
    fn head_is_the_first_record_at_most() {
        let input = b"a,b\nc,d\n".repeat(10_000);
        let (head, complete, mut rest) =
            read_head(&input[..], ShapeLimits::default()).expect("head");
        assert!(complete);
        assert!(head.starts_with(b"a,b\n") && head.len() <= 16 * 1024);
        let mut tail = Vec::new();
        rest.read_to_end(&mut tail).expect("rest");
        assert_eq!([head, tail].concat(), input);
        let blank = vec![b'\n'; 10_000_000];
        let (head, complete, _) = read_head(&blank[..], ShapeLimits::default()).expect("head");
        assert!(head.len() <= 64 * 1024 + 16 * 1024 && !complete);
    }
}
