//! The bookkeeping table `grant_migrations` on a target's connection: creating it (or
//! adding the state columns to an older one), reading its rows, and recording a
//! migration as started (dirty), done, failed or reverted.

use grant_core::Backend;
use sqlx::Row as _;

use crate::conn::{on_conn, Arg, BoxFuture, Conn};
use crate::MIGRATIONS_TABLE;

/// A row of `grant_migrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Applied {
    pub version: i64,
    pub name: String,
    pub checksum: String,
    pub applied_at: Option<String>,
    /// `false`: dirty (written before a non-transactional migration ran, and not marked
    /// done: it failed or was interrupted).
    pub success: bool,
    /// Which statement failed (from 1), when recorded.
    pub failed_statement: Option<i64>,
    /// The error of that statement, when recorded.
    pub error: Option<String>,
}

impl Conn {
    /// Whether `grant_migrations` exists.
    pub fn table_exists<'a>(&'a mut self) -> BoxFuture<'a, Result<bool, sqlx::Error>> {
        Box::pin(async move {
            let sql = match self.backend() {
                Backend::Postgres => format!(
                    "SELECT COUNT(*) FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_name = '{MIGRATIONS_TABLE}'"
                ),
                Backend::MySql => format!(
                    "SELECT COUNT(*) FROM information_schema.tables \
                     WHERE table_schema = DATABASE() AND table_name = '{MIGRATIONS_TABLE}'"
                ),
                Backend::Sqlite => format!(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{MIGRATIONS_TABLE}'"
                ),
            };
            Ok(self.scalar_i64(&sql, &[]).await?.unwrap_or(0) > 0)
        })
    }

    /// Whether the table has the `success` column (tables written by earlier versions of
    /// grant-migrate do not).
    fn has_state_columns<'a>(&'a mut self) -> BoxFuture<'a, Result<bool, sqlx::Error>> {
        Box::pin(async move {
            let sql = match self.backend() {
                Backend::Postgres => format!(
                    "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() \
                     AND table_name = '{MIGRATIONS_TABLE}' AND column_name = 'success'"
                ),
                Backend::MySql => format!(
                    "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() \
                     AND table_name = '{MIGRATIONS_TABLE}' AND column_name = 'success'"
                ),
                Backend::Sqlite => {
                    format!("SELECT COUNT(*) FROM pragma_table_info('{MIGRATIONS_TABLE}') WHERE name = 'success'")
                }
            };
            Ok(self.scalar_i64(&sql, &[]).await?.unwrap_or(0) > 0)
        })
    }

    /// Create `grant_migrations`, or add the state columns to an older one. Runs under
    /// the lock (two runners creating it at once would race on PostgreSQL).
    pub fn ensure_table<'a>(&'a mut self) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            if !self.table_exists().await? {
                let columns = match self.backend() {
                    Backend::Postgres => {
                        "version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum VARCHAR(64) NOT NULL, \
                         applied_at TIMESTAMP NOT NULL DEFAULT (CURRENT_TIMESTAMP AT TIME ZONE 'UTC'), \
                         success BOOLEAN NOT NULL DEFAULT TRUE, failed_statement BIGINT, error TEXT"
                    }
                    Backend::MySql => {
                        "version BIGINT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, \
                         checksum VARCHAR(64) NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
                         success BOOLEAN NOT NULL DEFAULT TRUE, failed_statement BIGINT NULL, error TEXT NULL"
                    }
                    Backend::Sqlite => {
                        "version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, \
                         applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, \
                         success BOOLEAN NOT NULL DEFAULT 1, failed_statement BIGINT, error TEXT"
                    }
                };
                let sql = format!("CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} ({columns})");
                self.execute_raw(&sql).await?;
                return Ok(());
            }
            if !self.has_state_columns().await? {
                tracing::info!(
                    "grant-migrate: adding the state columns to an older grant_migrations table"
                );
                let (success, int) = match self.backend() {
                    Backend::Sqlite => ("BOOLEAN NOT NULL DEFAULT 1", "BIGINT"),
                    _ => ("BOOLEAN NOT NULL DEFAULT TRUE", "BIGINT NULL"),
                };
                for column in [
                    format!("success {success}"),
                    format!("failed_statement {int}"),
                    "error TEXT".to_string(),
                ] {
                    self.execute_raw(&format!(
                        "ALTER TABLE {MIGRATIONS_TABLE} ADD COLUMN {column}"
                    ))
                    .await?;
                }
            }
            Ok(())
        })
    }

    /// The rows of `grant_migrations` (none when the table does not exist).
    pub fn read_applied<'a>(&'a mut self) -> BoxFuture<'a, Result<Vec<Applied>, sqlx::Error>> {
        Box::pin(async move {
            if !self.table_exists().await? {
                return Ok(Vec::new());
            }
            let state_columns = self.has_state_columns().await?;
            self.read_rows(state_columns).await
        })
    }

    /// The rows of `grant_migrations`, known to exist (with the state columns when
    /// `state_columns`), as right after [`Conn::ensure_table`].
    pub fn read_rows<'a>(
        &'a mut self,
        state_columns: bool,
    ) -> BoxFuture<'a, Result<Vec<Applied>, sqlx::Error>> {
        Box::pin(async move {
            let (text, int) = match self.backend() {
                Backend::Postgres => ("TEXT", "BIGINT"),
                Backend::MySql => ("CHAR", "SIGNED"),
                Backend::Sqlite => ("TEXT", "BIGINT"),
            };
            let state = if state_columns {
                format!(
                    "CAST(CASE WHEN success THEN 1 ELSE 0 END AS {int}) AS ok, \
                     CAST(failed_statement AS {int}) AS failed_statement, CAST(error AS {text}) AS error"
                )
            } else {
                format!("CAST(1 AS {int}) AS ok, CAST(NULL AS {int}) AS failed_statement, CAST(NULL AS {text}) AS error")
            };
            let sql = format!(
                "SELECT CAST(version AS {int}) AS version, CAST(name AS {text}) AS name, \
                 CAST(checksum AS {text}) AS checksum, CAST(applied_at AS {text}) AS applied_at, {state} \
                 FROM {MIGRATIONS_TABLE} ORDER BY version"
            );
            on_conn!(self, c => {
                let rows = sqlx::query(&sql).fetch_all(&mut **c).await?;
                rows.iter()
                    .map(|row| {
                        Ok(Applied {
                            version: row.try_get("version")?,
                            name: row.try_get("name")?,
                            checksum: row.try_get("checksum")?,
                            applied_at: row.try_get("applied_at")?,
                            success: row.try_get::<i64, _>("ok")? != 0,
                            failed_statement: row.try_get("failed_statement")?,
                            error: row.try_get("error")?,
                        })
                    })
                    .collect()
            })
        })
    }

    /// Record `version` as applied (`success`), or as started (dirty).
    pub fn insert_row<'a>(
        &'a mut self,
        version: i64,
        name: &'a str,
        checksum: &'a str,
        success: bool,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let sql = format!(
                "INSERT INTO {MIGRATIONS_TABLE} (version, name, checksum, success) VALUES ({}, {}, {}, {})",
                self.ph(1),
                self.ph(2),
                self.ph(3),
                self.ph(4)
            );
            let args = [
                Arg::Int(version),
                Arg::Text(name),
                Arg::Text(checksum),
                Arg::Bool(success),
            ];
            self.execute(&sql, &args).await.map(drop)
        })
    }

    /// Set the state of `version`: done (`success`, no failure), or dirty with the failed
    /// statement and its error. Returns the rows changed.
    pub fn set_state<'a>(
        &'a mut self,
        version: i64,
        success: bool,
        failed: Option<(i64, &'a str)>,
    ) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
        Box::pin(async move {
            let sql = format!(
                "UPDATE {MIGRATIONS_TABLE} SET success = {}, failed_statement = {}, error = {} WHERE version = {}",
                self.ph(1),
                self.ph(2),
                self.ph(3),
                self.ph(4)
            );
            let args = [
                Arg::Bool(success),
                Arg::OptInt(failed.map(|f| f.0)),
                Arg::OptText(failed.map(|f| f.1)),
                Arg::Int(version),
            ];
            self.execute(&sql, &args).await
        })
    }

    /// Record `checksum` as the checksum of `version`'s file.
    pub fn set_checksum<'a>(
        &'a mut self,
        version: i64,
        checksum: &'a str,
    ) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
        Box::pin(async move {
            let sql = format!(
                "UPDATE {MIGRATIONS_TABLE} SET checksum = {} WHERE version = {}",
                self.ph(1),
                self.ph(2)
            );
            self.execute(&sql, &[Arg::Text(checksum), Arg::Int(version)])
                .await
        })
    }

    /// Remove `version`'s row. Returns the rows removed.
    pub fn delete_row<'a>(&'a mut self, version: i64) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
        Box::pin(async move {
            let sql = format!(
                "DELETE FROM {MIGRATIONS_TABLE} WHERE version = {}",
                self.ph(1)
            );
            self.execute(&sql, &[Arg::Int(version)]).await
        })
    }
}
