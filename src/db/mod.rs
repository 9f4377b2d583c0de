//! Database access: connection over two backends, pool, migrations, schema and the
//! tenant-scoped repositories. Nothing outside this module writes SQL.

pub mod connection;
pub mod error;
pub mod migrations;
pub mod repo;
pub mod schema;
pub mod sqlite_process;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::r2d2::{Pool, PooledConnection};

pub use connection::{Backend, DbConnection, DbManager, DbTarget};
pub use error::DbError;
pub use repo::audit::{AuditContext, AuditEntry, AuditFor};

use repo::audit;

pub type DbPool = Pool<DbManager>;
pub type PooledDb = PooledConnection<DbManager>;

/// Shared handle to the database: a pool plus, on SQLite, the single-writer lock.
///
/// SQLite allows one writer at a time; serialising our own write transactions in
/// process avoids `SQLITE_BUSY` on lock upgrades (readers are never blocked in WAL).
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    backend: Backend,
    write_lock: Arc<Mutex<()>>,
    /// Admission for [`Db::run`] / [`Db::write`] (request handlers), see
    /// [`Db::limit_request_concurrency`].
    requests: Arc<tokio::sync::Semaphore>,
}

#[derive(Debug, Clone)]
pub struct PoolState {
    pub max_size: u32,
    pub connections: u32,
    pub idle: u32,
}

impl Db {
    /// Opens a pool for `database_url` (`postgres://…`, `sqlite://path` or a path),
    /// failing when no connection can be made (CLI commands want to know at once).
    pub fn connect(database_url: &str, max_size: u32) -> Result<Db, DbError> {
        let target = DbTarget::parse(database_url);
        let backend = target.backend();
        // Every connection is made now, before `build` returns (a command learns at once
        // that the database is unreachable), and none later: r2d2 makes connections on
        // background threads, and a command that exits while one of them is inside
        // libpq's connect crashes in the C libraries' exit handlers (seen as SIGSEGV
        // after `compute --print-sql`, which checked out one connection and so started
        // a refill, and possible when `compute` asked for its second one). With the idle
        // minimum at the maximum and no reaping, the pool never needs another.
        let pool = pool_builder(max_size)
            .min_idle(Some(max_size))
            .idle_timeout(None)
            .max_lifetime(None)
            .build(DbManager::new(target))
            .map_err(DbError::Pool)?;
        Ok(Db::from_pool(pool, backend))
    }

    /// Opens a pool without waiting for the database: a server starts even while its
    /// database is down, and readiness reports it.
    pub fn connect_lazy(database_url: &str, max_size: u32) -> Db {
        let target = DbTarget::parse(database_url);
        let backend = target.backend();
        let pool = pool_builder(max_size).build_unchecked(DbManager::new(target));
        Db::from_pool(pool, backend)
    }

    fn from_pool(pool: DbPool, backend: Backend) -> Db {
        let max_size = pool.max_size() as usize;
        Db {
            pool,
            backend,
            write_lock: Arc::new(Mutex::new(())),
            requests: Arc::new(tokio::sync::Semaphore::new(max_size)),
        }
    }

    /// On PostgreSQL, at most `n` (and never more than the pool holds) [`Db::run`] /
    /// [`Db::write`] calls use a connection at once; further callers wait their turn
    /// without a thread, for at most the pool's connection timeout ([`DbError::Busy`]).
    /// Without a limit, 32 concurrent page requests kept all ten pooled PostgreSQL
    /// backends busy on two cores, and the CPU contention between them, the handlers'
    /// threads and the load generator stretched the drift feed's p99 from ≈ 6 ms to
    /// 60–450 ms at the same throughput (docs/performance.md, "HTTP under load").
    ///
    /// SQLite is left alone: its queries run in process (no such contention measured),
    /// and its writes wait for one another — an import holds the write lock while it
    /// commits (its parse stages apart, `write_blocking_staged`) — so a few waiting
    /// writers would fill a small limit and stall every page behind them.
    pub fn limit_request_concurrency(mut self, n: u32) -> Db {
        if self.backend == Backend::Postgres {
            let n = n.clamp(1, self.pool.max_size()) as usize;
            self.requests = Arc::new(tokio::sync::Semaphore::new(n));
        }
        self
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool_state(&self) -> PoolState {
        let state = self.pool.state();
        PoolState {
            max_size: self.pool.max_size(),
            connections: state.connections,
            idle: state.idle_connections,
        }
    }

    /// A pooled connection for blocking code (CLI, background jobs).
    pub fn get(&self) -> Result<PooledDb, DbError> {
        Ok(self.pool.get()?)
    }

    /// A pooled connection, waiting at most `timeout`.
    pub fn get_timeout(&self, timeout: Duration) -> Result<PooledDb, DbError> {
        Ok(self.pool.get_timeout(timeout)?)
    }

    /// Runs `f` with a connection on the blocking pool, off the async workers.
    pub async fn run<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
    {
        let permit = self.admission().await?;
        let pool = self.pool.clone();
        actix_web::rt::task::spawn_blocking(move || {
            // Held until the work is done, even if the awaiting request goes away.
            let _permit = permit;
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|_| DbError::Cancelled)?
    }

    async fn admission(&self) -> Result<tokio::sync::OwnedSemaphorePermit, DbError> {
        let wait = Arc::clone(&self.requests).acquire_owned();
        match tokio::time::timeout(self.pool.connection_timeout(), wait).await {
            Ok(permit) => permit.map_err(|_| DbError::Cancelled),
            Err(_) => Err(DbError::Busy),
        }
    }

    /// Runs `f` inside one write transaction (serialised in process on SQLite). The
    /// error type is the caller's: any `Err` — a database error or a business outcome
    /// such as "last owner" — rolls the whole transaction back.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        let permit = self.admission().await?;
        let db = self.clone();
        actix_web::rt::task::spawn_blocking(move || {
            let _permit = permit;
            db.write_blocking(f)
        })
        .await
        .map_err(|_| E::from(DbError::Cancelled))?
    }

    /// An audited change: `f`'s change and the audit row of `entry` commit in one
    /// transaction, so neither can exist without the other (a failing audit insert rolls
    /// the change back). `entry` is an [`AuditEntry`], or a function from `f`'s result to
    /// one (when the change creates the target, its id is known only then).
    pub async fn write_audited<T, E, A, F>(&self, ctx: AuditContext, entry: A, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        A: AuditFor<T> + Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        self.write(move |conn| {
            let value = f(conn)?;
            audit::record(conn, &ctx, entry.entry_for(&value))?;
            Ok(value)
        })
        .await
    }

    /// An audited action that changes nothing else (an export): its audit row alone.
    pub async fn write_audit(
        &self,
        ctx: AuditContext,
        entry: AuditEntry<'static>,
    ) -> Result<(), DbError> {
        self.write_audited(ctx, entry, |_| Ok(())).await
    }

    /// Blocking form of [`Db::write`] for the CLI and background threads.
    pub fn write_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<DbError>,
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
    {
        let mut conn = self.pool.get().map_err(|e| E::from(DbError::from(e)))?;
        let _guard = match self.backend {
            // A poisoned lock only means another writer panicked; the database itself
            // rolled that transaction back, so carrying on is safe.
            Backend::Sqlite => Some(self.write_lock.lock().unwrap_or_else(|e| e.into_inner())),
            Backend::Postgres => None,
        };
        in_transaction(&mut conn, f)
    }

    /// Blocking form of [`Db::write_audited`] (the CLI's audited changes).
    pub fn write_audited_blocking<T, E, A, F>(
        &self,
        ctx: &AuditContext,
        entry: A,
        f: F,
    ) -> Result<T, E>
    where
        E: From<DbError>,
        A: AuditFor<T>,
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
    {
        self.write_blocking(move |conn| {
            let value = f(conn)?;
            audit::record(conn, ctx, entry.entry_for(&value))?;
            Ok(value)
        })
    }

    /// A write whose bulk can be staged apart from the main database (the ingest): `before`
    /// opens the stage on the connection (what cannot happen inside a transaction: the
    /// SQLite `ATTACH`), `stage` fills it, `commit` makes it visible with the rest of the
    /// change, `after` tears the stage down whatever the outcome (a failing tear-down is
    /// logged, not returned: the transaction's outcome stands).
    ///
    /// When `apart(&state)` says the stage is a database of its own (SQLite's scratch
    /// file), `stage` runs with **no transaction and no writer lock** on the main
    /// database — an upload's parse and staging no longer make other tenants' sign-in and
    /// session writes wait for its whole run (issue 16) — and only `commit` runs in the
    /// locked transaction. Otherwise (PostgreSQL's `COPY` into the real table) `stage` and
    /// `commit` share one transaction, so a rollback takes the staged rows with it.
    pub fn write_blocking_staged<S, P, T, E, B, St, F, A>(
        &self,
        before: B,
        apart: fn(&S) -> bool,
        stage: St,
        commit: F,
        after: A,
    ) -> Result<T, E>
    where
        E: From<DbError>,
        B: FnOnce(&mut DbConnection) -> Result<S, DbError>,
        St: FnOnce(&mut DbConnection, &mut S) -> Result<P, E>,
        F: FnOnce(&mut DbConnection, &mut S, P) -> Result<T, E>,
        A: FnOnce(&mut DbConnection, S) -> Result<(), DbError>,
    {
        let mut conn = self.pool.get().map_err(|e| E::from(DbError::from(e)))?;
        let mut state = before(&mut conn).map_err(E::from)?;
        let outcome = if apart(&state) {
            match stage(&mut conn, &mut state) {
                Ok(staged) => {
                    let _guard = match self.backend {
                        Backend::Sqlite => {
                            Some(self.write_lock.lock().unwrap_or_else(|e| e.into_inner()))
                        }
                        Backend::Postgres => None,
                    };
                    // Deferred on purpose: `BEGIN IMMEDIATE` would also lock the attached
                    // stage. `commit` writes to the main database first, which takes its
                    // lock while waiting its turn, before it reads anything.
                    in_transaction_as(&mut conn, "BEGIN", |c| commit(c, &mut state, staged))
                }
                Err(e) => Err(e),
            }
        } else {
            let _guard = match self.backend {
                Backend::Sqlite => Some(self.write_lock.lock().unwrap_or_else(|e| e.into_inner())),
                Backend::Postgres => None,
            };
            in_transaction_as(&mut conn, "BEGIN", |c| {
                let staged = stage(c, &mut state)?;
                commit(c, &mut state, staged)
            })
        };
        if let Err(err) = after(&mut conn, state) {
            tracing::warn!(error = %err, "resetting the connection after a write failed");
        }
        outcome
    }

    pub fn migrate(&self) -> Result<Vec<String>, DbError> {
        let mut conn = self.get()?;
        migrations::run_pending(&mut conn)
    }
}

fn pool_builder(max_size: u32) -> diesel::r2d2::Builder<DbManager> {
    Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        .test_on_check_out(false)
        .connection_timeout(Duration::from_secs(10))
}

/// Runs `f` in a transaction, committing on `Ok` and rolling back on `Err`.
pub fn transaction<T, F>(conn: &mut DbConnection, f: F) -> Result<T, DbError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, DbError>,
{
    in_transaction(conn, f)
}

/// A transaction with the caller's error type. On SQLite the outermost one begins
/// `IMMEDIATE`: it takes the write lock at once, waiting its turn (busy timeout). A
/// deferred transaction reads first and takes the lock at its first write; if any other
/// connection committed in between (a session or audit row written by a page request),
/// SQLite refuses the upgrade at once with `SQLITE_BUSY` — no waiting helps, the
/// snapshot is stale. That is what failed a large web upload while someone signed in
/// (issue 14, symptom 1).
pub fn in_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    E: From<DbError>,
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
{
    in_transaction_as(conn, "BEGIN IMMEDIATE", f)
}

/// [`in_transaction`] beginning the outermost SQLite transaction with `begin`.
fn in_transaction_as<T, E, F>(conn: &mut DbConnection, begin: &str, f: F) -> Result<T, E>
where
    E: From<DbError>,
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
{
    use diesel::Connection;
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    if let DbConnection::Sqlite(c) = conn {
        let depth = AnsiTransactionManager::transaction_manager_status_mut(c)
            .transaction_depth()
            .map_err(|e| E::from(DbError::from(e)))?;
        if depth.is_none() {
            AnsiTransactionManager::begin_transaction_sql(c, begin)
                .map_err(|e| E::from(DbError::from(e)))?;
            let outcome = f(conn);
            let DbConnection::Sqlite(c) = conn else {
                unreachable!("the connection's backend does not change");
            };
            return match outcome {
                Ok(value) => {
                    match <AnsiTransactionManager as TransactionManager<_>>::commit_transaction(c) {
                        Ok(()) => Ok(value),
                        Err(err) => {
                            let _ = <AnsiTransactionManager as TransactionManager<_>>::rollback_transaction(c);
                            Err(E::from(DbError::from(err)))
                        }
                    }
                }
                Err(err) => {
                    if let Err(rollback) =
                        <AnsiTransactionManager as TransactionManager<_>>::rollback_transaction(c)
                    {
                        tracing::warn!(error = %crate::error_chain::ErrorChain(&rollback), "rollback failed");
                    }
                    Err(err)
                }
            };
        }
    }
    let mut failure: Option<E> = None;
    let outcome = conn.transaction::<T, diesel::result::Error, _>(|c| {
        f(c).map_err(|e| {
            failure = Some(e);
            diesel::result::Error::RollbackTransaction
        })
    });
    match (outcome, failure) {
        (Ok(value), _) => Ok(value),
        (Err(_), Some(err)) => Err(err),
        (Err(err), None) => Err(E::from(DbError::from(err))),
    }
}
