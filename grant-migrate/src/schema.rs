//! Reading each target's schema (tables, columns, indexes) in a stable, diffable form, and
//! finding shards whose schema drifted from their database's first shard.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use grant_core::Backend;
use serde::Serialize;

use crate::conn::Conn;
use crate::error::{MigrateError, Result};
use crate::ops::parallel;
use crate::target::Target;
use crate::{Migrator, MIGRATIONS_TABLE};

/// The schema of one target, tables by name (the `grant_migrations` table left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetSchema {
    /// The database.
    pub database: String,
    /// The shard; `None` for the database's own URL.
    pub shard: Option<String>,
    /// The engine.
    #[serde(serialize_with = "backend_name")]
    pub backend: Backend,
    /// True when the database does not exist (a SQLite file not created): no tables.
    pub missing_database: bool,
    /// The tables, by name.
    pub tables: Vec<TableSchema>,
}

fn backend_name<S: serde::Serializer>(b: &Backend, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(b.name())
}

/// One table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableSchema {
    /// The table.
    pub name: String,
    /// Its columns, in table order.
    pub columns: Vec<ColumnSchema>,
    /// Its indexes as the engine describes them (PostgreSQL's `indexdef`, SQLite's
    /// `CREATE INDEX` text, MariaDB's columns), by index name.
    pub indexes: Vec<String>,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnSchema {
    /// The column.
    pub name: String,
    /// Its type as the engine reports it.
    pub data_type: String,
    /// Whether it accepts NULL.
    pub nullable: bool,
    /// Its default expression, if any.
    pub default: Option<String>,
}

impl TargetSchema {
    /// `database` or `database/shard`.
    pub fn label(&self) -> String {
        match &self.shard {
            Some(s) => format!("{}/{s}", self.database),
            None => self.database.clone(),
        }
    }

    /// The schema as text: one line per table, column and index, in a stable order, so
    /// that two dumps can be compared with `diff`.
    ///
    /// ```
    /// use grant_migrate::{ColumnSchema, TableSchema, TargetSchema};
    /// let s = TargetSchema {
    ///     database: "primary".into(),
    ///     shard: None,
    ///     backend: grant_core::Backend::Sqlite,
    ///     missing_database: false,
    ///     tables: vec![TableSchema {
    ///         name: "users".into(),
    ///         columns: vec![ColumnSchema { name: "id".into(), data_type: "BIGINT".into(), nullable: false, default: None }],
    ///         indexes: vec![],
    ///     }],
    /// };
    /// assert_eq!(s.body(), "table users\n  column id BIGINT NOT NULL\n");
    /// ```
    pub fn body(&self) -> String {
        let mut out = String::new();
        for t in &self.tables {
            let _ = writeln!(out, "table {}", t.name);
            for c in &t.columns {
                let _ = write!(out, "  column {} {}", c.name, c.data_type);
                if !c.nullable {
                    out.push_str(" NOT NULL");
                }
                if let Some(d) = &c.default {
                    let _ = write!(out, " DEFAULT {d}");
                }
                out.push('\n');
            }
            for i in &t.indexes {
                let _ = writeln!(out, "  index {i}");
            }
        }
        out
    }

    /// The text of a schema file: a header line naming the target, then [`TargetSchema::body`].
    pub fn to_text(&self) -> String {
        format!(
            "-- grant-migrate schema of {} ({})\n{}",
            self.label(),
            self.backend.name(),
            self.body()
        )
    }

    /// The file name of the dump: `<database>.schema`, or `<database>@<shard>.schema`.
    pub fn file_name(&self) -> String {
        match &self.shard {
            Some(s) => format!("{}@{s}.schema", self.database),
            None => format!("{}.schema", self.database),
        }
    }
}

/// A shard whose schema differs from its database's first shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// The database.
    pub database: String,
    /// The shard that drifted.
    pub shard: String,
    /// The first shard (by name), the reference.
    pub reference: String,
    /// Lines of the reference missing on the shard (`- ...`) and lines only on the shard
    /// (`+ ...`).
    pub differences: Vec<String>,
}

/// The shards of `schemas` whose schema differs from their database's first shard (by
/// name). A database's own URL is not compared (it usually holds other tables than its
/// shards).
pub fn drift(schemas: &[TargetSchema]) -> Vec<Drift> {
    let mut out = Vec::new();
    let mut databases: Vec<&str> = schemas.iter().map(|s| s.database.as_str()).collect();
    databases.dedup();
    for db in databases {
        let mut shards: Vec<&TargetSchema> = schemas
            .iter()
            .filter(|s| s.database == db && s.shard.is_some())
            .collect();
        shards.sort_by(|a, b| a.shard.cmp(&b.shard));
        let Some((first, rest)) = shards.split_first() else {
            continue;
        };
        let reference = first.body();
        let ref_lines: BTreeSet<&str> = reference.lines().collect();
        for s in rest {
            let body = s.body();
            if body == reference {
                continue;
            }
            let lines: BTreeSet<&str> = body.lines().collect();
            let mut differences: Vec<String> = ref_lines
                .difference(&lines)
                .map(|l| format!("- {}", l.trim()))
                .collect();
            differences.extend(
                lines
                    .difference(&ref_lines)
                    .map(|l| format!("+ {}", l.trim())),
            );
            if differences.is_empty() {
                differences.push("~ the same lines in another order".to_string());
            }
            out.push(Drift {
                database: db.to_string(),
                shard: s.shard.clone().unwrap_or_default(),
                reference: first.shard.clone().unwrap_or_default(),
                differences,
            });
        }
    }
    out
}

fn queries(backend: Backend) -> (String, String) {
    match backend {
        Backend::Postgres => (
            format!(
                "SELECT c.table_name::text, c.column_name::text, \
                 CASE WHEN c.data_type IN ('character varying', 'character') AND c.character_maximum_length IS NOT NULL \
                      THEN c.data_type || '(' || c.character_maximum_length || ')' \
                      WHEN c.data_type IN ('USER-DEFINED', 'ARRAY') THEN c.udt_name::text ELSE c.data_type::text END, \
                 c.is_nullable::text, c.column_default::text \
                 FROM information_schema.columns c JOIN information_schema.tables t \
                   ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE' \
                 WHERE c.table_schema = current_schema() AND c.table_name <> '{MIGRATIONS_TABLE}' \
                 ORDER BY c.table_name, c.ordinal_position"
            ),
            format!(
                "SELECT tablename::text, indexname::text, indexdef::text FROM pg_indexes \
                 WHERE schemaname = current_schema() AND tablename <> '{MIGRATIONS_TABLE}' ORDER BY tablename, indexname"
            ),
        ),
        Backend::MySql => (
            format!(
                "SELECT CAST(c.TABLE_NAME AS CHAR), CAST(c.COLUMN_NAME AS CHAR), CAST(c.COLUMN_TYPE AS CHAR), \
                 CAST(c.IS_NULLABLE AS CHAR), CAST(c.COLUMN_DEFAULT AS CHAR) \
                 FROM information_schema.COLUMNS c JOIN information_schema.TABLES t \
                   ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME AND t.TABLE_TYPE = 'BASE TABLE' \
                 WHERE c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME <> '{MIGRATIONS_TABLE}' \
                 ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION"
            ),
            format!(
                "SELECT CAST(TABLE_NAME AS CHAR), CAST(INDEX_NAME AS CHAR), \
                 CAST(CONCAT(IF(MAX(NON_UNIQUE) = 0, 'UNIQUE ', ''), INDEX_NAME, ' (', \
                   GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR ', '), ')') AS CHAR) \
                 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> '{MIGRATIONS_TABLE}' \
                 GROUP BY TABLE_NAME, INDEX_NAME ORDER BY TABLE_NAME, INDEX_NAME"
            ),
        ),
        Backend::Sqlite => (
            format!(
                "SELECT m.name, p.name, p.type, CASE WHEN p.\"notnull\" THEN 'NO' ELSE 'YES' END, p.dflt_value \
                 FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND m.name <> '{MIGRATIONS_TABLE}' \
                 ORDER BY m.name, p.cid"
            ),
            format!(
                "SELECT tbl_name, name, COALESCE(sql, 'automatic index ' || name) FROM sqlite_master \
                 WHERE type = 'index' AND tbl_name <> '{MIGRATIONS_TABLE}' ORDER BY tbl_name, name"
            ),
        ),
    }
}

async fn read_one(t: &Target) -> Result<TargetSchema> {
    let mut schema = TargetSchema {
        database: t.database.to_string(),
        shard: t.shard_name(),
        backend: t.backend,
        missing_database: t.is_missing(),
        tables: Vec::new(),
    };
    if schema.missing_database {
        return Ok(schema);
    }
    let mut conn: Conn = t.connect().await?;
    let (columns_sql, indexes_sql) = queries(t.backend);
    let columns = conn
        .text_rows(&columns_sql)
        .await
        .map_err(t.sql_err("read the schema"))?;
    let indexes = conn
        .text_rows(&indexes_sql)
        .await
        .map_err(t.sql_err("read the schema"))?;
    let text = |row: &[Option<String>], i: usize| row.get(i).cloned().flatten().unwrap_or_default();
    for row in &columns {
        let table = text(row, 0);
        if schema.tables.last().is_none_or(|t| t.name != table) {
            schema.tables.push(TableSchema {
                name: table,
                columns: Vec::new(),
                indexes: Vec::new(),
            });
        }
        if let Some(last) = schema.tables.last_mut() {
            last.columns.push(ColumnSchema {
                name: text(row, 1),
                data_type: text(row, 2),
                nullable: text(row, 3) == "YES",
                default: row.get(4).cloned().flatten(),
            });
        }
    }
    for row in &indexes {
        let table = text(row, 0);
        if let Some(t) = schema.tables.iter_mut().find(|t| t.name == table) {
            t.indexes.push(text(row, 2));
        }
    }
    Ok(schema)
}

pub(crate) async fn read_all(m: &Migrator, database: Option<&str>) -> Result<Vec<TargetSchema>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for name in m.database_names(database)? {
        let entry = m.entry(&name)?;
        if entry.config().replica_of.is_some() {
            continue;
        }
        let (targets, _) = m.select(&entry, database.is_some())?;
        let read = parallel(
            &targets,
            m.concurrency,
            |t| async move { read_one(&t).await },
        )
        .await;
        for (_, r) in read {
            match r {
                Ok(s) => out.push(s),
                Err(e) => errors.push(e),
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(MigrateError::Failed {
            errors,
            report: Box::default(),
        })
    }
}
