//! X12 835 remittance files (SPEC §2a, `docs/x12-835.md`): [`segments`] reads the
//! segment grammar with the file's own delimiters, [`envelope`] checks ISA/GS/ST nesting,
//! control numbers and counts, [`remit`] maps service lines to claim records. [`read`]
//! runs the three over a stream; memory does not grow with the file.
//!
//! No crate from the registry fitted (2026-12): the X12 crates there either parse a whole
//! file held in memory into typed structs, or are unmaintained single releases without
//! tests; the grammar itself is small.

pub mod envelope;
pub mod remit;
pub mod segments;

use std::io::Read;

use envelope::{Envelope, EnvelopeError, Role};
use remit::{Emit, RemitCounts, RemitMapper};
use segments::{SegmentError, SegmentReader};

use crate::domain::claim_key::TenantClaimKeys;

pub use segments::looks_like_x12;

/// A file-level problem of an 835 file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum X12Error {
    #[error("{0}")]
    Segment(#[from] SegmentError),
    #[error("{0}")]
    Envelope(#[from] EnvelopeError),
    #[error("the file has more than the limit of {limit} segments")]
    TooManySegments { limit: u64 },
    /// The consumer asked to stop (e.g. a row limit or a cancelled upload).
    #[error("stopped")]
    Stopped,
}

/// What a whole file held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub counts: RemitCounts,
    pub segments: u64,
    /// False for a file that starts at ST (accepted with a warning).
    pub enveloped: bool,
    pub interchanges: u64,
}

/// Reads an 835 file, calling `emit` for every service line (and claim without lines) in
/// file order. `emit` returns false to stop reading (`X12Error::Stopped`).
/// `keys`: the tenant's claim key (lines then carry `claim_key`, see `remit`).
pub fn read<R: Read>(
    input: R,
    max_segments: u64,
    keys: Option<TenantClaimKeys>,
    mut emit: impl FnMut(Emit<'_>) -> bool,
) -> Result<Summary, X12Error> {
    let mut reader = SegmentReader::new(input)?;
    let enveloped = reader.start().enveloped;
    let mut envelope = Envelope::new(enveloped);
    let mut mapper = RemitMapper::with_keys(keys);
    let stopped = std::cell::Cell::new(false);
    let mut sink = |e: Emit<'_>| {
        if !stopped.get() && !emit(e) {
            stopped.set(true);
        }
    };
    while let Some(seg) = reader.next_segment()? {
        if seg.number > max_segments {
            return Err(X12Error::TooManySegments {
                limit: max_segments,
            });
        }
        match envelope.accept(&seg)? {
            Role::TransactionStart => mapper.start_transaction(),
            Role::Body => mapper.segment(&seg, &mut sink),
            Role::TransactionEnd => mapper.end_transaction(&mut sink),
            Role::Envelope => {}
        }
        if stopped.get() {
            return Err(X12Error::Stopped);
        }
    }
    envelope.finish()?;
    Ok(Summary {
        counts: mapper.counts,
        segments: reader.segments_read(),
        enveloped,
        interchanges: envelope.interchanges,
    })
}

#[cfg(test)]
mod tests;
