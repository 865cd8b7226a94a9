//! One pool slot: the connect options of a (database, role, shard) target and its sqlx
//! pool, created on first use. Pools are the concrete PgPool / MySqlPool / SqlitePool.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::pool::PoolOptions;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};

use tokio_util::sync::CancellationToken;

use crate::backend::Backend;
use crate::config::{ConnectHook, DatabaseConfig, PoolConfig};
use crate::error::Error;
use crate::role::Role;

use super::health::{Health, ReplicaState};
use super::options::{mysql_session, BaseOptions, Options};
use super::session::setup;

/// A sqlx pool of one of the three engines.
#[derive(Debug, Clone)]
pub enum Pool {
    /// PostgreSQL.
    Postgres(PgPool),
    /// MariaDB / MySQL.
    MySql(MySqlPool),
    /// SQLite.
    Sqlite(SqlitePool),
}

impl Pool {
    /// The engine.
    pub fn backend(&self) -> Backend {
        match self {
            Pool::Postgres(_) => Backend::Postgres,
            Pool::MySql(_) => Backend::MySql,
            Pool::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Open connections (idle and in use).
    pub fn size(&self) -> u32 {
        match self {
            Pool::Postgres(p) => p.size(),
            Pool::MySql(p) => p.size(),
            Pool::Sqlite(p) => p.size(),
        }
    }

    /// Idle connections.
    pub fn num_idle(&self) -> usize {
        match self {
            Pool::Postgres(p) => p.num_idle(),
            Pool::MySql(p) => p.num_idle(),
            Pool::Sqlite(p) => p.num_idle(),
        }
    }

    /// Close every connection; waits for those in use to come back.
    pub async fn close(&self) {
        match self {
            Pool::Postgres(p) => p.close().await,
            Pool::MySql(p) => p.close().await,
            Pool::Sqlite(p) => p.close().await,
        }
    }
}

/// Which pool of a (database, shard) a slot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum PoolKind {
    /// The writer.
    Writer,
    /// A pool to the writer's URL whose sessions are read-only: it serves the reading role
    /// of a database without replicas, and reads in a prevent-writes scope.
    WriterReadOnly,
    /// Replica number `n` (from 0) of the reading role.
    Replica(usize),
}

impl std::fmt::Display for PoolKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PoolKind::Writer => f.write_str("writer"),
            PoolKind::WriterReadOnly => f.write_str("writer (read-only sessions)"),
            PoolKind::Replica(n) => write!(f, "replica {n}"),
        }
    }
}

/// Which pool a slot is: database, role, shard, and which of its pools.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct PoolKey {
    /// The database entry.
    pub database: Arc<str>,
    /// The role the pool serves.
    pub role: Role,
    /// The shard, if any.
    pub shard: Option<Arc<str>>,
    /// Which pool of the role.
    pub kind: PoolKind,
}

impl PoolKey {
    /// A key; `role` is `Writing` for the writer and `Reading` otherwise.
    pub fn new(database: Arc<str>, shard: Option<Arc<str>>, kind: PoolKind) -> PoolKey {
        let role = match kind {
            PoolKind::Writer => Role::Writing,
            PoolKind::WriterReadOnly | PoolKind::Replica(_) => Role::Reading,
        };
        PoolKey {
            database,
            role,
            shard,
            kind,
        }
    }
}

/// Statistics of one pool.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Which pool.
    pub key: PoolKey,
    /// Whether its sessions are read-only.
    pub read_only: bool,
    /// Whether the pool has been created (pools open on first use).
    pub created: bool,
    /// Open connections.
    pub size: u32,
    /// Idle connections.
    pub idle: usize,
    /// Connections in use.
    pub in_use: u32,
    /// Waits for a connection of a busy pool that timed out ([`Error::PoolTimeout`]).
    pub acquire_timeouts: u64,
    /// Failures to reach the server ([`Error::Connect`]).
    pub connect_errors: u64,
    /// Statements abandoned after the statement timeout ([`Error::Timeout`]).
    pub statement_timeouts: u64,
    /// Whether it takes reads: a replica is `Down` after a failure until a probe
    /// re-admits it, `Lagging` while behind `max_replication_lag`; other pools are `Up`.
    pub state: ReplicaState,
    /// The last measured replication lag (replicas, when lag or positions are monitored).
    pub lag: Option<Duration>,
    /// Reads served by this pool.
    pub reads: u64,
    /// Reads that failed here (the target failed) and were retried on another replica or
    /// the writer.
    pub fallbacks: u64,
    /// Statements that failed because the target failed (connect error, I/O error, acquire
    /// or statement timeout).
    pub errors: u64,
}

/// A (database, role, shard) target: its options and its pool once created.
#[derive(Debug)]
pub struct PoolSlot {
    pub(super) key: PoolKey,
    backend: Backend,
    read_only_session: bool,
    options: Options,
    pub(super) pool_config: PoolConfig,
    statement_timeout: Option<Duration>,
    /// Statements run on each new connection: Grant's session settings, then the config's.
    pub(super) session: Arc<[String]>,
    pub(super) on_connect: Option<ConnectHook>,
    pool: OnceLock<Pool>,
    pub(super) timeouts: AtomicU64,
    pub(super) connect_errors: AtomicU64,
    statement_timeouts: AtomicU64,
    /// When the last connection attempt failed (ms since the first use, 0: never).
    pub(super) failed_at: AtomicU64,
    /// When a diagnostic connection last found the server answering (ms, 0: never).
    pub(super) answered_at: AtomicU64,
    /// An in-memory SQLite database: its writer keeps one connection open for the pool's
    /// life, and its read-only twin opens only after the writer (a shared in-memory
    /// database opened read-only first would be read-only for everyone).
    pub(super) in_memory: bool,
    /// The writer that must have opened a connection before this pool connects.
    pub(super) opens_after: Option<Arc<PoolSlot>>,
    /// Set by [`PoolSlot::close`]: no new connection is handed out.
    pub(super) closed: AtomicBool,
    /// Set once a connection of this pool has been established (SQLite writers).
    pub(super) established: Arc<AtomicBool>,
    /// Wakes callers waiting for a connection when another one finds the server unreachable.
    pub(super) failure: tokio::sync::Notify,
    /// Rotation state, counters and known position (replicas).
    pub(crate) health: Health,
    /// First pause before probing a replica that failed (`replica_check_interval`).
    pub(crate) probe_interval: Duration,
    /// Stops this slot's background probe (the database was removed or closed).
    pub(crate) stop: CancellationToken,
}

impl PoolSlot {
    /// A slot on `base` with its session settings. `read_only_session` opens every
    /// connection read-only at the session level (see the `options` module).
    pub(crate) fn new(
        key: PoolKey,
        base: &BaseOptions,
        read_only_session: bool,
        config: &DatabaseConfig,
    ) -> PoolSlot {
        PoolSlot {
            key,
            backend: base.backend(),
            read_only_session,
            options: base.session(config, read_only_session),
            pool_config: config.pool.clone(),
            statement_timeout: config.statement_timeout,
            session: match base {
                BaseOptions::MySql(_) => mysql_session(config, read_only_session)
                    .into_iter()
                    .chain(config.after_connect.iter().cloned())
                    .collect(),
                _ => config.after_connect.clone().into(),
            },
            on_connect: config.on_connect.clone(),
            pool: OnceLock::new(),
            timeouts: AtomicU64::new(0),
            connect_errors: AtomicU64::new(0),
            statement_timeouts: AtomicU64::new(0),
            failed_at: AtomicU64::new(0),
            answered_at: AtomicU64::new(0),
            in_memory: base.in_memory(),
            opens_after: None,
            closed: AtomicBool::new(false),
            established: Arc::new(AtomicBool::new(false)),
            failure: tokio::sync::Notify::new(),
            health: Health::new(1),
            probe_interval: config.replication.replica_check_interval,
            stop: CancellationToken::new(),
        }
    }

    /// Stops background tasks of this slot with `stop`.
    pub(crate) fn stopping_with(mut self, stop: &CancellationToken) -> PoolSlot {
        self.stop = stop.clone();
        self
    }

    /// Sets the weight for `balance = "weighted"`.
    pub(crate) fn weighted(mut self, weight: u32) -> PoolSlot {
        self.health.weight = weight.max(1);
        self
    }

    /// This pool connects only once `writer` has had a connection open: a SQLite read-only
    /// twin, so that the writer creates the file (and sets its journal mode) first, and an
    /// in-memory database is not first opened read-only.
    pub(crate) fn opening_after(mut self, writer: &Arc<PoolSlot>) -> PoolSlot {
        if self.backend == Backend::Sqlite {
            self.opens_after = Some(writer.clone());
        }
        self
    }

    /// Which pool this is.
    pub fn key(&self) -> &PoolKey {
        &self.key
    }

    /// The engine.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether connections are opened read-only at the session level.
    pub fn read_only_session(&self) -> bool {
        self.read_only_session
    }

    /// The statement timeout of this pool's database (`None`: none).
    pub fn statement_timeout(&self) -> Option<Duration> {
        self.statement_timeout
    }

    /// The pool, created (without connecting) on first use.
    #[inline]
    pub fn pool(&self) -> &Pool {
        self.pool.get_or_init(|| self.create())
    }

    /// The pool if it has been created.
    pub fn created(&self) -> Option<&Pool> {
        self.pool.get()
    }

    /// Refuse new statements and close the pool's connections (those in use finish first).
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        if let Some(pool) = self.pool.get() {
            pool.close().await;
        }
    }

    /// Statistics of this pool.
    pub fn stats(&self) -> PoolStats {
        let (created, size, idle) = match self.pool.get() {
            Some(p) => (true, p.size(), p.num_idle()),
            None => (false, 0, 0),
        };
        PoolStats {
            key: self.key.clone(),
            read_only: self.read_only_session,
            created,
            size,
            idle,
            in_use: size.saturating_sub(idle as u32),
            acquire_timeouts: self.timeouts.load(Ordering::Relaxed),
            connect_errors: self.connect_errors.load(Ordering::Relaxed),
            statement_timeouts: self.statement_timeouts.load(Ordering::Relaxed),
            state: self.health.state(),
            lag: self.health.lag(),
            reads: self.health.reads.load(Ordering::Relaxed),
            fallbacks: self.health.fallbacks.load(Ordering::Relaxed),
            errors: self.health.errors.load(Ordering::Relaxed),
        }
    }

    /// The error for a statement that outlived the statement timeout (counted).
    pub(crate) fn timeout_error(&self, after: Duration) -> Error {
        self.statement_timeouts.fetch_add(1, Ordering::Relaxed);
        timeout_error(&self.key, after)
    }

    fn create(&self) -> Pool {
        tracing::debug!(
            database = %self.key.database,
            role = %self.key.role,
            shard = self.key.shard.as_deref(),
            pool = %self.key.kind,
            read_only = self.read_only_session,
            "grant: creating pool"
        );
        let session = self.session.clone();
        let hook = self.on_connect.clone();
        macro_rules! build {
            ($opts:expr, $variant:ident, $db:ty, $o:expr) => {{
                let mut opts = apply($opts, &self.pool_config);
                if self.in_memory && !self.read_only_session {
                    // The database lives as long as one connection does.
                    opts = opts
                        .min_connections(self.pool_config.min_connections.max(1))
                        .idle_timeout(None)
                        .max_lifetime(None);
                }
                // A SQLite writer notes its first connection: its read-only twin opens only
                // after it (see `opening_after`).
                let mark = (self.backend == Backend::Sqlite && !self.read_only_session)
                    .then(|| self.established.clone());
                if !session.is_empty() || hook.is_some() || mark.is_some() {
                    let session = session.clone();
                    let hook = hook.clone();
                    opts = opts.after_connect(move |conn, _meta| {
                        let session = session.clone();
                        let hook = hook.clone();
                        let mark = mark.clone();
                        Box::pin(async move {
                            setup::<$db>(conn, &session, hook.as_ref()).await?;
                            if let Some(mark) = mark {
                                mark.store(true, Ordering::Release);
                            }
                            Ok(())
                        })
                    });
                }
                Pool::$variant(opts.connect_lazy_with($o.clone()))
            }};
        }
        match &self.options {
            Options::Postgres(o) => build!(PgPoolOptions::new(), Postgres, sqlx::Postgres, o),
            Options::MySql(o) => build!(MySqlPoolOptions::new(), MySql, sqlx::MySql, o),
            Options::Sqlite(o) => build!(SqlitePoolOptions::new(), Sqlite, sqlx::Sqlite, o),
        }
    }
}

/// The error for a statement on `key` that outlived `after`.
pub(crate) fn timeout_error(key: &PoolKey, after: Duration) -> Error {
    tracing::warn!(
        database = %key.database,
        role = %key.role,
        shard = key.shard.as_deref(),
        after_ms = after.as_millis() as u64,
        "grant: statement timeout; closing its connection"
    );
    Error::Timeout {
        database: key.database.to_string(),
        role: key.role.clone(),
        shard: key.shard.as_deref().map(str::to_string),
        after,
    }
}

fn apply<DB: sqlx::Database>(o: PoolOptions<DB>, c: &PoolConfig) -> PoolOptions<DB> {
    o.max_connections(c.max_connections)
        .min_connections(c.min_connections)
        .acquire_timeout(c.acquire_timeout)
        .idle_timeout(c.idle_timeout)
        .max_lifetime(c.max_lifetime)
        .test_before_acquire(c.test_before_acquire)
}
