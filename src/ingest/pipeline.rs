//! The row loop: bytes → CSV records → validated, PHI-checked, mapped claims → batches.
//!
//! Runs as a producer on its own thread ([`produce`]); the caller's thread writes the
//! batches to the database (see `ingest::process`), so parsing and inserting overlap.
//! A batch owns a text arena with the accepted rows' strings, so memory is bounded by
//! the batch size and the channel depth, never by the file.

use std::io::Read;
use std::ops::Range;
use std::sync::mpsc::SyncSender;

use chrono::NaiveDate;

use super::FileError;
use super::mapper::{Caches, GroupId, Mappings};
use super::payer_ids::{FilePayerIds, PayerIds};
use super::report::{Tally, X12Report};
use super::shape::ShapeLimits;
use super::source::HashingReader;
use super::x12::{self, X12Error, remit::Emit, remit::LineOutcome};
#[cfg(test)]
use super::{shape::Shape, source};
use crate::db::repo::claims::NewClaimRef;
use crate::db::repo::reversals::NewReversal;
use crate::db::repo::rollups::UploadRollup;
use crate::db::repo::upload_lifecycle::NewRejection;
use crate::domain::claim::{Column, CptCode, Outcome, RawRow, RejectReason, validate_row_with};
use crate::domain::claim_key::TenantClaimKeys;
use crate::domain::csv_format::{HeaderMap, resolve_headers};

/// Rows per batch: a multiple of SQLite's rows per statement (2,520), and a COPY chunk
/// of a few MB on PostgreSQL.
pub const BATCH_ROWS: usize = 2_520 * 8;

/// Accepted rows per payer spelling that kept its name as written.
pub type SpellingCounts = std::collections::HashMap<Box<str>, u64>;

/// Most distinct spellings one upload counts for the same-key merge.
pub const SPELLING_LIMIT: usize = 20_000;

/// Accepted rows and rejections of a slice of the file.
#[derive(Debug, Default)]
pub struct Batch {
    arena: String,
    rows: Vec<Row>,
    pub rejections: Vec<NewRejection>,
    /// 835 reversal claims (CLP02 = 22) of this slice of the file.
    pub reversals: Vec<NewReversal>,
    /// Data rows (accepted + rejected) the batch covers.
    pub rows_seen: u64,
}

#[derive(Debug)]
struct Row {
    payer_raw: Range<u32>,
    alias: Option<u32>,
    cpt: CptCode,
    group: GroupId,
    submitted: NaiveDate,
    decided: NaiveDate,
    days: i32,
    outcome: Outcome,
    cents: Option<i64>,
    code: Option<Range<u32>>,
    text: Option<Range<u32>>,
    /// The canonical payer when the 835 payer id decided it (else `alias`/`payer_raw`).
    payer: Option<Range<u32>>,
    x12: Option<X12Row>,
}

/// What an 835 line stores beyond the CSV's columns (`docs/x12-835.md`).
#[derive(Debug)]
struct X12Row {
    payer_id: Option<Range<u32>>,
    modifiers: Option<Range<u32>>,
    remarks: Option<Range<u32>>,
    adjustments: Option<Range<u32>>,
    claim_key: Option<i64>,
    segment: i64,
}

impl Batch {
    fn push_str(&mut self, s: &str) -> Range<u32> {
        let start = self.arena.len() as u32;
        self.arena.push_str(s);
        start..self.arena.len() as u32
    }

    /// Reason codes are matched case-insensitively and kept upper-cased, so `co-16` and
    /// `CO-16` are one DenialScope group. Codes are ASCII (checked by the validator).
    fn push_upper(&mut self, s: &str) -> Range<u32> {
        let start = self.arena.len() as u32;
        self.arena.extend(s.chars().map(|c| c.to_ascii_uppercase()));
        start..self.arena.len() as u32
    }

    fn str(&self, r: &Range<u32>) -> &str {
        arena_str(&self.arena, r)
    }

    /// A non-empty value into the arena.
    fn push_opt(&mut self, s: &str) -> Option<Range<u32>> {
        (!s.is_empty()).then(|| self.push_str(s))
    }

    fn opt(&self, r: &Option<Range<u32>>) -> Option<&str> {
        r.as_ref().map(|r| self.str(r))
    }

    /// Orders the accepted rows as SQLite's covering index `claims_customer_decided_cover_idx`
    /// orders a tenant's claims (decided day, payer, CPT group, outcome, decision days,
    /// submitted day, allowed amount, reason code). The stage then records about one run per
    /// day and batch, each in index order, and the move (`ClaimWriter::finish`, day by day,
    /// no sort) inserts each run along the index rather than at random places in the day's
    /// range — which matters once one day holds more rows than the page cache, as in an 835
    /// whose claims share a payment date. PostgreSQL's index keys (tenant, decided day) only.
    /// Row order carries no meaning.
    fn sort_for_indexes(&mut self, mappings: &Mappings) {
        let arena = self.arena.as_str();
        let key = |r: &Row| {
            (
                r.decided,
                payer_of(arena, mappings, r),
                mappings.group_name(r.group),
                r.outcome.as_str(),
                r.days,
                r.submitted,
                r.cents,
                r.code.as_ref().map(|c| arena_str(arena, c)),
            )
        };
        self.rows.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
    }

    pub fn accepted(&self) -> usize {
        self.rows.len()
    }

    /// Counts the accepted rows per spelling that no alias, built-in name or 835 payer id
    /// claimed (the input of the same-key merge). Bounded like the caches: past
    /// [`SPELLING_LIMIT`] distinct spellings, new ones are not counted (they stay as written).
    pub fn count_unmapped(&self, counts: &mut SpellingCounts) {
        for r in self
            .rows
            .iter()
            .filter(|r| r.alias.is_none() && r.payer.is_none())
        {
            let raw = self.str(&r.payer_raw);
            if let Some(n) = counts.get_mut(raw) {
                *n += 1;
            } else if counts.len() < SPELLING_LIMIT {
                counts.insert(raw.into(), 1);
            }
        }
    }

    /// The accepted rows as insertable claims borrowing from this batch.
    pub fn claims<'b>(
        &'b self,
        mappings: &'b Mappings,
        customer_id: i64,
        upload_id: i64,
    ) -> Vec<NewClaimRef<'b>> {
        self.claim_refs(mappings, customer_id, upload_id).collect()
    }

    /// [`claims`](Self::claims) one at a time: the rows the writer writes, as the rollup
    /// tally sees them.
    fn claim_refs<'b>(
        &'b self,
        mappings: &'b Mappings,
        customer_id: i64,
        upload_id: i64,
    ) -> impl Iterator<Item = NewClaimRef<'b>> + 'b {
        self.rows.iter().map(move |r| {
            let x = r.x12.as_ref();
            NewClaimRef {
                customer_id,
                upload_id,
                payer_raw: self.str(&r.payer_raw),
                payer: payer_of(&self.arena, mappings, r),
                cpt: r.cpt.as_str(),
                cpt_group: mappings.group_name(r.group),
                submitted_date: r.submitted,
                decided_date: r.decided,
                decision_days: r.days,
                outcome: r.outcome.as_str(),
                allowed_cents: r.cents,
                denial_reason_code: r.code.as_ref().map(|c| self.str(c)),
                denial_reason_text: r.text.as_ref().map(|t| self.str(t)),
                payer_id: x.and_then(|x| self.opt(&x.payer_id)),
                modifiers: x.and_then(|x| self.opt(&x.modifiers)),
                remark_codes: x.and_then(|x| self.opt(&x.remarks)),
                adjustments: x.and_then(|x| self.opt(&x.adjustments)),
                claim_key: x.and_then(|x| x.claim_key),
                svc_segment: x.map(|x| x.segment),
            }
        })
    }

    /// Sorts the batch for the writer and adds its accepted rows to the upload's rollup
    /// delta (on the parser thread: the writer thread is the ingest's bottleneck).
    fn seal(&mut self, mappings: &Mappings, upload_id: i64, rollup: &mut UploadRollup) {
        self.sort_for_indexes(mappings);
        for claim in self.claim_refs(mappings, 0, upload_id) {
            rollup.add(&claim);
        }
    }
}

fn arena_str<'a>(arena: &'a str, r: &Range<u32>) -> &'a str {
    &arena[r.start as usize..r.end as usize]
}

/// The row's canonical payer: the one its 835 payer id decided, else its alias's, else the
/// spelling as written.
fn payer_of<'a>(arena: &'a str, mappings: &'a Mappings, r: &Row) -> &'a str {
    match &r.payer {
        Some(p) => arena_str(arena, p),
        None => r
            .alias
            .map_or(arena_str(arena, &r.payer_raw), |a| mappings.canonical(a)),
    }
}

/// What the producer hands back after the last batch.
#[derive(Debug)]
pub struct Produced {
    pub tally: Tally,
    pub unknown_columns: Vec<String>,
    pub size_bytes: u64,
    pub sha256: String,
    /// Counts of an 835 file (absent for CSV).
    pub x12: Option<X12Report>,
    /// The rollup delta of the accepted rows of every batch sent (issue 21), stored by
    /// the commit (`rollups::write_upload`).
    pub rollup: UploadRollup,
}

pub struct ProduceArgs<'a> {
    pub mappings: &'a Mappings,
    /// The tenant's key for 835 claim references (reversal matching); `None`: not kept.
    pub claim_keys: Option<&'a TenantClaimKeys>,
    /// Canonical payers by 835 payer id already stored for the tenant.
    pub payer_ids: &'a PayerIds,
    pub upload_id: i64,
    pub today: NaiveDate,
    pub max_bytes: u64,
    pub max_rows: u64,
    pub shape: ShapeLimits,
}

/// Reads the whole input and sends batches; returns the tally, or the file-level error
/// that stops the upload. Stops quietly (`Cancelled`) when the receiver went away.
/// The format is told by content: an X12 835 starts with `ISA` or `ST*835`, anything
/// else is read as CSV.
pub fn produce<R: Read>(
    mut input: R,
    args: &ProduceArgs<'_>,
    tx: &SyncSender<Batch>,
) -> Result<Produced, FileError> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut input)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| FileError::Read(e.kind().to_string()))?;
    let input = std::io::Cursor::new(head).chain(input);
    if x12::looks_like_x12(input.get_ref().0.get_ref()) {
        produce_x12(input, args, tx)
    } else {
        produce_csv(input, args, tx)
    }
}

/// Enough for a BOM, blank lines and `ISA*`.
const SNIFF_BYTES: usize = 64;

fn produce_csv<R: Read>(
    input: R,
    args: &ProduceArgs<'_>,
    tx: &SyncSender<Batch>,
) -> Result<Produced, FileError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(256 * 1024)
        .from_reader(HashingReader::with_shape(input, args.max_bytes, args.shape));
    let io_error = |rdr: &csv::Reader<HashingReader<R>>, e: csv::Error| {
        if let Some(shape) = rdr.get_ref().shape_error() {
            FileError::Shape(shape)
        } else if rdr.get_ref().exceeded() {
            FileError::TooLarge {
                limit: args.max_bytes,
            }
        } else {
            FileError::from_csv(e)
        }
    };

    let mut record = csv::ByteRecord::new();
    let header = match rdr.read_byte_record(&mut record) {
        Ok(true) => read_header(&record)?,
        Ok(false) => return Err(FileError::Empty),
        Err(e) => return Err(io_error(&rdr, e)),
    };

    let mut rows = Rows::new(args, tx, CptCode::parse);
    loop {
        match rdr.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(io_error(&rdr, e)),
        }
        // csv reports the position *before* skipped line ends, so work back from the
        // record's end: its last line minus the newlines inside its quoted fields.
        let end = rdr.position().byte();
        let last_line = rdr.get_mut().line_at(end.saturating_sub(1));
        let inner = memchr::memchr_iter(b'\n', record.as_slice()).count() as u64;
        let line = last_line.saturating_sub(inner).max(2);
        let raw = header
            .raw_row_from_bytes(&record)
            .map_err(|e| FileError::NotUtf8 {
                line,
                column: e.column.as_str(),
            })?;
        rows.row(&raw, line, None)?;
    }
    let (tally, rollup) = rows.finish()?;
    let source = rdr.into_inner();
    Ok(Produced {
        tally,
        unknown_columns: header.unknown_columns().to_vec(),
        size_bytes: source.bytes_read(),
        sha256: source.finish(),
        x12: None,
        rollup,
    })
}

/// Segments allowed per service-line limit: a line takes 3–10 segments (SVC, DTM, CAS,
/// AMT, LQ, REF) plus its claim's share.
const SEGMENTS_PER_ROW: u64 = 25;

/// The 835 reader: service lines become rows (SPEC §2a). Reversals (CLP02 = 22) are
/// counted, never stored as decisions; a claim without service lines is a rejected row
/// (`cpt`, `missing_value`) naming its CLP segment.
fn produce_x12<R: Read>(
    input: R,
    args: &ProduceArgs<'_>,
    tx: &SyncSender<Batch>,
) -> Result<Produced, FileError> {
    // No record-shape limits: an 835 may be one long line; the segment reader bounds
    // segments and elements itself.
    let mut source = HashingReader::new(input, args.max_bytes);
    let mut rows = Rows::new(args, tx, CptCode::parse_procedure);
    let mut failed: Option<FileError> = None;
    let mut buf = LineBuffers::default();
    let read = x12::read(
        &mut source,
        args.max_rows.saturating_mul(SEGMENTS_PER_ROW),
        args.claim_keys.cloned(),
        |item| {
            let done = match item {
                Emit::Line(l) if l.reversal => Ok(()),
                Emit::Line(l) => {
                    buf.fill(l);
                    let raw = buf.raw(l);
                    let extras = LineExtras {
                        payer_id: valid_payer_id(&l.payer_id),
                        modifiers: &buf.modifiers,
                        remarks: &buf.remarks,
                        adjustments: &buf.adjustments,
                        claim_key: l.claim_key,
                    };
                    rows.row(&raw, l.segment, Some(&extras))
                }
                Emit::Lineless(c) => {
                    rows.reject(c.segment, &[(Column::Cpt, RejectReason::MissingValue)])
                }
                Emit::Reversal(r) => {
                    rows.reversal(r.segment, r.claim_key, r.lines);
                    Ok(())
                }
            };
            match done {
                Ok(()) => true,
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        },
    );
    let summary = match read {
        Ok(summary) => summary,
        Err(_) if source.exceeded() => {
            return Err(FileError::TooLarge {
                limit: args.max_bytes,
            });
        }
        Err(X12Error::Stopped) => {
            return Err(failed.unwrap_or(FileError::Cancelled));
        }
        Err(e) => return Err(FileError::X12(e)),
    };
    let (tally, rollup) = rows.finish()?;
    Ok(Produced {
        tally,
        unknown_columns: Vec::new(),
        size_bytes: source.bytes_read(),
        sha256: source.finish(),
        x12: Some(X12Report::from_summary(&summary)),
        rollup,
    })
}

/// Reused text buffers for one 835 line's CSV-shaped values and its extra columns.
#[derive(Debug, Default)]
struct LineBuffers {
    submitted: String,
    decided: String,
    allowed: String,
    reason: String,
    codes: String,
    modifiers: String,
    remarks: String,
    adjustments: String,
}

impl LineBuffers {
    /// Formats the line's CSV-shaped values and its extra columns.
    fn fill(&mut self, l: &x12::remit::ServiceLine) {
        use std::fmt::Write;
        self.submitted.clear();
        self.decided.clear();
        self.allowed.clear();
        // Unreadable elements go to the validator as unreadable values, so they are
        // rejected with the CSV's reasons (never a silent fallback).
        match l.submitted {
            Some(d) => {
                let _ = write!(self.submitted, "{}", d.format("%Y-%m-%d"));
            }
            None if l.submitted_invalid => self.submitted.push('?'),
            None => {}
        }
        match l.decided {
            Some(d) => {
                let _ = write!(self.decided, "{}", d.format("%Y-%m-%d"));
            }
            None if l.decided_invalid => self.decided.push('?'),
            None => {}
        }
        match l.allowed_cents {
            Some(c) if c < 0 => self.allowed.push('-'),
            Some(c) => {
                let _ = write!(self.allowed, "{}.{:02}", c / 100, c % 100);
            }
            None if l.allowed_invalid => self.allowed.push('?'),
            None => {}
        }
        l.reason_into(&mut self.reason);
        l.codes_into(&mut self.codes);
        l.modifiers_into(&mut self.modifiers);
        l.remarks_into(&mut self.remarks);
        l.adjustments_into(&mut self.adjustments);
    }

    /// The line as the CSV's raw row (validated like one), after [`LineBuffers::fill`].
    fn raw<'l>(&'l self, l: &'l x12::remit::ServiceLine) -> RawRow<'l> {
        RawRow {
            payer: &l.payer,
            cpt: &l.procedure,
            submitted_date: &self.submitted,
            decided_date: &self.decided,
            outcome: l.outcome.map_or("", LineOutcome::as_csv),
            allowed_amount: &self.allowed,
            denial_reason_code: &self.reason,
            denial_reason_text: &self.codes,
        }
    }
}

/// A payer id worth keeping: 1–30 letters, digits, `-` or `.` (N1*PR04 and REF*2U hold
/// codes such as `87726` or `SX065`); anything else is not kept.
fn valid_payer_id(id: &str) -> &str {
    let id = id.trim();
    let ok = (1..=30).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if ok { id } else { "" }
}

/// What an 835 line brings beyond the CSV's columns.
struct LineExtras<'l> {
    payer_id: &'l str,
    modifiers: &'l str,
    remarks: &'l str,
    adjustments: &'l str,
    claim_key: Option<i64>,
}

/// The per-row work shared by the CSV and the 835 reader: validation, PHI checks,
/// mapping, the tally and the batches.
struct Rows<'a, 'b> {
    args: &'b ProduceArgs<'a>,
    tx: &'b SyncSender<Batch>,
    procedure: fn(&str) -> Option<CptCode>,
    tally: Tally,
    caches: Caches,
    batch: Batch,
    problems: Vec<(Column, RejectReason)>,
    payer_ids: FilePayerIds,
    rollup: UploadRollup,
}

impl<'a, 'b> Rows<'a, 'b> {
    fn new(
        args: &'b ProduceArgs<'a>,
        tx: &'b SyncSender<Batch>,
        procedure: fn(&str) -> Option<CptCode>,
    ) -> Self {
        Rows {
            args,
            tx,
            procedure,
            tally: Tally::default(),
            caches: Caches::default(),
            batch: Batch::default(),
            problems: Vec::new(),
            payer_ids: FilePayerIds::default(),
            rollup: UploadRollup::default(),
        }
    }

    /// One data row; `line` is what rejections name (CSV line, 835 segment number).
    fn row(
        &mut self,
        raw: &RawRow<'_>,
        line: u64,
        x12: Option<&LineExtras<'_>>,
    ) -> Result<(), FileError> {
        let args = self.args;
        let tally = &mut self.tally;
        let caches = &mut self.caches;
        let batch = &mut self.batch;
        let problems = &mut self.problems;
        let procedure = self.procedure;
        tally.total += 1;
        if tally.total > args.max_rows {
            return Err(FileError::TooManyRows {
                limit: args.max_rows,
            });
        }
        tally.missing_optional([
            raw.allowed_amount.trim().is_empty(),
            raw.denial_reason_code.trim().is_empty(),
            raw.denial_reason_text.trim().is_empty(),
        ]);

        problems.clear();
        let valid = match validate_row_with(raw, args.today, procedure) {
            Ok(v) => Some(v),
            Err(p) => {
                problems.extend(p);
                None
            }
        };
        let payer = raw.payer.trim();
        let verdict = (!payer.is_empty()).then(|| caches.payer(args.mappings, payer));
        if verdict.is_some_and(|v| v.phi) {
            problems.push((Column::Payer, RejectReason::PhiSuspected));
        }
        let text = raw.denial_reason_text.trim();
        if !text.is_empty() && caches.text_has_phi(text) {
            problems.push((Column::DenialReasonText, RejectReason::PhiSuspected));
        }
        // SPEC §2: the code is PHI-checked first, so an SSN there reads `phi_suspected`
        // rather than a mere `invalid_code`.
        let code = raw.denial_reason_code.trim();
        if !code.is_empty() && caches.text_has_phi(code) {
            problems.retain(|p| *p != (Column::DenialReasonCode, RejectReason::InvalidCode));
            problems.push((Column::DenialReasonCode, RejectReason::PhiSuspected));
        }

        match valid {
            Some(claim) if problems.is_empty() => {
                let alias = verdict.and_then(|v| v.alias);
                let group = caches.group(args.mappings, claim.cpt);
                let mut canonical = alias.map_or(claim.payer, |a| args.mappings.canonical(a));
                // The 835 payer id joins spellings, unless the tenant aliased this one.
                let by_id = match x12 {
                    Some(x)
                        if !x.payer_id.is_empty()
                            && !alias.is_some_and(|a| args.mappings.is_tenant_alias(a)) =>
                    {
                        self.payer_ids
                            .canonical(args.payer_ids, x.payer_id, canonical)
                    }
                    _ => None,
                };
                if let Some(p) = by_id {
                    canonical = p;
                }
                tally.accepted_row(
                    canonical,
                    (alias.is_none() && by_id.is_none()).then_some(claim.payer),
                    claim.cpt,
                    claim.outcome,
                    claim.submitted_date,
                    claim.decided_date,
                );
                let payer_raw = batch.push_str(claim.payer);
                let code = claim.denial_reason_code.map(|c| batch.push_upper(c));
                let text = claim.denial_reason_text.map(|t| batch.push_str(t));
                let payer = by_id.map(|p| batch.push_str(p));
                let x12 = x12.map(|x| X12Row {
                    payer_id: batch.push_opt(x.payer_id),
                    modifiers: batch.push_opt(x.modifiers),
                    remarks: batch.push_opt(x.remarks),
                    adjustments: batch.push_opt(x.adjustments),
                    claim_key: x.claim_key,
                    segment: line as i64,
                });
                batch.rows.push(Row {
                    payer_raw,
                    alias,
                    cpt: claim.cpt,
                    group,
                    submitted: claim.submitted_date,
                    decided: claim.decided_date,
                    days: (claim.decided_date - claim.submitted_date).num_days() as i32,
                    outcome: claim.outcome,
                    cents: claim.allowed_cents,
                    code,
                    text,
                    payer,
                    x12,
                });
            }
            _ => {
                problems.sort();
                problems.dedup();
                tally.rejected_row(problems);
                batch
                    .rejections
                    .extend(problems.iter().map(|(c, r)| NewRejection {
                        upload_id: args.upload_id,
                        row_number: line as i64,
                        column_name: c.as_str(),
                        reason: r.as_str(),
                    }));
            }
        }
        batch.rows_seen += 1;
        if batch.rows.len() >= BATCH_ROWS
            || batch.rejections.len() >= BATCH_ROWS
            || batch.reversals.len() >= BATCH_ROWS
        {
            batch.seal(args.mappings, args.upload_id, &mut self.rollup);
            self.tx
                .send(std::mem::take(batch))
                .map_err(|_| FileError::Cancelled)?;
        }
        Ok(())
    }

    /// An 835 reversal claim: recorded for matching against the claims it reverses
    /// (after the file is written, `repo::reversals::apply`).
    fn reversal(&mut self, segment: u64, claim_key: Option<i64>, lines: u64) {
        self.batch.reversals.push(NewReversal {
            upload_id: self.args.upload_id,
            segment: segment as i64,
            claim_key,
            lines: lines as i64,
        });
    }

    /// A row rejected before validation (an 835 claim without service lines).
    fn reject(&mut self, line: u64, problems: &[(Column, RejectReason)]) -> Result<(), FileError> {
        self.tally.total += 1;
        if self.tally.total > self.args.max_rows {
            return Err(FileError::TooManyRows {
                limit: self.args.max_rows,
            });
        }
        self.tally.rejected_row(problems);
        self.batch
            .rejections
            .extend(problems.iter().map(|(c, r)| NewRejection {
                upload_id: self.args.upload_id,
                row_number: line as i64,
                column_name: c.as_str(),
                reason: r.as_str(),
            }));
        self.batch.rows_seen += 1;
        Ok(())
    }

    /// Sends the last batch; the tally and the rollup delta of the whole file.
    fn finish(mut self) -> Result<(Tally, UploadRollup), FileError> {
        if self.tally.total == 0 {
            return Err(FileError::NoDataRows);
        }
        if self.batch.rows_seen > 0 || !self.batch.reversals.is_empty() {
            self.batch
                .seal(self.args.mappings, self.args.upload_id, &mut self.rollup);
            self.tx.send(self.batch).map_err(|_| FileError::Cancelled)?;
        }
        Ok((self.tally, self.rollup))
    }
}

/// Judges the head of a file (see `source::read_head`) as `produce` would judge its header:
/// the shape limits, then the header rules. An empty or incomplete head passes (`produce`
/// judges those while reading), and so does an 835 (no header; its reader has its own
/// limits).
pub fn check_head(head: &[u8], complete: bool, limits: &super::Limits) -> Result<(), FileError> {
    if !complete || x12::looks_like_x12(head) {
        return Ok(());
    }
    // SPEC §2: CR-only line ends are a file-level error. The head ends after the first
    // record's terminator: a CR followed by anything but LF is that case (a CR that is the
    // head's last byte may be half of a CRLF split by the read, so it is not judged).
    if let Some(cr) = head.iter().position(|&b| b == b'\r')
        && !head[..cr].contains(&b'\n')
        && head.get(cr + 1).is_some_and(|&b| b != b'\n')
    {
        return Err(FileError::CrOnly);
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(HashingReader::with_shape(head, u64::MAX, limits.shape));
    let mut record = csv::ByteRecord::new();
    match rdr.read_byte_record(&mut record) {
        Ok(true) => read_header(&record).map(drop),
        Ok(false) => Ok(()),
        Err(e) => match rdr.get_ref().shape_error() {
            Some(shape) => Err(FileError::Shape(shape)),
            None => Err(FileError::from_csv(e)),
        },
    }
}

/// Resolves the header record; a header that is not UTF-8 or holds NUL bytes is not a
/// text CSV at all.
fn read_header(record: &csv::ByteRecord) -> Result<HeaderMap, FileError> {
    if record
        .get(0)
        .is_some_and(|f| f.starts_with(&[0xFF, 0xFE]) || f.starts_with(&[0xFE, 0xFF]))
    {
        return Err(FileError::Utf16);
    }
    let mut names = Vec::with_capacity(record.len());
    for field in record.iter() {
        let name = std::str::from_utf8(field).map_err(|_| FileError::NotText)?;
        if name.contains('\0') {
            return Err(FileError::NotText);
        }
        names.push(name);
    }
    if names
        .iter()
        .all(|n| n.trim().trim_start_matches('\u{feff}').is_empty())
    {
        return Err(FileError::Empty);
    }
    resolve_headers(&names).map_err(FileError::Header)
}

#[cfg(test)]
mod properties {
    //! Random bytes through the reader, the shape limits and the validator: no panic, the
    //! limits hold on every record that comes out, and a PHI marker planted anywhere never
    //! leaves in a message, a report or an accepted row.
    use std::sync::mpsc::sync_channel;

    use proptest::prelude::*;

    use super::*;
    use crate::ingest::Limits;

    const MARKER: &str = "123-45-6789";

    /// The marker as an SSN: not glued to further digits or dashes (those read as another
    /// number, also for the detector; random bytes can glue a digit to it).
    fn leaks(text: &str) -> bool {
        text.match_indices(MARKER).any(|(i, _)| {
            let glued = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_digit() || *b == b'-');
            let bytes = text.as_bytes();
            !glued(i.checked_sub(1).and_then(|j| bytes.get(j)))
                && !glued(bytes.get(i + MARKER.len()))
        })
    }

    fn limits() -> ShapeLimits {
        ShapeLimits {
            max_columns: 12,
            max_record_bytes: 300,
            max_field_bytes: 80,
        }
    }

    /// Runs the producer to the end; returns its result and every batch it sent.
    fn run(input: &[u8]) -> (Result<Produced, FileError>, Vec<Batch>) {
        let mappings = Mappings::new(&[], &[]);
        let payer_ids = PayerIds::default();
        let args = ProduceArgs {
            mappings: &mappings,
            claim_keys: None,
            payer_ids: &payer_ids,
            upload_id: 1,
            today: NaiveDate::from_ymd_opt(2026, 11, 22).expect("date"),
            max_bytes: 1 << 20,
            max_rows: 10_000,
            shape: limits(),
        };
        let (tx, rx) = sync_channel(1_000);
        let out = produce(input, &args, &tx);
        drop(tx);
        (out, rx.into_iter().collect())
    }

    /// A batch reaches the writer in the covering index's order, days first: the move's
    /// runs then follow the index within a day too.
    #[test]
    fn batches_are_handed_over_in_the_covering_index_order() {
        let mut csv = String::from(
            "payer,cpt,submitted_date,decided_date,outcome,allowed_amount,denial_reason_code,denial_reason_text\n",
        );
        let payers = ["Cigna", "Aetna", "UHC", "Aetna Inc"];
        for i in 0..400usize {
            let outcome = if i % 3 == 0 { "DENIED" } else { "PAID" };
            let code = if i % 3 == 0 {
                ["CO-16", "CO-45"][i % 2]
            } else {
                ""
            };
            csv.push_str(&format!(
                "{},{},2026-01-0{},2026-01-{:02},{outcome},{}.00,{code},\n",
                payers[i % 4],
                ["99213", "80053", "71046"][i % 3],
                1 + i % 7,
                10 + i % 5,
                i % 11,
            ));
        }
        let (produced, batches) = run(csv.as_bytes());
        assert_eq!(produced.expect("produced").tally.accepted, 400);
        let mappings = Mappings::new(&[], &[]);
        let claims = batches[0].claims(&mappings, 1, 1);
        let key = |c: &NewClaimRef<'_>| {
            (
                c.decided_date,
                c.payer.to_string(),
                c.cpt_group.to_string(),
                c.outcome.to_string(),
                c.decision_days,
                c.submitted_date,
                c.allowed_cents,
                c.denial_reason_code.map(str::to_string),
            )
        };
        assert!(claims.is_sorted_by_key(key));
        assert!(
            claims
                .iter()
                .map(key)
                .collect::<std::collections::HashSet<_>>()
                .len()
                > 100
        );
    }

    /// Mostly CSV-ish bytes: separators, quotes, line ends, NUL, BOM, a valid header and row,
    /// and the PHI marker, mixed with arbitrary bytes.
    fn hostile() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b",".to_vec()),
            Just(b"\"".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"\0".to_vec()),
            Just("\u{feff}".as_bytes().to_vec()),
            Just(b"payer,cpt,submitted_date,decided_date,outcome,denial_reason_code,denial_reason_text\n".to_vec()),
            Just(b"Aetna,99213,2026-01-02,2026-01-10,DENIED,CO-16,x\n".to_vec()),
            // Digit-glued repeats ("…6789123-45-…") are not an SSN to anyone: keep a gap.
            Just(format!(" {MARKER}").into_bytes()),
            Just(format!("{MARKER}x").into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..20),
        ];
        proptest::collection::vec(piece, 0..60).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn any_bytes_end_in_a_result_that_leaks_nothing(input in hostile()) {
            let (out, batches) = run(&input);
            let head = source::read_head(&input[..], limits()).expect("in memory");
            let checked = check_head(&head.0, head.1, &Limits { shape: limits(), ..Limits::default() });
            match &out {
                Ok(p) => {
                    // CR-only line ends are judged on the head alone.
                    prop_assert!(
                        matches!(checked, Ok(()) | Err(FileError::CrOnly)),
                        "head refused but file accepted: {checked:?}"
                    );
                    prop_assert!(!leaks(&p.unknown_columns.join(",")));
                }
                Err(e) => prop_assert!(!leaks(&e.to_string()), "{e}"),
            }
            if let Err(e) = &checked {
                prop_assert!(!leaks(&e.to_string()), "{e}");
            }
            for b in &batches {
                prop_assert!(!leaks(&b.arena), "{}", b.arena);
                for r in &b.rows {
                    let fields = [Some(&r.payer_raw), r.code.as_ref(), r.text.as_ref()];
                    for f in fields.into_iter().flatten() {
                        prop_assert!(f.len() <= limits().max_field_bytes);
                    }
                }
            }
        }

        #[test]
        fn shape_does_not_depend_on_chunking(input in hostile(), chunk in 1usize..64) {
            let whole = {
                let mut s = Shape::new(limits());
                s.feed(&input).map(|()| { s.finish(); s.records() })
            };
            let mut s = Shape::new(limits());
            let mut pieces = Ok(());
            for c in input.chunks(chunk) {
                pieces = s.feed(c);
                if pieces.is_err() { break; }
            }
            let pieces = pieces.map(|()| { s.finish(); s.records() });
            prop_assert_eq!(whole, pieces);
        }

        #[test]
        fn any_row_validates_without_panicking(cells in proptest::array::uniform8(".{0,40}")) {
            let refs: [&str; 8] = std::array::from_fn(|i| cells[i].as_str());
            let row = crate::domain::claim::RawRow::from_array(refs);
            let today = NaiveDate::from_ymd_opt(2026, 11, 22).expect("date");
            let code = crate::domain::claim::validate_row(&row, today).ok().and_then(|v| v.denial_reason_code);
            if let Some(code) = code {
                prop_assert!(crate::domain::claim::is_reason_code(code));
            }
        }
    }
}
