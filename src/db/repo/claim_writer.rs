//! The bulk claim writer of the ingest pipeline: the upload's accepted claims through a
//! [`ClaimWriter`] — on SQLite into a scratch staging database, then one `INSERT … SELECT`
//! that reads it day by day into `claim_records`; on PostgreSQL `COPY FROM STDIN` into
//! the tenant's partition of `claim_records`, or for a large upload into a table of its
//! own that becomes a partition when its indexes are built (migration
//! `2026-12-07-000300`).
//!
//! [`ClaimWriter::write`] / [`ClaimWriter::reject`] stage the upload's rows and
//! [`ClaimWriter::finish`] makes them visible inside the pipeline's transaction;
//! [`ClaimWriter::open`] / [`ClaimWriter::close`] run around it. On SQLite the staging
//! writes only the scratch database, so it runs *before* the transaction and without the
//! process-wide writer lock (issue 16: a long upload held that lock for its whole parse
//! and other tenants' sign-ins waited); the lock is held for `finish` and the upload's
//! final rows only. The upload's own rows (state, report) are written by
//! [`super::upload_lifecycle`].
//!
//! [`insert_many`] is the small multi-row insert of tests and fixtures: claims and their
//! rollups, in the caller's transaction.

use std::io::Write;

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;

use super::claims::{NewClaim, NewClaimRef};
use super::upload_lifecycle::NewRejection;
use crate::db::schema::claim_records;
use crate::db::{DbConnection, DbError};
use crate::domain::tenant::TenantScope;

/// Bind parameters per statement stay under SQLite's default 32,766 limit.
const INSERT_CHUNK: usize = 32_766 / 13;

/// Inserts claims for the scope's tenant, and their rollups (call it in a transaction so
/// both commit together). Rows naming another tenant are refused.
pub fn insert_many(
    conn: &mut DbConnection,
    scope: &TenantScope,
    claims: &[NewClaim],
) -> Result<usize, DbError> {
    if claims.iter().any(|c| c.customer_id != scope.id()) {
        return Err(DbError::ForeignKey);
    }
    ensure_tenant_partition(conn, scope)?;
    let mut inserted = 0;
    for chunk in claims.chunks(INSERT_CHUNK) {
        inserted += crate::on_backend!(conn, c => diesel::insert_into(claim_records::table)
            .values(chunk)
            .execute(c))?;
    }
    let mut rollup = super::rollups::UploadRollup::default();
    for c in claims {
        rollup.add(&NewClaimRef {
            customer_id: c.customer_id,
            upload_id: c.upload_id,
            payer_raw: &c.payer_raw,
            payer: &c.payer,
            cpt: &c.cpt,
            cpt_group: &c.cpt_group,
            submitted_date: c.submitted_date,
            decided_date: c.decided_date,
            decision_days: c.decision_days,
            outcome: &c.outcome,
            allowed_cents: c.allowed_cents,
            denial_reason_code: c.denial_reason_code.as_deref(),
            denial_reason_text: c.denial_reason_text.as_deref(),
            payer_id: None,
            modifiers: None,
            remark_codes: None,
            adjustments: None,
            claim_key: None,
            svc_segment: None,
        });
    }
    super::rollups::apply(conn, scope, &rollup.into_rollups(&[]))?;
    Ok(inserted)
}

/// A table of the claims an upload writes: `claim_records`' columns minus `id` (and
/// `reversed_by`), in `claim_columns_written!`'s order. Diesel needs a key; these tables
/// have none, `upload_id` stands in.
macro_rules! written_claims_table {
    ($(#[$doc:meta])* $($name:ident).+) => {
        diesel::table! {
            $(#[$doc])*
            $($name).+ (upload_id) {
                customer_id -> BigInt,
                upload_id -> BigInt,
                payer_raw -> Text,
                payer -> Text,
                cpt -> Text,
                cpt_group -> Text,
                submitted_date -> Date,
                decided_date -> Date,
                decision_days -> Integer,
                outcome -> Text,
                allowed_cents -> Nullable<BigInt>,
                denial_reason_code -> Nullable<Text>,
                denial_reason_text -> Nullable<Text>,
                payer_id -> Nullable<Text>,
                modifiers -> Nullable<Text>,
                remark_codes -> Nullable<Text>,
                adjustments -> Nullable<Text>,
                claim_key -> Nullable<BigInt>,
                svc_segment -> Nullable<BigInt>,
            }
        }
    };
}

written_claims_table! {
    /// The SQLite staging table, in the scratch database attached as `ingest_stage` (see
    /// [`ClaimWriter`]).
    ingest_stage.claim_staging
}

/// The move: the staged rows, day by day through the runs in `stage_runs` (their key
/// order), each run in rowid order. Not sorted by the covering index's columns within a
/// day: that sort cost ≈ 1 s of CPU per 1M claims and bought nothing measurable — the
/// index pages of the day being inserted stay in the page cache either way, and the index
/// came out the same size (docs/performance.md, "Ingest"). The unary `+` keeps SQLite from
/// building an automatic index on `customer_id` over the whole stage instead of reading it
/// by the runs' rowid ranges (minutes instead of seconds). The stage holds one tenant's
/// rows (`write` refuses others); the filter is a guard.
const MOVE_STAGED: &str = "INSERT INTO claim_records (customer_id, upload_id, payer_raw, \
    payer, cpt, cpt_group, submitted_date, decided_date, decision_days, outcome, \
    allowed_cents, denial_reason_code, denial_reason_text, payer_id, modifiers, \
    remark_codes, adjustments, claim_key, svc_segment) \
    SELECT s.customer_id, s.upload_id, s.payer_raw, s.payer, s.cpt, s.cpt_group, \
    s.submitted_date, s.decided_date, s.decision_days, s.outcome, s.allowed_cents, \
    s.denial_reason_code, s.denial_reason_text, s.payer_id, s.modifiers, s.remark_codes, \
    s.adjustments, s.claim_key, s.svc_segment \
    FROM ingest_stage.stage_runs r CROSS JOIN ingest_stage.claim_staging s \
    ON s.rowid BETWEEN r.lo AND r.hi \
    WHERE +s.customer_id = ?1";

/// Writes the accepted claims of one upload.
///
/// * **SQLite**: claims are first written to a private scratch database file (journal and
///   fsync off: it is thrown away) through a prepared statement of its own connection,
///   then moved into `claim_records` inside the ingest transaction by one `INSERT …
///   SELECT` that reads them decided day by decided day. The scratch write costs ≈ 1 µs
///   per row where a diesel multi-row INSERT cost ≈ 4 (bind collection per value); going
///   day by day, the covering index is written one day's range at a time, so its touched
///   pages stay in the page cache however large the table (docs/performance.md, "Ingest").
/// * **PostgreSQL**: `COPY FROM STDIN` (binary). An upload of the usual size goes into
///   `claim_records` — its tenant's shared partition — whose references are checked once
///   per statement (migration `2026-12-05-800000`). A large upload (`own_partition`) goes
///   into a table of its own without indexes, which `finish` attaches as a partition of
///   the tenant: its indexes are then built once, sorted, as PostgreSQL's own bulk load
///   would — row by row, the covering index cost ≈ 2.5 s of a 1M upload's 7
///   (docs/decisions.md, "Claim partitions on PostgreSQL").
///
/// Life cycle: [`open`](Self::open) before the transaction (SQLite cannot attach inside
/// one), [`write`](Self::write) per batch and [`finish`](Self::finish) inside it,
/// [`close`](Self::close) after it. Nothing reaches `claim_records` on SQLite before
/// `finish`, and on PostgreSQL the rows go with a rollback.
pub struct ClaimWriter {
    stage: Option<SqliteStage>,
    /// PostgreSQL: the large upload loaded into a partition of its own.
    own_partition: Option<OwnPartition>,
}

/// A large upload's partition on PostgreSQL: begun (its load table created, inside the
/// transaction) at the first batch, attached by `finish`.
struct OwnPartition {
    upload_id: i64,
    begun: bool,
}

written_claims_table! {
    /// PostgreSQL only: the table a large upload is loaded into, in a schema of its own
    /// that leads the transaction's search path while it loads (`claim_records_load_begin`).
    claim_records_load
}

/// PostgreSQL: at most this many uploads of a tenant get a partition of their own; later
/// large uploads go row by row into its shared partition. Every claim query of the tenant
/// plans over (and locks) each of its partitions and their indexes, so their number stays
/// bounded (docs/decisions.md, "Claim partitions on PostgreSQL").
pub const MAX_OWN_PARTITIONS: i64 = 32;

/// PostgreSQL: creates the tenant's partitions of `claim_records` unless they exist (a
/// catalog probe when they do) and returns how many of them are uploads' own. Outside the
/// upload's transaction where it can be: it commits DDL on the shared parent. SQLite:
/// nothing (0).
fn ensure_tenant_partition(conn: &mut DbConnection, scope: &TenantScope) -> Result<i64, DbError> {
    #[derive(QueryableByName)]
    struct Own {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    match conn {
        DbConnection::Postgresql(c) => Ok(diesel::sql_query(
            "SELECT claim_records_tenant_partition($1) AS n",
        )
        .bind::<diesel::sql_types::BigInt, _>(scope.id())
        .get_result::<Own>(c)?
        .n),
        DbConnection::Sqlite(_) => Ok(0),
    }
}

/// The scratch database; `conn` is declared first so it closes before the file goes.
struct SqliteStage {
    conn: rusqlite::Connection,
    file: tempfile::NamedTempFile,
    /// Claims written so far: the move must bring exactly these.
    staged: usize,
}

const STAGE_COLUMNS: &str = "customer_id INTEGER NOT NULL, upload_id INTEGER NOT NULL, \
    payer_raw TEXT NOT NULL, payer TEXT NOT NULL, cpt TEXT NOT NULL, \
    cpt_group TEXT NOT NULL, submitted_date TEXT NOT NULL, decided_date TEXT NOT NULL, \
    decision_days INTEGER NOT NULL, outcome TEXT NOT NULL, allowed_cents INTEGER NULL, \
    denial_reason_code TEXT NULL, denial_reason_text TEXT NULL, payer_id TEXT NULL, \
    modifiers TEXT NULL, remark_codes TEXT NULL, adjustments TEXT NULL, \
    claim_key INTEGER NULL, svc_segment INTEGER NULL";

/// Where each decided day's rows lie in `claim_staging`: one row per run of consecutive
/// staged rows of one day (`lo..=hi` rowids). The parser hands batches over sorted by day,
/// so a batch adds about one run per day it covers; the move reads the stage day by day
/// through it (see [`ClaimWriter::finish`]).
const STAGE_RUNS: &str = "CREATE TABLE stage_runs (day INTEGER NOT NULL, \
    lo INTEGER NOT NULL, hi INTEGER NOT NULL, PRIMARY KEY (day, lo)) WITHOUT ROWID";

const STAGE_PREFIX: &str = "payerwatch-stage-";
const STAGE_SUFFIX: &str = ".db";

/// A scratch database untouched for this long belongs to an import whose process died
/// (a live import writes its file continuously and finishes within minutes).
const STALE_STAGE_AGE: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// Deletes scratch databases in `dir` last modified more than `older_than` ago: a killed
/// import cannot delete its own, and each holds a tenant's claims (≈ 80 MB per million).
/// Best effort — a file that cannot be read or removed is left. Returns how many went.
fn remove_stale_stages(dir: &std::path::Path, older_than: std::time::Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let now = std::time::SystemTime::now();
    entries
        .flatten()
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with(STAGE_PREFIX) && name.ends_with(STAGE_SUFFIX)
        })
        .filter(|entry| {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|modified| now.duration_since(modified).ok())
                .is_some_and(|age| age > older_than)
        })
        .filter(|entry| std::fs::remove_file(entry.path()).is_ok())
        .count()
}

impl SqliteStage {
    fn create() -> Result<SqliteStage, DbError> {
        let removed = remove_stale_stages(&std::env::temp_dir(), STALE_STAGE_AGE);
        if removed > 0 {
            tracing::warn!(
                removed,
                "deleted scratch databases left by interrupted imports"
            );
        }
        // A fresh file only this process can read (0600, random name); SQLite treats the
        // empty file as an empty database.
        let file = tempfile::Builder::new()
            .prefix(STAGE_PREFIX)
            .suffix(STAGE_SUFFIX)
            .tempfile()
            .map_err(|e| DbError::Staging(e.to_string()))?;
        use rusqlite::OpenFlags;
        let conn = rusqlite::Connection::open_with_flags(
            file.path(),
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; \
             PRAGMA cache_size = -8192; CREATE TABLE claim_staging ({STAGE_COLUMNS}); \
             {STAGE_RUNS}; CREATE TABLE rejection_staging (upload_id INTEGER NOT NULL, \
             row_number INTEGER NOT NULL, column_name TEXT NOT NULL, reason TEXT NOT NULL)"
        ))?;
        Ok(SqliteStage {
            conn,
            file,
            staged: 0,
        })
    }

    fn path(&self) -> Result<&str, DbError> {
        self.file
            .path()
            .to_str()
            .ok_or_else(|| DbError::Staging("the temporary directory is not UTF-8".into()))
    }

    fn write(&mut self, claims: &[NewClaimRef<'_>]) -> Result<usize, DbError> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO claim_staging VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, \
                 ?14, ?15, ?16, ?17, ?18, ?19)",
            )?;
            let mut run = tx.prepare("INSERT INTO stage_runs VALUES (?1, ?2, ?3)")?;
            let (mut submitted, mut decided) = ([0u8; 10], [0u8; 10]);
            // The open run: its day and first rowid (the table is only appended to, so a
            // run's rows have consecutive rowids).
            let mut open: Option<(i64, i64)> = None;
            for c in claims {
                let day = i64::from(c.decided_date.num_days_from_ce());
                if let Some((d, lo)) = open.filter(|(d, _)| *d != day) {
                    run.execute((d, lo, tx.last_insert_rowid()))?;
                    open = None;
                }
                write_date(&mut submitted, c.submitted_date);
                write_date(&mut decided, c.decided_date);
                // Bound one by one: rusqlite's tuple parameters stop at 16 values.
                insert.raw_bind_parameter(1, c.customer_id)?;
                insert.raw_bind_parameter(2, c.upload_id)?;
                insert.raw_bind_parameter(3, c.payer_raw)?;
                insert.raw_bind_parameter(4, c.payer)?;
                insert.raw_bind_parameter(5, c.cpt)?;
                insert.raw_bind_parameter(6, c.cpt_group)?;
                insert.raw_bind_parameter(7, ascii(&submitted))?;
                insert.raw_bind_parameter(8, ascii(&decided))?;
                insert.raw_bind_parameter(9, c.decision_days)?;
                insert.raw_bind_parameter(10, c.outcome)?;
                insert.raw_bind_parameter(11, c.allowed_cents)?;
                insert.raw_bind_parameter(12, c.denial_reason_code)?;
                insert.raw_bind_parameter(13, c.denial_reason_text)?;
                insert.raw_bind_parameter(14, c.payer_id)?;
                insert.raw_bind_parameter(15, c.modifiers)?;
                insert.raw_bind_parameter(16, c.remark_codes)?;
                insert.raw_bind_parameter(17, c.adjustments)?;
                insert.raw_bind_parameter(18, c.claim_key)?;
                insert.raw_bind_parameter(19, c.svc_segment)?;
                insert.raw_execute()?;
                if open.is_none() {
                    open = Some((day, tx.last_insert_rowid()));
                }
            }
            if let Some((d, lo)) = open {
                run.execute((d, lo, tx.last_insert_rowid()))?;
            }
        }
        tx.commit()?;
        self.staged += claims.len();
        Ok(claims.len())
    }
}

impl SqliteStage {
    fn reject(&mut self, rejections: &[NewRejection]) -> Result<usize, DbError> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare("INSERT INTO rejection_staging VALUES (?1, ?2, ?3, ?4)")?;
            for r in rejections {
                insert.execute((r.upload_id, r.row_number, r.column_name, r.reason))?;
            }
        }
        tx.commit()?;
        Ok(rejections.len())
    }
}

/// The digits and dashes [`write_date`] wrote.
fn ascii(date: &[u8; 10]) -> &str {
    std::str::from_utf8(date).unwrap_or("0000-00-00")
}

/// PostgreSQL, after an upload's commit: analyses the partition that received its claims
/// when its statistics are missing or stale (migration `2026-12-07-000400`); returns
/// whether it did. `added`: the claims the upload stored. SQLite: nothing (false).
pub fn refresh_statistics(
    conn: &mut DbConnection,
    scope: &TenantScope,
    upload_id: i64,
    added: u64,
) -> Result<bool, DbError> {
    #[derive(QueryableByName)]
    struct Analysed {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        done: bool,
    }
    match conn {
        DbConnection::Postgresql(c) => Ok(diesel::sql_query(
            "SELECT claim_records_refresh_statistics($1, $2, $3) AS done",
        )
        .bind::<diesel::sql_types::BigInt, _>(scope.id())
        .bind::<diesel::sql_types::BigInt, _>(upload_id)
        .bind::<diesel::sql_types::BigInt, _>(i64::try_from(added).unwrap_or(i64::MAX))
        .get_result::<Analysed>(c)?
        .done),
        DbConnection::Sqlite(_) => Ok(false),
    }
}

impl ClaimWriter {
    /// Before the ingest transaction. SQLite: creates and attaches the scratch database.
    /// PostgreSQL: makes sure the tenant has its partitions; `own_partition` (the upload's
    /// id) loads a large upload into a partition of its own, unless the tenant has
    /// [`MAX_OWN_PARTITIONS`] already.
    pub fn open(
        conn: &mut DbConnection,
        scope: &TenantScope,
        own_partition: Option<i64>,
    ) -> Result<ClaimWriter, DbError> {
        match conn {
            DbConnection::Sqlite(c) => {
                use diesel::connection::SimpleConnection;
                let stage = SqliteStage::create()?;
                // A pooled connection whose earlier tear-down failed may still have a
                // (deleted) stage attached; the error when none is attached is expected.
                let _ = c.batch_execute("DETACH DATABASE ingest_stage");
                diesel::sql_query("ATTACH DATABASE ? AS ingest_stage")
                    .bind::<diesel::sql_types::Text, _>(stage.path()?)
                    .execute(c)?;
                Ok(ClaimWriter {
                    stage: Some(stage),
                    own_partition: None,
                })
            }
            DbConnection::Postgresql(_) => {
                let own_partitions = ensure_tenant_partition(conn, scope)?;
                Ok(ClaimWriter {
                    stage: None,
                    own_partition: own_partition
                        .filter(|_| own_partitions < MAX_OWN_PARTITIONS)
                        .map(|upload_id| OwnPartition {
                            upload_id,
                            begun: false,
                        }),
                })
            }
        }
    }

    /// Writes one batch. All rows must belong to the scope's tenant.
    pub fn write(
        &mut self,
        conn: &mut DbConnection,
        scope: &TenantScope,
        claims: &[NewClaimRef<'_>],
    ) -> Result<usize, DbError> {
        if claims.iter().any(|c| c.customer_id != scope.id()) {
            return Err(DbError::ForeignKey);
        }
        match (conn, &mut self.stage) {
            (DbConnection::Sqlite(_), Some(stage)) => stage.write(claims),
            (DbConnection::Sqlite(_), None) => Err(DbError::Staging("no scratch database".into())),
            (DbConnection::Postgresql(c), _) => {
                // Sent in chunks as they are formatted, so the server is already
                // inserting while the rest of the batch is written.
                let write = |out: &mut dyn Write| -> QueryResult<()> {
                    let mut buf = Vec::with_capacity(COPY_CHUNK_BYTES + 4096);
                    buf.extend_from_slice(COPY_BINARY_HEADER);
                    let mut send = |buf: &mut Vec<u8>| {
                        let sent = out.write_all(buf);
                        buf.clear();
                        sent.map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
                    };
                    for claim in claims {
                        write_copy_row(&mut buf, claim);
                        if buf.len() >= COPY_CHUNK_BYTES {
                            send(&mut buf)?;
                        }
                    }
                    buf.extend_from_slice(&(-1i16).to_be_bytes()); // trailer
                    send(&mut buf)
                };
                let Some(own) = &mut self.own_partition else {
                    return Ok(diesel::copy_from(claim_records::table)
                        .from_raw_data(CLAIM_COLUMNS_WRITTEN, write)
                        .with_format(diesel::pg::CopyFormat::Binary)
                        .execute(c)?);
                };
                if !own.begun {
                    diesel::sql_query("SELECT claim_records_load_begin($1, $2)")
                        .bind::<diesel::sql_types::BigInt, _>(scope.id())
                        .bind::<diesel::sql_types::BigInt, _>(own.upload_id)
                        .execute(c)?;
                    own.begun = true;
                }
                Ok(diesel::copy_from(claim_records_load::table)
                    .from_raw_data(LOAD_COLUMNS_WRITTEN, write)
                    .with_format(diesel::pg::CopyFormat::Binary)
                    .execute(c)?)
            }
        }
    }

    /// Inside the transaction, after the last batch. SQLite: moves the staged claims into
    /// `claim_records` day by day ([`MOVE_STAGED`]; foreign keys and indexes in force: the
    /// table is shared by every tenant) and returns how many — all it staged, or the upload
    /// fails; PostgreSQL: 0 (copied already), after attaching a large upload's table as its
    /// partition (which builds its indexes).
    pub fn finish(
        &mut self,
        conn: &mut DbConnection,
        scope: &TenantScope,
    ) -> Result<usize, DbError> {
        let c = match conn {
            DbConnection::Sqlite(c) => c,
            DbConnection::Postgresql(c) => {
                if let Some(own) = self.own_partition.as_ref().filter(|own| own.begun) {
                    diesel::sql_query("SELECT claim_records_load_attach($1, $2)")
                        .bind::<diesel::sql_types::BigInt, _>(scope.id())
                        .bind::<diesel::sql_types::BigInt, _>(own.upload_id)
                        .execute(c)?;
                }
                return Ok(0);
            }
        };
        let moved = diesel::sql_query(MOVE_STAGED)
            .bind::<diesel::sql_types::BigInt, _>(scope.id())
            .execute(c)?;
        // A staged claim outside every run (or of another tenant) would be lost in silence.
        let staged = self.stage.as_ref().map_or(0, |stage| stage.staged);
        if moved != staged {
            return Err(DbError::Staging(format!(
                "{moved} of {staged} staged claims reached the claims table"
            )));
        }
        diesel::sql_query(
            "INSERT INTO upload_rejections (upload_id, row_number, column_name, reason) \
             SELECT upload_id, row_number, column_name, reason \
             FROM ingest_stage.rejection_staging ORDER BY rowid",
        )
        .execute(c)?;
        Ok(moved)
    }

    /// Inside the transaction, after [`finish`](Self::finish) and the spelling merge,
    /// before reversals are matched: merges the upload's rollup delta (tallied by the
    /// parser from the rows it handed to [`write`](Self::write)) into the tenant's
    /// rollups (one read and one upsert per touched day range, not per claim). `renames`
    /// are the merge's `(payer_raw, payer)` pairs, which renamed this upload's rows after
    /// they were written.
    pub fn write_rollups(
        &mut self,
        conn: &mut DbConnection,
        scope: &TenantScope,
        rollup: super::rollups::UploadRollup,
        renames: &[(String, String)],
    ) -> Result<(), DbError> {
        super::rollups::apply(conn, scope, &rollup.into_rollups(renames))
    }

    /// Records rejected rows. SQLite: into the scratch database (moved by `finish`);
    /// PostgreSQL: into `upload_rejections` inside the transaction.
    pub fn reject(
        &mut self,
        conn: &mut DbConnection,
        rejections: &[NewRejection],
    ) -> Result<usize, DbError> {
        match (conn, &mut self.stage) {
            (DbConnection::Sqlite(_), Some(stage)) => stage.reject(rejections),
            (conn, _) => super::upload_lifecycle::insert_rejections(conn, rejections),
        }
    }

    /// Whether this writer stages into a scratch database of its own (SQLite): then
    /// `write`/`reject` need neither the main database's transaction nor its lock.
    pub fn stages_apart(&self) -> bool {
        self.stage.is_some()
    }

    /// After the transaction (commit or rollback): detaches and deletes the scratch
    /// database.
    /// PostgreSQL: hands the upload's row counts to the statistics now, which would
    /// otherwise reach them up to a second later — after [`refresh_statistics`] had
    /// analysed the partition, so they would count as changes since (best effort).
    pub fn close(conn: &mut DbConnection, mut writer: ClaimWriter) -> Result<(), DbError> {
        match (conn, writer.stage.take()) {
            (DbConnection::Sqlite(c), Some(stage)) => {
                use diesel::connection::SimpleConnection;
                c.batch_execute("DETACH DATABASE ingest_stage")?;
                drop(stage);
            }
            (DbConnection::Postgresql(c), _) => {
                if let Err(e) = diesel::sql_query("SELECT pg_stat_force_next_flush()").execute(c) {
                    tracing::debug!(error = %e, "statistics flush not requested");
                }
            }
            (DbConnection::Sqlite(_), None) => {}
        }
        Ok(())
    }
}

/// The columns the ingest writes (all but `id`, which comes from the sequence), in the
/// order of [`write_copy_row`] — one list for the type and the value.
macro_rules! claim_columns_written {
    ($table:ident) => {
        (
            $table::customer_id,
            $table::upload_id,
            $table::payer_raw,
            $table::payer,
            $table::cpt,
            $table::cpt_group,
            $table::submitted_date,
            $table::decided_date,
            $table::decision_days,
            $table::outcome,
            $table::allowed_cents,
            $table::denial_reason_code,
            $table::denial_reason_text,
            $table::payer_id,
            $table::modifiers,
            $table::remark_codes,
            $table::adjustments,
            $table::claim_key,
            $table::svc_segment,
        )
    };
}
type ClaimColumnsWritten = claim_columns_written!(claim_records);
const CLAIM_COLUMNS_WRITTEN: ClaimColumnsWritten = claim_columns_written!(claim_records);
type LoadColumnsWritten = claim_columns_written!(claim_records_load);
const LOAD_COLUMNS_WRITTEN: LoadColumnsWritten = claim_columns_written!(claim_records_load);

/// `YYYY-MM-DD` into a 10-byte buffer (years 0–9999; claim dates are validated).
fn write_date(out: &mut [u8], d: NaiveDate) {
    let (y, m, day) = (d.year().clamp(0, 9999) as u32, d.month(), d.day());
    let digits = [
        y / 1000,
        y / 100 % 10,
        y / 10 % 10,
        y % 10,
        m / 10,
        m % 10,
        day / 10,
        day % 10,
    ];
    let [a, b, c, e, f, g, h, i] = digits.map(|n| b'0' + n as u8);
    out.copy_from_slice(&[a, b, c, e, b'-', f, g, b'-', h, i]);
}

/// COPY data goes out in chunks of about this size (libpq sends each as it comes).
const COPY_CHUNK_BYTES: usize = 64 * 1024;

/// Fields per claim row: [`CLAIM_COLUMNS_WRITTEN`] has the same 19 columns.
const CLAIM_FIELDS: i16 = 19;

/// The binary COPY header: signature, flags (none), header-extension length (0).
const COPY_BINARY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// One row in PostgreSQL's binary COPY format: a field count, then per field its byte
/// length (-1 for NULL) and value — integers big-endian, dates as days since
/// 2000-01-01, text as its UTF-8 bytes. The server then parses no text: ≈ 9 % less
/// server time than the text format for 1M claims (docs/performance.md).
fn write_copy_row(out: &mut Vec<u8>, c: &NewClaimRef<'_>) {
    out.extend_from_slice(&CLAIM_FIELDS.to_be_bytes());
    copy_i64(out, c.customer_id);
    copy_i64(out, c.upload_id);
    copy_text(out, c.payer_raw);
    copy_text(out, c.payer);
    copy_text(out, c.cpt);
    copy_text(out, c.cpt_group);
    copy_date(out, c.submitted_date);
    copy_date(out, c.decided_date);
    copy_field(out, &c.decision_days.to_be_bytes());
    copy_text(out, c.outcome);
    match c.allowed_cents {
        Some(v) => copy_i64(out, v),
        None => copy_null(out),
    }
    copy_opt_text(out, c.denial_reason_code);
    copy_opt_text(out, c.denial_reason_text);
    copy_opt_text(out, c.payer_id);
    copy_opt_text(out, c.modifiers);
    copy_opt_text(out, c.remark_codes);
    copy_opt_text(out, c.adjustments);
    copy_opt_i64(out, c.claim_key);
    copy_opt_i64(out, c.svc_segment);
}

fn copy_opt_i64(out: &mut Vec<u8>, v: Option<i64>) {
    match v {
        Some(v) => copy_i64(out, v),
        None => copy_null(out),
    }
}

fn copy_field(out: &mut Vec<u8>, bytes: &[u8]) {
    // Claim fields are short: the pipeline rejects over-long values (`too_long`).
    let len = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

fn copy_null(out: &mut Vec<u8>) {
    out.extend_from_slice(&(-1i32).to_be_bytes());
}

fn copy_i64(out: &mut Vec<u8>, v: i64) {
    copy_field(out, &v.to_be_bytes());
}

fn copy_text(out: &mut Vec<u8>, s: &str) {
    copy_field(out, s.as_bytes());
}

fn copy_opt_text(out: &mut Vec<u8>, v: Option<&str>) {
    match v {
        Some(s) => copy_text(out, s),
        None => copy_null(out),
    }
}

/// PostgreSQL's `date` in binary: days since 2000-01-01.
fn copy_date(out: &mut Vec<u8>, d: NaiveDate) {
    const PG_EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(2000, 1, 1) {
        Some(d) => d,
        None => unreachable!(),
    };
    // Claim dates are validated (years 1900–2100), far inside i32 days.
    let days = i32::try_from((d - PG_EPOCH).num_days()).unwrap_or(i32::MAX);
    copy_field(out, &days.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tenant::CustomerId;

    #[test]
    fn dates_are_written_as_iso_text() {
        let mut buf = [0u8; 10];
        for (y, m, d, text) in [
            (2026, 1, 2, "2026-01-02"),
            (1999, 12, 31, "1999-12-31"),
            (2030, 10, 9, "2030-10-09"),
        ] {
            write_date(&mut buf, NaiveDate::from_ymd_opt(y, m, d).expect("date"));
            assert_eq!(std::str::from_utf8(&buf).expect("ascii"), text);
        }
    }

    /// The move reads the runs in day order and the stage by their rowid ranges, never
    /// through an automatic index, a sort or a scan of the whole stage (`MOVE_STAGED`'s `+`).
    #[test]
    fn the_move_reads_the_stage_day_by_day_through_its_runs() {
        let mut conn = migrated_memory_db();
        let writer = ClaimWriter::open(&mut conn, &TenantScope::for_system(CustomerId(1)), None)
            .expect("staging");
        #[derive(QueryableByName)]
        struct Step {
            #[diesel(sql_type = diesel::sql_types::Text)]
            detail: String,
        }
        let DbConnection::Sqlite(c) = &mut conn else {
            unreachable!("an in-memory database is SQLite")
        };
        let plan: Vec<String> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {MOVE_STAGED}"))
            .bind::<diesel::sql_types::BigInt, _>(3)
            .load::<Step>(c)
            .expect("plan")
            .into_iter()
            .map(|s| s.detail)
            .collect();
        assert_eq!(
            plan,
            [
                "SCAN r",
                "SEARCH s USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"
            ],
            "runs in their key order (day, first rowid), then the stage by rowid"
        );
        ClaimWriter::close(&mut conn, writer).expect("closed");
    }

    /// Claims staged in batches of scrambled days (several runs per day) all reach
    /// `claim_records`, once each, numbered day by day.
    #[test]
    fn staged_claims_are_moved_completely_day_by_day() {
        use crate::domain::tenant::{CustomerId, TenantScope};
        let mut conn = migrated_memory_db();
        // The rows' tenant and upload are not what this test is about.
        {
            use diesel::connection::SimpleConnection;
            let DbConnection::Sqlite(c) = &mut conn else {
                unreachable!("an in-memory database is SQLite")
            };
            c.batch_execute("PRAGMA foreign_keys = OFF")
                .expect("pragma");
        }
        let scope = TenantScope::for_system(CustomerId(1));
        let payers = ["Cigna", "Aetna", "UHC", "Aetna Inc"];
        let outcomes = ["PAID", "DENIED"];
        let day = |n: u32| NaiveDate::from_ymd_opt(2026, 3, 1 + n % 20).expect("date");
        let claims: Vec<(u32, NewClaimRef<'static>)> = (0..600u32)
            .map(|i| {
                let n = i.wrapping_mul(7919) % 600;
                (
                    n,
                    NewClaimRef {
                        payer_raw: payers[(n % 4) as usize],
                        payer: payers[(n % 4) as usize],
                        cpt_group: if n % 3 == 0 { "LAB" } else { "EVAL_MGMT" },
                        submitted_date: day(n / 3),
                        decision_days: (n % 5) as i32,
                        outcome: outcomes[(n % 2) as usize],
                        allowed_cents: (n % 6 != 0).then_some(i64::from(n % 11) * 100),
                        denial_reason_code: (n % 2 == 1).then_some("CO-45"),
                        ..plain_claim(1, 1, day(n))
                    },
                )
            })
            .collect();
        let mut writer =
            ClaimWriter::open(&mut conn, &TenantScope::for_system(CustomerId(1)), None)
                .expect("staging");
        for batch in claims.chunks(97) {
            // Batches come sorted by day, as the parser hands them over.
            let mut batch: Vec<NewClaimRef<'static>> = batch.iter().map(|(_, c)| *c).collect();
            batch.sort_by_key(|c| c.decided_date);
            writer.write(&mut conn, &scope, &batch).expect("staged");
        }
        let moved = writer.finish(&mut conn, &scope).expect("moved");
        assert_eq!(moved, 600);
        ClaimWriter::close(&mut conn, writer).expect("closed");
        type Key = (
            String,
            String,
            String,
            String,
            i32,
            String,
            Option<i64>,
            Option<String>,
        );
        let DbConnection::Sqlite(c) = &mut conn else {
            unreachable!()
        };
        let stored: Vec<Key> = claim_records::table
            .order(claim_records::id.asc())
            .select((
                claim_records::decided_date.cast::<diesel::sql_types::Text>(),
                claim_records::payer,
                claim_records::cpt_group,
                claim_records::outcome,
                claim_records::decision_days,
                claim_records::submitted_date.cast::<diesel::sql_types::Text>(),
                claim_records::allowed_cents,
                claim_records::denial_reason_code,
            ))
            .load(c)
            .expect("claims");
        assert_eq!(stored.len(), 600);
        assert!(
            stored.is_sorted_by_key(|row| row.0.clone()),
            "ids follow the decided day"
        );
        let mut expected: Vec<Key> = claims
            .iter()
            .map(|(_, c)| {
                (
                    c.decided_date.to_string(),
                    c.payer.to_string(),
                    c.cpt_group.to_string(),
                    c.outcome.to_string(),
                    c.decision_days,
                    c.submitted_date.to_string(),
                    c.allowed_cents,
                    c.denial_reason_code.map(str::to_string),
                )
            })
            .collect();
        expected.sort();
        let mut stored = stored;
        stored.sort();
        assert_eq!(stored, expected, "every staged claim once");
    }

    /// An in-memory SQLite database with the schema.
    fn migrated_memory_db() -> DbConnection {
        let mut conn = crate::db::connection::establish(&crate::db::DbTarget::parse(":memory:"))
            .expect("sqlite");
        crate::db::migrations::run_pending(&mut conn).expect("migrations");
        conn
    }

    /// A paid claim of the tenant and upload decided on `d`, without reason or 835 fields.
    fn plain_claim(customer_id: i64, upload_id: i64, d: NaiveDate) -> NewClaimRef<'static> {
        NewClaimRef {
            customer_id,
            upload_id,
            payer_raw: "Aetna",
            payer: "Aetna",
            cpt: "99213",
            cpt_group: "EVAL_MGMT",
            submitted_date: d,
            decided_date: d,
            decision_days: 0,
            outcome: "PAID",
            allowed_cents: None,
            denial_reason_code: None,
            denial_reason_text: None,
            payer_id: None,
            modifiers: None,
            remark_codes: None,
            adjustments: None,
            claim_key: None,
            svc_segment: None,
        }
    }

    /// A staged claim the move leaves behind (here: of another tenant, written past
    /// `write`'s guard) fails the upload instead of vanishing.
    #[test]
    fn a_claim_the_move_leaves_behind_fails_the_upload() {
        use crate::domain::tenant::{CustomerId, TenantScope};
        let mut conn = migrated_memory_db();
        let mut writer =
            ClaimWriter::open(&mut conn, &TenantScope::for_system(CustomerId(1)), None)
                .expect("staging");
        let stage = writer.stage.as_mut().expect("sqlite stage");
        let d = NaiveDate::from_ymd_opt(2026, 3, 4).expect("date");
        stage.write(&[plain_claim(2, 1, d)]).expect("staged");
        let scope = TenantScope::for_system(CustomerId(1));
        let err = writer
            .finish(&mut conn, &scope)
            .expect_err("a claim was left behind");
        assert!(err.to_string().contains("0 of 1 staged claims"), "{err}");
        ClaimWriter::close(&mut conn, writer).expect("closed");
    }

    /// The SQLite scratch staging stores every character as given (quotes, backslashes,
    /// control characters, non-ASCII) and NULLs as NULL, the attached database is readable
    /// through diesel, and closing detaches it and deletes its file.
    #[test]
    fn sqlite_staging_keeps_text_exactly() {
        use crate::db::DbTarget;
        use crate::domain::tenant::{CustomerId, TenantScope};
        let mut conn =
            crate::db::connection::establish(&DbTarget::parse(":memory:")).expect("sqlite");
        let mut writer =
            ClaimWriter::open(&mut conn, &TenantScope::for_system(CustomerId(1)), None)
                .expect("staging");
        let path = writer
            .stage
            .as_ref()
            .expect("sqlite stage")
            .file
            .path()
            .to_owned();
        assert!(path.exists());
        let d = NaiveDate::from_ymd_opt(2026, 3, 4).expect("date");
        let awkward = "Blue \"Cross\" \\ x\ty\r\nz \u{1} Ärzte 💉 ',";
        let claims = [
            NewClaimRef {
                customer_id: 7,
                upload_id: 9,
                payer_raw: awkward,
                payer: "Blue Cross",
                cpt: "0001F",
                cpt_group: "OTHER",
                submitted_date: d,
                decided_date: d,
                decision_days: 0,
                outcome: "PAID",
                allowed_cents: Some(-0),
                denial_reason_code: None,
                denial_reason_text: Some(awkward),
                payer_id: Some("87726"),
                modifiers: Some("25 59"),
                remark_codes: Some("N130"),
                adjustments: Some("CO-45:30.00 PR-2:-1.05"),
                claim_key: Some(i64::MIN),
                svc_segment: Some(19),
            },
            NewClaimRef {
                decision_days: 12,
                outcome: "DENIED",
                denial_reason_code: Some("CO-197"),
                ..plain_claim(7, 9, d)
            },
        ];
        let scope = TenantScope::for_system(CustomerId(7));
        assert_eq!(writer.write(&mut conn, &scope, &claims).expect("staged"), 2);
        type Row = (
            String,
            NaiveDate,
            i32,
            Option<i64>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = claim_staging::table
            .select((
                claim_staging::payer_raw,
                claim_staging::decided_date,
                claim_staging::decision_days,
                claim_staging::allowed_cents,
                claim_staging::denial_reason_code,
                claim_staging::denial_reason_text,
            ))
            .load(&mut conn)
            .expect("rows");
        assert_eq!(
            rows,
            vec![
                (
                    awkward.to_string(),
                    d,
                    0,
                    Some(0),
                    None,
                    Some(awkward.to_string())
                ),
                (
                    "Aetna".to_string(),
                    d,
                    12,
                    None,
                    Some("CO-197".to_string()),
                    None
                ),
            ]
        );
        type X12 = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<i64>,
        );
        let x12: Vec<X12> = claim_staging::table
            .select((
                claim_staging::payer_id,
                claim_staging::modifiers,
                claim_staging::remark_codes,
                claim_staging::adjustments,
                claim_staging::claim_key,
                claim_staging::svc_segment,
            ))
            .load(&mut conn)
            .expect("x12 columns");
        assert_eq!(
            x12,
            vec![
                (
                    Some("87726".into()),
                    Some("25 59".into()),
                    Some("N130".into()),
                    Some("CO-45:30.00 PR-2:-1.05".into()),
                    Some(i64::MIN),
                    Some(19)
                ),
                (None, None, None, None, None, None),
            ]
        );
        ClaimWriter::close(&mut conn, writer).expect("closed");
        assert!(!path.exists(), "the scratch file is deleted");
    }

    /// A connection whose tear-down never ran (the stage still attached, its file gone)
    /// can run the next import.
    #[test]
    fn a_stale_stage_on_a_pooled_connection_is_replaced() {
        use crate::db::DbTarget;
        let mut conn =
            crate::db::connection::establish(&DbTarget::parse(":memory:")).expect("sqlite");
        let stale = ClaimWriter::open(&mut conn, &TenantScope::for_system(CustomerId(1)), None)
            .expect("first");
        drop(stale);
        let writer = ClaimWriter::open(&mut conn, &TenantScope::for_system(CustomerId(1)), None)
            .expect("second import still opens");
        ClaimWriter::close(&mut conn, writer).expect("closed");
    }

    #[test]
    fn copy_rows_are_binary_fields_with_lengths_nulls_and_day_numbers() {
        let d = NaiveDate::from_ymd_opt(2000, 1, 3).expect("date");
        let claim = NewClaimRef {
            customer_id: 1,
            upload_id: 2,
            payer_raw: "Blue\tCross\\",
            payer: "Blue Cross",
            cpt: "99213",
            cpt_group: "EVAL_MGMT",
            submitted_date: d,
            decided_date: d,
            decision_days: 7,
            outcome: "PAID",
            allowed_cents: None,
            denial_reason_code: Some("CO-16"),
            denial_reason_text: Some("line one\r\nline two"),
            payer_id: None,
            modifiers: Some("25"),
            remark_codes: None,
            adjustments: None,
            claim_key: Some(-2),
            svc_segment: None,
        };
        let mut out = Vec::new();
        write_copy_row(&mut out, &claim);
        let mut want: Vec<u8> = vec![0, 19];
        let field = |want: &mut Vec<u8>, bytes: &[u8]| {
            want.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
            want.extend_from_slice(bytes);
        };
        field(&mut want, &1i64.to_be_bytes());
        field(&mut want, &2i64.to_be_bytes());
        field(&mut want, b"Blue\tCross\\"); // raw bytes: nothing is escaped
        field(&mut want, b"Blue Cross");
        field(&mut want, b"99213");
        field(&mut want, b"EVAL_MGMT");
        field(&mut want, &2i32.to_be_bytes()); // two days after 2000-01-01
        field(&mut want, &2i32.to_be_bytes());
        field(&mut want, &7i32.to_be_bytes());
        field(&mut want, b"PAID");
        want.extend_from_slice(&(-1i32).to_be_bytes()); // NULL
        field(&mut want, b"CO-16");
        field(&mut want, b"line one\r\nline two");
        want.extend_from_slice(&(-1i32).to_be_bytes()); // payer_id NULL
        field(&mut want, b"25");
        want.extend_from_slice(&(-1i32).to_be_bytes());
        want.extend_from_slice(&(-1i32).to_be_bytes());
        field(&mut want, &(-2i64).to_be_bytes());
        want.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(out, want);
        assert_eq!(COPY_BINARY_HEADER.len(), 19);
    }

    #[test]
    fn stale_scratch_databases_of_killed_imports_are_removed() {
        let dir = tempfile::tempdir().expect("dir");
        let make = |name: &str, age_hours: u64| {
            let path = dir.path().join(name);
            let file = std::fs::File::create(&path).expect("create");
            let when =
                std::time::SystemTime::now() - std::time::Duration::from_secs(age_hours * 3600);
            file.set_modified(when).expect("mtime");
            path
        };
        let stale = make("payerwatch-stage-abc123.db", 7);
        let live = make("payerwatch-stage-def456.db", 0);
        let unrelated = make("other-tool.db", 30);
        assert_eq!(remove_stale_stages(dir.path(), STALE_STAGE_AGE), 1);
        assert!(!stale.exists());
        assert!(live.exists());
        assert!(unrelated.exists());
        assert_eq!(
            remove_stale_stages(&dir.path().join("missing"), STALE_STAGE_AGE),
            0
        );
    }
}
