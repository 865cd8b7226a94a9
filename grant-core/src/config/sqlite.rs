//! SQLite connection settings (`[databases.<name>.sqlite]`).

use std::time::Duration;

/// SQLite's journal mode (`PRAGMA journal_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JournalMode {
    /// `DELETE`: the rollback journal, deleted after each transaction (SQLite's default).
    Delete,
    /// `TRUNCATE`.
    Truncate,
    /// `PERSIST`.
    Persist,
    /// `MEMORY`.
    Memory,
    /// `WAL`: write-ahead log; readers never block the writer. Grant's default for files.
    Wal,
    /// `OFF`: no journal (no atomic rollback).
    Off,
}

impl JournalMode {
    /// The pragma value.
    pub fn as_str(self) -> &'static str {
        match self {
            JournalMode::Delete => "DELETE",
            JournalMode::Truncate => "TRUNCATE",
            JournalMode::Persist => "PERSIST",
            JournalMode::Memory => "MEMORY",
            JournalMode::Wal => "WAL",
            JournalMode::Off => "OFF",
        }
    }

    /// Parse a pragma value, case-insensitively.
    pub fn parse(s: &str) -> Option<JournalMode> {
        Some(match s.to_ascii_lowercase().as_str() {
            "delete" => JournalMode::Delete,
            "truncate" => JournalMode::Truncate,
            "persist" => JournalMode::Persist,
            "memory" => JournalMode::Memory,
            "wal" => JournalMode::Wal,
            "off" => JournalMode::Off,
            _ => return None,
        })
    }
}

/// SQLite's `PRAGMA synchronous`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Synchronous {
    /// `OFF`.
    Off,
    /// `NORMAL`: with WAL, durable against an application crash; the last transactions may
    /// be lost on power loss.
    Normal,
    /// `FULL`: an fsync per transaction.
    Full,
    /// `EXTRA`.
    Extra,
}

impl Synchronous {
    /// The pragma value.
    pub fn as_str(self) -> &'static str {
        match self {
            Synchronous::Off => "OFF",
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
            Synchronous::Extra => "EXTRA",
        }
    }

    /// Parse a pragma value, case-insensitively.
    pub fn parse(s: &str) -> Option<Synchronous> {
        Some(match s.to_ascii_lowercase().as_str() {
            "off" => Synchronous::Off,
            "normal" => Synchronous::Normal,
            "full" => Synchronous::Full,
            "extra" => Synchronous::Extra,
            _ => return None,
        })
    }
}

/// Settings of SQLite connections. Defaults follow Rails 8: files use `WAL` with
/// `synchronous = NORMAL` (in-memory databases keep SQLite's own journal), a 5 s busy
/// timeout, and foreign keys enforced.
///
/// ```
/// use std::time::Duration;
/// use grant_core::config::{JournalMode, SqliteOptions, Synchronous};
///
/// let o = SqliteOptions::default();
/// assert_eq!(o.journal_mode, None);          // WAL for files
/// assert_eq!(o.effective_journal_mode(false), Some(JournalMode::Wal));
/// assert_eq!(o.effective_synchronous(false), Synchronous::Normal);
/// assert_eq!(o.busy_timeout, Duration::from_secs(5));
/// assert!(o.foreign_keys);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// `journal_mode`; `None`: `WAL` for files, SQLite's default for `:memory:`.
    pub journal_mode: Option<JournalMode>,
    /// `synchronous`; `None`: `NORMAL` under WAL, `FULL` otherwise.
    pub synchronous: Option<Synchronous>,
    /// How long a statement waits for a lock held by another connection: zero (fail at
    /// once) or 1 ms to 1 day. Default 5 s.
    pub busy_timeout: Duration,
    /// `foreign_keys`. Default `true`.
    pub foreign_keys: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            journal_mode: None,
            synchronous: None,
            busy_timeout: Duration::from_secs(5),
            foreign_keys: true,
        }
    }
}

impl SqliteOptions {
    /// The journal mode to set (`None`: leave SQLite's), for a file or an in-memory database.
    pub fn effective_journal_mode(&self, in_memory: bool) -> Option<JournalMode> {
        match (self.journal_mode, in_memory) {
            (Some(m), _) => Some(m),
            (None, false) => Some(JournalMode::Wal),
            (None, true) => None,
        }
    }

    /// The synchronous level to set.
    pub fn effective_synchronous(&self, in_memory: bool) -> Synchronous {
        match self.synchronous {
            Some(s) => s,
            None if self.effective_journal_mode(in_memory) == Some(JournalMode::Wal) => {
                Synchronous::Normal
            }
            None => Synchronous::Full,
        }
    }
}
