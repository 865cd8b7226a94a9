//! Support for the promise-matrix suites (`tests/replicas_matrix*.rs`): every API that can
//! send a statement, checked against one stale replica.
//!
//! A test bed ([`Bed`]) holds rows present on the writer and on the replica with
//! `n = STALE`. On SQLite the replica is a copy of the writer's file taken before Grant
//! opens it, so nothing ever reaches it (stale for ever); on PostgreSQL and MariaDB replay
//! is paused by the test. A write case ([`Write`]) changes one row (or adds one) on the
//! writer and returns a [`Probe`]: what the writer now has, and what the replica still has.
//! A read API ([`Read`]) then says whether it sees one or the other.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

use super::replication::{RwItem, STALE};
use grant::{
    connected_to, raw, AssertSqlSafe, Backend, Error, Expr, Grant, Model, Role, Session, Value,
};

/// Rows of one multi-chunk `insert_all`: more than one statement on every engine (Grant
/// caps a chunk at 10,000 rows, and below each engine's bind limit).
pub const CHUNKED_ROWS: usize = 10_001;

/// The read-your-writes window of the matrix configs: long enough that no read of a test
/// falls out of it on a slow machine (the window's end is tested in `replicas_sqlite.rs`).
pub const DELAY: &str = "60s";

// ------------------------------------------------------------- the models ---

/// A model the read APIs can be run on: a key `id` and a value `n`.
pub trait Item: Model<Key = i64> {
    fn n(&self) -> i64;
    fn id_is(id: i64) -> Expr;
    fn n_is(n: i64) -> Expr;
}

/// `Item` for a model with columns `id` and `n`.
macro_rules! item {
    ($m:ident) => {
        impl Item for $m {
            fn n(&self) -> i64 {
                self.n
            }
            fn id_is(id: i64) -> Expr {
                $m::ID.eq(id)
            }
            fn n_is(n: i64) -> Expr {
                $m::N.eq(n)
            }
        }
    };
}

item!(RwItem);
item!(ReplicaItem);

/// The same table, routed by the model: written on `primary`, read from `primary_replica`
/// (a `replica_of = "primary"` entry).
#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "replicas_rw_items")]
#[connects_to(writing = "primary", reading = "primary_replica")]
pub struct ReplicaItem {
    pub id: i64,
    pub tag: String,
    pub n: i64,
}

// ------------------------------------------------------------- test beds ---

/// A handle with replicas, and rows present on its writer and on its (stale) replica.
#[derive(Clone)]
pub struct Bed {
    pub db: Grant,
    pub backend: Backend,
    /// Rows with `n = STALE` on the writer and the replica, one per write case.
    pub rows: Vec<i64>,
    /// The tag of the rows the write cases insert.
    pub tag: String,
}

/// `$n` placeholders on PostgreSQL, `?` elsewhere.
pub fn sql(backend: Backend, text: &str) -> AssertSqlSafe<String> {
    if backend != Backend::Postgres {
        return AssertSqlSafe(text.to_string());
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut n = 0;
    for c in text.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    AssertSqlSafe(out)
}

/// The path of a `sqlite://` URL.
pub fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://").unwrap_or(url)
}

/// A SQLite writer file with rows `1..=rows` (`n = STALE`), in rollback-journal mode so
/// that a byte copy of it is a complete database.
pub async fn seeded_sqlite(tag: &str, rows: i64) -> String {
    use sqlx::{ConnectOptions as _, Connection as _, Executor as _};
    let url = super::sqlite_file(tag);
    let mut conn = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
        .unwrap()
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    conn.execute(
        "CREATE TABLE replicas_rw_items \
         (id INTEGER PRIMARY KEY AUTOINCREMENT, tag TEXT NOT NULL, n INTEGER NOT NULL)",
    )
    .await
    .unwrap();
    for _ in 0..rows {
        conn.execute(
            sqlx::query("INSERT INTO replicas_rw_items (tag, n) VALUES ('seed', ?)").bind(STALE),
        )
        .await
        .unwrap();
    }
    conn.close().await.unwrap();
    url
}

/// A replica of `writer` that never catches up: a copy of its file, taken now.
pub fn stale_copy(writer: &str, tag: &str) -> String {
    let url = super::sqlite_file(tag);
    std::fs::copy(sqlite_path(writer), sqlite_path(&url)).unwrap();
    url
}

/// The matrix config on SQLite: one replica, a long read-your-writes window.
pub fn one_replica_toml() -> String {
    format!(
        "[databases.primary]\nurl = \"{{writer}}\"\nreplicas = [\"{{replica}}\"]\nreplica_delay = \"{DELAY}\"\n"
    )
}

/// A SQLite bed: `toml` with `{writer}` replaced by a seeded writer file and `{replica}`
/// by a stale copy of it.
pub async fn sqlite_bed(toml: &str) -> Bed {
    let rows = WRITES.len() as i64;
    let writer = seeded_sqlite("matrix-writer", rows).await;
    let replica = stale_copy(&writer, "matrix-replica");
    let text = toml
        .replace("{writer}", &writer)
        .replace("{replica}", &replica);
    Bed {
        db: grant_from_toml(&text),
        backend: Backend::Sqlite,
        rows: (1..=rows).collect(),
        tag: "matrix-new".into(),
    }
}

pub fn grant_from_toml(text: &str) -> Grant {
    let config = grant::Config::from_toml_str_with(text, "development", &|_| None).unwrap();
    Grant::from_config(config).unwrap()
}

// ----------------------------------------------------------- write cases ---

/// Every API that writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Insert,
    InsertAll,
    InsertAllChunks,
    InsertAllWithoutKeys,
    InsertAllWithoutKeysChunks,
    Update,
    Delete,
    UpdateAll,
    DeleteAll,
    RawExecute,
    /// `INSERT .. RETURNING` through `raw(..).fetch_all` (classified as a write).
    RawFetchAllInsertReturning,
    /// `DELETE .. RETURNING` through `raw(..).fetch_optional` (classified as a write).
    RawFetchOptionalDeleteReturning,
    /// `INSERT .. RETURNING` through `find_by_sql` (classified as a write).
    FindBySqlInsertReturning,
    /// A transaction that wrote, committed.
    TxCommit,
    /// A transaction that wrote, rolled back: nothing to record.
    TxRollback,
}

pub const WRITES: [Write; 15] = [
    Write::Insert,
    Write::InsertAll,
    Write::InsertAllChunks,
    Write::InsertAllWithoutKeys,
    Write::InsertAllWithoutKeysChunks,
    Write::Update,
    Write::Delete,
    Write::UpdateAll,
    Write::DeleteAll,
    Write::RawExecute,
    Write::RawFetchAllInsertReturning,
    Write::RawFetchOptionalDeleteReturning,
    Write::FindBySqlInsertReturning,
    Write::TxCommit,
    Write::TxRollback,
];

/// One row after a write: what the session must see, and what the replica still has
/// (`None`: no such row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub id: i64,
    pub fresh: Option<i64>,
    pub stale: Option<i64>,
    /// Whether the session must have recorded a write.
    pub recorded: bool,
}

/// The value write case `k` writes.
pub fn value_of(k: usize) -> i64 {
    1000 + k as i64
}

/// What must happen outside the session before case `w` (on row `row`): the rolled-back
/// transaction's row gets another value on the writer, so that a read of it in the session
/// shows which side served it.
pub async fn prepare(bed: &Bed, w: Write, row: i64) {
    if w == Write::TxRollback {
        assert!(
            Session::current().is_none(),
            "prepare runs outside sessions"
        );
        super::replication::set_n(&bed.db, row, value_of(99)).await;
    }
}

/// Run write case `w` (the `k`-th, on its own row `row`) in the current session.
pub async fn write(bed: &Bed, w: Write, k: usize, row: i64) -> Probe {
    let (db, backend, v) = (&bed.db, bed.backend, value_of(k));
    let new = |count: usize| -> Vec<RwItem> {
        (0..count)
            .map(|_| RwItem {
                id: 0,
                tag: bed.tag.clone(),
                n: v,
            })
            .collect()
    };
    let changed = |fresh| Probe {
        id: row,
        fresh,
        stale: Some(STALE),
        recorded: true,
    };
    let added = |id| Probe {
        id,
        fresh: Some(v),
        stale: None,
        recorded: true,
    };
    let on_writer = || connected_to(Role::Writing, RwItem::get(db, row));
    match w {
        Write::Insert => {
            let mut m = new(1).remove(0);
            m.insert(db).await.unwrap();
            added(m.id)
        }
        Write::InsertAll | Write::InsertAllChunks => {
            let count = if w == Write::InsertAll {
                3
            } else {
                CHUNKED_ROWS
            };
            let mut rows = new(count);
            assert_eq!(
                RwItem::insert_all(db, &mut rows).await.unwrap(),
                count as u64
            );
            added(rows[count - 1].id)
        }
        Write::InsertAllWithoutKeys | Write::InsertAllWithoutKeysChunks => {
            let count = if w == Write::InsertAllWithoutKeys {
                3
            } else {
                CHUNKED_ROWS
            };
            let mut rows = new(count);
            let n = RwItem::insert_all_without_keys(db, &mut rows)
                .await
                .unwrap();
            assert_eq!(n, count as u64);
            let filter = RwItem::N.eq(v).and(RwItem::TAG.eq(bed.tag.clone()));
            let first = connected_to(Role::Writing, RwItem::find_by(db, filter));
            added(first.await.unwrap().expect("inserted on the writer").id)
        }
        Write::Update => {
            let mut m = on_writer().await.unwrap();
            m.n = v;
            assert!(m.update(db).await.unwrap());
            changed(Some(v))
        }
        Write::Delete => {
            assert!(on_writer().await.unwrap().delete(db).await.unwrap());
            changed(None)
        }
        Write::UpdateAll => {
            let q = RwItem::query().filter(RwItem::ID.eq(row));
            assert_eq!(q.update_all(db, [RwItem::N.set(v)]).await.unwrap(), 1);
            changed(Some(v))
        }
        Write::DeleteAll => {
            let q = RwItem::query().filter(RwItem::ID.eq(row));
            assert_eq!(q.delete_all(db).await.unwrap(), 1);
            changed(None)
        }
        Write::RawExecute => {
            let text = "UPDATE replicas_rw_items SET n = ? WHERE id = ?";
            let n = raw(sql(backend, text)).bind(v).bind(row).execute(db);
            assert_eq!(n.await.unwrap(), 1);
            changed(Some(v))
        }
        Write::RawFetchAllInsertReturning => {
            let text = "INSERT INTO replicas_rw_items (tag, n) VALUES (?, ?) RETURNING id";
            let q = raw(sql(backend, text)).bind(bed.tag.as_str()).bind(v);
            let rows = q.fetch_all(db).await.unwrap();
            added(rows[0].get::<i64>("id").unwrap())
        }
        Write::RawFetchOptionalDeleteReturning => {
            let text = "DELETE FROM replicas_rw_items WHERE id = ? RETURNING id";
            let q = raw(sql(backend, text)).bind(row).fetch_optional(db);
            assert_eq!(q.await.unwrap().unwrap().get::<i64>("id").unwrap(), row);
            changed(None)
        }
        Write::FindBySqlInsertReturning => {
            let text = "INSERT INTO replicas_rw_items (tag, n) VALUES (?, ?) RETURNING id, tag, n";
            let binds = vec![Value::from(bed.tag.as_str()), Value::from(v)];
            let rows = RwItem::find_by_sql(db, sql(backend, text), binds).await;
            added(rows.unwrap()[0].id)
        }
        Write::TxCommit | Write::TxRollback => {
            let mut tx = db.begin().await.unwrap();
            let q = RwItem::query().filter(RwItem::ID.eq(row));
            assert_eq!(q.update_all(&mut tx, [RwItem::N.set(v)]).await.unwrap(), 1);
            let session = Session::current().expect("write cases run in a session");
            assert!(session.is_empty(), "{w:?}: recorded before the commit");
            if w == Write::TxCommit {
                tx.commit().await.unwrap();
                return changed(Some(v));
            }
            tx.rollback().await.unwrap();
            // The writer has another value (`prepare`); the session must read the replica.
            assert_eq!(on_writer().await.unwrap().n, value_of(99));
            Probe {
                id: row,
                fresh: Some(STALE),
                stale: Some(STALE),
                recorded: false,
            }
        }
    }
}

// ------------------------------------------------------------ read APIs ---

/// Every API that reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    Find,
    Get,
    FindBy,
    All,
    First,
    Count,
    Exists,
    FindBySql,
    RawFetchAll,
    RawFetchOptional,
}

pub const READS: [Read; 10] = [
    Read::Find,
    Read::Get,
    Read::FindBy,
    Read::All,
    Read::First,
    Read::Count,
    Read::Exists,
    Read::FindBySql,
    Read::RawFetchAll,
    Read::RawFetchOptional,
];

/// The read APIs of a model (all but raw SQL, which has no model).
pub const MODEL_READS: &[Read] = READS.split_at(8).0;

/// Whether a read of row `id` of `M` through `api` sees `want` (its `n`; `None`: no such
/// row). Count and exists ask for exactly that state.
pub fn sees<M: Item>(
    db: &Grant,
    backend: Backend,
    api: Read,
    id: i64,
    want: Option<i64>,
) -> BoxFuture<'_, Result<bool, Error>> {
    // Boxed (as `dyn Future + Send`): spawned tasks can run it (`grant::spawn`).
    Box::pin(sees_inner::<M>(db, backend, api, id, want))
}

async fn sees_inner<M: Item>(
    db: &Grant,
    backend: Backend,
    api: Read,
    id: i64,
    want: Option<i64>,
) -> Result<bool, Error> {
    let found = |rows: Vec<M>| rows.first().map(M::n);
    let with_want = || match want {
        Some(n) => M::id_is(id).and(M::n_is(n)),
        None => M::id_is(id),
    };
    let select = format!("SELECT id, tag, n FROM {} WHERE id = ?", M::META.table);
    let got = match api {
        Read::Find => M::find(db, id).await?.as_ref().map(M::n),
        Read::Get => match M::get(db, id).await {
            Ok(m) => Some(m.n()),
            Err(Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        },
        Read::FindBy => M::find_by(db, M::id_is(id)).await?.as_ref().map(M::n),
        Read::All => found(M::query().filter(M::id_is(id)).all(db).await?),
        Read::First => M::query()
            .filter(M::id_is(id))
            .first(db)
            .await?
            .as_ref()
            .map(M::n),
        Read::Count => {
            let c = M::query().filter(with_want()).count(db).await?;
            return Ok(c == i64::from(want.is_some()));
        }
        Read::Exists => {
            let e = M::query().filter(with_want()).exists(db).await?;
            return Ok(e == want.is_some());
        }
        Read::FindBySql => {
            let binds = vec![Value::from(id)];
            found(M::find_by_sql(db, sql(backend, &select), binds).await?)
        }
        Read::RawFetchAll => {
            let rows = raw(sql(backend, &select)).bind(id).fetch_all(db).await?;
            rows.first().map(|r| r.get::<i64>("n")).transpose()?
        }
        Read::RawFetchOptional => {
            let row = raw(sql(backend, &select))
                .bind(id)
                .fetch_optional(db)
                .await?;
            row.map(|r| r.get::<i64>("n")).transpose()?
        }
    };
    Ok(got == want)
}

/// Assert that every read API in `apis` sees `want` of `p.id` (in the current scope and
/// session); `what` names the place for the message.
pub async fn assert_all_see<M: Item>(
    bed: &Bed,
    apis: &[Read],
    id: i64,
    want: Option<i64>,
    what: &str,
) {
    for &api in apis {
        let saw = sees::<M>(&bed.db, bed.backend, api, id, want).await;
        assert!(
            matches!(saw, Ok(true)),
            "{} {what}: {api:?} of row {id} does not see {want:?}: {saw:?}",
            bed.backend
        );
    }
}

/// The write-then-read matrix on `bed`: every write case in a session of its own, then
/// every read API in that session (sees the write), outside sessions and in another
/// session (see the replica). Returns the number of cells checked.
pub async fn write_read_matrix(bed: &Bed) -> usize {
    let mut cells = 0;
    let other = Session::new();
    for (k, w) in WRITES.into_iter().enumerate() {
        let row = bed.rows[k];
        prepare(bed, w, row).await;
        let s = Session::new();
        let p = s.run(write(bed, w, k, row)).await;
        assert_eq!(
            s.last_write("primary", None).is_some(),
            p.recorded,
            "{} {w:?}: recorded in the session",
            bed.backend
        );
        let place = format!("{w:?}, in the session");
        s.run(assert_all_see::<RwItem>(bed, &READS, p.id, p.fresh, &place))
            .await;
        let place = format!("{w:?}, outside sessions");
        assert_all_see::<RwItem>(bed, &READS, p.id, p.stale, &place).await;
        let place = format!("{w:?}, in another session");
        other
            .run(assert_all_see::<RwItem>(bed, &READS, p.id, p.stale, &place))
            .await;
        cells += 3 * READS.len();
    }
    // (In causal mode it may record the positions it read at: monotonic reads.)
    assert!(
        other.last_write("primary", None).is_none(),
        "a session that only read records no write"
    );
    cells
}
