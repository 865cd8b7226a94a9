//! Model operations: SELECTs, key lookups, counts, inserts (one and many), updates and
//! deletes, each resolved, built and run through the generic runners.

use crate::backend::Backend;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::query::{Assignment, QueryParts, Select};
use crate::sql::{insert_columns, SqlWriter};
use crate::transaction::TxInner;
use crate::value::Value;

use super::run::{bind_all, execute, fetch_all_on, fetch_optional_on};
use super::{resolve, Access, Conn, Request, Target};

/// Build the SQL and values of a SELECT of `M`.
fn select_sql<'s, M: Model>(
    backend: Backend,
    select: Select<'s>,
) -> (std::borrow::Cow<'s, str>, Vec<Value>, bool) {
    let stmts = M::META.statements(backend);
    match select {
        Select::Query(parts, limit) => {
            let mut w = SqlWriter::new(backend, stmts.select.len() + 64);
            w.push(&stmts.select);
            let mut binds = Vec::new();
            parts.write_where(&mut w, &mut binds);
            parts.write_tail(&mut w, &mut binds, limit);
            (w.finish().into(), binds, false)
        }
        Select::Raw { sql, binds } => (sql.into(), binds, true),
    }
}

/// Rows of `M` for a SELECT.
pub(crate) async fn fetch_models<M: Model>(
    target: Target<'_>,
    select: Select<'_>,
    access: Access,
) -> Result<Vec<M>> {
    let mut req = Request::model(M::META, access, "select");
    if let Select::Raw { sql, .. } = &select {
        // SQL written by the user is classified, not trusted by the method that sent it.
        req.access = crate::raw::access_of(sql);
        req.user_sql = true;
    }
    let conn = resolve(target, &req)?;
    let (sql, binds, by_name) = select_sql::<M>(conn.backend(), select);
    run_statement!(
        conn,
        &req,
        M::META.name,
        |v| v.len() as u64,
        |x, DB, err| {
            let args = bind_all::<DB>(binds)?;
            fetch_all_on::<DB, _, M>(x, &sql, args, err, |row| {
                DB::decode_model::<M>(&row, by_name)
            })
            .await
        }
    )
}

/// The row of `M` with this key.
pub(crate) async fn find<M: Model>(target: Target<'_>, key: Value) -> Result<Option<M>> {
    let req = Request::model(M::META, Access::Read, "find");
    let conn = resolve(target, &req)?;
    let sql = &M::META.statements(conn.backend()).find;
    run_statement!(
        conn,
        &req,
        M::META.name,
        |v| v.is_some() as u64,
        |x, DB, err| {
            let mut args = <DB as sqlx::Database>::Arguments::default();
            DB::add(&mut args, key).map_err(|e| Error::Bind {
                column: M::META.key_column().name.to_string(),
                message: e.to_string(),
            })?;
            match fetch_optional_on::<DB, _>(x, sql, args, err).await? {
                Some(row) => DB::decode_model::<M>(&row, false).map(Some),
                None => Ok(None),
            }
        }
    )
}

pub(crate) async fn count<M: Model>(target: Target<'_>, parts: &QueryParts) -> Result<i64> {
    let req = Request::model(M::META, Access::Read, "count");
    let conn = resolve(target, &req)?;
    let backend = conn.backend();
    let mut w = SqlWriter::new(backend, 96);
    let mut binds = Vec::new();
    if parts.limit.is_some() || parts.offset.is_some() {
        w.push("SELECT COUNT(*) FROM (SELECT 1 AS one FROM ")
            .ident(M::META.table);
        parts.write_where(&mut w, &mut binds);
        parts.write_tail(&mut w, &mut binds, None);
        w.push(") AS grant_sub");
    } else {
        w.push("SELECT COUNT(*) FROM ").ident(M::META.table);
        parts.write_where(&mut w, &mut binds);
    }
    let sql = w.finish();
    scalar_i64::<M>(conn, &req, &sql, binds).await
}

pub(crate) async fn exists<M: Model>(target: Target<'_>, parts: &QueryParts) -> Result<bool> {
    let req = Request::model(M::META, Access::Read, "exists");
    let conn = resolve(target, &req)?;
    let mut w = SqlWriter::new(conn.backend(), 96);
    let mut binds = Vec::new();
    w.push("SELECT 1 FROM ").ident(M::META.table);
    parts.write_where(&mut w, &mut binds);
    parts.write_tail(&mut w, &mut binds, Some(1));
    let sql = w.finish();
    run_statement!(conn, &req, M::META.name, |v| *v as u64, |x, DB, err| {
        let args = bind_all::<DB>(binds)?;
        Ok(fetch_optional_on::<DB, _>(x, &sql, args, err)
            .await?
            .is_some())
    })
}

async fn scalar_i64<M: Model>(
    conn: Conn<'_>,
    req: &Request<'_>,
    sql: &str,
    binds: Vec<Value>,
) -> Result<i64> {
    run_statement!(conn, req, M::META.name, |_| 1, |x, DB, err| {
        let args = bind_all::<DB>(binds)?;
        match fetch_optional_on::<DB, _>(x, sql, args, err).await? {
            Some(row) => DB::decode_at::<i64>(&row, 0).map_err(|e| err.map(e)),
            None => Ok(0),
        }
    })
}

/// The current time, at the microsecond precision every engine stores.
fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}

/// Append a row's insert values in column order, without a generated key.
#[inline]
fn push_insert_values<M: Model>(m: &M, out: &mut Vec<Value>) {
    m.push_values(out, !M::META.auto_increment);
}

/// Fill `created_at` / `updated_at` where the model has them.
#[inline]
fn touch<M: Model>(m: &mut M, inserting: bool) {
    if M::META.timestamps {
        m.touch(now(), inserting);
    }
}

pub(crate) async fn insert<M: Model>(target: Target<'_>, m: &mut M) -> Result<()> {
    let req = Request::model(M::META, Access::Write, "insert");
    let conn = resolve(target, &req)?;
    touch(m, true);
    let mut values = Vec::with_capacity(M::META.columns.len());
    push_insert_values(m, &mut values);
    let stmts = M::META.statements(conn.backend());
    if stmts.insert_returns_key {
        let sql = &stmts.insert;
        let key = run_statement!(conn, &req, M::META.name, |_| 1, |x, DB, err| {
            let args = bind_all::<DB>(values)?;
            match fetch_optional_on::<DB, _>(x, sql, args, err).await? {
                Some(row) => DB::decode_at::<M::Key>(&row, 0)
                    .map(Some)
                    .map_err(|e| err.map(e)),
                None => Ok(None),
            }
        })?;
        if let Some(key) = key {
            m.set_key(key);
        }
        Ok(())
    } else {
        let (_, id) = execute(conn, &req, &stmts.insert, values).await?;
        if M::META.auto_increment {
            if let Some(id) = id {
                m.set_generated_key(id)?;
            }
        }
        Ok(())
    }
}

pub(crate) async fn insert_all<M: Model>(target: Target<'_>, rows: &mut [M]) -> Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let req = Request::model(M::META, Access::Write, "insert_all");
    let conn = resolve(target, &req)?;
    let backend = conn.backend();
    let per_row = insert_columns(M::META).count();
    let chunk = if per_row == 0 && backend != Backend::MySql {
        1
    } else {
        (backend.max_bind_params() / per_row.max(1)).clamp(1, 10_000)
    };
    if M::META.timestamps {
        let now = now();
        for m in rows.iter_mut() {
            m.touch(now, true);
        }
    }
    match conn {
        Conn::Pool(slot) if rows.len() > chunk => {
            // Several statements: one transaction, so a failure leaves nothing behind.
            let mut tx = TxInner::begin(&slot, false).await?;
            let n = insert_chunks(
                Conn::Tx {
                    key: slot.key(),
                    inner: &mut tx,
                },
                &req,
                rows,
                chunk,
            )
            .await?;
            tx.commit().await?;
            Ok(n)
        }
        conn => insert_chunks(conn, &req, rows, chunk).await,
    }
}

async fn insert_chunks<M: Model>(
    mut conn: Conn<'_>,
    req: &Request<'_>,
    rows: &mut [M],
    chunk: usize,
) -> Result<u64> {
    let backend = conn.backend();
    let mut total = 0;
    let returning = &M::META.statements(backend).returning;
    let multi = M::META.multi_insert(backend, chunk.min(rows.len()));
    let per_row = insert_columns(M::META).count();
    for part in rows.chunks_mut(chunk) {
        let owned;
        let sql: &str = if returning.is_empty() {
            multi.rows(part.len())
        } else {
            owned = [multi.rows(part.len()), returning.as_str()].concat();
            &owned
        };
        let returning = !returning.is_empty();
        let mut values = Vec::with_capacity(part.len() * per_row);
        for m in part.iter() {
            push_insert_values(m, &mut values);
        }
        let conn_ref = reborrow(&mut conn);
        if returning {
            let keys: Vec<M::Key> = run_statement!(
                conn_ref,
                req,
                M::META.name,
                |v| v.len() as u64,
                |x, DB, err| {
                    let args = bind_all::<DB>(values)?;
                    fetch_all_on::<DB, _, M::Key>(x, sql, args, err, |row| {
                        DB::decode_at::<M::Key>(&row, 0).map_err(|e| err.map(e))
                    })
                    .await
                }
            )?;
            for (m, k) in part.iter_mut().zip(keys) {
                m.set_key(k);
            }
            total += part.len() as u64;
        } else {
            let (n, id) = execute(conn_ref, req, sql, values).await?;
            if M::META.auto_increment {
                if let Some(first) = id {
                    // MariaDB/MySQL report the first key of a multi-row insert; keys of one
                    // statement are consecutive (innodb_autoinc_lock_mode 0 or 1, the default).
                    for (i, m) in part.iter_mut().enumerate() {
                        m.set_generated_key(first + i as i64)?;
                    }
                }
            }
            total += n;
        }
    }
    Ok(total)
}

fn reborrow<'a>(conn: &'a mut Conn<'_>) -> Conn<'a> {
    match conn {
        Conn::Pool(slot) => Conn::Pool(slot.clone()),
        Conn::Tx { key, inner } => Conn::Tx { key, inner },
    }
}

pub(crate) async fn update<M: Model>(target: Target<'_>, m: &mut M) -> Result<bool> {
    let req = Request::model(M::META, Access::Write, "update");
    let conn = resolve(target, &req)?;
    touch(m, false);
    let mut values = Vec::with_capacity(M::META.columns.len());
    m.push_values(&mut values, false);
    values.push(crate::value::ColumnType::to_value(&m.key()));
    let sql = &M::META.statements(conn.backend()).update;
    let (n, _) = execute(conn, &req, sql, values).await?;
    Ok(n > 0)
}

pub(crate) async fn delete_by_key<M: Model>(target: Target<'_>, key: Value) -> Result<bool> {
    let req = Request::model(M::META, Access::Write, "delete");
    let conn = resolve(target, &req)?;
    let sql = &M::META.statements(conn.backend()).delete;
    let (n, _) = execute(conn, &req, sql, vec![key]).await?;
    Ok(n > 0)
}

pub(crate) async fn update_all<M: Model>(
    target: Target<'_>,
    parts: &QueryParts,
    assignments: &[Assignment],
) -> Result<u64> {
    let req = Request::model(M::META, Access::Write, "update_all");
    let conn = resolve(target, &req)?;
    let mut w = SqlWriter::new(conn.backend(), 128);
    let mut binds = Vec::with_capacity(assignments.len());
    w.push("UPDATE ").ident(M::META.table).push(" SET ");
    for (i, a) in assignments.iter().enumerate() {
        if i > 0 {
            w.push(", ");
        }
        w.ident(a.column).push(" = ").param();
        binds.push(a.value.clone());
    }
    parts.write_where(&mut w, &mut binds);
    let sql = w.finish();
    Ok(execute(conn, &req, &sql, binds).await?.0)
}

pub(crate) async fn delete_all<M: Model>(target: Target<'_>, parts: &QueryParts) -> Result<u64> {
    let req = Request::model(M::META, Access::Write, "delete_all");
    let conn = resolve(target, &req)?;
    let mut w = SqlWriter::new(conn.backend(), 96);
    let mut binds = Vec::new();
    w.push("DELETE FROM ").ident(M::META.table);
    parts.write_where(&mut w, &mut binds);
    let sql = w.finish();
    Ok(execute(conn, &req, &sql, binds).await?.0)
}
