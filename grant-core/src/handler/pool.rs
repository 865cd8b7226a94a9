//! One pool slot: the parsed connect options of a (database, role, shard) target and its
//! sqlx pool, created on first use. Pools are the concrete PgPool / MySqlPool / SqlitePool.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::pool::PoolOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{ConnectOptions, Executor as _};

use crate::backend::Backend;
use crate::config::PoolConfig;
use crate::error::Error;
use crate::role::Role;

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

/// Parsed connect options, kept so the pool can be created lazily without re-parsing.
#[derive(Debug, Clone)]
enum Options {
    Postgres(PgConnectOptions),
    MySql(MySqlConnectOptions),
    Sqlite(SqliteConnectOptions),
}

/// Which pool a slot is: database, role, shard.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolKey {
    /// The database entry.
    pub database: Arc<str>,
    /// The role the pool serves.
    pub role: Role,
    /// The shard, if any.
    pub shard: Option<Arc<str>>,
    /// Which replica of the role (0 for a writer).
    pub replica: usize,
}

/// Statistics of one pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    /// Which pool.
    pub key: PoolKey,
    /// Whether the pool has been created (pools open on first use).
    pub created: bool,
    /// Open connections.
    pub size: u32,
    /// Idle connections.
    pub idle: usize,
    /// Connections in use.
    pub in_use: u32,
    /// Acquire timeouts seen so far.
    pub acquire_timeouts: u64,
}

/// A (database, role, shard) target: its options and its pool once created.
#[derive(Debug)]
pub struct PoolSlot {
    key: PoolKey,
    backend: Backend,
    read_only_session: bool,
    options: Options,
    pool_config: PoolConfig,
    pool: OnceLock<Pool>,
    timeouts: AtomicU64,
}

impl PoolSlot {
    /// Parse `url` into a slot. `read_only_session` opens every connection read-only at the
    /// session level (PostgreSQL `default_transaction_read_only`, MariaDB `SET SESSION
    /// TRANSACTION READ ONLY`, SQLite `PRAGMA query_only`).
    pub(crate) fn new(
        key: PoolKey,
        url: &str,
        read_only_session: bool,
        pool_config: PoolConfig,
        config_key: &str,
    ) -> Result<PoolSlot, Error> {
        let bad_url = |e: sqlx::Error| {
            tracing::debug!(key = config_key, error = %e, "grant: driver rejected URL");
            Error::Config(crate::config::ConfigError {
                key: config_key.to_string(),
                kind: crate::config::ConfigErrorKind::InvalidUrl {
                    url: crate::config::Config::redacted_url(url),
                    reason: "the driver cannot parse it",
                },
            })
        };
        let backend = Backend::from_url(url).ok_or_else(|| {
            Error::Config(crate::config::ConfigError {
                key: config_key.to_string(),
                kind: crate::config::ConfigErrorKind::UnknownScheme {
                    scheme: url.split(':').next().unwrap_or_default().to_string(),
                },
            })
        })?;
        let options = match backend {
            Backend::Postgres => {
                let mut o = PgConnectOptions::from_str(url).map_err(bad_url)?;
                if read_only_session {
                    o = o.options([("default_transaction_read_only", "on")]);
                }
                Options::Postgres(o.disable_statement_logging())
            }
            Backend::MySql => {
                let o = MySqlConnectOptions::from_str(url).map_err(bad_url)?;
                Options::MySql(o.disable_statement_logging())
            }
            Backend::Sqlite => {
                let mut o = SqliteConnectOptions::from_str(url).map_err(bad_url)?;
                if read_only_session {
                    o = o.pragma("query_only", "ON");
                } else {
                    o = o.create_if_missing(true);
                }
                Options::Sqlite(o.disable_statement_logging())
            }
        };
        Ok(PoolSlot {
            key,
            backend,
            read_only_session,
            options,
            pool_config,
            pool: OnceLock::new(),
            timeouts: AtomicU64::new(0),
        })
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

    /// The pool, created (without connecting) on first use.
    #[inline]
    pub fn pool(&self) -> &Pool {
        self.pool.get_or_init(|| self.create())
    }

    /// The pool if it has been created.
    pub fn created(&self) -> Option<&Pool> {
        self.pool.get()
    }

    pub(crate) fn note_timeout(&self) {
        self.timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// Statistics of this pool.
    pub fn stats(&self) -> PoolStats {
        let (created, size, idle) = match self.pool.get() {
            Some(p) => (true, p.size(), p.num_idle()),
            None => (false, 0, 0),
        };
        PoolStats {
            key: self.key.clone(),
            created,
            size,
            idle,
            in_use: size.saturating_sub(idle as u32),
            acquire_timeouts: self.timeouts.load(Ordering::Relaxed),
        }
    }

    fn create(&self) -> Pool {
        tracing::debug!(
            database = %self.key.database,
            role = %self.key.role,
            shard = self.key.shard.as_deref(),
            read_only = self.read_only_session,
            "grant: creating pool"
        );
        match &self.options {
            Options::Postgres(o) => Pool::Postgres(
                apply(PgPoolOptions::new(), &self.pool_config).connect_lazy_with(o.clone()),
            ),
            Options::MySql(o) => {
                let mut opts = apply(MySqlPoolOptions::new(), &self.pool_config);
                if self.read_only_session {
                    opts = opts.after_connect(|conn, _meta| {
                        Box::pin(async move {
                            conn.execute("SET SESSION TRANSACTION READ ONLY").await?;
                            Ok(())
                        })
                    });
                }
                Pool::MySql(opts.connect_lazy_with(o.clone()))
            }
            Options::Sqlite(o) => Pool::Sqlite(
                apply(SqlitePoolOptions::new(), &self.pool_config).connect_lazy_with(o.clone()),
            ),
        }
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
