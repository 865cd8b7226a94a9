//! The model, its table and seed rows, the pool both sides share, and the SQL texts the
//! raw side runs.

use std::cell::RefCell;

use grant::{Backend, Config, DatabaseConfig, Grant, Model, Pool, PoolConfig, Role, Statements};
use sqlx::Row as _;

use crate::rows::{Op, Side};

/// Samples per benchmark function.
pub(crate) const SAMPLES: usize = 30;
/// Rows seeded before timing: `CATEGORIES` categories of `PER_CATEGORY` rows.
pub(crate) const CATEGORIES: i64 = 100;
const PER_CATEGORY: i64 = 100;
pub(crate) const SEED_ROWS: i64 = CATEGORIES * PER_CATEGORY;
/// Rows of one `insert_all`.
pub(crate) const BATCH: usize = 1_000;
/// Rows the filter returns (bound as a parameter on both sides).
pub(crate) const LIMIT: i64 = 100;
/// Category of rows inserted while benchmarking (never matched by the filter).
pub(crate) const INSERT_CATEGORY: i32 = 1_000;

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "bench_items")]
pub(crate) struct Item {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) category: i32,
    pub(crate) score: i64,
    pub(crate) email: Option<String>,
}

/// Hand-written decoding for the raw sqlx side: by position, like Grant's own statements.
macro_rules! from_row {
    ($row:ty) => {
        impl<'r> sqlx::FromRow<'r, $row> for Item {
            fn from_row(row: &'r $row) -> Result<Self, sqlx::Error> {
                Ok(Item {
                    id: row.try_get(0)?,
                    name: row.try_get(1)?,
                    category: row.try_get(2)?,
                    score: row.try_get(3)?,
                    email: row.try_get(4)?,
                })
            }
        }
    };
}
from_row!(sqlx::sqlite::SqliteRow);
from_row!(sqlx::postgres::PgRow);

/// Runs `$body` with `$p` bound to the concrete sqlx pool.
macro_rules! with_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            Pool::Sqlite($p) => $body,
            Pool::Postgres($p) => $body,
            Pool::MySql(_) => unreachable!("MariaDB is not part of this benchmark"),
        }
    };
}
pub(crate) use with_pool;

/// The SQL the raw side runs, written out by hand for one dialect.
pub(crate) struct Sql {
    pub(crate) find: String,
    pub(crate) filter: String,
    pub(crate) insert: String,
    pub(crate) insert_batch: String,
    /// `insert_batch` without `RETURNING`.
    pub(crate) insert_batch_no_keys: String,
    pub(crate) update: String,
    /// What `Item::query().filter(Item::ID.eq(..)).update_all(.., [Item::SCORE.set(..)])`
    /// sends.
    pub(crate) update_all: String,
}

impl Sql {
    pub(crate) fn new(backend: Backend) -> Sql {
        let p = |n: usize| match backend {
            Backend::Postgres => format!("${n}"),
            _ => "?".to_string(),
        };
        let cols = r#""id", "name", "category", "score", "email""#;
        let find = format!(r#"SELECT {cols} FROM "bench_items" WHERE "id" = {}"#, p(1));
        let filter = format!(
            r#"SELECT {cols} FROM "bench_items" WHERE "category" = {} ORDER BY "id" ASC LIMIT {}"#,
            p(1),
            p(2)
        );
        // Built once, like Grant's own multi-row INSERT (1,000 rows x 4 columns fits one
        // statement on every engine, so Grant sends exactly one such statement too).
        let insert_rows = |rows: usize| {
            let mut sql = String::from(
                r#"INSERT INTO "bench_items" ("name", "category", "score", "email") VALUES "#,
            );
            for r in 0..rows {
                if r > 0 {
                    sql.push_str(", ");
                }
                let n = r * 4;
                sql.push_str(&format!(
                    "({}, {}, {}, {})",
                    p(n + 1),
                    p(n + 2),
                    p(n + 3),
                    p(n + 4)
                ));
            }
            sql
        };
        let returning = |sql: String| sql + r#" RETURNING "id""#;
        let update = format!(
            r#"UPDATE "bench_items" SET "name" = {}, "category" = {}, "score" = {}, "email" = {} WHERE "id" = {}"#,
            p(1),
            p(2),
            p(3),
            p(4),
            p(5)
        );
        let update_all = format!(
            r#"UPDATE "bench_items" SET "score" = {} WHERE "id" = {}"#,
            p(1),
            p(2)
        );
        let sql = Sql {
            find,
            filter,
            insert: returning(insert_rows(1)),
            insert_batch: returning(insert_rows(BATCH)),
            insert_batch_no_keys: insert_rows(BATCH),
            update,
            update_all,
        };
        // The fixed statements must be Grant's own, byte for byte.
        let grant = Statements::build(Item::META, backend);
        assert_eq!(sql.find, grant.find);
        assert_eq!(sql.insert, grant.insert);
        assert_eq!(sql.update, grant.update);
        assert!(sql.filter.starts_with(&grant.select));
        sql
    }
}

/// One engine's handle, raw pool, SQL and rows.
pub(crate) struct Fixture {
    pub(crate) engine: &'static str,
    pub(crate) grant: Grant,
    /// The very pool Grant uses (a clone of the same `Arc`ed sqlx pool).
    pub(crate) pool: Pool,
    /// The read-only twin's pool, where Grant sends reads.
    pub(crate) read_pool: Pool,
    pub(crate) sql: Sql,
    /// Rows `update_one` rewrites, cycling.
    updatable: RefCell<Vec<Item>>,
    /// Template of one `insert_all` batch (keys unset).
    batch: Vec<Item>,
}

pub(crate) fn item(i: i64, category: i32) -> Item {
    Item {
        id: 0,
        name: format!("item-{i:06}"),
        category,
        score: i,
        email: (i % 2 == 0).then(|| format!("item{i}@example.com")),
    }
}

impl Fixture {
    pub(crate) async fn new(engine: &'static str, url: &str) -> Fixture {
        let pool_config = PoolConfig {
            // Two connections opened up front (sqlx hands idle connections out in FIFO
            // order, so a sequential benchmark alternates between them).
            min_connections: 2,
            ..PoolConfig::default()
        };
        let mut database = DatabaseConfig::new(url).pool(pool_config);
        if url.starts_with("sqlite:") {
            // SQLite's automatic WAL checkpoint (an fsync, several ms under the shared
            // disk's load) would land on whichever statement crosses its threshold, a few
            // times per sample, and decide the row's ratio by luck: the bench checkpoints
            // after every sample of a writing row instead, outside the timing.
            database = database.after_connect("PRAGMA wal_autocheckpoint = 0");
        }
        if std::env::var_os("GRANT_BENCH_NO_STATEMENT_TIMEOUT").is_some() {
            // To measure what Grant's statement timeout costs (BENCHMARKS.md).
            database = database.statement_timeout(None);
        }
        let grant = Grant::from_config(
            Config::builder()
                .database("primary", database)
                .build()
                .expect("config"),
        )
        .expect("grant");
        let writer = grant
            .handler()
            .pool("primary", &Role::Writing, None)
            .expect("writer");
        let reader = grant
            .handler()
            .pool("primary", &Role::Reading, None)
            .expect("reader");
        assert!(
            std::sync::Arc::ptr_eq(
                &reader,
                grant
                    .handler()
                    .database("primary")
                    .expect("db")
                    .targets(None)
                    .expect("targets")
                    .writer_read_only()
            ),
            "reads use the writer's read-only sessions (no replica configured)"
        );
        let backend = writer.backend();
        // The very sqlx pools Grant runs on (clones of the same `Arc`ed pools): writes on
        // the writer, reads on its read-only twin.
        let pool = writer.pool().clone();
        let read_pool = reader.pool().clone();

        let (pk, int, big, text) = match backend {
            Backend::Postgres => ("BIGSERIAL PRIMARY KEY", "INTEGER", "BIGINT", "TEXT"),
            _ => ("INTEGER PRIMARY KEY", "INTEGER", "INTEGER", "TEXT"),
        };
        for ddl in [
            "DROP TABLE IF EXISTS bench_items".to_string(),
            format!(
                "CREATE TABLE bench_items (id {pk}, name {text} NOT NULL, category {int} NOT NULL, score {big} NOT NULL, email {text})"
            ),
            "CREATE INDEX bench_items_category_id ON bench_items (category, id)".to_string(),
        ] {
            grant::raw(grant::AssertSqlSafe(ddl)).execute(&grant).await.expect("ddl");
        }
        let mut seed: Vec<Item> = (0..SEED_ROWS)
            .map(|i| item(i, (i % CATEGORIES) as i32))
            .collect();
        // In batches of BATCH rows, so the seed sends the same statement as the benchmark.
        for chunk in seed.chunks_mut(BATCH) {
            let n = Item::insert_all(&grant, chunk).await.expect("seed");
            assert_eq!(n, BATCH as u64);
        }
        assert_eq!(seed.last().map(|r| r.id), Some(SEED_ROWS));
        grant::raw("ANALYZE bench_items")
            .execute(&grant)
            .await
            .expect("analyze");

        let fixture = Fixture {
            engine,
            grant,
            pool,
            read_pool,
            sql: Sql::new(backend),
            updatable: RefCell::new(seed.into_iter().take(100).collect()),
            batch: (0..BATCH as i64)
                .map(|i| item(SEED_ROWS + i, INSERT_CATEGORY))
                .collect(),
        };
        fixture.warm_up().await;
        fixture
    }

    /// Open the pool's connections, prepare every statement on each, check both sides
    /// agree, and leave the table as seeded.
    async fn warm_up(&self) {
        for i in 0..16 {
            for op in Op::ALL {
                for side in [Side::Grant, Side::Sqlx] {
                    let batch = self.input(op, i);
                    self.run(op, side, i, batch).await;
                }
            }
        }
        self.cleanup().await;
        let size = match &self.pool {
            Pool::Sqlite(p) => p.size(),
            Pool::Postgres(p) => p.size(),
            Pool::MySql(p) => p.size(),
        };
        assert!(size >= 2, "pool warmed: {size} connections open");

        // Same answers from both sides.
        let (a, b) = (
            Item::find(&self.grant, 42).await.unwrap(),
            self.raw_find(42).await,
        );
        assert_eq!(a, b);
        assert!(a.is_some());
        let (a, b) = (self.grant_filter(7).await, self.raw_filter(7).await);
        assert_eq!(a, b);
        assert_eq!(a.len(), LIMIT as usize);

        if let (Pool::Postgres(writer), Pool::Postgres(reader)) = (&self.pool, &self.read_pool) {
            // Every statement the connections prepared for this table is one of the raw
            // side's texts: Grant sent exactly the same SQL (including the filter's).
            // Writes run on the writer's connections, reads on its read-only twin's.
            let ours = [
                &self.sql.find,
                &self.sql.filter,
                &self.sql.insert,
                &self.sql.insert_batch,
                &self.sql.insert_batch_no_keys,
                &self.sql.update,
                &self.sql.update_all,
            ];
            let mut seen = Vec::new();
            for p in [writer, reader] {
                // Hold both connections of a pool at once so each is inspected.
                let mut conns = vec![p.acquire().await.unwrap(), p.acquire().await.unwrap()];
                for conn in &mut conns {
                    let texts: Vec<String> = sqlx::query_scalar(
                        "SELECT statement FROM pg_prepared_statements \
                         WHERE statement LIKE 'INSERT INTO \"bench_items\"%' \
                            OR statement LIKE 'SELECT % FROM \"bench_items\"%' \
                            OR statement LIKE 'UPDATE \"bench_items\"%'",
                    )
                    .persistent(false) // not itself listed
                    .fetch_all(&mut **conn)
                    .await
                    .unwrap();
                    for t in texts {
                        assert!(
                            ours.iter().any(|o| o.as_str() == t),
                            "Grant prepared a statement the raw side does not use: {}..",
                            &t[..t.len().min(160)]
                        );
                        seen.push(t);
                    }
                }
            }
            for o in ours {
                assert!(
                    seen.contains(o),
                    "never prepared: {}..",
                    &o[..o.len().min(160)]
                );
            }
        }
    }

    /// The rows an operation works on, prepared outside the timing: a fresh batch for
    /// `insert_all`, the next row (with a changed score) for `update_one`.
    pub(crate) fn input(&self, op: Op, i: u64) -> Vec<Item> {
        match op {
            Op::InsertAll1000 | Op::InsertAll1000NoKeys => self.batch.clone(),
            Op::UpdateOne | Op::UpdateAllOne => {
                let mut rows = self.updatable.borrow_mut();
                let n = rows.len();
                let row = &mut rows[i as usize % n];
                row.score += 1;
                vec![row.clone()]
            }
            _ => Vec::new(),
        }
    }

    /// Remove the rows inserted while benchmarking and, on SQLite, checkpoint the WAL
    /// (outside any timing).
    pub(crate) async fn cleanup(&self) {
        with_pool!(&self.pool, |p| {
            sqlx::query(&format!("DELETE FROM bench_items WHERE id > {SEED_ROWS}"))
                .execute(p)
                .await
                .expect("cleanup");
        });
        if let Pool::Sqlite(p) = &self.pool {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(p)
                .await
                .expect("checkpoint");
        }
    }
}
