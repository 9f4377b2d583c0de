//! Claims of large uploads in partitions of their own (PostgreSQL, migration
//! 2026-12-07-000300; docs/decisions.md "Claim partitions on PostgreSQL"). What a user
//! relies on holds either way — every claim stored once, its tenant's only, rollups equal
//! to their claims, an upload all or nothing — and on PostgreSQL the storage is as
//! designed: a large upload's claims in `claim_records_u<upload>` under its tenant, small
//! ones in the tenant's shared partition, nothing left behind by a failed load, and a
//! tenant's queries reading its own partitions only. On SQLite (one claims table) the
//! storage checks are skipped; the behaviour checks run.

use chrono::NaiveDate;
use diesel::prelude::*;
use payerwatch::db::repo::{claims, uploads};
use payerwatch::db::{Backend, Db, DbConnection, DbError, migrations};
use payerwatch::devtools::generate::GenOptions;
use payerwatch::domain::tenant::TenantScope;
use payerwatch::ingest::{IngestOptions, IngestOutcome, UploadStatus};
use payerwatch::services::rollups;

use crate::common::{migrated_db, new_tenant, upload_csv};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).expect("date")
}

fn generated_csv(rows: u64, seed: u64) -> Vec<u8> {
    let options = GenOptions {
        rows,
        seed,
        end: today(),
        days: 90,
        ..GenOptions::default()
    };
    let mut csv = Vec::new();
    payerwatch::devtools::generate::generate(&options, &mut csv).expect("generated");
    csv
}

/// Uploads `body` as `claims.csv` (see [`upload_csv`]).
fn upload(
    db: &Db,
    scope: TenantScope,
    body: &[u8],
    own_partition: bool,
    options: IngestOptions,
) -> IngestOutcome {
    upload_csv(
        db,
        scope,
        "claims.csv",
        body,
        today(),
        own_partition,
        options,
    )
}

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Line {
    #[diesel(sql_type = diesel::sql_types::Text)]
    line: String,
}

fn lines(conn: &mut DbConnection, sql: &str) -> Vec<String> {
    let mut rows: Vec<Line> = diesel::sql_query(sql).load(conn).expect(sql);
    rows.sort();
    rows.into_iter().map(|l| l.line).collect()
}

/// PostgreSQL: `partition: claims` for every leaf partition holding claims of `scope`.
fn claims_by_partition(conn: &mut DbConnection, scope: &TenantScope) -> Vec<String> {
    lines(
        conn,
        &format!(
            "SELECT tableoid::regclass::text || ': ' || COUNT(*) AS line FROM claim_records \
             WHERE customer_id = {} GROUP BY tableoid",
            scope.id()
        ),
    )
}

/// PostgreSQL: schemas a large upload's load leaves while it runs (none after it).
fn load_schemas(conn: &mut DbConnection) -> Vec<String> {
    lines(
        conn,
        "SELECT nspname::text AS line FROM pg_namespace WHERE nspname LIKE 'claims_load_%'",
    )
}

fn accepted(out: &IngestOutcome) -> i64 {
    out.report.as_ref().expect("report").accepted_rows as i64
}

#[test]
fn a_large_upload_is_stored_in_a_partition_of_its_own_and_reads_like_any_other() {
    let (database, db) = migrated_db(4);
    let (acme, other) = (new_tenant(&db, "acme"), new_tenant(&db, "other"));

    let large = upload(
        &db,
        acme,
        &generated_csv(3_000, 1),
        true,
        IngestOptions::default(),
    );
    let small = upload(
        &db,
        acme,
        &generated_csv(400, 2),
        false,
        IngestOptions::default(),
    );
    let theirs = upload(
        &db,
        other,
        &generated_csv(500, 3),
        true,
        IngestOptions::default(),
    );
    for out in [&large, &small, &theirs] {
        assert_ne!(out.status, UploadStatus::Failed, "{:?}", out.message);
    }

    let mut conn = db.get().expect("connection");
    assert_eq!(
        claims::count(&mut conn, &acme).expect("count"),
        accepted(&large) + accepted(&small)
    );
    assert_eq!(
        claims::count_for_upload(&mut conn, &acme, large.upload_id).expect("count"),
        accepted(&large)
    );
    // Another tenant's upload is not found under this one, partition or not.
    assert_eq!(
        claims::count_for_upload(&mut conn, &acme, theirs.upload_id).expect("count"),
        0
    );
    assert_eq!(
        claims::count(&mut conn, &other).expect("count"),
        accepted(&theirs)
    );
    for scope in [&acme, &other] {
        let differences = rollups::verify(&db, scope).expect("verify");
        assert!(differences.is_empty(), "{differences:?}");
    }
    // An upload with claims stays undeletable, in its own partition too.
    let (id, owner) = (large.upload_id, acme);
    let refused = db.write_blocking(move |c| uploads::delete(c, &owner, id));
    assert!(
        matches!(refused, Err(DbError::UploadHasClaims { .. })),
        "{refused:?}"
    );
    let refused = db.write_blocking(move |c| uploads::delete_relying_on_foreign_key(c, &owner, id));
    assert!(refused.is_err(), "the database itself refuses it");

    if database.backend() != Backend::Postgres {
        return;
    }
    assert_eq!(
        claims_by_partition(&mut conn, &acme),
        [
            format!("claim_records_t{}_shared: {}", acme.id(), accepted(&small)),
            format!("claim_records_u{}: {}", large.upload_id, accepted(&large)),
        ]
    );
    assert_eq!(
        claims_by_partition(&mut conn, &other),
        [format!(
            "claim_records_u{}: {}",
            theirs.upload_id,
            accepted(&theirs)
        )]
    );
    assert!(load_schemas(&mut conn).is_empty());
    // The partition has the claims table's indexes, built at the attach.
    let indexes = lines(
        &mut conn,
        &format!(
            "SELECT regexp_replace(indexdef, '^.* USING ', '') AS line FROM pg_indexes \
             WHERE tablename = 'claim_records_u{}'",
            large.upload_id
        ),
    );
    assert_eq!(
        indexes,
        [
            "btree (customer_id, decided_date) INCLUDE (payer, cpt_group, outcome, decision_days, \
             submitted_date, allowed_cents, denial_reason_code)",
            "btree (reversed_by) WHERE (reversed_by IS NOT NULL)",
            "btree (upload_id, id, customer_id, segment)",
        ]
    );
    // A tenant's date-range read (what the drill-downs run) plans over its own
    // partitions only.
    #[derive(QueryableByName)]
    struct PlanLine {
        #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
        step: String,
    }
    let plan: Vec<PlanLine> = diesel::sql_query(format!(
        "EXPLAIN SELECT COUNT(*) FROM claim_records WHERE customer_id = {} \
         AND decided_date >= DATE '2026-09-01'",
        acme.id()
    ))
    .load(&mut conn)
    .expect("plan");
    let plan: String = plan.into_iter().map(|l| l.step + "\n").collect();
    assert!(
        plan.contains(&format!("claim_records_u{}", large.upload_id)),
        "{plan}"
    );
    assert!(
        !plan.contains(&format!("claim_records_u{}", theirs.upload_id)),
        "{plan}"
    );
    assert!(
        !plan.contains(&format!("claim_records_t{}", other.id())),
        "{plan}"
    );
}

/// All or nothing holds for a large upload: a failure midway, and a duplicate refused
/// after its claims were copied, store nothing and leave no table or schema behind.
#[test]
fn a_large_upload_that_fails_leaves_nothing_behind() {
    // One connection: the one every load ran on is the one checked below.
    let (database, db) = migrated_db(1);
    let acme = new_tenant(&db, "acme");
    let body = generated_csv(2_000, 4);

    let broken = upload(
        &db,
        acme,
        &body,
        true,
        IngestOptions {
            fail_after_rows: Some(700),
            ..IngestOptions::default()
        },
    );
    assert_eq!(broken.status, UploadStatus::Failed);
    let stored = upload(&db, acme, &body, true, IngestOptions::default());
    assert_ne!(stored.status, UploadStatus::Failed, "{:?}", stored.message);
    let duplicate = upload(&db, acme, &body, true, IngestOptions::default());
    assert_eq!(duplicate.status, UploadStatus::Failed);
    assert_eq!(duplicate.duplicate_of, Some(stored.upload_id));

    assert!(rollups::verify(&db, &acme).expect("verify").is_empty());
    let mut conn = db.get().expect("connection");
    assert_eq!(
        claims::count(&mut conn, &acme).expect("count"),
        accepted(&stored)
    );
    for failed in [broken.upload_id, duplicate.upload_id] {
        assert_eq!(
            claims::count_for_upload(&mut conn, &acme, failed).expect("count"),
            0
        );
    }
    if database.backend() != Backend::Postgres {
        return;
    }
    assert_eq!(
        claims_by_partition(&mut conn, &acme),
        [format!(
            "claim_records_u{}: {}",
            stored.upload_id,
            accepted(&stored)
        )]
    );
    let tables = lines(
        &mut conn,
        "SELECT relname::text AS line FROM pg_class WHERE relname LIKE 'claim_records_%' \
         AND relkind IN ('r', 'p')",
    );
    assert_eq!(
        tables,
        [
            format!("claim_records_t{}", acme.id()),
            format!("claim_records_t{}_shared", acme.id()),
            format!("claim_records_u{}", stored.upload_id),
        ]
    );
    assert!(load_schemas(&mut conn).is_empty());
    // The load schema led the search path of those transactions only.
    assert_eq!(
        lines(&mut conn, "SELECT current_setting('search_path') AS line"),
        ["\"$user\", public"]
    );
}

/// Two large uploads of one tenant at once (the second attach waits for the first
/// commit) both land, each in its own partition; past the ceiling, a large upload goes
/// into the shared partition.
#[test]
fn large_uploads_at_once_both_land_and_the_partitions_per_tenant_are_capped() {
    use payerwatch::db::repo::claim_writer::MAX_OWN_PARTITIONS;
    let (database, db) = migrated_db(4);
    let acme = new_tenant(&db, "acme");
    let bodies = [generated_csv(2_500, 9), generated_csv(2_500, 10)];
    let outcomes: Vec<IngestOutcome> = std::thread::scope(|s| {
        let running: Vec<_> = bodies
            .iter()
            .map(|body| {
                let db = &db;
                s.spawn(move || upload(db, acme, body, true, IngestOptions::default()))
            })
            .collect();
        running
            .into_iter()
            .map(|t| t.join().expect("upload thread"))
            .collect()
    });
    for out in &outcomes {
        assert_ne!(out.status, UploadStatus::Failed, "{:?}", out.message);
    }
    let mut conn = db.get().expect("connection");
    assert_eq!(
        claims::count(&mut conn, &acme).expect("count"),
        outcomes.iter().map(accepted).sum::<i64>()
    );
    assert!(rollups::verify(&db, &acme).expect("verify").is_empty());
    if database.backend() != Backend::Postgres {
        return;
    }
    let mut expected: Vec<String> = outcomes
        .iter()
        .map(|out| format!("claim_records_u{}: {}", out.upload_id, accepted(out)))
        .collect();
    expected.sort();
    assert_eq!(claims_by_partition(&mut conn, &acme), expected);

    // Fill the tenant up to the ceiling with empty partitions (negative segments are no
    // upload's), then a large upload goes into the shared partition.
    for segment in 1..=MAX_OWN_PARTITIONS - 2 {
        diesel::connection::SimpleConnection::batch_execute(
            &mut conn,
            &format!(
                "CREATE TABLE claim_records_filler{segment} (LIKE claim_records INCLUDING DEFAULTS); \
                 ALTER TABLE claim_records_t{} ATTACH PARTITION claim_records_filler{segment} \
                 FOR VALUES IN (-{segment})",
                acme.id()
            ),
        )
        .expect("filler partition");
    }
    let capped = upload(
        &db,
        acme,
        &generated_csv(300, 11),
        true,
        IngestOptions::default(),
    );
    assert_ne!(capped.status, UploadStatus::Failed, "{:?}", capped.message);
    expected.insert(
        0,
        format!("claim_records_t{}_shared: {}", acme.id(), accepted(&capped)),
    );
    assert_eq!(claims_by_partition(&mut conn, &acme), expected);
}

/// PostgreSQL: the load functions keep a tenant's partition to that tenant's upload — a
/// row of another tenant or upload is refused while loading, and another tenant's upload
/// cannot be attached (the statement trigger's rule, for a table it does not watch).
#[test]
fn a_load_table_takes_its_own_tenants_upload_only() {
    let (database, db) = migrated_db(2);
    if database.backend() != Backend::Postgres {
        return;
    }
    let (acme, other) = (new_tenant(&db, "acme"), new_tenant(&db, "other"));
    let mut conn = db.get().expect("connection");
    let ours = uploads::insert_processing(&mut conn, &acme, "ours.csv", None).expect("upload");
    let theirs = uploads::insert_processing(&mut conn, &other, "theirs.csv", None).expect("upload");
    let row = |customer: i64, upload: i64| {
        format!(
            "INSERT INTO claim_records_load (customer_id, upload_id, payer_raw, payer, cpt, \
             cpt_group, submitted_date, decided_date, decision_days, outcome) VALUES \
             ({customer}, {upload}, 'Aetna', 'Aetna', '99213', 'EVAL_MGMT', DATE '2026-10-01', \
             DATE '2026-10-05', 4, 'PAID')"
        )
    };
    let attempt = |conn: &mut DbConnection, begin: (i64, i64), sql: &str| {
        payerwatch::db::transaction(conn, |conn| {
            let DbConnection::Postgresql(c) = conn else {
                unreachable!("checked above")
            };
            diesel::sql_query("SELECT claim_records_tenant_partition($1)")
                .bind::<diesel::sql_types::BigInt, _>(begin.0)
                .execute(c)?;
            diesel::sql_query(format!(
                "SELECT claim_records_load_begin({}, {})",
                begin.0, begin.1
            ))
            .execute(c)?;
            diesel::connection::SimpleConnection::batch_execute(c, sql)?;
            Ok::<_, DbError>(())
        })
    };
    let attach_ours = format!("SELECT claim_records_load_attach({}, {ours})", acme.id());
    attempt(
        &mut conn,
        (acme.id(), ours),
        &format!("{}; {attach_ours}", row(acme.id(), ours)),
    )
    .expect("its own row loads and attaches");
    for (customer, upload) in [(other.id(), ours), (acme.id(), theirs)] {
        let refused = attempt(&mut conn, (acme.id(), ours), &row(customer, upload));
        assert!(
            refused.is_err(),
            "row of customer {customer}, upload {upload}"
        );
    }
    let attach = format!("SELECT claim_records_load_attach({}, {theirs})", acme.id());
    let refused = attempt(&mut conn, (acme.id(), theirs), &attach);
    assert!(matches!(refused, Err(DbError::ForeignKey)), "{refused:?}");
    assert_eq!(claims::count(&mut conn, &acme).expect("count"), 1);
    assert_eq!(claims::count(&mut conn, &other).expect("count"), 0);
    assert!(load_schemas(&mut conn).is_empty());
}

/// The migration carries the claims stored before it into their tenants' partitions
/// (ids kept), and its revert brings them back into one table.
#[test]
fn partitioning_keeps_the_claims_stored_before_it_and_its_revert_too() {
    let (database, db) = migrated_db(2);
    if database.backend() != Backend::Postgres {
        return;
    }
    let (acme, other) = (new_tenant(&db, "acme"), new_tenant(&db, "other"));
    upload(
        &db,
        acme,
        &generated_csv(800, 5),
        true,
        IngestOptions::default(),
    );
    upload(
        &db,
        acme,
        &generated_csv(300, 6),
        false,
        IngestOptions::default(),
    );
    let theirs = upload(
        &db,
        other,
        &generated_csv(300, 7),
        false,
        IngestOptions::default(),
    );
    let mut conn = db.get().expect("connection");
    let all_claims = |conn: &mut DbConnection| {
        lines(
            conn,
            "SELECT concat_ws(' ', id, customer_id, upload_id, payer, cpt_group, decided_date, \
             outcome, allowed_cents) AS line FROM claim_records",
        )
    };
    let before = all_claims(&mut conn);
    assert!(before.len() > 1_000);

    // Back to before the partitioning migration (and the ones after it).
    let mut reverted = Vec::new();
    while !reverted.iter().any(|v: &String| v.contains("000300")) {
        reverted.push(migrations::revert_last(&mut conn).expect("revert"));
        assert!(reverted.len() <= 3, "{reverted:?}");
    }
    assert_eq!(all_claims(&mut conn), before);
    migrations::run_pending(&mut conn).expect("re-apply");
    assert_eq!(all_claims(&mut conn), before);
    assert_eq!(
        claims_by_partition(&mut conn, &other),
        [format!(
            "claim_records_t{}_shared: {}",
            other.id(),
            accepted(&theirs)
        )]
    );
    // New claims continue the same numbering.
    let next = upload(
        &db,
        acme,
        &generated_csv(50, 8),
        false,
        IngestOptions::default(),
    );
    let max_before: i64 = before
        .iter()
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .max()
        .expect("ids");
    let new_ids = lines(
        &mut conn,
        &format!(
            "SELECT id::text AS line FROM claim_records WHERE upload_id = {} AND id <= {max_before}",
            next.upload_id
        ),
    );
    assert!(new_ids.is_empty(), "{new_ids:?}");
}

/// PostgreSQL: after an upload the partition that received its claims has statistics
/// (the claim pages are planned on them; autovacuum may be off): a large upload's own
/// partition at once, the shared partition when it had none or the upload changed more
/// than autovacuum's 50 + 10 % of it — not for every small upload.
#[test]
fn the_partition_an_upload_filled_is_analysed_when_its_statistics_are_stale() {
    let (database, db) = migrated_db(2);
    if database.backend() != Backend::Postgres {
        return;
    }
    let acme = new_tenant(&db, "acme");
    let mut conn = db.get().expect("connection");
    let rows_known = |conn: &mut DbConnection, table: &str| -> String {
        lines(
            conn,
            &format!(
                "SELECT reltuples::bigint::text || ' ' || (SELECT COUNT(*) FROM pg_stats \
                 WHERE tablename = '{table}' AND attname = 'decided_date')::text AS line \
                 FROM pg_class WHERE relname = '{table}'"
            ),
        )
        .join("")
    };
    let shared = format!("claim_records_t{}_shared", acme.id());

    let first = upload(
        &db,
        acme,
        &generated_csv(1_000, 12),
        false,
        IngestOptions::default(),
    );
    assert_eq!(
        rows_known(&mut conn, &shared),
        format!("{} 1", accepted(&first))
    );
    // 40 claims: under 50 + 10 % of the partition, so its statistics stay as they were.
    let few = upload(
        &db,
        acme,
        &generated_csv(40, 13),
        false,
        IngestOptions::default(),
    );
    assert!(accepted(&few) > 0);
    assert_eq!(
        rows_known(&mut conn, &shared),
        format!("{} 1", accepted(&first))
    );
    let more = upload(
        &db,
        acme,
        &generated_csv(600, 14),
        false,
        IngestOptions::default(),
    );
    assert_eq!(
        rows_known(&mut conn, &shared),
        format!("{} 1", accepted(&first) + accepted(&few) + accepted(&more))
    );
    let large = upload(
        &db,
        acme,
        &generated_csv(2_000, 15),
        true,
        IngestOptions::default(),
    );
    assert_eq!(
        rows_known(&mut conn, &format!("claim_records_u{}", large.upload_id)),
        format!("{} 1", accepted(&large))
    );
}
