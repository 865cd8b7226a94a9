//! Model operations: SELECTs, key lookups, counts, inserts (one and many), updates and
//! deletes, each resolved, built and run through the generic runners.

use crate::backend::Backend;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::query::{Assignment, QueryParts, Select};
use crate::sql::{insert_columns, SqlWriter};
use crate::transaction::TxInner;
use crate::value::{BindRef, ColumnType as _, Value};

use super::run::{bind_refs, bind_slice, execute, execute_on, fetch_all_on, fetch_optional_on};
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

/// The SELECT of a model query in `backend`'s dialect, with its values (a fan-out).
pub(crate) fn select_text(
    meta: &crate::model::ModelMeta,
    backend: Backend,
    parts: &QueryParts,
) -> (String, Vec<Value>) {
    let stmts = meta.statements(backend);
    let mut w = SqlWriter::new(backend, stmts.select.len() + 64);
    w.push(&stmts.select);
    let mut binds = Vec::new();
    parts.write_where(&mut w, &mut binds);
    parts.write_tail(&mut w, &mut binds, None);
    (w.finish(), binds)
}

/// Rows of `M` for a SELECT.
pub(crate) async fn fetch_models<M: Model>(
    target: Target<'_>,
    select: Select<'_>,
    access: Access,
) -> Result<Vec<M>> {
    let (target, pinned) = target.split();
    let mut req = Request::model(M::META, access, "select");
    pinned.apply(&mut req);
    if let Select::Raw { sql, .. } = &select {
        // SQL written by the user is classified, not trusted by the method that sent it.
        req.access = crate::raw::access_of(sql);
        req.user_sql = true;
    }
    let conn = resolve(target, &req)?;
    let (sql, binds, by_name) = select_sql::<M>(conn.backend(), select);
    run_read!(
        conn,
        &req,
        M::META.name,
        |v| v.len() as u64,
        |x, DB, err| {
            let args = bind_slice::<DB>(&binds)?;
            fetch_all_on::<DB, _, M>(x, &sql, args, err, |row| {
                DB::decode_model::<M>(&row, by_name)
            })
            .await
        }
    )
}

/// The row of `M` with this key.
pub(crate) async fn find<M: Model>(target: Target<'_>, key: Value) -> Result<Option<M>> {
    let (target, pinned) = target.split();
    let mut req = Request::model(M::META, Access::Read, "find");
    pinned.apply(&mut req);
    let conn = resolve(target, &req)?;
    let sql = &M::META.statements(conn.backend()).find;
    run_read!(
        conn,
        &req,
        M::META.name,
        |v| v.is_some() as u64,
        |x, DB, err| {
            let mut args = <DB as sqlx::Database>::Arguments::default();
            DB::add_ref(&mut args, BindRef::of(&key)).map_err(|e| Error::Bind {
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
    let (target, pinned) = target.split();
    let mut req = Request::model(M::META, Access::Read, "count");
    pinned.apply(&mut req);
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
    let (target, pinned) = target.split();
    let mut req = Request::model(M::META, Access::Read, "exists");
    pinned.apply(&mut req);
    let conn = resolve(target, &req)?;
    let mut w = SqlWriter::new(conn.backend(), 96);
    let mut binds = Vec::new();
    w.push("SELECT 1 FROM ").ident(M::META.table);
    parts.write_where(&mut w, &mut binds);
    parts.write_tail(&mut w, &mut binds, Some(1));
    let sql = w.finish();
    run_read!(conn, &req, M::META.name, |v| *v as u64, |x, DB, err| {
        let args = bind_slice::<DB>(&binds)?;
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
    run_read!(conn, req, M::META.name, |_| 1, |x, DB, err| {
        let args = bind_slice::<DB>(&binds)?;
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

/// Append a row's insert values in column order, without a generated key; text and bytes
/// borrowed from the row.
#[inline]
fn push_insert_values<'a, M: Model>(m: &'a M, out: &mut Vec<BindRef<'a>>) {
    m.push_bind_refs(out, !M::META.auto_increment);
}

/// Fill the automatic timestamps the model declares.
#[inline]
fn touch<M: Model>(m: &mut M, inserting: bool) {
    if M::META.timestamps {
        m.touch(now(), inserting);
    }
}

/// Insert one row. A generated key that does not fit the model's key type is
/// [`Error::KeyOverflow`] (naming model and key column) and the row is deleted again before
/// the error is returned; see [`Model::insert`] for the choice.
pub(crate) async fn insert<M: Model>(target: Target<'_>, m: &mut M) -> Result<()> {
    let (target, pinned) = target.split();
    let mut req = Request::model(M::META, Access::Write, "insert");
    pinned.apply(&mut req);
    let mut conn = resolve(target, &req)?;
    touch(m, true);
    let mut values = Vec::with_capacity(M::META.columns.len());
    push_insert_values(m, &mut values);
    let stmts = M::META.statements(conn.backend());
    if stmts.insert_returns_key {
        let sql = &stmts.insert;
        let key = run_statement!(
            reborrow(&mut conn),
            &req,
            M::META.name,
            |_| 1,
            |x, DB, err| {
                let args = bind_refs::<DB>(values)?;
                match fetch_optional_on::<DB, _>(x, sql, args, err).await? {
                    Some(row) => returned_key::<DB, M>(&row).map(Some),
                    None => Ok(None),
                }
            }
        )?;
        match key {
            Some(Returned::Key(key)) => m.set_key(key),
            Some(Returned::Int(id)) => {
                if let Err(e) = m.set_generated_key(id) {
                    return Err(undo_insert::<M>(conn, &req, &[id], e).await);
                }
            }
            None => {}
        }
        Ok(())
    } else {
        let id = execute_insert(reborrow(&mut conn), &req, &stmts.insert, values)
            .await?
            .1;
        if let (true, Some(id)) = (M::META.auto_increment, id) {
            if let Err(e) = m.set_generated_key(id) {
                return Err(undo_insert::<M>(conn, &req, &[id], e).await);
            }
        }
        Ok(())
    }
}

/// A generated key as `RETURNING` gave it: already of the key type, or an integer of another
/// width (a `BIGSERIAL` column behind an `i32` key) still to be checked against the key type.
enum Returned<K> {
    Key(K),
    Int(i128),
}

/// Decode the generated key in column 0 of `row`. A column that is no integer at all is a
/// [`Error::Decode`] naming the key column.
fn returned_key<DB: Engine, M: Model>(row: &DB::Row) -> Result<Returned<M::Key>> {
    match DB::decode_at::<M::Key>(row, 0) {
        Ok(key) => Ok(Returned::Key(key)),
        Err(e) => DB::decode_at::<i64>(row, 0)
            .map(i128::from)
            .or_else(|_| DB::decode_at::<i32>(row, 0).map(i128::from))
            .or_else(|_| DB::decode_at::<i16>(row, 0).map(i128::from))
            .map(Returned::Int)
            .map_err(|_| {
                crate::__private::decode_error(M::META.name, M::META.key_column().name, e)
            }),
    }
}

/// The integer a key value holds (keys the database generates are integers).
fn key_int(value: &Value) -> Option<i128> {
    match value {
        Value::I16(v) => Some((*v).into()),
        Value::I32(v) => Some((*v).into()),
        Value::I64(v) => Some((*v).into()),
        _ => None,
    }
}

/// Run an INSERT that returns no rows: (rows affected, generated key unclipped).
async fn execute_insert(
    conn: Conn<'_>,
    req: &Request<'_>,
    sql: &str,
    binds: Vec<BindRef<'_>>,
) -> Result<(u64, Option<i128>)> {
    run_statement!(conn, req, req.model, |v| v.0, |x, DB, err| {
        let args = bind_refs::<DB>(binds)?;
        let r = execute_on::<DB, _>(x, sql, args, err).await?;
        Ok((DB::rows_affected(&r), DB::generated_id(&r)))
    })
}

/// Delete the rows just inserted with these generated keys, because one of them did not fit
/// the model (`failure`), so that a failed insert leaves nothing behind. Returns `failure`,
/// or the error of the delete if that fails too (then logged with the keys left behind).
async fn undo_insert<M: Model>(
    mut conn: Conn<'_>,
    req: &Request<'_>,
    keys: &[i128],
    failure: Error,
) -> Error {
    let sql = &M::META.statements(conn.backend()).delete;
    for &key in keys {
        let deleted = run_statement!(
            reborrow(&mut conn),
            req,
            M::META.name,
            |_| 1,
            |x, DB, err| {
                let mut args = <DB as sqlx::Database>::Arguments::default();
                DB::add_key(&mut args, key).map_err(|e| Error::Bind {
                    column: M::META.key_column().name.to_string(),
                    message: e.to_string(),
                })?;
                execute_on::<DB, _>(x, sql, args, err).await.map(|_| ())
            }
        );
        if let Err(e) = deleted {
            tracing::error!(
                model = M::META.name,
                column = M::META.key_column().name,
                %failure,
                "grant: could not delete the rows of a failed insert (keys {keys:?}): {e}"
            );
            return e;
        }
    }
    failure
}

/// Insert many rows. With `read_keys`, generated keys are stored into the rows (RETURNING
/// on PostgreSQL and SQLite; on MariaDB/MySQL the first key plus the session's
/// `auto_increment_increment`, read on the same connection inside a transaction, or one row
/// per statement under `innodb_autoinc_lock_mode = 2`).
pub(crate) async fn insert_all<M: Model>(
    target: Target<'_>,
    rows: &mut [M],
    read_keys: bool,
) -> Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let (target, pinned) = target.split();
    let mut req = Request::model(
        M::META,
        Access::Write,
        if read_keys {
            "insert_all"
        } else {
            "insert_all_without_keys"
        },
    );
    pinned.apply(&mut req);
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
    let plan = InsertPlan {
        chunk,
        read_keys: read_keys && M::META.auto_increment,
        undo: true,
    };
    // MariaDB/MySQL keys of a multi-row insert are read on the statement's own connection.
    let one_connection = plan.read_keys && backend == Backend::MySql && rows.len() > 1;
    match conn {
        Conn::Pool(routed) if rows.len() > chunk || one_connection => {
            // Several statements, or one that needs its connection's settings: one
            // transaction, so a failure leaves nothing behind.
            let slot = &routed.slot;
            let mut tx = TxInner::begin(slot, false).await?;
            let n = insert_chunks(
                Conn::Tx {
                    key: slot.key(),
                    inner: &mut tx,
                },
                &req,
                rows,
                InsertPlan {
                    undo: false,
                    ..plan
                },
            )
            .await?;
            tx.commit_tracked(routed.track.as_ref()).await?;
            Ok(n)
        }
        conn => insert_chunks(conn, &req, rows, plan).await,
    }
}

#[derive(Clone, Copy)]
struct InsertPlan {
    /// Rows per statement.
    chunk: usize,
    /// Store generated keys into the rows.
    read_keys: bool,
    /// Delete the inserted rows again when a key does not fit (false inside Grant's own
    /// transaction, which rolls back instead).
    undo: bool,
}

async fn insert_chunks<M: Model>(
    mut conn: Conn<'_>,
    req: &Request<'_>,
    rows: &mut [M],
    mut plan: InsertPlan,
) -> Result<u64> {
    let backend = conn.backend();
    let mut increment = 1;
    if plan.read_keys && backend == Backend::MySql && rows.len() > 1 {
        let (inc, interleaved) = autoinc_settings::<M>(reborrow(&mut conn), req).await?;
        increment = inc;
        if interleaved {
            // Keys of one multi-row statement need not be consecutive: one row each.
            plan.chunk = 1;
        }
    }
    let mut total = 0;
    let returning = if plan.read_keys {
        M::META.statements(backend).returning.as_str()
    } else {
        ""
    };
    let multi = M::META.multi_insert(backend, plan.chunk.min(rows.len()));
    let per_row = insert_columns(M::META).count();
    let mut start = 0;
    while start < rows.len() {
        let end = (start + plan.chunk).min(rows.len());
        let owned;
        let sql: &str = if returning.is_empty() {
            multi.rows(end - start)
        } else {
            owned = [multi.rows(end - start), returning].concat();
            &owned
        };
        let mut values = Vec::with_capacity((end - start) * per_row);
        for m in &rows[start..end] {
            push_insert_values(m, &mut values);
        }
        // The integer keys this statement generated, for the undo.
        let mut generated: Vec<i128> = Vec::new();
        let stored: Result<()> = if !returning.is_empty() {
            let keys: Vec<Returned<M::Key>> = run_statement!(
                reborrow(&mut conn),
                req,
                M::META.name,
                |v| v.len() as u64,
                |x, DB, err| {
                    let args = bind_refs::<DB>(values)?;
                    fetch_all_on::<DB, _, Returned<M::Key>>(x, sql, args, err, |row| {
                        returned_key::<DB, M>(&row)
                    })
                    .await
                }
            )?;
            total += keys.len() as u64;
            let mut stored = Ok(());
            for (m, key) in rows[start..end].iter_mut().zip(keys) {
                match key {
                    Returned::Key(key) => {
                        if let Some(k) = key_int(&key.to_value()) {
                            generated.push(k);
                        }
                        m.set_key(key);
                    }
                    Returned::Int(id) => {
                        generated.push(id);
                        if stored.is_ok() {
                            stored = m.set_generated_key(id);
                        }
                    }
                }
            }
            stored
        } else {
            let (n, id) = execute_insert(reborrow(&mut conn), req, sql, values).await?;
            total += n;
            match (plan.read_keys, id) {
                (true, Some(first)) => {
                    // MariaDB/MySQL report the first key of a multi-row insert; the others
                    // follow it by the session's increment (innodb_autoinc_lock_mode 0 or 1).
                    generated.extend((0..(end - start) as i128).map(|i| first + i * increment));
                    rows[start..end]
                        .iter_mut()
                        .zip(&generated)
                        .try_for_each(|(m, &id)| m.set_generated_key(id))
                }
                _ => Ok(()),
            }
        };
        if let Err(e) = stored {
            if !plan.undo {
                return Err(e);
            }
            let mut keys: Vec<i128> = rows[..start]
                .iter()
                .filter_map(|m| key_int(&m.key().to_value()))
                .collect();
            keys.extend(generated);
            return Err(undo_insert::<M>(conn, req, &keys, e).await);
        }
        start = end;
    }
    Ok(total)
}

/// The session's `auto_increment_increment`, and whether InnoDB interleaves the keys of
/// concurrent inserts (`innodb_autoinc_lock_mode = 2`).
async fn autoinc_settings<M: Model>(conn: Conn<'_>, req: &Request<'_>) -> Result<(i128, bool)> {
    const SQL: &str = "SELECT CAST(@@session.auto_increment_increment AS SIGNED), CAST(@@innodb_autoinc_lock_mode AS SIGNED)";
    let (increment, mode) = run_statement!(conn, req, M::META.name, |_| 1, |x, DB, err| {
        let args = <DB as sqlx::Database>::Arguments::default();
        match fetch_optional_on::<DB, _>(x, SQL, args, err).await? {
            Some(row) => Ok((
                DB::decode_at::<i64>(&row, 0).map_err(|e| err.map(e))?,
                DB::decode_at::<i64>(&row, 1).map_err(|e| err.map(e))?,
            )),
            None => Ok((1, 1)),
        }
    })?;
    Ok((i128::from(increment.max(1)), mode == 2))
}

fn reborrow<'a>(conn: &'a mut Conn<'_>) -> Conn<'a> {
    match conn {
        Conn::Pool(routed) => Conn::Pool(routed.clone()),
        Conn::Tx { key, inner } => Conn::Tx { key, inner },
    }
}

pub(crate) async fn update<M: Model>(target: Target<'_>, m: &mut M) -> Result<bool> {
    let (target, pinned) = target.split();
    let mut req = Request::model(M::META, Access::Write, "update");
    pinned.apply(&mut req);
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
    let (target, pinned) = target.split();
    let mut req = Request::model(M::META, Access::Write, "delete");
    pinned.apply(&mut req);
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
    let (target, pinned) = target.split();
    let mut req = Request::model(M::META, Access::Write, "update_all");
    pinned.apply(&mut req);
    let conn = resolve(target, &req)?;
    let mut w = SqlWriter::new(conn.backend(), 128);
    let mut binds = Vec::with_capacity(assignments.len() + parts.filters.len());
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
    let (target, pinned) = target.split();
    let mut req = Request::model(M::META, Access::Write, "delete_all");
    pinned.apply(&mut req);
    let conn = resolve(target, &req)?;
    let mut w = SqlWriter::new(conn.backend(), 96);
    let mut binds = Vec::new();
    w.push("DELETE FROM ").ident(M::META.table);
    parts.write_where(&mut w, &mut binds);
    let sql = w.finish();
    Ok(execute(conn, &req, &sql, binds).await?.0)
}
