//! SQL text per dialect: identifier quoting, placeholders, and each model's fixed
//! statements, built once per engine rather than per call.

use std::fmt::Write as _;

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
        self.sql.push(q);
        for c in name.chars() {
            if c == q {
                self.sql.push(q);
            }
            self.sql.push(c);
        }
        self.sql.push(q);
        self
    }

    /// The next placeholder: `$n` on PostgreSQL, `?` elsewhere.
    pub fn param(&mut self) -> &mut Self {
        self.params += 1;
        match self.backend {
            Backend::Postgres => {
                let _ = write!(self.sql, "${}", self.params);
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
        }
    }
}

/// The columns an INSERT writes: all but a generated key.
pub(crate) fn insert_columns(meta: &ModelMeta) -> impl Iterator<Item = usize> + '_ {
    (0..meta.columns.len()).filter(move |&i| !(meta.auto_increment && i == meta.primary_key))
}

/// `INSERT` of `rows` rows; returns the text and whether it ends in `RETURNING <key>`.
pub(crate) fn insert_sql(meta: &ModelMeta, backend: Backend, rows: usize) -> (String, bool) {
    let cols: Vec<usize> = insert_columns(meta).collect();
    let mut w = SqlWriter::new(backend, 64 + cols.len() * 16 + rows * (cols.len() * 5 + 4));
    w.push("INSERT INTO ").ident(meta.table);
    if cols.is_empty() {
        match backend {
            Backend::MySql => {
                w.push(" () VALUES ()");
                for _ in 1..rows {
                    w.push(", ()");
                }
            }
            Backend::Postgres | Backend::Sqlite => {
                w.push(" DEFAULT VALUES");
            }
        }
    } else {
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
        }
    }
    let returning = meta.auto_increment && backend != Backend::MySql;
    if returning {
        w.push(" RETURNING ").ident(meta.key_column().name);
    }
    (w.finish(), returning)
}
