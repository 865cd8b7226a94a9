//! Connect options of a target, per engine: the URL parsed once, then the session
//! settings Grant adds (read-only sessions, the server-side statement timeout, SQLite's
//! journal, synchronous, busy timeout and foreign keys).
//!
//! A read-only target is read-only at the session level as a second line of defence:
//! PostgreSQL sessions start with `default_transaction_read_only = on` (a startup
//! parameter, so even `RESET ALL` restores it), MariaDB/MySQL sessions run `SET SESSION
//! TRANSACTION READ ONLY` on connect, and SQLite connections are opened by the driver with
//! `SQLITE_OPEN_READONLY`, which no statement can undo.

use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::MySqlConnectOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::ConnectOptions;

use crate::backend::Backend;
use crate::config::{
    ConfigError, ConfigErrorKind, DatabaseConfig, JournalMode, SqliteOptions, Synchronous,
};
use crate::error::Error;

/// A URL parsed by its driver, before Grant's session settings. Parsed once per URL, so
/// that an in-memory SQLite database (whose name sqlx assigns at parse time) is the same
/// database for the writer and for its read-only twin.
#[derive(Debug, Clone)]
pub(crate) enum BaseOptions {
    Postgres(PgConnectOptions),
    MySql(MySqlConnectOptions),
    Sqlite {
        options: SqliteConnectOptions,
        in_memory: bool,
    },
}

/// The connect options of one pool: the base plus its session settings.
#[derive(Debug, Clone)]
pub(crate) enum Options {
    Postgres(PgConnectOptions),
    MySql(MySqlConnectOptions),
    Sqlite(SqliteConnectOptions),
}

impl BaseOptions {
    /// Parse `url`; errors name `config_key`.
    pub(crate) fn parse(url: &str, config_key: &str) -> Result<BaseOptions, Error> {
        let bad_url = |e: sqlx::Error| {
            tracing::debug!(key = config_key, error = %e, "grant: driver rejected URL");
            Error::Config(ConfigError {
                key: config_key.to_string(),
                kind: ConfigErrorKind::InvalidUrl {
                    url: crate::config::Config::redacted_url(url),
                    reason: "the driver cannot parse it",
                },
            })
        };
        let backend = Backend::from_url(url).ok_or_else(|| {
            Error::Config(ConfigError {
                key: config_key.to_string(),
                kind: ConfigErrorKind::UnknownScheme {
                    scheme: url.split(':').next().unwrap_or_default().to_string(),
                },
            })
        })?;
        Ok(match backend {
            Backend::Postgres => BaseOptions::Postgres(
                PgConnectOptions::from_str(url)
                    .map_err(bad_url)?
                    .disable_statement_logging(),
            ),
            Backend::MySql => BaseOptions::MySql(
                MySqlConnectOptions::from_str(url)
                    .map_err(bad_url)?
                    .disable_statement_logging(),
            ),
            Backend::Sqlite => BaseOptions::Sqlite {
                options: SqliteConnectOptions::from_str(url)
                    .map_err(bad_url)?
                    .disable_statement_logging(),
                in_memory: is_memory_url(url),
            },
        })
    }

    /// An in-memory SQLite database (it lives as long as a connection to it is open).
    pub(crate) fn in_memory(&self) -> bool {
        matches!(
            self,
            BaseOptions::Sqlite {
                in_memory: true,
                ..
            }
        )
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            BaseOptions::Postgres(_) => Backend::Postgres,
            BaseOptions::MySql(_) => Backend::MySql,
            BaseOptions::Sqlite { .. } => Backend::Sqlite,
        }
    }

    /// The options of a pool on this URL, read-only at the session level or not.
    pub(crate) fn session(&self, config: &DatabaseConfig, read_only: bool) -> Options {
        match self {
            BaseOptions::Postgres(o) => {
                let mut o = o.clone();
                if read_only {
                    o = o.options([("default_transaction_read_only", "on")]);
                }
                if let Some(t) = config.statement_timeout {
                    // The server cancels the statement itself at the same bound.
                    o = o.options([("statement_timeout", millis(t).as_str())]);
                }
                Options::Postgres(o)
            }
            // MariaDB/MySQL session settings are statements run after connecting.
            BaseOptions::MySql(o) => Options::MySql(o.clone()),
            BaseOptions::Sqlite { options, in_memory } => Options::Sqlite(sqlite(
                options.clone(),
                &config.sqlite,
                *in_memory,
                read_only,
            )),
        }
    }
}

fn sqlite(
    mut o: SqliteConnectOptions,
    s: &SqliteOptions,
    in_memory: bool,
    read_only: bool,
) -> SqliteConnectOptions {
    if read_only {
        // SQLITE_OPEN_READONLY: no statement on this connection can write. `query_only`
        // on top makes the state visible to `PRAGMA query_only`.
        o = o
            .read_only(true)
            .create_if_missing(false)
            .pragma("query_only", "ON");
    } else {
        o = o.create_if_missing(true);
        // The journal mode is a property of the file: only writers set it.
        if let Some(mode) = s.effective_journal_mode(in_memory) {
            o = o.journal_mode(journal_mode(mode));
        }
    }
    o.synchronous(synchronous(s.effective_synchronous(in_memory)))
        .busy_timeout(s.busy_timeout)
        .foreign_keys(s.foreign_keys)
}

fn journal_mode(m: JournalMode) -> SqliteJournalMode {
    match m {
        JournalMode::Delete => SqliteJournalMode::Delete,
        JournalMode::Truncate => SqliteJournalMode::Truncate,
        JournalMode::Persist => SqliteJournalMode::Persist,
        JournalMode::Memory => SqliteJournalMode::Memory,
        JournalMode::Wal => SqliteJournalMode::Wal,
        JournalMode::Off => SqliteJournalMode::Off,
    }
}

fn synchronous(s: Synchronous) -> SqliteSynchronous {
    match s {
        Synchronous::Off => SqliteSynchronous::Off,
        Synchronous::Normal => SqliteSynchronous::Normal,
        Synchronous::Full => SqliteSynchronous::Full,
        Synchronous::Extra => SqliteSynchronous::Extra,
    }
}

/// `sqlite::memory:`, `sqlite://:memory:` or a `mode=memory` URI.
fn is_memory_url(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// A duration as whole milliseconds (at least 1), for server settings.
pub(crate) fn millis(d: Duration) -> String {
    d.as_millis().clamp(1, u32::MAX as u128).to_string()
}

/// What makes a MariaDB/MySQL session read-only (on connect, and again after user SQL).
pub(crate) const MYSQL_READ_ONLY_SESSION: &str = "SET SESSION TRANSACTION READ ONLY";

/// The MariaDB/MySQL statements that make a session what Grant needs.
pub(crate) fn mysql_session(config: &DatabaseConfig, read_only: bool) -> Vec<String> {
    let mut out = Vec::new();
    if read_only {
        out.push(MYSQL_READ_ONLY_SESSION.to_string());
    }
    if let Some(t) = config.statement_timeout {
        // MariaDB's bound in seconds (fractions allowed); MySQL has no such variable and
        // rejects it, which is ignored: Grant's own timer still applies.
        out.push(format!(
            "SET SESSION max_statement_time = {:.3}",
            t.as_secs_f64()
        ));
    }
    out
}
