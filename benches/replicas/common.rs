//! The model, its table, the raw sqlx side, and the pool checks every group shares.

use std::time::{Duration, Instant};

use grant::{Backend, Grant, Model, Pool, PoolKind, Role, Statements};
use sqlx::Row as _;

/// The table every group reads (its own name: other runs use `bench_items`).
pub(crate) const TABLE: &str = "bench_replica_items";
/// Rows seeded; reads cycle over their keys.
pub(crate) const SEED_ROWS: i64 = 1_000;

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "bench_replica_items")]
pub(crate) struct Item {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) score: i64,
}

/// Hand-written decoding for the raw sqlx side: by position, like Grant's own statements.
macro_rules! from_row {
    ($row:ty) => {
        impl<'r> sqlx::FromRow<'r, $row> for Item {
            fn from_row(row: &'r $row) -> Result<Self, sqlx::Error> {
                Ok(Item {
                    id: row.try_get(0)?,
                    name: row.try_get(1)?,
                    score: row.try_get(2)?,
                })
            }
        }
    };
}
from_row!(sqlx::sqlite::SqliteRow);
from_row!(sqlx::postgres::PgRow);
from_row!(sqlx::mysql::MySqlRow);

/// Runs `$body` with `$p` bound to the concrete sqlx pool.
macro_rules! with_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            Pool::Sqlite($p) => $body,
            Pool::Postgres($p) => $body,
            Pool::MySql($p) => $body,
        }
    };
}

/// The key read in iteration `i` (spread over the seeded rows).
pub(crate) fn key(i: u64) -> i64 {
    (i.wrapping_mul(7919) % SEED_ROWS as u64) as i64 + 1
}

/// `find`'s SQL, written out by hand and checked byte-equal to Grant's.
pub(crate) fn find_sql(backend: Backend) -> String {
    let sql = match backend {
        Backend::Postgres => {
            r#"SELECT "id", "name", "score" FROM "bench_replica_items" WHERE "id" = $1"#
        }
        Backend::MySql => "SELECT `id`, `name`, `score` FROM `bench_replica_items` WHERE `id` = ?",
        Backend::Sqlite => {
            r#"SELECT "id", "name", "score" FROM "bench_replica_items" WHERE "id" = ?"#
        }
    };
    assert_eq!(sql, Statements::build(Item::META, backend).find);
    sql.to_string()
}

/// The raw side: the same statement on the same sqlx pool, decoded into the same struct.
/// `count` finds by key through raw sqlx on `pool`, keys `key(first..first + count)`, each
/// checked.
pub(crate) async fn raw_finds(pool: &Pool, sql: &str, first: u64, count: u64) {
    for i in first..first + count {
        let id = key(i);
        let found = raw_find(pool, sql, id).await;
        assert_eq!(std::hint::black_box(found).map(|r| r.id), Some(id));
    }
}

/// The same finds through Grant (in the current scope and session).
pub(crate) async fn grant_finds(grant: &Grant, first: u64, count: u64) {
    for i in first..first + count {
        let id = key(i);
        let found = Item::find(grant, id).await.unwrap();
        assert_eq!(std::hint::black_box(found).map(|r| r.id), Some(id));
    }
}

pub(crate) async fn raw_find(pool: &Pool, sql: &str, id: i64) -> Option<Item> {
    with_pool!(pool, |p| sqlx::query_as::<_, Item>(sql)
        .bind(id)
        .fetch_optional(p)
        .await
        .unwrap())
}

/// The sqlx pool Grant reads from for `Role::Reading` of `primary`, checked to be replica
/// `n` (with one replica this is the only one; with several, the handler's choice).
pub(crate) fn replica_pool(grant: &Grant, n: usize) -> Pool {
    let slot = grant
        .handler()
        .pool("primary", &Role::Reading, None)
        .expect("reading pool");
    assert_eq!(
        slot.key().kind,
        PoolKind::Replica(n),
        "reads go to a replica"
    );
    assert!(slot.read_only_session());
    slot.pool().clone()
}

/// Reads served so far by each pool of `primary` (writer's read-only twin, replicas).
pub(crate) fn reads(grant: &Grant, kind: PoolKind) -> u64 {
    grant
        .stats()
        .into_iter()
        .find(|s| &*s.key.database == "primary" && s.key.kind == kind)
        .map_or(0, |s| s.reads)
}

/// Drop and create the table through the writer, seed `SEED_ROWS` rows in one
/// `insert_all`, and wait (up to 60 s) until `replica` sees them all.
pub(crate) async fn create_table(grant: &Grant, replica: &Pool) {
    let backend = grant
        .handler()
        .pool("primary", &Role::Writing, None)
        .expect("writer")
        .backend();
    let ddl = match backend {
        Backend::Postgres => format!(
            "CREATE TABLE {TABLE} (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, score BIGINT NOT NULL)"
        ),
        Backend::MySql => format!(
            "CREATE TABLE {TABLE} (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64) NOT NULL, score BIGINT NOT NULL)"
        ),
        Backend::Sqlite => format!(
            "CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score INTEGER NOT NULL)"
        ),
    };
    drop_table(grant).await;
    grant::raw(grant::AssertSqlSafe(ddl))
        .execute(grant)
        .await
        .expect("create");
    let mut rows: Vec<Item> = (0..SEED_ROWS)
        .map(|i| Item {
            id: 0,
            name: format!("item-{i:06}"),
            score: i,
        })
        .collect();
    assert_eq!(
        Item::insert_all(grant, &mut rows).await.expect("seed"),
        SEED_ROWS as u64
    );
    assert_eq!(rows.last().map(|r| r.id), Some(SEED_ROWS));
    let count = format!("SELECT COUNT(*) FROM {TABLE}");
    let start = Instant::now();
    loop {
        let n: Result<i64, _> =
            with_pool!(replica, |p| sqlx::query_scalar(&count).fetch_one(p).await);
        if n.as_ref().is_ok_and(|n| *n == SEED_ROWS) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the replica did not see the seeded rows within 60 s: {n:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) async fn drop_table(grant: &Grant) {
    grant::raw(grant::AssertSqlSafe(format!(
        "DROP TABLE IF EXISTS {TABLE}"
    )))
    .execute(grant)
    .await
    .expect("drop");
}

/// The environment variable's value, when set and not empty.
pub(crate) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
