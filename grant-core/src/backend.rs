//! The three database engines Grant speaks, chosen at runtime from a URL's scheme.

use std::fmt;

/// A database engine, chosen from the scheme of a connection URL.
///
/// ```
/// use grant_core::Backend;
/// assert_eq!(Backend::from_url("postgres://127.0.0.1/app"), Some(Backend::Postgres));
/// assert_eq!(Backend::from_url("mariadb://127.0.0.1/app"), Some(Backend::MySql));
/// assert_eq!(Backend::from_url("sqlite::memory:"), Some(Backend::Sqlite));
/// assert_eq!(Backend::from_url("oracle://x"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// PostgreSQL (`postgres://`, `postgresql://`).
    Postgres,
    /// MariaDB or MySQL (`mysql://`, `mariadb://`).
    MySql,
    /// SQLite (`sqlite:`), a file or `sqlite::memory:`.
    Sqlite,
}

impl Backend {
    /// The schemes Grant accepts, for error messages.
    pub const SCHEMES: &'static str = "postgres, postgresql, mysql, mariadb, sqlite";

    /// The backend for a URL, from its scheme; `None` when the scheme is unknown or absent.
    pub fn from_url(url: &str) -> Option<Backend> {
        let scheme = url.split_once(':')?.0;
        Self::from_scheme(scheme)
    }

    /// The backend for a scheme name (case-insensitive).
    pub fn from_scheme(scheme: &str) -> Option<Backend> {
        match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Some(Backend::Postgres),
            "mysql" | "mariadb" => Some(Backend::MySql),
            "sqlite" => Some(Backend::Sqlite),
            _ => None,
        }
    }

    /// A short lowercase name: `postgres`, `mysql` or `sqlite`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
            Backend::Sqlite => "sqlite",
        }
    }

    /// The most bind parameters one statement may carry on this engine.
    pub fn max_bind_params(self) -> usize {
        match self {
            Backend::Postgres | Backend::MySql => 65_535,
            Backend::Sqlite => 32_766,
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
