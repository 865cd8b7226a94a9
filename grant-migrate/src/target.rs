//! Work on one target (a database's own URL, or one of its shards): the bookkeeping table,
//! reading what is applied, and running migrations up or down.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use grant_core::{raw, AssertSqlSafe, Backend, Context, Grant, RawQuery, Role, Transaction};

use crate::error::MigrateError;
use crate::report::{MigrationState, MigrationStatus, Step, TargetReport};
use crate::source::{Migration, Statement};
use crate::MIGRATIONS_TABLE;

/// One place migrations are applied: a database's own URL (`shard: None`) or one shard.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub database: Arc<str>,
    pub shard: Option<Arc<str>>,
    pub backend: Backend,
}

/// A row of `grant_migrations`.
#[derive(Debug, Clone)]
pub(crate) struct Applied {
    pub version: i64,
    pub name: String,
    pub checksum: String,
    pub applied_at: Option<String>,
}

impl Target {
    pub fn shard_name(&self) -> Option<String> {
        self.shard.as_deref().map(str::to_string)
    }

    /// Run `fut` on this target's writer: the writing role, this shard (or none: the
    /// database's own URL), writes allowed whatever the caller's scope says.
    pub async fn scope<F: Future>(&self, fut: F) -> F::Output {
        Context {
            role: Some(Role::Writing),
            shard: self.shard.clone(),
            prevent_writes: false,
        }
        .scope(fut)
        .await
    }

    fn db_err(&self, action: &'static str) -> impl FnOnce(grant_core::Error) -> MigrateError + '_ {
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
            elapsed: Default::default(),
        }
    }

    /// `$n` on PostgreSQL, `?` elsewhere.
    fn ph(&self, n: usize) -> String {
        match self.backend {
            Backend::Postgres => format!("${n}"),
            _ => "?".to_string(),
        }
    }

    fn create_table_sql(&self) -> String {
        let columns = match self.backend {
            Backend::Postgres => {
                "version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum VARCHAR(64) NOT NULL, \
                 applied_at TIMESTAMP NOT NULL DEFAULT (CURRENT_TIMESTAMP AT TIME ZONE 'UTC')"
            }
            Backend::MySql => {
                "version BIGINT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, \
                 checksum VARCHAR(64) NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP"
            }
            Backend::Sqlite => {
                "version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, \
                 applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP"
            }
        };
        format!("CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} ({columns})")
    }

    fn table_exists_sql(&self) -> String {
        match self.backend {
            Backend::Postgres => format!(
                "SELECT COUNT(*) AS n FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = '{MIGRATIONS_TABLE}'"
            ),
            Backend::MySql => format!(
                "SELECT COUNT(*) AS n FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name = '{MIGRATIONS_TABLE}'"
            ),
            Backend::Sqlite => format!(
                "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '{MIGRATIONS_TABLE}'"
            ),
        }
    }

    fn select_sql(&self) -> String {
        let applied_at = match self.backend {
            Backend::Postgres => "CAST(applied_at AS TEXT)",
            Backend::MySql => "CAST(applied_at AS CHAR)",
            Backend::Sqlite => "CAST(applied_at AS TEXT)",
        };
        format!(
            "SELECT version, name, checksum, {applied_at} AS applied_at FROM {MIGRATIONS_TABLE} ORDER BY version"
        )
    }

    fn insert(&self, m: &Migration) -> RawQuery {
        // Fixed text: the table name is a constant; the values are bound.
        raw(AssertSqlSafe(format!(
            "INSERT INTO {MIGRATIONS_TABLE} (version, name, checksum) VALUES ({}, {}, {})",
            self.ph(1),
            self.ph(2),
            self.ph(3)
        )))
        .bind(m.version)
        .bind(m.name.clone())
        .bind(m.checksum.clone())
        .on(self.database.to_string())
    }

    fn delete(&self, version: i64) -> RawQuery {
        raw(AssertSqlSafe(format!(
            "DELETE FROM {MIGRATIONS_TABLE} WHERE version = {}",
            self.ph(1)
        )))
        .bind(version)
        .on(self.database.to_string())
    }
}

/// Where statements run: routed to the writer, or inside a transaction.
enum Exec<'a> {
    Grant(&'a Grant),
    Tx(&'a mut Transaction),
}

impl Exec<'_> {
    async fn execute(&mut self, query: RawQuery) -> grant_core::Result<u64> {
        match self {
            Exec::Grant(grant) => query.execute(*grant).await,
            Exec::Tx(tx) => query.execute(&mut **tx).await,
        }
    }
}

/// Whether `grant_migrations` exists on the target.
async fn table_exists(grant: &Grant, t: &Target) -> Result<bool, MigrateError> {
    let rows = raw(AssertSqlSafe(t.table_exists_sql()))
        .on(t.database.to_string())
        .fetch_all(grant)
        .await
        .map_err(t.db_err("look for the grant_migrations table"))?;
    let n: i64 = match rows.first() {
        Some(row) => row
            .get("n")
            .map_err(t.db_err("look for the grant_migrations table"))?,
        None => 0,
    };
    Ok(n > 0)
}

/// The rows of `grant_migrations` (none when the table does not exist). Must run inside
/// [`Target::scope`].
pub(crate) async fn read_applied(grant: &Grant, t: &Target) -> Result<Vec<Applied>, MigrateError> {
    if !table_exists(grant, t).await? {
        tracing::debug!(database = %t.database, shard = t.shard.as_deref(), "grant-migrate: no grant_migrations table yet");
        return Ok(Vec::new());
    }
    let rows = raw(AssertSqlSafe(t.select_sql()))
        .on(t.database.to_string())
        .fetch_all(grant)
        .await
        .map_err(t.db_err("read grant_migrations"))?;
    rows.iter()
        .map(|row| {
            Ok(Applied {
                version: row.get("version")?,
                name: row.get("name")?,
                checksum: row.get("checksum")?,
                applied_at: row.get("applied_at")?,
            })
        })
        .collect::<grant_core::Result<Vec<_>>>()
        .map_err(t.db_err("read grant_migrations"))
}

/// Create `grant_migrations` if missing. Must run inside [`Target::scope`].
async fn ensure_table(grant: &Grant, t: &Target) -> Result<(), MigrateError> {
    if table_exists(grant, t).await? {
        return Ok(());
    }
    tracing::info!(database = %t.database, shard = t.shard.as_deref(), "grant-migrate: creating the grant_migrations table");
    raw(AssertSqlSafe(t.create_table_sql()))
        .on(t.database.to_string())
        .execute(grant)
        .await
        .map_err(t.db_err("create the grant_migrations table"))?;
    Ok(())
}

/// Every migration of the folder and of the table, in version order, with its state.
pub(crate) fn statuses(migrations: &[Migration], applied: &[Applied]) -> Vec<MigrationStatus> {
    let applied: HashMap<i64, &Applied> = applied.iter().map(|a| (a.version, a)).collect();
    let mut out: BTreeMap<i64, MigrationStatus> = BTreeMap::new();
    for m in migrations {
        let (state, applied_at) = match applied.get(&m.version) {
            None => (MigrationState::Pending, None),
            Some(a) if a.checksum == m.checksum => (MigrationState::Applied, a.applied_at.clone()),
            Some(a) => (
                MigrationState::ChecksumMismatch {
                    recorded: a.checksum.clone(),
                    actual: m.checksum.clone(),
                },
                a.applied_at.clone(),
            ),
        };
        out.insert(
            m.version,
            MigrationStatus {
                version: m.version,
                name: m.name.clone(),
                file: Some(m.path.clone()),
                state,
                applied_at,
            },
        );
    }
    for a in applied.values() {
        out.entry(a.version).or_insert_with(|| MigrationStatus {
            version: a.version,
            name: a.name.clone(),
            file: None,
            state: MigrationState::MissingFile,
            applied_at: a.applied_at.clone(),
        });
    }
    out.into_values().collect()
}

/// The checksum mismatches of `applied` against the folder, as errors.
pub(crate) fn mismatches(
    t: &Target,
    migrations: &[Migration],
    applied: &[Applied],
) -> Vec<MigrateError> {
    let by_version: HashMap<i64, &Migration> = migrations.iter().map(|m| (m.version, m)).collect();
    applied
        .iter()
        .filter_map(|a| {
            let m = by_version.get(&a.version)?;
            (m.checksum != a.checksum).then(|| MigrateError::ChecksumMismatch {
                database: t.database.to_string(),
                shard: t.shard_name(),
                version: a.version,
                file: m.path.clone(),
                recorded: a.checksum.clone(),
                actual: m.checksum.clone(),
            })
        })
        .collect()
}

/// Read the target and check it: the applied rows, or the first problem (unreachable,
/// checksum mismatch). Applied migrations whose file is gone are logged, not errors.
pub(crate) async fn check(
    grant: Grant,
    t: Target,
    migrations: Arc<Vec<Migration>>,
) -> Result<Vec<Applied>, MigrateError> {
    t.clone()
        .scope(async {
            let applied = read_applied(&grant, &t).await?;
            if let Some(e) = mismatches(&t, &migrations, &applied).into_iter().next() {
                return Err(e);
            }
            for s in statuses(&migrations, &applied) {
                if s.state == MigrationState::MissingFile {
                    tracing::warn!(
                        database = %t.database,
                        shard = t.shard.as_deref(),
                        version = s.version,
                        name = %s.name,
                        "grant-migrate: migration is applied but its file is missing"
                    );
                }
            }
            Ok(applied)
        })
        .await
}

/// Apply every pending migration of `migrations` on `t`, in version order. Returns what
/// was applied, and the error that stopped it, if any.
pub(crate) async fn apply(
    grant: Grant,
    t: Target,
    migrations: Arc<Vec<Migration>>,
) -> (TargetReport, Option<MigrateError>) {
    let start = Instant::now();
    let mut report = t.empty_report();
    let result = t
        .scope(apply_inner(&grant, &t, &migrations, &mut report))
        .await;
    report.elapsed = start.elapsed();
    match &result {
        Ok(()) if report.applied.is_empty() => tracing::info!(
            database = %t.database,
            shard = t.shard.as_deref(),
            "grant-migrate: up to date"
        ),
        Ok(()) => tracing::info!(
            database = %t.database,
            shard = t.shard.as_deref(),
            applied = report.applied.len(),
            elapsed_ms = report.elapsed.as_millis() as u64,
            "grant-migrate: target migrated"
        ),
        Err(e) => tracing::error!(
            database = %t.database,
            shard = t.shard.as_deref(),
            error = %e,
            "grant-migrate: target failed"
        ),
    }
    (report, result.err())
}

async fn apply_inner(
    grant: &Grant,
    t: &Target,
    migrations: &[Migration],
    report: &mut TargetReport,
) -> Result<(), MigrateError> {
    ensure_table(grant, t).await?;
    let applied = read_applied(grant, t).await?;
    if let Some(e) = mismatches(t, migrations, &applied).into_iter().next() {
        return Err(e);
    }
    let latest = applied.iter().map(|a| a.version).max();
    for m in migrations {
        if applied.iter().any(|a| a.version == m.version) {
            continue;
        }
        if latest.is_some_and(|latest| latest > m.version) {
            tracing::warn!(
                database = %t.database,
                shard = t.shard.as_deref(),
                version = m.version,
                latest = latest.unwrap_or_default(),
                "grant-migrate: applying a migration older than the latest applied one"
            );
        }
        tracing::info!(
            database = %t.database,
            shard = t.shard.as_deref(),
            version = m.version,
            name = %m.name,
            statements = m.statements.len(),
            "grant-migrate: applying"
        );
        let step = run_step(
            grant,
            t,
            m,
            &m.path,
            &m.statements,
            m.no_transaction,
            Bookkeeping::Insert(m),
        )
        .await?;
        tracing::info!(
            database = %t.database,
            shard = t.shard.as_deref(),
            version = m.version,
            name = %m.name,
            elapsed_ms = step.elapsed.as_millis() as u64,
            "grant-migrate: applied"
        );
        report.applied.push(step);
    }
    Ok(())
}

/// Revert `m` (the latest applied migration of `t`) with its down file.
pub(crate) async fn revert(
    grant: Grant,
    t: Target,
    m: Migration,
) -> (TargetReport, Option<MigrateError>) {
    let start = Instant::now();
    let mut report = t.empty_report();
    let result = t
        .scope(async {
            let down = m
                .down
                .as_ref()
                .ok_or_else(|| MigrateError::NoDownMigration {
                    database: t.database.to_string(),
                    shard: t.shard_name(),
                    version: m.version,
                    file: m.path.clone(),
                    expected: down_path(&m.path),
                })?;
            tracing::info!(
                database = %t.database,
                shard = t.shard.as_deref(),
                version = m.version,
                name = %m.name,
                "grant-migrate: reverting"
            );
            let step = run_step(
                &grant,
                &t,
                &m,
                &down.path,
                &down.statements,
                down.no_transaction,
                Bookkeeping::Delete(m.version),
            )
            .await?;
            tracing::info!(
                database = %t.database,
                shard = t.shard.as_deref(),
                version = m.version,
                name = %m.name,
                elapsed_ms = step.elapsed.as_millis() as u64,
                "grant-migrate: reverted"
            );
            report.reverted.push(step);
            Ok(())
        })
        .await;
    report.elapsed = start.elapsed();
    if let Err(e) = &result {
        tracing::error!(database = %t.database, shard = t.shard.as_deref(), error = %e, "grant-migrate: revert failed");
    }
    (report, result.err())
}

/// `dir/0001_init.sql` -> `dir/0001_init.down.sql`.
pub(crate) fn down_path(up: &Path) -> std::path::PathBuf {
    let name = up
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".sql").unwrap_or(&name);
    up.with_file_name(format!("{stem}.down.sql"))
}

/// How `grant_migrations` changes once a file's statements have run.
enum Bookkeeping<'a> {
    Insert(&'a Migration),
    Delete(i64),
}

/// Run one file of migration `m` (its up or its down file) and describe the step.
async fn run_step(
    grant: &Grant,
    t: &Target,
    m: &Migration,
    file: &Path,
    statements: &[Statement],
    no_transaction: bool,
    bookkeeping: Bookkeeping<'_>,
) -> Result<Step, MigrateError> {
    let started = Instant::now();
    run_file(grant, t, file, statements, no_transaction, bookkeeping).await?;
    Ok(Step {
        version: m.version,
        name: m.name.clone(),
        file: file.to_path_buf(),
        statements: statements.len(),
        elapsed: started.elapsed(),
    })
}

/// Run the statements of one file, then record it, in one transaction where the engine
/// has transactional DDL.
///
/// PostgreSQL and SQLite: all statements and the bookkeeping row commit together or not
/// at all. MariaDB/MySQL: the same transaction pins one connection, but every DDL
/// statement commits implicitly, so a failure leaves the statements before it applied;
/// the bookkeeping row is written only after every statement succeeded. A file marked
/// `-- grant:no-transaction` runs statement by statement on the writer pool everywhere.
async fn run_file(
    grant: &Grant,
    t: &Target,
    file: &Path,
    statements: &[Statement],
    no_transaction: bool,
    bookkeeping: Bookkeeping<'_>,
) -> Result<(), MigrateError> {
    let mut tx = if no_transaction {
        tracing::debug!(database = %t.database, shard = t.shard.as_deref(), file = %file.display(), "grant-migrate: running without a transaction");
        None
    } else {
        Some(
            grant
                .begin_on(&t.database)
                .await
                .map_err(t.db_err("begin a transaction"))?,
        )
    };
    let partial_on_error = |i: usize| i > 0 && (no_transaction || t.backend == Backend::MySql);
    let outcome = async {
        let mut exec = match tx.as_mut() {
            Some(tx) => Exec::Tx(tx),
            None => Exec::Grant(grant),
        };
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
            // The migration files are the operator's own SQL, run as written.
            let query = raw(AssertSqlSafe(statement.sql.clone())).on(t.database.to_string());
            exec.execute(query)
                .await
                .map_err(|source| MigrateError::Statement {
                    database: t.database.to_string(),
                    shard: t.shard_name(),
                    file: file.to_path_buf(),
                    statement: i + 1,
                    statements: statements.len(),
                    line: statement.line,
                    partial: partial_on_error(i),
                    source: Box::new(source),
                })?;
        }
        match bookkeeping {
            Bookkeeping::Insert(m) => {
                exec.execute(t.insert(m))
                    .await
                    .map_err(t.db_err("record the migration in grant_migrations"))?;
            }
            Bookkeeping::Delete(version) => {
                let rows = exec
                    .execute(t.delete(version))
                    .await
                    .map_err(t.db_err("remove the migration from grant_migrations"))?;
                if rows != 1 {
                    return Err(MigrateError::Concurrent {
                        database: t.database.to_string(),
                        shard: t.shard_name(),
                        version,
                        action: "reverted",
                    });
                }
            }
        }
        Ok(())
    }
    .await;
    match (outcome, tx) {
        (Ok(()), Some(tx)) => tx.commit().await.map_err(t.db_err("commit")),
        (Ok(()), None) => Ok(()),
        (Err(e), Some(tx)) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(database = %t.database, shard = t.shard.as_deref(), error = %rollback, "grant-migrate: rollback failed");
            }
            Err(e)
        }
        (Err(e), None) => Err(e),
    }
}
