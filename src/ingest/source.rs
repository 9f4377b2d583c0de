//! The byte source of an upload: counts bytes against the size limit, computes the
//! SHA-256 and notes where lines end while the CSV reader pulls data, so the file is read
//! exactly once and never held in memory.
//!
//! Line numbers: csv-core's own line counter skips newlines inside quoted fields (its
//! fast copy path does not count them), so rejections would point at the wrong line.
//! We count LF bytes ourselves and translate a record's byte offset into the physical
//! line where it starts. Only the newlines of the read-ahead buffer are queued.

use std::collections::VecDeque;
use std::io::{self, Read};

use sha2::{Digest, Sha256};

/// Wraps the upload's reader; fails the read that crosses `limit`.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    limit: u64,
    exceeded: bool,
    /// Offsets of LF bytes read but not yet passed by a record start.
    newlines: VecDeque<u64>,
    lines_passed: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R, limit: u64) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
            limit,
            exceeded: false,
            newlines: VecDeque::new(),
            lines_passed: 0,
        }
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
        let start = self.bytes - n as u64;
        self.newlines
            .extend(memchr::memchr_iter(b'\n', &buf[..n]).map(|i| start + i as u64));
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
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
}
