//! Daily rollups of `claim_records` (issue 21, migration `2026-12-06-980000`): what every
//! analytics product reads instead of claims, so a run's cost is the days × payers ×
//! groups of its windows, not the number of claims.
//!
//! * `claim_day_rollups`: per tenant × decided day × canonical payer × CPT group, the
//!   decision-day histogram of that cell — per decision-days value the PAID, DENIED and
//!   OTHER counts and their allowed cents, stored as fixed-width bytes ([`encode_entries`],
//!   migration `2026-12-06-999000`). A claim's submitted date is its decided date minus its
//!   decision days, so the same rows answer submitted-date (compat) windows.
//! * `claim_reason_rollups`: denied claims and their cents per tenant × day × payer ×
//!   reason (the DenialScope key), once by decided date and once by submitted date.
//!
//! REVERSED claims are in neither. The rollups change in the same transaction as the
//! claims they summarize: [`apply`] merges a [`Rollups`] delta (the ingest's in-memory
//! [`UploadRollup`], or the grouped claims a re-map or a reversal changes, from
//! [`claim_groups`]). [`recompute`] builds them from claims again (`payerwatch rollups
//! --verify` compares, `--rebuild` replaces).

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Binary, Date, Integer, Nullable, Text};

use super::analytics::{REVERSED, placeholders_for};
use super::claims::NewClaimRef;
use crate::db::{DbConnection, DbError};
use crate::domain::analytics::denials::reason_key_str;
use crate::domain::tenant::TenantScope;

/// Which date puts a denied claim on a reason row's day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Basis {
    Decided,
    Submitted,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Decided => "d",
            Basis::Submitted => "s",
        }
    }

    fn parse(s: &str) -> Result<Basis, DbError> {
        match s {
            "d" => Ok(Basis::Decided),
            "s" => Ok(Basis::Submitted),
            other => Err(DbError::Rollup(format!("basis {other:?}"))),
        }
    }
}

/// The claims of one decision-days value of one cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayCounts {
    pub paid: i64,
    pub denied: i64,
    pub other: i64,
    pub paid_cents: i64,
    pub denied_cents: i64,
    pub other_cents: i64,
}

impl DayCounts {
    /// Adds `n` claims of `outcome` with `cents` allowed (negative to take them away).
    /// REVERSED claims count nowhere.
    fn add_outcome(&mut self, outcome: &str, n: i64, cents: i64) {
        match outcome {
            "PAID" => {
                self.paid += n;
                self.paid_cents += cents;
            }
            "DENIED" => {
                self.denied += n;
                self.denied_cents += cents;
            }
            REVERSED => {}
            _ => {
                self.other += n;
                self.other_cents += cents;
            }
        }
    }

    fn add(&mut self, o: &DayCounts, sign: i64) {
        self.paid += sign * o.paid;
        self.denied += sign * o.denied;
        self.other += sign * o.other;
        self.paid_cents += sign * o.paid_cents;
        self.denied_cents += sign * o.denied_cents;
        self.other_cents += sign * o.other_cents;
    }

    fn is_zero(&self) -> bool {
        *self == DayCounts::default()
    }

    /// Claims counted (every outcome but REVERSED).
    pub fn claims(&self) -> i64 {
        self.paid + self.denied + self.other
    }

    /// Allowed cents of every counted claim.
    pub fn cents(&self) -> i64 {
        self.paid_cents + self.denied_cents + self.other_cents
    }
}

/// A day row's key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellKey {
    pub decided: NaiveDate,
    pub payer: String,
    pub cpt_group: String,
}

/// A reason row's key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReasonKey {
    pub basis: Basis,
    pub day: NaiveDate,
    pub payer: String,
    pub reason: String,
}

/// Decision-day histogram of one cell: decision days → counts.
pub type DayHistogram = BTreeMap<i32, DayCounts>;

/// Rollup rows, or a change to them (counts may be negative in a delta).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rollups {
    pub cells: BTreeMap<CellKey, DayHistogram>,
    /// (denied claims, their allowed cents)
    pub reasons: BTreeMap<ReasonKey, (i64, i64)>,
}

/// A group of claims with equal rollup-relevant fields (one row of [`claim_groups`]).
#[derive(Debug, Clone, QueryableByName)]
pub struct ClaimGroup {
    #[diesel(sql_type = Text)]
    pub payer: String,
    #[diesel(sql_type = Text)]
    pub cpt_group: String,
    #[diesel(sql_type = Date)]
    pub decided_date: NaiveDate,
    #[diesel(sql_type = Date)]
    pub submitted_date: NaiveDate,
    #[diesel(sql_type = Integer)]
    pub decision_days: i32,
    #[diesel(sql_type = Text)]
    pub outcome: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub reason_code: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub reason_text: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
    #[diesel(sql_type = BigInt)]
    pub cents: i64,
}

impl Rollups {
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty() && self.reasons.is_empty()
    }

    /// Adds (`sign` 1) or takes away (−1) a group of claims.
    pub fn add_group(&mut self, g: &ClaimGroup, sign: i64) {
        if g.outcome == REVERSED {
            return;
        }
        self.cells
            .entry(CellKey {
                decided: g.decided_date,
                payer: g.payer.clone(),
                cpt_group: g.cpt_group.clone(),
            })
            .or_default()
            .entry(g.decision_days)
            .or_default()
            .add_outcome(&g.outcome, sign * g.n, sign * g.cents);
        if g.outcome == "DENIED" {
            let reason = reason_key_str(g.reason_code.as_deref(), g.reason_text.as_deref());
            for (basis, day) in [
                (Basis::Decided, g.decided_date),
                (Basis::Submitted, g.submitted_date),
            ] {
                let entry = self
                    .reasons
                    .entry(ReasonKey {
                        basis,
                        day,
                        payer: g.payer.clone(),
                        reason: reason.to_string(),
                    })
                    .or_default();
                entry.0 += sign * g.n;
                entry.1 += sign * g.cents;
            }
        }
    }

    /// Adds `other` times `sign` into `self`, dropping entries that reach zero.
    pub fn merge(&mut self, other: &Rollups, sign: i64) {
        for (key, hist) in &other.cells {
            let mine = self.cells.entry(key.clone()).or_default();
            merge_histogram(mine, hist, sign);
            if mine.is_empty() {
                self.cells.remove(key);
            }
        }
        for (key, (n, cents)) in &other.reasons {
            let mine = self.reasons.entry(key.clone()).or_default();
            mine.0 += sign * n;
            mine.1 += sign * cents;
            if *mine == (0, 0) {
                self.reasons.remove(key);
            }
        }
    }
}

fn merge_histogram(into: &mut DayHistogram, from: &DayHistogram, sign: i64) {
    for (days, counts) in from {
        let entry = into.entry(*days).or_default();
        entry.add(counts, sign);
        if entry.is_zero() {
            into.remove(days);
        }
    }
}

// ------------------------------------------------------------------- the stored form

/// `days:paid:denied:other:paid_cents:denied_cents:other_cents`, space separated: the
/// histogram as `--verify` prints it, and as it was stored before migration
/// `2026-12-06-999000` (which converts it with [`decode_entries`]).
pub fn encode_histogram(hist: &DayHistogram) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(hist.len() * 24);
    for (days, c) in hist {
        if !out.is_empty() {
            out.push(' ');
        }
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "{days}:{}:{}:{}:{}:{}:{}",
            c.paid, c.denied, c.other, c.paid_cents, c.denied_cents, c.other_cents
        );
    }
    out
}

/// A cell's histogram as stored: `(decision days, counts)` ascending by days.
pub type DayEntries = Vec<(i32, DayCounts)>;

/// The seven stored values of an entry, in stored order.
fn entry_values(days: i32, c: &DayCounts) -> [i64; 7] {
    [
        i64::from(days),
        c.paid,
        c.denied,
        c.other,
        c.paid_cents,
        c.denied_cents,
        c.other_cents,
    ]
}

/// The stored form of a histogram (`claim_day_rollups.entries`): one width byte `w`, then
/// per entry, ascending by days, seven little-endian signed integers of `w` bytes: days,
/// paid, denied, other, paid cents, denied cents, other cents. `w` is 4 when every value
/// of the row fits `i32` (a cell of a day: counts are claims, cents a day's allowed
/// amounts — the rule), else 8. Fixed width, so reading is loads, not parsing: a run
/// decodes ≈ 5,000 rows × ≈ 100 entries (docs/decisions.md "Binary day histograms").
pub fn encode_entries(hist: &DayHistogram) -> Vec<u8> {
    let fits = hist.iter().all(|(days, c)| {
        entry_values(*days, c)
            .iter()
            .all(|v| i32::try_from(*v).is_ok())
    });
    let width: u8 = if fits { 4 } else { 8 };
    let mut out = Vec::with_capacity(1 + hist.len() * 7 * usize::from(width));
    out.push(width);
    for (days, c) in hist {
        for v in entry_values(*days, c) {
            if fits {
                // Checked above: every value fits.
                out.extend_from_slice(&(v as i32).to_le_bytes());
            } else {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    out
}

/// The stored bytes as a histogram (the upkeep's and the pages' read path).
pub fn decode_histogram(bytes: &[u8]) -> Result<DayHistogram, DbError> {
    let mut entries = Vec::new();
    decode_entries_into(bytes, &mut entries)?;
    Ok(entries.into_iter().collect())
}

/// The stored bytes' entries appended to `out`, in stored order (the analytics' read
/// path: every row's entries in one vector).
pub fn decode_entries_into(bytes: &[u8], out: &mut DayEntries) -> Result<(), DbError> {
    let bad = |why: &str| DbError::Rollup(format!("histogram of {} bytes: {why}", bytes.len()));
    let Some((&width, body)) = bytes.split_first() else {
        return Err(bad("empty"));
    };
    let push = |out: &mut DayEntries, v: [i64; 7]| -> Result<(), DbError> {
        out.push((
            i32::try_from(v[0]).map_err(|_| bad("days out of range"))?,
            DayCounts {
                paid: v[1],
                denied: v[2],
                other: v[3],
                paid_cents: v[4],
                denied_cents: v[5],
                other_cents: v[6],
            },
        ));
        Ok(())
    };
    match width {
        4 => {
            if body.len() % 28 != 0 {
                return Err(bad("not whole entries"));
            }
            out.reserve(body.len() / 28);
            for entry in body.chunks_exact(28) {
                let mut v = [0i64; 7];
                for (k, value) in v.iter_mut().enumerate() {
                    let mut b = [0u8; 4];
                    b.copy_from_slice(&entry[4 * k..4 * k + 4]);
                    *value = i64::from(i32::from_le_bytes(b));
                }
                push(out, v)?;
            }
        }
        8 => {
            if body.len() % 56 != 0 {
                return Err(bad("not whole entries"));
            }
            out.reserve(body.len() / 56);
            for entry in body.chunks_exact(56) {
                let mut v = [0i64; 7];
                for (k, value) in v.iter_mut().enumerate() {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&entry[8 * k..8 * k + 8]);
                    *value = i64::from_le_bytes(b);
                }
                push(out, v)?;
            }
        }
        _ => return Err(bad("unknown width")),
    }
    Ok(())
}

/// The text form's entries, in stored order (what migration `2026-12-06-999000`
/// converts; `--verify`'s output can be read back with it).
pub fn decode_entries(text: &str) -> Result<DayEntries, DbError> {
    let mut out = Vec::with_capacity(text.len() / 16 + 1);
    decode_text_into(text, &mut out)?;
    Ok(out)
}

fn decode_text_into(text: &str, out: &mut DayEntries) -> Result<(), DbError> {
    let bad = || DbError::Rollup(format!("histogram {text:?}"));
    let bytes = text.as_bytes();
    let mut i = 0;
    loop {
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if i >= bytes.len() {
            return Ok(());
        }
        let mut values = [0i64; 7];
        for (k, value) in values.iter_mut().enumerate() {
            if k > 0 {
                if bytes.get(i) != Some(&b':') {
                    return Err(bad());
                }
                i += 1;
            }
            let negative = bytes.get(i) == Some(&b'-');
            if negative || bytes.get(i) == Some(&b'+') {
                i += 1;
            }
            let start = i;
            let mut x: i64 = 0;
            while let Some(d) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
                x = x
                    .checked_mul(10)
                    .and_then(|x| x.checked_add(i64::from(d - b'0')))
                    .ok_or_else(bad)?;
                i += 1;
            }
            if i == start {
                return Err(bad());
            }
            *value = if negative { -x } else { x };
        }
        if bytes.get(i).is_some_and(|b| !b.is_ascii_whitespace()) {
            return Err(bad());
        }
        let days = i32::try_from(values[0]).map_err(|_| bad())?;
        out.push((
            days,
            DayCounts {
                paid: values[1],
                denied: values[2],
                other: values[3],
                paid_cents: values[4],
                denied_cents: values[5],
                other_cents: values[6],
            },
        ));
    }
}

// -------------------------------------------------------------------- the ingest side

/// The rollup delta of one upload, gathered claim by claim while its batches are
/// written. Per claim: three name lookups (payer as written, canonical payer, CPT group;
/// the canonical payer is usually the same text, looked up once), one lookup of its
/// (spelling, payer, group, decided day) cell among a few tens of thousands, and a binary
/// search in that cell's short decision-day histogram — no allocation once the names and
/// cells are known, 40 bytes per distinct decision-days value. (A single map keyed by
/// the whole tuple held one 72-byte entry per claim, nearly: ≈ 600,000 for 1M generated
/// claims; with its conversion 3.6 % of a 100K-row import's instructions under callgrind,
/// docs/performance.md.) Keyed by the spelling as written too, so the ingest's spelling
/// merge (which renames the upload's rows by `payer_raw` after they are written) applies
/// exactly: [`UploadRollup::into_rollups`].
#[derive(Debug, Default)]
pub struct UploadRollup {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
    /// (payer_raw, payer, cpt_group, decided day number) → index into `histograms`
    cells: HashMap<(u32, u32, u32, i32), u32>,
    /// Per cell, its decision-days values.
    histograms: Vec<UploadHistogram>,
    reasons: HashMap<UploadReasonKey, (i64, i64)>,
}

/// (payer_raw, payer, by submitted date?, day number, reason) → (denied, cents)
type UploadReasonKey = (u32, u32, bool, i32, u32);

/// One decision-days value of an upload's cell. Counts fit `u32`: an upload has at most
/// `PAYERWATCH_MAX_UPLOAD_ROWS` rows, and a file of 4 billion rows is far over any size
/// limit (counting saturates rather than wraps).
#[derive(Debug, Clone, Copy, Default)]
struct UploadDay {
    days: i32,
    paid: u32,
    denied: u32,
    other: u32,
    paid_cents: i64,
    denied_cents: i64,
    other_cents: i64,
}

impl UploadDay {
    fn add(&mut self, outcome: &str, cents: i64) {
        let (n, sum) = match outcome {
            "PAID" => (&mut self.paid, &mut self.paid_cents),
            "DENIED" => (&mut self.denied, &mut self.denied_cents),
            REVERSED => return,
            _ => (&mut self.other, &mut self.other_cents),
        };
        *n = n.saturating_add(1);
        *sum += cents;
    }

    fn counts(&self) -> DayCounts {
        DayCounts {
            paid: i64::from(self.paid),
            denied: i64::from(self.denied),
            other: i64::from(self.other),
            paid_cents: self.paid_cents,
            denied_cents: self.denied_cents,
            other_cents: self.other_cents,
        }
    }
}

/// Decision-days values up to this many per cell stay in a sorted vector (a binary
/// search, an insert shifting at most a few KB); a cell with more (a file spreading one
/// payer × group × day over many decision-day values) moves to a tree.
const SMALL_HISTOGRAM: usize = 64;

/// One cell's decision-days values.
#[derive(Debug)]
enum UploadHistogram {
    /// Ascending by `days`.
    Small(Vec<UploadDay>),
    Large(BTreeMap<i32, UploadDay>),
}

impl Default for UploadHistogram {
    fn default() -> Self {
        UploadHistogram::Small(Vec::new())
    }
}

impl UploadHistogram {
    /// The entry of `days`, created empty if new.
    fn day(&mut self, days: i32) -> &mut UploadDay {
        let empty = UploadDay {
            days,
            ..UploadDay::default()
        };
        if let UploadHistogram::Small(v) = self
            && v.len() >= SMALL_HISTOGRAM
            && v.binary_search_by_key(&days, |d| d.days).is_err()
        {
            let small = std::mem::take(v);
            *self = UploadHistogram::Large(small.into_iter().map(|d| (d.days, d)).collect());
        }
        match self {
            UploadHistogram::Small(v) => {
                let at = match v.binary_search_by_key(&days, |d| d.days) {
                    Ok(at) => at,
                    Err(at) => {
                        v.insert(at, empty);
                        at
                    }
                };
                &mut v[at]
            }
            UploadHistogram::Large(m) => m.entry(days).or_insert(empty),
        }
    }

    /// The entries in ascending `days`.
    fn days(&self) -> Box<dyn Iterator<Item = &UploadDay> + '_> {
        match self {
            UploadHistogram::Small(v) => Box::new(v.iter()),
            UploadHistogram::Large(m) => Box::new(m.values()),
        }
    }
}

impl UploadRollup {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    pub fn add(&mut self, c: &NewClaimRef<'_>) {
        if c.outcome == REVERSED {
            return;
        }
        let raw = self.id(c.payer_raw);
        let payer = if c.payer == c.payer_raw {
            raw
        } else {
            self.id(c.payer)
        };
        let group = self.id(c.cpt_group);
        let decided = c.decided_date.num_days_from_ce();
        let cents = c.allowed_cents.unwrap_or(0);
        let next = u32::try_from(self.histograms.len()).unwrap_or(u32::MAX);
        let cell = *self
            .cells
            .entry((raw, payer, group, decided))
            .or_insert(next);
        if cell == next {
            self.histograms.push(UploadHistogram::default());
        }
        self.histograms[cell as usize]
            .day(c.decision_days)
            .add(c.outcome, cents);
        if c.outcome == "DENIED" {
            let reason = self.id(reason_key_str(c.denial_reason_code, c.denial_reason_text));
            let submitted = c.submitted_date.num_days_from_ce();
            for key in [
                (raw, payer, false, decided, reason),
                (raw, payer, true, submitted, reason),
            ] {
                let entry = self.reasons.entry(key).or_default();
                entry.0 += 1;
                entry.1 += cents;
            }
        }
    }

    /// The upload's counted claims (every outcome but REVERSED) per canonical payer, as
    /// its rows were written (before the spelling merge renames any).
    pub fn payer_claims(&self) -> HashMap<&str, u64> {
        let mut out: HashMap<&str, u64> = HashMap::new();
        for (&(_, payer, _, _), &cell) in &self.cells {
            let n: u64 = self.histograms[cell as usize]
                .days()
                .map(|d| u64::from(d.paid) + u64::from(d.denied) + u64::from(d.other))
                .sum();
            *out.entry(&*self.names[payer as usize]).or_default() += n;
        }
        out
    }

    /// The delta, with the spelling merge's renames (`payer_raw` → payer) applied.
    /// Each cell's histogram is freed as it is converted.
    pub fn into_rollups(self, renames: &[(String, String)]) -> Rollups {
        let UploadRollup {
            ids,
            names,
            cells,
            mut histograms,
            reasons,
        } = self;
        let renamed: HashMap<u32, &str> = renames
            .iter()
            .filter_map(|(raw, target)| Some((*ids.get(raw.as_str())?, target.as_str())))
            .collect();
        let name = |id: u32| names[id as usize].to_string();
        let payer_of = |raw: u32, payer: u32| {
            renamed
                .get(&raw)
                .map_or_else(|| name(payer), |t| (*t).to_string())
        };
        let day = |n: i32| NaiveDate::from_num_days_from_ce_opt(n).unwrap_or_default();
        let mut out = Rollups::default();
        for ((raw, payer, group, decided), cell) in cells {
            let hist = std::mem::take(&mut histograms[cell as usize]);
            let key = CellKey {
                decided: day(decided),
                payer: payer_of(raw, payer),
                cpt_group: name(group),
            };
            match out.cells.entry(key) {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(hist.days().map(|d| (d.days, d.counts())).collect());
                }
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    let into = o.get_mut();
                    for d in hist.days() {
                        into.entry(d.days).or_default().add(&d.counts(), 1);
                    }
                }
            }
        }
        for ((raw, payer, submitted, d, reason), (n, cents)) in reasons {
            let entry = out
                .reasons
                .entry(ReasonKey {
                    basis: if submitted {
                        Basis::Submitted
                    } else {
                        Basis::Decided
                    },
                    day: day(d),
                    payer: payer_of(raw, payer),
                    reason: name(reason),
                })
                .or_default();
            entry.0 += n;
            entry.1 += cents;
        }
        out
    }
}

// ------------------------------------------------------------------ claims → groups

/// Which claims [`claim_groups`] reads (always one tenant's, never REVERSED ones).
#[derive(Debug, Clone, Copy)]
pub enum ClaimFilter<'a> {
    All,
    /// Claims written as `payer_raw` whose canonical payer is not `payer` yet (a re-map),
    /// with ids up to `up_to` (a re-map's bounded step).
    PayerRawNot {
        payer_raw: &'a str,
        payer: &'a str,
        up_to: i64,
    },
    /// Claims with CPT `cpt` whose group is not `group` yet (a re-map), ids up to `up_to`.
    CptNot {
        cpt: &'a str,
        group: &'a str,
        up_to: i64,
    },
    /// Claims an upload's reversals marked (`reversed_by`) and not yet REVERSED.
    MarkedBy {
        upload_id: i64,
    },
}

/// The tenant's claims matching `filter`, grouped by every field the rollups keep.
pub fn claim_groups(
    conn: &mut DbConnection,
    scope: &TenantScope,
    filter: ClaimFilter<'_>,
) -> Result<Vec<ClaimGroup>, DbError> {
    let condition = match filter {
        ClaimFilter::All => "",
        ClaimFilter::PayerRawNot { .. } => " AND payer_raw = $2 AND payer <> $3 AND id <= $4",
        ClaimFilter::CptNot { .. } => " AND cpt = $2 AND cpt_group <> $3 AND id <= $4",
        ClaimFilter::MarkedBy { .. } => " AND reversed_by = $2",
    };
    let sql = format!(
        "SELECT payer, cpt_group, decided_date, submitted_date, decision_days, outcome, \
         CASE WHEN outcome = 'DENIED' THEN denial_reason_code END AS reason_code, \
         CASE WHEN outcome = 'DENIED' THEN denial_reason_text END AS reason_text, \
         COUNT(*) AS n, CAST(COALESCE(SUM(allowed_cents), 0) AS BIGINT) AS cents \
         FROM claim_records WHERE customer_id = $1 AND outcome <> '{REVERSED}'{condition} \
         GROUP BY payer, cpt_group, decided_date, submitted_date, decision_days, outcome, \
         reason_code, reason_text"
    );
    let sql = placeholders_for(conn, &sql);
    let query = diesel::sql_query(sql)
        .into_boxed::<<DbConnection as diesel::Connection>::Backend>()
        .bind::<BigInt, _>(scope.id());
    let query = match filter {
        ClaimFilter::All => query,
        ClaimFilter::PayerRawNot {
            payer_raw,
            payer,
            up_to,
        } => query
            .bind::<Text, _>(payer_raw.to_string())
            .bind::<Text, _>(payer.to_string())
            .bind::<BigInt, _>(up_to),
        ClaimFilter::CptNot { cpt, group, up_to } => query
            .bind::<Text, _>(cpt.to_string())
            .bind::<Text, _>(group.to_string())
            .bind::<BigInt, _>(up_to),
        ClaimFilter::MarkedBy { upload_id } => query.bind::<BigInt, _>(upload_id),
    };
    Ok(query.load(conn)?)
}

/// Rollups of the claims `filter` selects, built from claims.
pub fn groups_rollups(groups: &[ClaimGroup], sign: i64) -> Rollups {
    let mut out = Rollups::default();
    for g in groups {
        out.add_group(g, sign);
    }
    out
}

/// The tenant's rollups as they should be, from its claims.
pub fn recompute(conn: &mut DbConnection, scope: &TenantScope) -> Result<Rollups, DbError> {
    Ok(groups_rollups(
        &claim_groups(conn, scope, ClaimFilter::All)?,
        1,
    ))
}

/// Moves the claims `filter` selects from their rollup rows to the rows they will have
/// after `change` rewrites them (`change` = the re-map's new payer or group). Call it
/// before the UPDATE, in its transaction.
pub fn move_claims(
    conn: &mut DbConnection,
    scope: &TenantScope,
    filter: ClaimFilter<'_>,
    change: impl Fn(&mut ClaimGroup),
) -> Result<(), DbError> {
    let groups = claim_groups(conn, scope, filter)?;
    if groups.is_empty() {
        return Ok(());
    }
    let mut delta = groups_rollups(&groups, -1);
    for mut g in groups {
        change(&mut g);
        delta.add_group(&g, 1);
    }
    apply(conn, scope, &delta)
}

// --------------------------------------------------------------------- stored rows

#[derive(QueryableByName)]
struct CellRow {
    #[diesel(sql_type = Date)]
    decided_date: NaiveDate,
    #[diesel(sql_type = Text)]
    payer: String,
    #[diesel(sql_type = Text)]
    cpt_group: String,
    #[diesel(sql_type = Binary)]
    entries: Vec<u8>,
}

impl CellRow {
    /// The row's key and its stored histogram bytes.
    fn into_key_and_days(self) -> (CellKey, Vec<u8>) {
        let key = CellKey {
            decided: self.decided_date,
            payer: self.payer,
            cpt_group: self.cpt_group,
        };
        (key, self.entries)
    }

    fn into_cell(self) -> Result<Cell, DbError> {
        let (key, days) = self.into_key_and_days();
        Ok(Cell {
            days: decode_histogram(&days)?,
            key,
        })
    }
}

#[derive(QueryableByName)]
struct ReasonRow {
    #[diesel(sql_type = Text)]
    basis: String,
    #[diesel(sql_type = Date)]
    day: NaiveDate,
    #[diesel(sql_type = Text)]
    payer: String,
    #[diesel(sql_type = Text)]
    reason: String,
    #[diesel(sql_type = BigInt)]
    denied: i64,
    #[diesel(sql_type = BigInt)]
    denied_cents: i64,
}

/// Open ends of a day range, as both backends store and compare them (ISO text on
/// SQLite: chrono's extreme dates would not sort as text and PostgreSQL refuses them).
fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(1, 1, 1).unwrap_or_default()
}

fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or_default()
}

/// One stored day row, its histogram parsed.
#[derive(Debug, Clone)]
pub struct Cell {
    pub key: CellKey,
    pub days: DayHistogram,
}

/// The tenant's day rows decided on or after `from` (all of them with `None`), and
/// before `to` when given.
pub fn cells(
    conn: &mut DbConnection,
    scope: &TenantScope,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Vec<Cell>, DbError> {
    let sql = placeholders_for(
        conn,
        "SELECT decided_date, payer, cpt_group, entries FROM claim_day_rollups \
         WHERE customer_id = $1 AND decided_date >= $2 AND decided_date < $3",
    );
    let rows: Vec<CellRow> = diesel::sql_query(sql)
        .bind::<BigInt, _>(scope.id())
        .bind::<Date, _>(from.unwrap_or_else(first_day))
        .bind::<Date, _>(to.unwrap_or_else(last_day))
        .load(conn)?;
    rows.into_iter().map(CellRow::into_cell).collect()
}

/// One stored day row: its key and where its histogram entries are, in stored order, in
/// the vector [`cell_entries`] fills.
#[derive(Debug, Clone)]
pub struct CellEntries {
    pub key: CellKey,
    pub days: std::ops::Range<usize>,
}

/// [`cells`] for the analytics' read path: the day rows decided on or after `from`, every
/// row's histogram entries appended to `entries` (one vector for all rows, no map).
pub fn cell_entries(
    conn: &mut DbConnection,
    scope: &TenantScope,
    from: NaiveDate,
    entries: &mut DayEntries,
) -> Result<Vec<CellEntries>, DbError> {
    let sql = placeholders_for(
        conn,
        "SELECT decided_date, payer, cpt_group, entries FROM claim_day_rollups \
         WHERE customer_id = $1 AND decided_date >= $2",
    );
    let rows: Vec<CellRow> = diesel::sql_query(sql)
        .bind::<BigInt, _>(scope.id())
        .bind::<Date, _>(from)
        .load(conn)?;
    // An entry takes at least 28 bytes: one allocation, not a doubling series of copies
    // of a vector of some 10 MB.
    entries.reserve(rows.iter().map(|r| r.entries.len() / 28).sum());
    rows.into_iter()
        .map(|r| {
            let (key, days) = r.into_key_and_days();
            let start = entries.len();
            decode_entries_into(&days, entries)?;
            Ok(CellEntries {
                days: start..entries.len(),
                key,
            })
        })
        .collect()
}

/// `payer IN ($first, …)` for `payers` bound from placeholder `first` on (one each; the
/// names are bound, never interpolated).
fn payer_list(first: usize, payers: &[String]) -> String {
    (0..payers.len())
        .map(|i| format!("${}", first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The tenant's day rows of `payers` decided in `[from, to)` (the findings' charts: a
/// page's payers over its 26 weeks).
pub fn payer_cells(
    conn: &mut DbConnection,
    scope: &TenantScope,
    payers: &[String],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Cell>, DbError> {
    if payers.is_empty() {
        return Ok(Vec::new());
    }
    let sql = placeholders_for(
        conn,
        &format!(
            "SELECT decided_date, payer, cpt_group, entries FROM claim_day_rollups \
             WHERE customer_id = $1 AND decided_date >= $2 AND decided_date < $3 \
             AND payer IN ({})",
            payer_list(4, payers)
        ),
    );
    let mut query = diesel::sql_query(sql)
        .into_boxed::<<DbConnection as diesel::Connection>::Backend>()
        .bind::<BigInt, _>(scope.id())
        .bind::<Date, _>(from)
        .bind::<Date, _>(to);
    for payer in payers {
        query = query.bind::<Text, _>(payer.clone());
    }
    let rows: Vec<CellRow> = query.load(conn)?;
    rows.into_iter().map(CellRow::into_cell).collect()
}

/// Denied claims and cents of one payer × reason × day.
#[derive(Debug, Clone, QueryableByName)]
pub struct ReasonDay {
    #[diesel(sql_type = Text)]
    pub payer: String,
    #[diesel(sql_type = Text)]
    pub reason: String,
    #[diesel(sql_type = Date)]
    pub day: NaiveDate,
    #[diesel(sql_type = BigInt)]
    pub denied: i64,
    #[diesel(sql_type = BigInt)]
    pub denied_cents: i64,
}

/// The reason rows of `payers` with days in `[from, to)` by `basis` (the charts of
/// reason findings, by decided day).
pub fn payer_reason_days(
    conn: &mut DbConnection,
    scope: &TenantScope,
    basis: Basis,
    payers: &[String],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<ReasonDay>, DbError> {
    if payers.is_empty() {
        return Ok(Vec::new());
    }
    let sql = placeholders_for(
        conn,
        &format!(
            "SELECT payer, reason, day, denied, denied_cents FROM claim_reason_rollups \
             WHERE customer_id = $1 AND basis = $2 AND day >= $3 AND day < $4 \
             AND payer IN ({})",
            payer_list(5, payers)
        ),
    );
    let mut query = diesel::sql_query(sql)
        .into_boxed::<<DbConnection as diesel::Connection>::Backend>()
        .bind::<BigInt, _>(scope.id())
        .bind::<Text, _>(basis.as_str())
        .bind::<Date, _>(from)
        .bind::<Date, _>(to);
    for payer in payers {
        query = query.bind::<Text, _>(payer.clone());
    }
    Ok(query.load(conn)?)
}

/// Denied claims and cents per (payer, reason) of the days `[start, end)` by `basis`.
#[derive(Debug, Clone, QueryableByName)]
pub struct ReasonTotal {
    #[diesel(sql_type = Text)]
    pub payer: String,
    #[diesel(sql_type = Text)]
    pub reason: String,
    #[diesel(sql_type = BigInt)]
    pub denied: i64,
    #[diesel(sql_type = BigInt)]
    pub cents: i64,
}

pub fn reason_totals(
    conn: &mut DbConnection,
    scope: &TenantScope,
    basis: Basis,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<ReasonTotal>, DbError> {
    let sql = placeholders_for(
        conn,
        "SELECT payer, reason, CAST(SUM(denied) AS BIGINT) AS denied, \
         CAST(SUM(denied_cents) AS BIGINT) AS cents FROM claim_reason_rollups \
         WHERE customer_id = $1 AND basis = $2 AND day >= $3 AND day < $4 \
         GROUP BY payer, reason",
    );
    Ok(diesel::sql_query(sql)
        .bind::<BigInt, _>(scope.id())
        .bind::<Text, _>(basis.as_str())
        .bind::<Date, _>(start)
        .bind::<Date, _>(end)
        .load(conn)?)
}

/// The tenant's stored reason rows with days in `[from, to]` (all with `None`).
fn reason_rows(
    conn: &mut DbConnection,
    scope: &TenantScope,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<BTreeMap<ReasonKey, (i64, i64)>, DbError> {
    let sql = placeholders_for(
        conn,
        "SELECT basis, day, payer, reason, denied, denied_cents FROM claim_reason_rollups \
         WHERE customer_id = $1 AND day >= $2 AND day <= $3",
    );
    let rows: Vec<ReasonRow> = diesel::sql_query(sql)
        .bind::<BigInt, _>(scope.id())
        .bind::<Date, _>(from.unwrap_or_else(first_day))
        .bind::<Date, _>(to.unwrap_or_else(last_day))
        .load(conn)?;
    rows.into_iter()
        .map(|r| {
            Ok((
                ReasonKey {
                    basis: Basis::parse(&r.basis)?,
                    day: r.day,
                    payer: r.payer,
                    reason: r.reason,
                },
                (r.denied, r.denied_cents),
            ))
        })
        .collect()
}

/// Everything stored for the tenant.
pub fn stored(conn: &mut DbConnection, scope: &TenantScope) -> Result<Rollups, DbError> {
    Ok(Rollups {
        cells: cells(conn, scope, None, None)?
            .into_iter()
            .map(|c| (c.key, c.days))
            .collect(),
        reasons: reason_rows(conn, scope, None, None)?,
    })
}

/// Whether the tenant has counted claims (any outcome but REVERSED) of `payer`: one of its
/// day rows, found by the key's tenant prefix among days × payers × groups rows, not among
/// claims (`claim_records` has no payer index since 2026-12-05-800000: an EXISTS there
/// walked the tenant's claims until the payer's first, all of them for an unknown payer).
pub fn has_payer(
    conn: &mut DbConnection,
    scope: &TenantScope,
    payer: &str,
) -> Result<bool, DbError> {
    use crate::db::schema::claim_day_rollups as r;
    Ok(diesel::select(diesel::dsl::exists(
        r::table
            .filter(r::customer_id.eq(scope.id()))
            .filter(r::payer.eq(payer))
            .select(r::customer_id),
    ))
    .get_result(conn)?)
}

/// One day row's payer and histogram bytes (what the per-payer totals read).
#[derive(QueryableByName)]
struct PayerEntriesRow {
    #[diesel(sql_type = Text)]
    payer: String,
    #[diesel(sql_type = Binary)]
    entries: Vec<u8>,
}

/// Counted claims per payer of `rows` (their histograms decoded and summed).
fn sum_payer_claims(
    rows: Vec<PayerEntriesRow>,
    totals: &mut HashMap<String, i64>,
) -> Result<(), DbError> {
    let mut entries = DayEntries::new();
    for row in rows {
        entries.clear();
        decode_entries_into(&row.entries, &mut entries)?;
        let n: i64 = entries.iter().map(|(_, c)| c.claims()).sum();
        *totals.entry(row.payer).or_default() += n;
    }
    Ok(())
}

/// The tenant's payers with their counted claims (every outcome but REVERSED), most
/// claims first, then by name: the payer list, from the day rows (days × payers × groups)
/// instead of a GROUP BY over every claim of the tenant, which has no payer index to use.
pub fn payer_claims(
    conn: &mut DbConnection,
    scope: &TenantScope,
) -> Result<Vec<(String, u64)>, DbError> {
    let sql = placeholders_for(
        conn,
        "SELECT payer, entries FROM claim_day_rollups WHERE customer_id = $1",
    );
    let rows: Vec<PayerEntriesRow> = diesel::sql_query(sql)
        .bind::<BigInt, _>(scope.id())
        .load(conn)?;
    let mut totals: HashMap<String, i64> = HashMap::new();
    sum_payer_claims(rows, &mut totals)?;
    let mut out: Vec<(String, u64)> = totals
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(payer, n)| (payer, u64::try_from(n).unwrap_or(0)))
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(out)
}

/// The tenant's payers with counted claims (every outcome but REVERSED), unordered and
/// without their counts: the payers of its day rows, read by the primary key's tenant
/// prefix with no histogram decoded — days × payers × groups rows, not claims (the
/// ingest's spelling merge: which payers are stored).
pub fn payers(conn: &mut DbConnection, scope: &TenantScope) -> Result<Vec<String>, DbError> {
    use crate::db::schema::claim_day_rollups as r;
    Ok(r::table
        .filter(r::customer_id.eq(scope.id()))
        .select(r::payer)
        .distinct()
        .load(conn)?)
}

/// Payers per statement of [`claims_of_payers`] (one bind each).
const PAYERS_PER_READ: usize = 500;

/// [`payer_claims`] of `payers` only: their day rows decoded and summed, no other payer's
/// (a payer without counted claims is absent). Unordered.
pub fn claims_of_payers(
    conn: &mut DbConnection,
    scope: &TenantScope,
    payers: &[String],
) -> Result<HashMap<String, u64>, DbError> {
    let mut totals: HashMap<String, i64> = HashMap::new();
    for chunk in payers.chunks(PAYERS_PER_READ) {
        let sql = placeholders_for(
            conn,
            &format!(
                "SELECT payer, entries FROM claim_day_rollups \
                 WHERE customer_id = $1 AND payer IN ({})",
                payer_list(2, chunk)
            ),
        );
        let mut query = diesel::sql_query(sql)
            .into_boxed::<<DbConnection as diesel::Connection>::Backend>()
            .bind::<BigInt, _>(scope.id());
        for payer in chunk {
            query = query.bind::<Text, _>(payer.clone());
        }
        let rows: Vec<PayerEntriesRow> = query.load(conn)?;
        sum_payer_claims(rows, &mut totals)?;
    }
    Ok(totals
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(payer, n)| (payer, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// The newest decided day of the tenant's counted claims (what `as_of` follows).
pub fn latest_decided(
    conn: &mut DbConnection,
    scope: &TenantScope,
) -> Result<Option<NaiveDate>, DbError> {
    use crate::db::schema::claim_day_rollups as r;
    Ok(r::table
        .filter(r::customer_id.eq(scope.id()))
        .select(diesel::dsl::max(r::decided_date))
        .first(conn)?)
}

// ---------------------------------------------------------------------- upkeep

/// Rows per INSERT (SQLite's bind limit is 32,766; 7 binds per reason row).
const ROWS_PER_STATEMENT: usize = 2_000;

/// The `VALUES` list of a multi-row INSERT: `rows` tuples of `width` parameters, every
/// value bound in order. SQLite gets anonymous `?`: its parser looks a numbered `?N` up
/// in a linear list for every occurrence, so 8,000 numbered parameters in one statement
/// cost ≈ 32 million steps to prepare (45 % of a 100K-row import's instructions before
/// this, docs/performance.md). PostgreSQL gets `$1…$n`.
fn values_rows(conn: &DbConnection, rows: usize, width: usize) -> String {
    use std::fmt::Write;
    let sqlite = matches!(conn, DbConnection::Sqlite(_));
    let mut out = String::with_capacity(rows * width * 7);
    let mut n = 0;
    for row in 0..rows {
        out.push_str(if row == 0 { "(" } else { ", (" });
        for col in 0..width {
            if col > 0 {
                out.push_str(", ");
            }
            n += 1;
            if sqlite {
                out.push('?');
            } else {
                // Writing to a String cannot fail.
                let _ = write!(out, "${n}");
            }
        }
        out.push(')');
    }
    out
}

/// Merges `delta` into the tenant's stored rollups (inside the caller's transaction):
/// reads the stored rows of the delta's days, adds, writes back the changed rows and
/// deletes rows that reach zero. PostgreSQL: a per-tenant transaction lock first, so two
/// uploads of one tenant committing at once cannot both read the same row and lose one
/// update (SQLite has one writer).
pub fn apply(conn: &mut DbConnection, scope: &TenantScope, delta: &Rollups) -> Result<(), DbError> {
    if delta.is_empty() {
        return Ok(());
    }
    if let DbConnection::Postgresql(c) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(21, CAST($1 AS INTEGER))")
            .bind::<BigInt, _>(scope.id())
            .execute(c)?;
    }
    apply_cells(conn, scope, &delta.cells)?;
    apply_reasons(conn, scope, &delta.reasons)?;
    bump_version(conn, scope)
}

/// The tenant's rollup version: moves on (in the writing transaction) with every change
/// to its rollups — uploads, deletes, re-maps, reversals, rebuilds. Caches of figures
/// computed from the rollups key by it (read it before the figures: a value cached under
/// a version is then never older than that version).
pub fn version(conn: &mut DbConnection, scope: &TenantScope) -> Result<i64, DbError> {
    use crate::db::schema::rollup_versions as v;
    Ok(v::table
        .filter(v::customer_id.eq(scope.id()))
        .select(v::version)
        .first::<i64>(conn)
        .optional()?
        .unwrap_or(0))
}

fn bump_version(conn: &mut DbConnection, scope: &TenantScope) -> Result<(), DbError> {
    let sql = placeholders_for(
        conn,
        "INSERT INTO rollup_versions (customer_id, version) VALUES ($1, 1) \
         ON CONFLICT (customer_id) DO UPDATE SET version = rollup_versions.version + 1",
    );
    diesel::sql_query(sql)
        .bind::<BigInt, _>(scope.id())
        .execute(conn)?;
    Ok(())
}

fn apply_cells(
    conn: &mut DbConnection,
    scope: &TenantScope,
    delta: &BTreeMap<CellKey, DayHistogram>,
) -> Result<(), DbError> {
    let (Some(first), Some(last)) = (
        delta.keys().map(|k| k.decided).min(),
        delta.keys().map(|k| k.decided).max(),
    ) else {
        return Ok(());
    };
    let mut stored: HashMap<CellKey, DayHistogram> =
        cells(conn, scope, Some(first), last.succ_opt())?
            .into_iter()
            .map(|c| (c.key, c.days))
            .collect();
    let mut upserts: Vec<(&CellKey, Vec<u8>)> = Vec::new();
    let mut deletes: Vec<&CellKey> = Vec::new();
    for (key, change) in delta {
        let mut hist = stored.remove(key).unwrap_or_default();
        merge_histogram(&mut hist, change, 1);
        if hist.is_empty() {
            deletes.push(key);
        } else {
            upserts.push((key, encode_entries(&hist)));
        }
    }
    upsert_cells(conn, scope.id(), &upserts)?;
    for key in deletes {
        let sql = placeholders_for(
            conn,
            "DELETE FROM claim_day_rollups WHERE customer_id = $1 AND decided_date = $2 \
             AND payer = $3 AND cpt_group = $4",
        );
        diesel::sql_query(sql)
            .bind::<BigInt, _>(scope.id())
            .bind::<Date, _>(key.decided)
            .bind::<Text, _>(key.payer.clone())
            .bind::<Text, _>(key.cpt_group.clone())
            .execute(conn)?;
    }
    Ok(())
}

/// Writes day rows (new or replacing the stored ones) of tenant `customer_id`.
fn upsert_cells<K: std::borrow::Borrow<CellKey>>(
    conn: &mut DbConnection,
    customer_id: i64,
    rows: &[(K, Vec<u8>)],
) -> Result<(), DbError> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO claim_day_rollups (customer_id, decided_date, payer, cpt_group, entries) \
             VALUES {} ON CONFLICT (customer_id, decided_date, payer, cpt_group) \
             DO UPDATE SET entries = excluded.entries",
            values_rows(conn, chunk.len(), 5)
        );
        let mut query =
            diesel::sql_query(sql).into_boxed::<<DbConnection as diesel::Connection>::Backend>();
        for (key, entries) in chunk {
            let key = key.borrow();
            query = query
                .bind::<BigInt, _>(customer_id)
                .bind::<Date, _>(key.decided)
                .bind::<Text, _>(key.payer.clone())
                .bind::<Text, _>(key.cpt_group.clone())
                .bind::<Binary, _>(entries.clone());
        }
        query.execute(conn)?;
    }
    Ok(())
}

/// Whether text day rows wait for [`convert_text_rows`] (one catalog probe: checked at
/// every start, outside any transaction, so a start takes no write lock for it).
pub fn has_text_rows(conn: &mut DbConnection) -> Result<bool, DbError> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let probe = match conn {
        DbConnection::Postgresql(_) => {
            "SELECT CAST(CASE WHEN to_regclass('claim_day_rollups_text') IS NULL \
             THEN 0 ELSE 1 END AS BIGINT) AS n"
        }
        DbConnection::Sqlite(_) => {
            "SELECT COUNT(*) AS n FROM sqlite_master \
             WHERE type = 'table' AND name = 'claim_day_rollups_text'"
        }
    };
    Ok(diesel::sql_query(probe).get_result::<Count>(conn)?.n > 0)
}

/// Migration `2026-12-06-999000` moved the text day rows aside (`claim_day_rollups_text`):
/// converts them into the byte form, tenant by tenant, and drops that table. Call it in
/// one transaction. `None` when there is nothing to convert; else the rows converted.
pub fn convert_text_rows(conn: &mut DbConnection) -> Result<Option<usize>, DbError> {
    #[derive(QueryableByName)]
    struct Tenant {
        #[diesel(sql_type = BigInt)]
        customer_id: i64,
    }
    #[derive(QueryableByName)]
    struct TextRow {
        #[diesel(sql_type = Date)]
        decided_date: NaiveDate,
        #[diesel(sql_type = Text)]
        payer: String,
        #[diesel(sql_type = Text)]
        cpt_group: String,
        #[diesel(sql_type = Text)]
        days: String,
    }
    // Again inside the transaction: another process may have converted them meanwhile.
    if !has_text_rows(conn)? {
        return Ok(None);
    }
    let tenants: Vec<Tenant> =
        diesel::sql_query("SELECT DISTINCT customer_id FROM claim_day_rollups_text").load(conn)?;
    let mut converted = 0;
    for tenant in tenants {
        let sql = placeholders_for(
            conn,
            "SELECT decided_date, payer, cpt_group, days FROM claim_day_rollups_text \
             WHERE customer_id = $1",
        );
        let rows: Vec<TextRow> = diesel::sql_query(sql)
            .bind::<BigInt, _>(tenant.customer_id)
            .load(conn)?;
        let mut cells = Vec::with_capacity(rows.len());
        for r in rows {
            let hist: DayHistogram = decode_entries(&r.days)?.into_iter().collect();
            let key = CellKey {
                decided: r.decided_date,
                payer: r.payer,
                cpt_group: r.cpt_group,
            };
            cells.push((key, encode_entries(&hist)));
        }
        upsert_cells(conn, tenant.customer_id, &cells)?;
        converted += cells.len();
    }
    diesel::sql_query("DROP TABLE claim_day_rollups_text").execute(conn)?;
    Ok(Some(converted))
}

fn apply_reasons(
    conn: &mut DbConnection,
    scope: &TenantScope,
    delta: &BTreeMap<ReasonKey, (i64, i64)>,
) -> Result<(), DbError> {
    let (Some(first), Some(last)) = (
        delta.keys().map(|k| k.day).min(),
        delta.keys().map(|k| k.day).max(),
    ) else {
        return Ok(());
    };
    let mut stored = reason_rows(conn, scope, Some(first), Some(last))?;
    let mut upserts: Vec<(&ReasonKey, (i64, i64))> = Vec::new();
    let mut deletes: Vec<&ReasonKey> = Vec::new();
    for (key, (n, cents)) in delta {
        let (sn, scents) = stored.remove(key).unwrap_or_default();
        let total = (sn + n, scents + cents);
        if total == (0, 0) {
            deletes.push(key);
        } else {
            upserts.push((key, total));
        }
    }
    for chunk in upserts.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO claim_reason_rollups \
             (customer_id, basis, day, payer, reason, denied, denied_cents) \
             VALUES {} ON CONFLICT (customer_id, basis, day, payer, reason) \
             DO UPDATE SET denied = excluded.denied, denied_cents = excluded.denied_cents",
            values_rows(conn, chunk.len(), 7)
        );
        let mut query =
            diesel::sql_query(sql).into_boxed::<<DbConnection as diesel::Connection>::Backend>();
        for (key, (n, cents)) in chunk {
            query = query
                .bind::<BigInt, _>(scope.id())
                .bind::<Text, _>(key.basis.as_str())
                .bind::<Date, _>(key.day)
                .bind::<Text, _>(key.payer.clone())
                .bind::<Text, _>(key.reason.clone())
                .bind::<BigInt, _>(*n)
                .bind::<BigInt, _>(*cents);
        }
        query.execute(conn)?;
    }
    for key in deletes {
        let sql = placeholders_for(
            conn,
            "DELETE FROM claim_reason_rollups WHERE customer_id = $1 AND basis = $2 \
             AND day = $3 AND payer = $4 AND reason = $5",
        );
        diesel::sql_query(sql)
            .bind::<BigInt, _>(scope.id())
            .bind::<Text, _>(key.basis.as_str())
            .bind::<Date, _>(key.day)
            .bind::<Text, _>(key.payer.clone())
            .bind::<Text, _>(key.reason.clone())
            .execute(conn)?;
    }
    Ok(())
}

/// Replaces the tenant's rollups with `rollups` (the rebuild).
pub fn replace(
    conn: &mut DbConnection,
    scope: &TenantScope,
    rollups: &Rollups,
) -> Result<(), DbError> {
    use crate::db::schema::{claim_day_rollups as d, claim_reason_rollups as r};
    diesel::delete(d::table.filter(d::customer_id.eq(scope.id()))).execute(conn)?;
    diesel::delete(r::table.filter(r::customer_id.eq(scope.id()))).execute(conn)?;
    bump_version(conn, scope)?;
    apply(conn, scope, rollups)
}

/// What differs between the stored rollups and the ones recomputed from claims, one
/// line per key (empty: they agree).
pub fn differences(stored: &Rollups, expected: &Rollups) -> Vec<String> {
    let mut out = Vec::new();
    let empty = DayHistogram::new();
    let keys: std::collections::BTreeSet<&CellKey> =
        stored.cells.keys().chain(expected.cells.keys()).collect();
    for key in keys {
        let (s, e) = (
            stored.cells.get(key).unwrap_or(&empty),
            expected.cells.get(key).unwrap_or(&empty),
        );
        if s != e {
            out.push(format!(
                "day {} payer {:?} group {:?}: stored [{}], claims [{}]",
                key.decided,
                key.payer,
                key.cpt_group,
                encode_histogram(s),
                encode_histogram(e)
            ));
        }
    }
    let keys: std::collections::BTreeSet<&ReasonKey> = stored
        .reasons
        .keys()
        .chain(expected.reasons.keys())
        .collect();
    for key in keys {
        let (s, e) = (
            stored.reasons.get(key).copied().unwrap_or_default(),
            expected.reasons.get(key).copied().unwrap_or_default(),
        );
        if s != e {
            out.push(format!(
                "reason {} {} payer {:?} reason {:?}: stored {} denied / {} cents, claims {} / {}",
                key.basis.as_str(),
                key.day,
                key.payer,
                key.reason,
                s.0,
                s.1,
                e.0,
                e.1
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(base: i64) -> DayCounts {
        DayCounts {
            paid: base,
            denied: -base,
            other: 0,
            paid_cents: base * 1_000_000_007,
            denied_cents: -3,
            other_cents: i64::MAX,
        }
    }

    #[test]
    fn the_hand_parser_reads_back_what_encode_writes() {
        let hist: DayHistogram = [(0, counts(1)), (7, counts(250)), (365, counts(12_345))]
            .into_iter()
            .collect();
        let text = encode_histogram(&hist);
        let entries = decode_entries(&text).expect("decodes");
        assert_eq!(entries, hist.clone().into_iter().collect::<Vec<_>>());
        assert_eq!(decode_entries("").expect("empty"), Vec::new());
        assert_eq!(
            decode_entries("  3:1:0:0:5:0:0\n").expect("surrounding space"),
            vec![(
                3,
                DayCounts {
                    paid: 1,
                    paid_cents: 5,
                    ..DayCounts::default()
                }
            )]
        );
    }

    #[test]
    fn the_hand_parser_refuses_what_is_not_a_histogram() {
        for bad in [
            "1:2:3",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:x",
            "1::3:4:5:6:7",
            "a",
            "1:2:3:4:5:6:7,",
            "1:2:3:4:5:6:99999999999999999999",
            "4294967296:0:0:0:0:0:0",
        ] {
            assert!(decode_entries(bad).is_err(), "{bad:?} accepted");
        }
    }

    /// The stored bytes read back as the histogram written: 4-byte values when every value
    /// fits `i32` (negative ones too), 8-byte ones when one does not.
    #[test]
    fn stored_bytes_read_back_as_written() {
        let small: DayHistogram = [
            (
                -3,
                DayCounts {
                    paid: 2,
                    denied: 0,
                    other: 1,
                    paid_cents: 12_345,
                    denied_cents: -7,
                    other_cents: i64::from(i32::MAX),
                },
            ),
            (0, DayCounts::default()),
            (
                45,
                DayCounts {
                    paid: 300,
                    denied: 41,
                    other: 0,
                    paid_cents: i64::from(i32::MIN),
                    denied_cents: 1,
                    other_cents: 0,
                },
            ),
        ]
        .into_iter()
        .collect();
        let bytes = encode_entries(&small);
        assert_eq!((bytes[0], bytes.len()), (4, 1 + 3 * 28));
        assert_eq!(decode_histogram(&bytes).expect("decodes"), small);
        let wide: DayHistogram = [(0, counts(1)), (7, counts(250)), (365, counts(12_345))]
            .into_iter()
            .collect();
        let bytes = encode_entries(&wide);
        assert_eq!((bytes[0], bytes.len()), (8, 1 + 3 * 56));
        assert_eq!(decode_histogram(&bytes).expect("decodes"), wide);
        let mut entries = vec![(99, DayCounts::default())];
        decode_entries_into(&bytes, &mut entries).expect("appends");
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[1..], wide.into_iter().collect::<Vec<_>>()[..]);
        assert_eq!(encode_entries(&DayHistogram::new()), vec![4]);
        assert!(decode_histogram(&[4]).expect("no entries").is_empty());
    }

    #[test]
    fn stored_bytes_of_another_shape_are_refused() {
        let one: DayHistogram = [(5, counts(1))].into_iter().collect();
        let mut days_too_wide = encode_entries(&one);
        assert_eq!(days_too_wide[0], 8);
        days_too_wide[1..9].copy_from_slice(&(1i64 << 40).to_le_bytes());
        let mut cut = encode_entries(&one);
        cut.pop();
        for bad in [vec![], vec![2, 0, 0], vec![4, 1, 2, 3], cut, days_too_wide] {
            assert!(decode_histogram(&bad).is_err(), "{bad:?} accepted");
        }
    }
    /// The upload's in-memory delta equals the rollups built from the same claims as
    /// grouped rows (the `--verify` oracle), renames of the spelling merge applied — with
    /// spellings sharing a payer, every outcome, blank and coded reasons, and one cell
    /// spread over more decision-day values than the small histogram holds.
    #[test]
    fn upload_delta_equals_the_rollups_of_its_claims() {
        let spellings = [
            ("Aetna", "Aetna"),
            ("AETNA", "Aetna"),
            ("aetna inc", "aetna inc"),
            ("Humana", "Humana"),
            ("HUMANA", "HUMANA"),
        ];
        let groups = ["EVAL_MGMT", "IMAGING", "LAB"];
        let outcomes = ["PAID", "DENIED", "DENIED", "OTHER", REVERSED];
        let reasons = [
            (None, None),
            (Some("CO-197"), None),
            (None, Some("Prior auth missing")),
            (Some("  "), Some(" text ")),
        ];
        let mut seed = 7u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        let base = NaiveDate::from_ymd_opt(2026, 6, 1).expect("date");
        let mut claims = Vec::new();
        for i in 0..5_000u64 {
            let (raw, payer) = spellings[next(spellings.len() as u64) as usize];
            // Every 10th claim lands in one cell with up to 300 decision-day values.
            let (decided, days, group) = if i % 10 == 0 {
                (base, next(300) as i32, "IMAGING")
            } else {
                (
                    base + chrono::Days::new(next(20)),
                    next(40) as i32,
                    groups[next(3) as usize],
                )
            };
            let (code, text) = reasons[next(4) as usize];
            claims.push((
                raw,
                payer,
                group,
                decided,
                days,
                outcome(&mut next, &outcomes),
                {
                    let cents = next(5) as i64;
                    (cents > 0).then_some(cents * 1_234)
                },
                code,
                text,
            ));
        }
        fn outcome(next: &mut impl FnMut(u64) -> u64, all: &[&'static str]) -> &'static str {
            all[next(all.len() as u64) as usize]
        }
        let renames = vec![
            ("aetna inc".to_string(), "Aetna".to_string()),
            ("HUMANA".to_string(), "Humana Medicare".to_string()),
        ];
        let mut upload = UploadRollup::default();
        let mut expected = Rollups::default();
        for &(raw, payer, group, decided, days, outcome, cents, code, text) in &claims {
            upload.add(&NewClaimRef {
                customer_id: 1,
                upload_id: 2,
                payer_raw: raw,
                payer,
                cpt: "99213",
                cpt_group: group,
                submitted_date: decided - chrono::Days::new(days as u64),
                decided_date: decided,
                decision_days: days,
                outcome,
                allowed_cents: cents,
                denial_reason_code: code,
                denial_reason_text: text,
                payer_id: None,
                modifiers: None,
                remark_codes: None,
                adjustments: None,
                claim_key: None,
                svc_segment: None,
            });
            let renamed = renames
                .iter()
                .find(|(r, _)| r == raw)
                .map_or(payer, |(_, t)| t.as_str());
            expected.add_group(
                &ClaimGroup {
                    payer: renamed.to_string(),
                    cpt_group: group.to_string(),
                    decided_date: decided,
                    submitted_date: decided - chrono::Days::new(days as u64),
                    decision_days: days,
                    outcome: outcome.to_string(),
                    reason_code: code.map(str::to_string),
                    reason_text: text.map(str::to_string),
                    n: 1,
                    cents: cents.unwrap_or(0),
                },
                1,
            );
        }
        let delta = upload.into_rollups(&renames);
        assert!(
            differences(&delta, &expected).is_empty(),
            "{:?}",
            differences(&delta, &expected).first()
        );
        assert_eq!(delta, expected);
        let wide = delta
            .cells
            .iter()
            .filter(|(k, _)| k.decided == base && k.cpt_group == "IMAGING")
            .map(|(_, h)| h.len())
            .max();
        assert!(
            wide > Some(SMALL_HISTOGRAM),
            "a cell past the small histogram: {wide:?}"
        );
    }
}
