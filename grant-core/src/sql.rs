//! SQL text per dialect: identifier quoting, placeholders, and each model's fixed
//! statements, built once per engine rather than per call.

use std::sync::{Arc, RwLock};

use crate::backend::Backend;
use crate::model::ModelMeta;

/// Writes SQL text for one engine, numbering placeholders as it goes.
#[derive(Debug)]
pub struct SqlWriter {
    backend: Backend,
    sql: String,
    params: usize,
}

impl SqlWriter {
    /// A writer for `backend` with room for `capacity` bytes.
    pub fn new(backend: Backend, capacity: usize) -> Self {
        SqlWriter {
            backend,
            sql: String::with_capacity(capacity),
            params: 0,
        }
    }

    /// Continue after `params` placeholders already written elsewhere.
    pub fn with_params(mut self, params: usize) -> Self {
        self.params = params;
        self
    }

    /// Raw SQL text (keywords, punctuation: never values).
    #[inline]
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.sql.push_str(text);
        self
    }

    /// A quoted identifier.
    pub fn ident(&mut self, name: &str) -> &mut Self {
        let q = match self.backend {
            Backend::MySql => '`',
            Backend::Postgres | Backend::Sqlite => '"',
        };
        self.sql.reserve(name.len() + 2);
        self.sql.push(q);
        if name.as_bytes().contains(&(q as u8)) {
            for c in name.chars() {
                if c == q {
                    self.sql.push(q);
                }
                self.sql.push(c);
            }
        } else {
            self.sql.push_str(name);
        }
        self.sql.push(q);
        self
    }

    /// The next placeholder: `$n` on PostgreSQL, `?` elsewhere.
    pub fn param(&mut self) -> &mut Self {
        self.params += 1;
        match self.backend {
            Backend::Postgres => {
                self.sql.push('$');
                push_decimal(&mut self.sql, self.params);
            }
            Backend::MySql | Backend::Sqlite => self.sql.push('?'),
        }
        self
    }

    /// How many placeholders were written.
    pub fn params(&self) -> usize {
        self.params
    }

    /// The engine.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The text so far.
    pub fn as_str(&self) -> &str {
        &self.sql
    }

    /// The finished text.
    pub fn finish(self) -> String {
        self.sql
    }
}

/// A model's fixed statements for one engine.
#[derive(Debug, Clone)]
pub struct Statements {
    /// `SELECT <columns> FROM <table>`
    pub select: String,
    /// `SELECT <columns> FROM <table> WHERE <key> = ?`
    pub find: String,
    /// `INSERT INTO <table> (<columns>) VALUES (?, ..)` (+ `RETURNING <key>` where the
    /// database generates the key on PostgreSQL and SQLite)
    pub insert: String,
    /// `UPDATE <table> SET <column> = ?, .. WHERE <key> = ?` (key last)
    pub update: String,
    /// `DELETE FROM <table> WHERE <key> = ?`
    pub delete: String,
    /// Whether `insert` ends in `RETURNING`.
    pub insert_returns_key: bool,
    /// ` RETURNING <key>` (empty where the key comes back as last-insert-id).
    pub returning: String,
}

impl Statements {
    /// Build the statements of `meta` for `backend`.
    pub fn build(meta: &ModelMeta, backend: Backend) -> Statements {
        let key = meta.key_column().name;

        let mut w = SqlWriter::new(backend, 64 + meta.columns.len() * 16);
        w.push("SELECT ");
        for (i, c) in meta.columns.iter().enumerate() {
            if i > 0 {
                w.push(", ");
            }
            w.ident(c.name);
        }
        w.push(" FROM ").ident(meta.table);
        let select = w.finish();

        let mut w = SqlWriter::new(backend, select.len() + 32);
        w.push(&select)
            .push(" WHERE ")
            .ident(key)
            .push(" = ")
            .param();
        let find = w.finish();

        let (insert, insert_returns_key) = insert_sql(meta, backend, 1);

        let mut w = SqlWriter::new(backend, 64 + meta.columns.len() * 24);
        w.push("UPDATE ").ident(meta.table).push(" SET ");
        let mut first = true;
        for (i, c) in meta.columns.iter().enumerate() {
            if i == meta.primary_key {
                continue;
            }
            if !first {
                w.push(", ");
            }
            first = false;
            w.ident(c.name).push(" = ").param();
        }
        if first {
            // A table with only a key: a no-op update that still reports the row.
            w.ident(key).push(" = ").ident(key);
        }
        w.push(" WHERE ").ident(key).push(" = ").param();
        let update = w.finish();

        let mut w = SqlWriter::new(backend, 48);
        w.push("DELETE FROM ")
            .ident(meta.table)
            .push(" WHERE ")
            .ident(key)
            .push(" = ")
            .param();
        let delete = w.finish();

        Statements {
            select,
            find,
            insert,
            update,
            delete,
            insert_returns_key,
            returning: returning_suffix(meta, backend),
        }
    }
}

/// The columns an INSERT writes: all but a generated key.
pub(crate) fn insert_columns(meta: &ModelMeta) -> impl Iterator<Item = usize> + '_ {
    (0..meta.columns.len()).filter(move |&i| !(meta.auto_increment && i == meta.primary_key))
}

/// ` RETURNING <key>` where the database generates the key and the engine can return it
/// (PostgreSQL, SQLite); empty on MariaDB/MySQL, which report last-insert-id instead.
pub(crate) fn returning_suffix(meta: &ModelMeta, backend: Backend) -> String {
    if meta.auto_increment && backend != Backend::MySql {
        let mut w = SqlWriter::new(backend, 16 + meta.key_column().name.len());
        w.push(" RETURNING ").ident(meta.key_column().name);
        w.finish()
    } else {
        String::new()
    }
}

/// `INSERT INTO t (..) VALUES (..), (..)` for `rows` rows, without `RETURNING`, and the byte
/// offset where each row's group ends: the text for `n <= rows` rows is the prefix up to
/// `row_ends[n - 1]`.
fn insert_prefix(meta: &ModelMeta, backend: Backend, rows: usize) -> (String, Vec<usize>) {
    let cols: Vec<usize> = insert_columns(meta).collect();
    let mut w = SqlWriter::new(backend, 64 + cols.len() * 16 + rows * (cols.len() * 7 + 4));
    let mut row_ends = Vec::with_capacity(rows);
    w.push("INSERT INTO ").ident(meta.table);
    if cols.is_empty() {
        match backend {
            Backend::MySql => {
                w.push(" () VALUES ()");
                row_ends.push(w.as_str().len());
                for _ in 1..rows {
                    w.push(", ()");
                    row_ends.push(w.as_str().len());
                }
            }
            Backend::Postgres | Backend::Sqlite => {
                // One row per statement: these engines have no multi-row DEFAULT VALUES.
                w.push(" DEFAULT VALUES");
                row_ends.push(w.as_str().len());
            }
        }
        return (w.finish(), row_ends);
    }
    w.push(" (");
    for (n, &i) in cols.iter().enumerate() {
        if n > 0 {
            w.push(", ");
        }
        w.ident(meta.columns[i].name);
    }
    w.push(") VALUES ");
    for r in 0..rows {
        if r > 0 {
            w.push(", ");
        }
        w.push("(");
        for n in 0..cols.len() {
            if n > 0 {
                w.push(", ");
            }
            w.param();
        }
        w.push(")");
        row_ends.push(w.as_str().len());
    }
    (w.finish(), row_ends)
}

/// `INSERT` of `rows` rows; returns the text and whether it ends in `RETURNING <key>`.
fn insert_sql(meta: &ModelMeta, backend: Backend, rows: usize) -> (String, bool) {
    let (mut sql, _) = insert_prefix(meta, backend, rows);
    let suffix = returning_suffix(meta, backend);
    sql.push_str(&suffix);
    (sql, !suffix.is_empty())
}

/// The multi-row INSERT text of one model and engine, kept for the largest row count asked
/// so far: a statement of `n` rows is a prefix of it (plus `RETURNING`), so `insert_all`
/// does not rebuild thousands of placeholders per call.
#[derive(Debug, Default)]
pub(crate) struct MultiInsertCache {
    built: RwLock<Option<MultiInsert>>,
}

/// A multi-row INSERT text (without `RETURNING`) and where each of its rows ends.
#[derive(Debug, Clone)]
pub(crate) struct MultiInsert {
    text: Arc<str>,
    row_ends: Arc<[usize]>,
}

impl MultiInsert {
    /// The statement for the first `rows` rows (at most as many as were asked for).
    pub(crate) fn rows(&self, rows: usize) -> &str {
        let end = self
            .row_ends
            .get(rows.saturating_sub(1))
            .copied()
            .unwrap_or(self.text.len());
        &self.text[..end]
    }
}

impl MultiInsertCache {
    pub(crate) const fn new() -> Self {
        MultiInsertCache {
            built: RwLock::new(None),
        }
    }

    /// A text covering at least `rows` rows (one row for a key-only table on engines
    /// without multi-row `DEFAULT VALUES`, where `insert_all` inserts one row at a time).
    pub(crate) fn get(&self, meta: &ModelMeta, backend: Backend, rows: usize) -> MultiInsert {
        if let Some(built) = self
            .built
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            if built.row_ends.len() >= rows {
                return built.clone();
            }
        }
        let (text, row_ends) = insert_prefix(meta, backend, rows);
        let fresh = MultiInsert {
            text: text.into(),
            row_ends: row_ends.into(),
        };
        let mut built = self.built.write().unwrap_or_else(|e| e.into_inner());
        if built
            .as_ref()
            .is_none_or(|old| old.row_ends.len() < fresh.row_ends.len())
        {
            *built = Some(fresh.clone());
        }
        fresh
    }
}

/// Append `n` in decimal, without the formatting machinery (placeholders are hot).
fn push_decimal(out: &mut String, mut n: usize) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.reserve(buf.len() - i);
    for &digit in &buf[i..] {
        out.push(char::from(digit));
    }
}

#[cfg(test)]
mod tests {
    use super::push_decimal;

    #[test]
    fn decimals() {
        for n in [0usize, 7, 10, 99, 100, 65_535, usize::MAX] {
            let mut s = String::new();
            push_decimal(&mut s, n);
            assert_eq!(s, n.to_string());
        }
    }
}
