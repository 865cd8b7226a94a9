//! What a fan-out returns: one [`DatabaseOutcome`] per database, in the order given.

use std::time::Duration;

use crate::backend::Backend;
use crate::error::Error;
use crate::raw::Row;

/// The outcome of one database of a fan-out.
#[derive(Debug)]
#[non_exhaustive]
pub struct DatabaseOutcome {
    /// The database's name, as given to [`crate::Grant::fan_out`].
    pub database: String,
    /// Its engine; `None` when no database of that name is registered.
    pub backend: Option<Backend>,
    /// Its rows, or why it has none: [`Error::UnknownDatabase`], [`Error::ReadOnly`] (a
    /// write without `allow_writes()`), [`Error::Timeout`], [`Error::Connect`],
    /// [`Error::Database`] (the server rejected the statement), ...
    pub rows: Result<Vec<Row>, Error>,
    /// From the start of this database's statement (routing, connecting, running, reading
    /// the rows) to its end.
    pub elapsed: Duration,
    /// The row cap stopped the reading: the database had more rows than `rows` holds.
    pub truncated: bool,
}

impl DatabaseOutcome {
    /// True when this database returned rows (possibly none, possibly truncated).
    pub fn is_ok(&self) -> bool {
        self.rows.is_ok()
    }

    /// The rows decoded as model `M` (by column name), after
    /// [`FanOut::query`](crate::FanOut::query); this database's error if it failed, or a
    /// decode error naming the model and column.
    pub fn into_models<M: crate::Model>(self) -> Result<Vec<M>, Error> {
        match self.rows {
            Err(e) => Err(e),
            Ok(rows) => rows
                .iter()
                .map(|row| match row {
                    crate::Row::Postgres(r) => M::from_pg_row(r, true),
                    crate::Row::MySql(r) => M::from_mysql_row(r, true),
                    crate::Row::Sqlite(r) => M::from_sqlite_row(r, true),
                })
                .collect(),
        }
    }

    /// The error of this database, if it failed.
    pub fn error(&self) -> Option<&Error> {
        self.rows.as_ref().err()
    }
}

/// Every database's outcome, in the order the databases were given.
#[derive(Debug)]
#[non_exhaustive]
pub struct FanOutReport {
    /// One per database, in the order given.
    pub outcomes: Vec<DatabaseOutcome>,
}

impl FanOutReport {
    /// The outcome of `database` (the first, if it was named twice).
    pub fn get(&self, database: &str) -> Option<&DatabaseOutcome> {
        self.outcomes.iter().find(|o| o.database == database)
    }

    /// The outcomes, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, DatabaseOutcome> {
        self.outcomes.iter()
    }

    /// How many databases the fan-out ran on.
    pub fn len(&self) -> usize {
        self.outcomes.len()
    }

    /// True for a fan-out over no database.
    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty()
    }

    /// True when every database returned rows.
    pub fn all_ok(&self) -> bool {
        self.outcomes.iter().all(DatabaseOutcome::is_ok)
    }

    /// The databases that failed, with their errors, in order.
    pub fn errors(&self) -> impl Iterator<Item = (&str, &Error)> {
        self.outcomes
            .iter()
            .filter_map(|o| o.error().map(|e| (o.database.as_str(), e)))
    }

    /// True when some database's rows were cut by the row cap.
    pub fn any_truncated(&self) -> bool {
        self.outcomes.iter().any(|o| o.truncated)
    }
}

impl IntoIterator for FanOutReport {
    type Item = DatabaseOutcome;
    type IntoIter = std::vec::IntoIter<DatabaseOutcome>;
    fn into_iter(self) -> Self::IntoIter {
        self.outcomes.into_iter()
    }
}

impl<'r> IntoIterator for &'r FanOutReport {
    type Item = &'r DatabaseOutcome;
    type IntoIter = std::slice::Iter<'r, DatabaseOutcome>;
    fn into_iter(self) -> Self::IntoIter {
        self.outcomes.iter()
    }
}
