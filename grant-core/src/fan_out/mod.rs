//! Fan-out (issue 7 §6): one read-only statement on several named databases, possibly of
//! different engines, in parallel, with a per-database outcome (rows, elapsed time, error,
//! truncation), a per-database timeout and a row cap. Start one with [`Grant::fan_out`].
//!
//! - **Reads only, unless allowed.** Every database's SQL is classified
//!   ([`crate::classify_sql`]) before anything is sent. If any of them is not known to only
//!   read and [`FanOut::allow_writes`] was not called, every database gets
//!   [`Error::ReadOnly`] (reason [`ReadOnlyReason::FanOut`], naming the database) and no SQL
//!   is sent anywhere. Reads run in a [`Role::Reading`] scope: on each database's replicas
//!   (balanced, with failover) or its writer's read-only sessions, so read-only is the same
//!   guarantee as elsewhere. With `allow_writes()`, a write runs on each database's writer,
//!   routed as any write of the current scope (still refused in a reading or prevent-writes
//!   scope and on a readonly database); there is **no cross-database transaction**: each
//!   database commits on its own, and one may succeed while another fails.
//! - **One database failing never fails the call.** An unknown name is that database's
//!   [`Error::UnknownDatabase`]; a database that is down, rejects the statement or times out
//!   has its error; the others return their rows. [`FanOut::run`] fails as a whole only for
//!   misuse, before anything is sent: `sql_for` naming a database not in the fan-out
//!   ([`Error::NotInFanOut`]), or a database left without SQL ([`Error::InvalidQuery`]).
//! - **Nothing waits forever.** [`FanOut::timeout`] bounds each database's whole work
//!   (routing, connecting, waiting for a pool, running, reading) from its start, and ends it
//!   with [`Error::Timeout`] for that database only; by default each database's own
//!   `statement_timeout`, `connect_timeout` and `acquire_timeout` bound it.
//! - **Row cap without rewriting SQL.** [`FanOut::row_cap`] stops reading a database's result
//!   after `n` rows and marks it `truncated` (when it had more); the SQL is not changed. A
//!   PostgreSQL/MariaDB connection left mid-result is closed rather than drained.
//! - **Tracing.** One span per database (target `grant::fan_out`, DEBUG, fields `database`,
//!   `backend`, `rows`, `truncated`, `elapsed_us`, `error`) around the usual
//!   `grant::statement` span.

mod report;

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::context::{connection, Context};
use crate::error::{Error, ReadOnlyReason, Result};
use crate::exec::{self, Access, Request, Target};
use crate::grant::Grant;
use crate::model::{Model, ModelMeta};
use crate::query::{Query, QueryParts};
use crate::role::Role;
use crate::sql_str::{SqlSafeStr, SqlStr};
use crate::value::Value;

pub use report::{DatabaseOutcome, FanOutReport};

/// How long past a database's deadline the fan-out waits for its statement to end by
/// itself (closing its connection) before dropping it.
const GRACE: Duration = Duration::from_millis(250);

/// One statement on several named databases, built by [`Grant::fan_out`](crate::Grant::fan_out).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use grant_core::{raw, Config, DatabaseConfig, Grant};
/// use std::time::Duration;
/// let dir = std::env::temp_dir().join(format!("grant-doc-fan-out-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let url = |name: &str| format!("sqlite://{}", dir.join(format!("{name}.db")).display());
/// let db = Grant::from_config(
///     Config::builder()
///         .database("primary", DatabaseConfig::new(url("primary")))
///         .database("animals", DatabaseConfig::new(url("animals")))
///         .build()?,
/// )?;
/// for name in ["primary", "animals"] {
///     raw("DROP TABLE IF EXISTS pets").on(name).execute(&db).await?;
///     raw("CREATE TABLE pets (name TEXT)").on(name).execute(&db).await?;
///     raw("INSERT INTO pets VALUES ('Rex'), ('Tom'), ('Kit')").on(name).execute(&db).await?;
/// }
///
/// let report = db
///     .fan_out(["primary", "animals", "nowhere"])
///     .sql("SELECT name FROM pets WHERE name <> ? ORDER BY name")
///     .sql_for("animals", "SELECT name FROM pets WHERE name <> ? ORDER BY name DESC")
///     .bind("Tom")                        // bound on every database, never spliced
///     .timeout(Duration::from_secs(5))    // per database
///     .row_cap(1)                         // stop reading after 1 row
///     .run()
///     .await?;
///
/// let names: Vec<String> = report.outcomes.iter().map(|o| o.database.clone()).collect();
/// assert_eq!(names, ["primary", "animals", "nowhere"]); // the order given
/// let primary = &report.outcomes[0];
/// assert_eq!(primary.rows.as_ref().unwrap()[0].get::<String>("name")?, "Kit");
/// assert!(primary.truncated);
/// let animals = &report.outcomes[1];
/// assert_eq!(animals.rows.as_ref().unwrap()[0].get::<String>("name")?, "Rex");
/// assert!(matches!(report.outcomes[2].rows, Err(grant_core::Error::UnknownDatabase { .. })));
///
/// // A write is refused everywhere, before anything is sent.
/// let refused = db.fan_out(["primary", "animals"]).sql("DELETE FROM pets").run().await?;
/// assert!(refused.iter().all(|o| o.error().is_some_and(|e| e.is_read_only())));
/// db.close().await;
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), grant_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
#[must_use = "a fan-out does nothing until `run`"]
pub struct FanOut<'g> {
    grant: &'g Grant,
    databases: Vec<String>,
    sql: Option<SqlStr>,
    sql_for: Vec<(String, SqlStr)>,
    binds: Vec<Value>,
    timeout: Option<Duration>,
    row_cap: Option<usize>,
    concurrency: Option<usize>,
    allow_writes: bool,
    /// A model query, written for each database's engine at `run`.
    query: Option<ModelQuery>,
}

/// A model query for a fan-out: its parts and model, or why they could not be built
/// (the model's name and the message).
type ModelQuery = Result<(QueryParts, &'static ModelMeta), (&'static str, String)>;

impl Grant {
    /// Start a fan-out over `databases` (names of this handle's databases, in the order the
    /// outcomes will be reported). See [`FanOut`].
    pub fn fan_out<I>(&self, databases: I) -> FanOut<'_>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        FanOut {
            grant: self,
            databases: databases.into_iter().map(Into::into).collect(),
            sql: None,
            sql_for: Vec::new(),
            binds: Vec::new(),
            timeout: None,
            row_cap: None,
            concurrency: None,
            allow_writes: false,
            query: None,
        }
    }
}

impl<'g> FanOut<'g> {
    /// The statement every database runs (unless [`FanOut::sql_for`] gives it its own): a
    /// string literal or [`AssertSqlSafe`](crate::AssertSqlSafe) text, with placeholders in
    /// each engine's style (`$1` on PostgreSQL, `?` elsewhere).
    pub fn sql(mut self, sql: impl SqlSafeStr) -> Self {
        self.sql = Some(sql.into_sql_str());
        self
    }

    /// The statement `database` runs instead of [`FanOut::sql`], in its own dialect. A
    /// database not in the fan-out makes [`FanOut::run`] fail with [`Error::NotInFanOut`].
    pub fn sql_for(mut self, database: impl Into<String>, sql: impl SqlSafeStr) -> Self {
        let database = database.into();
        self.sql_for.retain(|(name, _)| *name != database);
        self.sql_for.push((database, sql.into_sql_str()));
        self
    }

    /// A model query instead of SQL: each database runs it written in its own dialect
    /// (every column of `M`'s table, the query's filters, order, limit and offset; its
    /// values bound). Decode each outcome's rows with
    /// [`DatabaseOutcome::into_models`](crate::DatabaseOutcome::into_models). The query runs on each
    /// named database's own URL, as a read (never on the model's shards).
    ///
    /// ```no_run
    /// # use grant_core::{Grant, Model, Column};
    /// # async fn demo<M: Model>(db: &Grant, age: Column<M, i64>) -> grant_core::Result<()> {
    /// let report = db
    ///     .fan_out(["eu", "us"])
    ///     .query(M::query().filter(age.ge(18)).limit(100))
    ///     .run()
    ///     .await?;
    /// for outcome in report.outcomes {
    ///     let database = outcome.database.clone();
    ///     let adults: Vec<M> = outcome.into_models::<M>()?;
    ///     println!("{database}: {} adults", adults.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn query<M: Model>(mut self, query: Query<M>) -> Self {
        self.query = Some(
            query
                .into_query_parts()
                .map(|p| (p, M::META))
                .map_err(|e| (M::META.name, e.to_string())),
        );
        self
    }

    /// Bind the next placeholder's value, on every database (never spliced into the text).
    pub fn bind(mut self, value: impl Into<Value>) -> Self {
        self.binds.push(value.into());
        self
    }

    /// Give each database at most `timeout` from its start (routing, connecting, running,
    /// reading); past it, that database's outcome is [`Error::Timeout`] and its connection
    /// is closed. Default: each database's own `statement_timeout`, `connect_timeout` and
    /// `acquire_timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Keep at most `n` rows per database: reading stops there and the outcome is marked
    /// `truncated` when the database had more. The SQL is not rewritten (add your own
    /// `LIMIT` to spare the server the work).
    pub fn row_cap(mut self, n: usize) -> Self {
        self.row_cap = Some(n);
        self
    }

    /// Run at most `n` databases at once (default: all at once; `0` counts as 1). The
    /// outcomes keep the order given either way.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = Some(n.max(1));
        self
    }

    /// Let a statement that writes run, on each database's writer. Each database commits
    /// on its own: there is no transaction across databases.
    pub fn allow_writes(mut self) -> Self {
        self.allow_writes = true;
        self
    }

    /// Run on every database and report each one's outcome, in the order given.
    ///
    /// Fails as a whole only for misuse, before anything is sent: [`Error::NotInFanOut`]
    /// for `sql_for` naming a database not in the fan-out, [`Error::InvalidQuery`] for a
    /// database with no SQL. Everything else is per database.
    pub async fn run(mut self) -> Result<FanOutReport> {
        if let Some(query) = self.query.take() {
            let (parts, meta) =
                query.map_err(|(model, message)| Error::InvalidQuery { model, message })?;
            if self.sql.is_some() || !self.sql_for.is_empty() || !self.binds.is_empty() {
                return Err(Error::InvalidQuery {
                    model: meta.name,
                    message: "a fan-out runs either a model query or SQL, not both".into(),
                });
            }
            for name in &self.databases {
                // A database that is not registered keeps no SQL; its outcome says why.
                let Some(backend) = self.backend_of(name) else {
                    self.sql_for
                        .push((name.clone(), SqlSafeStr::into_sql_str("SELECT 1")));
                    continue;
                };
                let (sql, binds) = crate::exec::select_text(meta, backend, &parts);
                self.binds = binds;
                self.sql_for
                    .push((name.clone(), crate::AssertSqlSafe(sql).into_sql_str()));
            }
        }
        if let Some((name, _)) = self
            .sql_for
            .iter()
            .find(|(name, _)| !self.databases.contains(name))
        {
            return Err(Error::NotInFanOut {
                database: name.clone(),
            });
        }
        let mut plan = Vec::with_capacity(self.databases.len());
        for name in &self.databases {
            let sql = match self.sql_for.iter().find(|(n, _)| n == name) {
                Some((_, sql)) => sql,
                None => self.sql.as_ref().ok_or_else(|| Error::InvalidQuery {
                    model: "fan_out",
                    message: format!(
                        "no SQL for database `{name}`: call `.sql(..)` or `.sql_for(\"{name}\", ..)`"
                    ),
                })?,
            };
            plan.push((name.as_str(), sql, crate::raw::access_of(sql)));
        }
        let writes = plan.iter().any(|(_, _, access)| *access == Access::Write);
        if writes && !self.allow_writes {
            return Ok(self.refused());
        }
        let n = self.concurrency.unwrap_or(plan.len()).max(1);
        let outcomes = futures_util::stream::iter(
            plan.into_iter()
                .map(|(name, sql, access)| self.one(name, sql, access)),
        )
        .buffered(n)
        .collect()
        .await;
        Ok(FanOutReport { outcomes })
    }

    /// Every database refuses the write; nothing is sent.
    fn refused(&self) -> FanOutReport {
        let outcomes = self
            .databases
            .iter()
            .map(|name| {
                tracing::debug!(target: "grant::fan_out", database = %name, "grant: fan-out write refused");
                DatabaseOutcome {
                    database: name.clone(),
                    backend: self.backend_of(name),
                    rows: Err(Error::ReadOnly {
                        database: name.clone(),
                        shard: None,
                        role: Role::Reading,
                        reason: ReadOnlyReason::FanOut,
                    }),
                    elapsed: Duration::ZERO,
                    truncated: false,
                }
            })
            .collect();
        FanOutReport { outcomes }
    }

    fn backend_of(&self, database: &str) -> Option<crate::Backend> {
        self.grant
            .handler()
            .with_entry(database, |e| Ok(e.backend()))
            .ok()
    }

    /// One database: route in the reading role (a read) or the current scope (an allowed
    /// write), run bounded by the deadline, read at most the cap.
    async fn one(&self, name: &str, sql: &SqlStr, access: Access) -> DatabaseOutcome {
        let backend = self.backend_of(name);
        let span = tracing::debug_span!(
            target: "grant::fan_out",
            "fan_out",
            database = %name,
            backend = backend.map(tracing::field::debug),
            rows = tracing::field::Empty,
            truncated = tracing::field::Empty,
            elapsed_us = tracing::field::Empty,
            error = tracing::field::Empty,
        );
        let start = Instant::now();
        let deadline = self.timeout.map(|t| tokio::time::Instant::now() + t);
        let stopped_early = AtomicBool::new(false);
        let req = Request {
            model: "raw",
            database: Some(name),
            shard: None,
            reading: None,
            shards: &[],
            access,
            op: "fan_out",
            user_sql: true,
            deadline,
            stopped_early: Some(&stopped_early),
        };
        let ctx = match access {
            Access::Read => connection().role(Role::Reading).resolve(),
            Access::Write => Context::current(),
        };
        let (role, shard) = (
            ctx.role.clone().unwrap_or(match access {
                Access::Read => Role::Reading,
                Access::Write => Role::Writing,
            }),
            ctx.shard.clone(),
        );
        let work = ctx.scope(async {
            let conn = exec::resolve(Target::Grant(self.grant), &req)?;
            exec::fetch_rows_capped(conn, &req, sql, self.binds.clone(), self.row_cap).await
        });
        let work = tracing::Instrument::instrument(work, span.clone());
        let out = match deadline {
            Some(d) => tokio::time::timeout_at(d + GRACE, work)
                .await
                .unwrap_or_else(|_| {
                    Err(Error::Timeout {
                        database: name.to_string(),
                        role,
                        shard: shard.as_deref().map(str::to_string),
                        after: self.timeout.unwrap_or_default(),
                    })
                }),
            None => work.await,
        };
        let elapsed = start.elapsed();
        let (rows, truncated) = match out {
            Ok((rows, truncated)) => (Ok(rows), truncated),
            Err(Error::Timeout {
                database,
                role,
                shard,
                after,
            }) => {
                // Cut by the fan-out's deadline: report the fan-out's timeout, not what was
                // left of it when the statement started.
                let after = match self.timeout {
                    Some(t) if elapsed >= t => t,
                    _ => after,
                };
                let e = Error::Timeout {
                    database,
                    role,
                    shard,
                    after,
                };
                (Err(e), false)
            }
            Err(e) => (Err(e), false),
        };
        if !span.is_disabled() {
            match &rows {
                Ok(r) => span.record("rows", r.len() as u64),
                Err(e) => span.record("error", tracing::field::display(e)),
            };
            span.record("truncated", truncated);
            span.record("elapsed_us", elapsed.as_micros() as u64);
        }
        DatabaseOutcome {
            database: name.to_string(),
            backend,
            rows,
            elapsed,
            truncated,
        }
    }
}
