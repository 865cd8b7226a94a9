//! One target (a database's own URL, or one of its shards): reading where it stands, and
//! running a planned list of migrations up or down on one locked connection.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use grant_core::{Backend, PoolSlot};

use crate::bookkeeping::Applied;
use crate::conn::{is_sqlite_busy, Conn, LockError};
use crate::error::MigrateError;
use crate::plan::{plan_steps, Operation as Op};
use crate::report::{Direction, Progress, Step, TargetReport};
use crate::source::{Migration, Statement};

/// One place migrations are applied: a database's own URL (`shard: None`) or one shard.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub database: Arc<str>,
    pub shard: Option<Arc<str>>,
    pub backend: Backend,
    pub writer: Arc<PoolSlot>,
    pub url: String,
}

/// Settings shared by the targets of one run.
#[derive(Clone)]
pub(crate) struct RunSettings {
    pub lock_timeout: Duration,
    /// Replaces the pool's server-side statement timeout for the run when set (the inner
    /// `None`: no limit).
    pub statement_timeout: Option<Option<Duration>>,
    /// Set when a target failed and the run stops at the next migration boundary.
    pub stop: Arc<AtomicBool>,
    pub stop_on_error: bool,
    pub progress: Option<crate::ProgressFn>,
}

/// The SQLite file of a `sqlite:` URL (`None` for an in-memory database).
pub(crate) fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

impl Target {
    pub fn shard_name(&self) -> Option<String> {
        self.shard.as_deref().map(str::to_string)
    }

    /// True for a SQLite target whose file does not exist.
    pub fn is_missing(&self) -> bool {
        self.backend == Backend::Sqlite && sqlite_file(&self.url).is_some_and(|p| !p.exists())
    }

    pub fn sql_err(&self, action: &'static str) -> impl FnOnce(sqlx::Error) -> MigrateError + '_ {
        move |source| MigrateError::Database {
            database: self.database.to_string(),
            shard: self.shard_name(),
            action,
            source: Box::new(source),
        }
    }

    pub fn empty_report(&self) -> TargetReport {
        TargetReport {
            database: self.database.to_string(),
            shard: self.shard_name(),
            backend: self.backend,
            applied: Vec::new(),
            reverted: Vec::new(),
            elapsed: Duration::ZERO,
        }
    }

    pub async fn connect(&self) -> Result<Conn, MigrateError> {
        self.connect_within(Duration::ZERO).await
    }

    /// A connection of the target's writer pool. On SQLite, opening a connection can fail
    /// at once with "database is locked" while another session holds the file's write
    /// lock (setting the journal mode of a file still in rollback mode needs it, and
    /// SQLite's busy handler does not wait there): that is retried until `wait` has
    /// passed, like a lock wait.
    pub async fn connect_within(&self, wait: Duration) -> Result<Conn, MigrateError> {
        let deadline = Instant::now() + wait;
        loop {
            match Conn::acquire(&self.writer).await {
                Ok(conn) => return Ok(conn),
                Err(e) if is_sqlite_busy(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) if is_sqlite_busy(&e) && !wait.is_zero() => {
                    return Err(MigrateError::Locked {
                        database: self.database.to_string(),
                        shard: self.shard_name(),
                        waited: wait,
                    })
                }
                Err(e) => return Err(self.sql_err("connect")(e)),
            }
        }
    }

    /// For a SQLite file that does not exist yet: whether it can be created (its folder
    /// exists). Checked before a run changes anything anywhere.
    pub fn check_creatable(&self) -> Result<(), MigrateError> {
        let Some(file) = sqlite_file(&self.url).filter(|_| self.is_missing()) else {
            return Ok(());
        };
        let parent = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if parent.is_dir() {
            return Ok(());
        }
        Err(MigrateError::Admin {
            database: self.database.to_string(),
            shard: self.shard_name(),
            action: "open the SQLite database".to_string(),
            message: format!(
                "{} does not exist and cannot be created: the folder {} does not exist (run `grant-migrate create`)",
                file.display(),
                parent.display()
            ),
        })
    }

    /// The rows of `grant_migrations`, read without the lock and without creating
    /// anything (a missing SQLite file reads as empty), and whether a dirty row among them
    /// is a migration running now under another runner's lock (`true`) rather than one
    /// that failed or was interrupted.
    ///
    /// A dirty row is settled like this: if the lock is held, it is running; if not, the
    /// rows are read again, and a version dirty in both reads (with the lock free in
    /// between) failed: a runner keeps its lock from writing a dirty row until it marks
    /// it done. SQLite cannot tell without taking the lock: there a dirty row (only
    /// no-transaction files write them) always reads as failed.
    ///
    /// `wait`: how long a SQLite file locked by a runner may keep the connection from
    /// opening (see [`Target::connect_within`]).
    pub async fn read_with_lock(
        &self,
        wait: Duration,
    ) -> Result<(Vec<Applied>, bool), MigrateError> {
        if self.is_missing() {
            return Ok((Vec::new(), false));
        }
        let mut conn = self.connect_within(wait).await?;
        let dirty = |rows: &[Applied]| -> Vec<i64> {
            rows.iter()
                .filter(|a| !a.success)
                .map(|a| a.version)
                .collect()
        };
        let mut applied = conn
            .read_applied()
            .await
            .map_err(self.sql_err("read grant_migrations"))?;
        for _ in 0..3 {
            let before = dirty(&applied);
            if before.is_empty() {
                return Ok((applied, false));
            }
            let held = conn
                .lock_held()
                .await
                .map_err(self.sql_err("look for the migration lock"))?;
            if held {
                return Ok((applied, true));
            }
            applied = conn
                .read_applied()
                .await
                .map_err(self.sql_err("read grant_migrations"))?;
            let after = dirty(&applied);
            if after.iter().any(|v| before.contains(v)) || conn.backend() == Backend::Sqlite {
                return Ok((applied, false));
            }
        }
        Ok((applied, false))
    }

    fn emit(&self, settings: &RunSettings, event: impl FnOnce(String, Option<String>) -> Progress) {
        if let Some(f) = &settings.progress {
            f(&event(self.database.to_string(), self.shard_name()));
        }
    }
}

/// Run `op` on `t`: take the target's lock on one connection, read what is applied, plan
/// and run. Returns what was done and the error that stopped it, if any.
///
/// Boxed as `Send` here, where the lifetimes of the borrows inside are concrete (the
/// compiler cannot prove it through `tokio::spawn` otherwise).
pub(crate) fn run(
    t: Target,
    op: Op,
    migrations: Arc<Vec<Migration>>,
    settings: RunSettings,
) -> Pin<Box<dyn Future<Output = (TargetReport, Option<MigrateError>)> + Send>> {
    Box::pin(run_target(t, op, migrations, settings))
}

async fn run_target(
    t: Target,
    op: Op,
    migrations: Arc<Vec<Migration>>,
    settings: RunSettings,
) -> (TargetReport, Option<MigrateError>) {
    let start = Instant::now();
    let mut report = t.empty_report();
    let result = run_inner(&t, op, &migrations, &settings, &mut report).await;
    report.elapsed = start.elapsed();
    match &result {
        Ok(()) => tracing::info!(
            database = %t.database,
            shard = t.shard.as_deref(),
            applied = report.applied.len(),
            reverted = report.reverted.len(),
            elapsed_ms = report.elapsed.as_millis() as u64,
            "grant-migrate: target done"
        ),
        // The error goes back to the caller, who reports it: logged at debug only, so a
        // CLI does not print it twice.
        Err(e) => {
            tracing::debug!(database = %t.database, shard = t.shard.as_deref(), error = %e, "grant-migrate: target failed")
        }
    }
    if result.is_err() && settings.stop_on_error {
        settings.stop.store(true, Ordering::SeqCst);
    }
    t.emit(&settings, |database, shard| Progress::Finished {
        database,
        shard,
        error: result.as_ref().err().map(ToString::to_string),
    });
    (report, result.err())
}

async fn run_inner(
    t: &Target,
    op: Op,
    migrations: &[Migration],
    settings: &RunSettings,
    report: &mut TargetReport,
) -> Result<(), MigrateError> {
    if settings.stop.load(Ordering::SeqCst) {
        return Ok(());
    }
    let mut conn = t.connect_within(settings.lock_timeout).await?;
    lock(t, &mut conn, settings.lock_timeout).await?;
    let mut restore = None;
    let mut outcome = Ok(());
    if let Some(timeout) = settings.statement_timeout {
        match conn.override_statement_timeout(timeout).await {
            Ok(r) => restore = r,
            Err(e) => outcome = Err(t.sql_err("set the statement timeout")(e)),
        }
    }
    if outcome.is_ok() {
        outcome = locked(t, &mut conn, op, migrations, settings, report).await;
    }
    if let Some(sql) = restore {
        // Outside any transaction the run left open: roll those back first.
        conn.abandon_above_lock().await;
        if let Err(e) = conn.execute_raw(&sql).await {
            tracing::warn!(database = %t.database, shard = t.shard.as_deref(), error = %e, "grant-migrate: cannot restore the statement timeout; closing the connection");
            conn.discard();
        }
    }
    // Unlocking rolls back whatever is still open above the lock (SQLite: commits the
    // migrations done before a failure, which each released their savepoint).
    let unlocked = conn.unlock().await;
    if unlocked.is_err() {
        // The lock (or a transaction) may still be held: end the session rather than
        // hand it back to the pool.
        conn.abandon().await;
        conn.discard();
    }
    match (outcome, unlocked) {
        (Ok(()), unlocked) => unlocked.map_err(t.sql_err("release the migration lock")),
        (Err(e), Ok(())) => Err(e),
        (Err(e), Err(unlock)) => {
            // The error is what matters; the lock goes with the session.
            tracing::warn!(database = %t.database, shard = t.shard.as_deref(), error = %unlock, "grant-migrate: cannot release the lock");
            Err(e)
        }
    }
}

pub(crate) async fn lock(
    t: &Target,
    conn: &mut Conn,
    timeout: Duration,
) -> Result<(), MigrateError> {
    let started = Instant::now();
    match conn.lock(timeout).await {
        Ok(()) => {
            tracing::debug!(database = %t.database, shard = t.shard.as_deref(), waited_ms = started.elapsed().as_millis() as u64, "grant-migrate: lock held");
            Ok(())
        }
        Err(LockError::Timeout) => Err(MigrateError::Locked {
            database: t.database.to_string(),
            shard: t.shard_name(),
            waited: started.elapsed(),
        }),
        Err(LockError::Db(e)) => Err(t.sql_err("take the migration lock")(e)),
    }
}

async fn locked(
    t: &Target,
    conn: &mut Conn,
    op: Op,
    migrations: &[Migration],
    settings: &RunSettings,
    report: &mut TargetReport,
) -> Result<(), MigrateError> {
    conn.ensure_table()
        .await
        .map_err(t.sql_err("create the grant_migrations table"))?;
    let applied = conn
        .read_rows(true)
        .await
        .map_err(t.sql_err("read grant_migrations"))?;
    let steps = plan_steps(t, op, migrations, &applied)?;
    t.emit(settings, |database, shard| Progress::Started {
        database,
        shard,
        steps: steps.len(),
    });
    for (m, direction) in steps {
        if settings.stop.load(Ordering::SeqCst) {
            tracing::info!(database = %t.database, shard = t.shard.as_deref(), "grant-migrate: stopping (another target failed)");
            break;
        }
        let step = run_step(t, conn, m, direction, settings.lock_timeout).await?;
        tracing::info!(
            database = %t.database,
            shard = t.shard.as_deref(),
            version = m.version,
            name = %m.name,
            elapsed_ms = step.elapsed.as_millis() as u64,
            "grant-migrate: {}",
            if direction == Direction::Up { "applied" } else { "reverted" }
        );
        t.emit(settings, |database, shard| Progress::Step {
            database,
            shard,
            direction,
            step: step.clone(),
        });
        match direction {
            Direction::Up => report.applied.push(step),
            Direction::Down => report.reverted.push(step),
        }
    }
    Ok(())
}

/// Run one file of `m` (its up or its down file) on the locked connection, with its
/// bookkeeping.
///
/// * In a transaction (PostgreSQL and SQLite, unless the file is marked
///   `-- grant:no-transaction`): the statements and the row of `grant_migrations` commit
///   together or not at all (SQLite: a savepoint inside the run's lock transaction).
/// * Otherwise (MariaDB/MySQL, no-transaction files): the row is written first as dirty
///   (`success = false`; for a revert, the existing row is marked dirty), the statements
///   run, then the row is marked done (or deleted, for a revert). If a statement fails,
///   the row stays dirty with the statement's number and error.
async fn run_step(
    t: &Target,
    conn: &mut Conn,
    m: &Migration,
    direction: Direction,
    lock_timeout: Duration,
) -> Result<Step, MigrateError> {
    let started = Instant::now();
    let (file, statements, no_transaction) = match (direction, &m.down) {
        (Direction::Down, Some(down)) => (&down.path, &down.statements, down.no_transaction),
        _ => (&m.path, &m.statements, m.no_transaction),
    };
    tracing::info!(
        database = %t.database,
        shard = t.shard.as_deref(),
        version = m.version,
        name = %m.name,
        statements = statements.len(),
        "grant-migrate: {}",
        if direction == Direction::Up { "applying" } else { "reverting" }
    );
    let transactional = !no_transaction && t.backend != Backend::MySql;
    if transactional {
        conn.begin(None)
            .await
            .map_err(t.sql_err("begin a transaction"))?;
        let outcome = async {
            run_statements(t, conn, file, statements, false).await?;
            finish_bookkeeping(t, conn, m, direction, true).await
        }
        .await;
        match outcome {
            Ok(()) => conn.commit().await.map_err(t.sql_err("commit"))?,
            Err(e) => {
                if let Err(rollback) = conn.rollback().await {
                    tracing::warn!(database = %t.database, shard = t.shard.as_deref(), error = %rollback, "grant-migrate: rollback failed");
                }
                return Err(e);
            }
        }
    } else {
        // Dirty first.
        match direction {
            Direction::Up => {
                conn.insert_row(m.version, &m.name, &m.checksum, false)
                    .await
            }
            Direction::Down => conn.set_state(m.version, false, None).await.map(drop),
        }
        .map_err(t.sql_err("record the migration as started in grant_migrations"))?;
        let sqlite = t.backend == Backend::Sqlite;
        if sqlite {
            // Commit the run's lock transaction: the statements must run outside it.
            conn.commit().await.map_err(t.sql_err("commit"))?;
        }
        let grouped = t.backend == Backend::MySql && !no_transaction;
        if grouped {
            // Keeps DML between DDL statements together (DDL commits implicitly).
            conn.begin(None)
                .await
                .map_err(t.sql_err("begin a transaction"))?;
        }
        let outcome = run_statements(t, conn, file, statements, true).await;
        if grouped {
            let end = if outcome.is_ok() {
                conn.commit().await
            } else {
                conn.rollback().await
            };
            end.map_err(t.sql_err("end the transaction"))?;
        }
        if let Err(MigrateError::Statement {
            statement, source, ..
        }) = &outcome
        {
            let message = source.to_string();
            conn.set_state(m.version, false, Some((*statement as i64, &message)))
                .await
                .map_err(t.sql_err("record the failure in grant_migrations"))?;
        }
        outcome?;
        finish_bookkeeping(t, conn, m, direction, false).await?;
        if sqlite {
            lock(t, conn, lock_timeout).await?;
        }
    }
    Ok(Step {
        version: m.version,
        name: m.name.clone(),
        file: file.to_path_buf(),
        statements: statements.len(),
        elapsed: started.elapsed(),
    })
}

async fn run_statements(
    t: &Target,
    conn: &mut Conn,
    file: &Path,
    statements: &[Statement],
    dirty_on_error: bool,
) -> Result<(), MigrateError> {
    for (i, statement) in statements.iter().enumerate() {
        tracing::debug!(
            database = %t.database,
            shard = t.shard.as_deref(),
            file = %file.display(),
            line = statement.line,
            "grant-migrate: statement {} of {}",
            i + 1,
            statements.len()
        );
        conn.execute_raw(&statement.sql)
            .await
            .map_err(|source| MigrateError::Statement {
                database: t.database.to_string(),
                shard: t.shard_name(),
                file: file.to_path_buf(),
                statement: i + 1,
                statements: statements.len(),
                line: statement.line,
                partial: dirty_on_error && i > 0,
                dirty: dirty_on_error,
                source: Box::new(source),
            })?;
    }
    Ok(())
}

/// The row of `grant_migrations` after the statements ran: inserted as done (in a
/// transaction), marked done (after a dirty start), or deleted (a revert).
async fn finish_bookkeeping(
    t: &Target,
    conn: &mut Conn,
    m: &Migration,
    direction: Direction,
    in_transaction: bool,
) -> Result<(), MigrateError> {
    let rows = match (direction, in_transaction) {
        (Direction::Up, true) => conn
            .insert_row(m.version, &m.name, &m.checksum, true)
            .await
            .map(|()| 1),
        (Direction::Up, false) => conn.set_state(m.version, true, None).await,
        (Direction::Down, _) => conn.delete_row(m.version).await,
    }
    .map_err(t.sql_err("record the migration in grant_migrations"))?;
    if rows != 1 {
        return Err(MigrateError::Concurrent {
            database: t.database.to_string(),
            shard: t.shard_name(),
            version: m.version,
            action: if direction == Direction::Up {
                "applied"
            } else {
                "reverted"
            },
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::sqlite_file;
    use std::path::PathBuf;

    #[test]
    fn sqlite_files_of_urls() {
        assert_eq!(
            sqlite_file("sqlite:///tmp/a.db"),
            Some(PathBuf::from("/tmp/a.db"))
        );
        assert_eq!(
            sqlite_file("sqlite://db/a.db?mode=rwc"),
            Some(PathBuf::from("db/a.db"))
        );
        assert_eq!(sqlite_file("sqlite:a.db"), Some(PathBuf::from("a.db")));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://h/db"), None);
    }
}
