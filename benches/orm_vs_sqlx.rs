//! Grant against hand-written sqlx, on the same pool, with the same SQL text.
//!
//! Run pinned for stable ratios (see BENCHMARKS.md):
//!
//! ```text
//! GRANT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/grant_test \
//!     taskset -c 0 cargo bench --bench orm_vs_sqlx
//! ```
//!
//! Every row is a criterion group with two functions, `grant` and `sqlx`. Both functions
//! run the two sides *interleaved* (grant then sqlx on even iterations, sqlx then grant on
//! odd ones) and time each side separately; `grant` reports Grant's time, `sqlx` the raw
//! sqlx time. So each reported number was measured while the other side ran in between,
//! on the same connections, the same prepared statements (sqlx caches them per
//! connection by SQL text, and the text is identical) and the same table state.
//!
//! Criterion runs a row's two functions one after the other, so on a shared machine their
//! medians come from different time windows. The bench therefore also records both sides'
//! times of every sample and prints a same-window summary at the end: per row, the median
//! Grant and sqlx time over the samples of both functions, their ratio, and the median of
//! the per-sample paired ratio (Grant's total / sqlx's total over the same iterations).
//!
//! The raw side gets its pool from Grant (`handler().pool(..)`), so pool options are
//! identical; it decodes by position into the same struct and binds the same Rust types
//! (strings by `&str`, the cheapest way sqlx offers).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use grant::{
    connected_to, connection, Backend, Config, Context, DatabaseConfig, Grant, Model, Pool,
    PoolConfig, Role, SqlWriter, Statements,
};
use sqlx::Row as _;
use tokio::runtime::Runtime;

/// Samples per benchmark function.
const SAMPLES: usize = 30;
/// Rows seeded before timing: `CATEGORIES` categories of `PER_CATEGORY` rows.
const CATEGORIES: i64 = 100;
const PER_CATEGORY: i64 = 100;
const SEED_ROWS: i64 = CATEGORIES * PER_CATEGORY;
/// Rows of one `insert_all`.
const BATCH: usize = 1_000;
/// Rows the filter returns (bound as a parameter on both sides).
const LIMIT: i64 = 100;
/// Category of rows inserted while benchmarking (never matched by the filter).
const INSERT_CATEGORY: i32 = 1_000;

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "bench_items")]
struct Item {
    id: i64,
    name: String,
    category: i32,
    score: i64,
    email: Option<String>,
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

/// The SQL the raw side runs, written out by hand for one dialect.
struct Sql {
    find: String,
    filter: String,
    insert: String,
    insert_batch: String,
    update: String,
}

impl Sql {
    fn new(backend: Backend) -> Sql {
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
            sql.push_str(r#" RETURNING "id""#);
            sql
        };
        let update = format!(
            r#"UPDATE "bench_items" SET "name" = {}, "category" = {}, "score" = {}, "email" = {} WHERE "id" = {}"#,
            p(1),
            p(2),
            p(3),
            p(4),
            p(5)
        );
        let sql = Sql {
            find,
            filter,
            insert: insert_rows(1),
            insert_batch: insert_rows(BATCH),
            update,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    FindByPk,
    Filter100,
    InsertOne,
    InsertAll1000,
    UpdateOne,
}

impl Op {
    const ALL: [Op; 5] = [
        Op::FindByPk,
        Op::Filter100,
        Op::InsertOne,
        Op::InsertAll1000,
        Op::UpdateOne,
    ];

    fn name(self) -> &'static str {
        match self {
            Op::FindByPk => "find_by_pk",
            Op::Filter100 => "filter_100_rows",
            Op::InsertOne => "insert_one",
            Op::InsertAll1000 => "insert_all_1000",
            Op::UpdateOne => "update_one",
        }
    }

    fn writes(self) -> bool {
        matches!(self, Op::InsertOne | Op::InsertAll1000)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Grant = 0,
    Sqlx = 1,
}

/// One engine's handle, raw pool, SQL and rows.
struct Fixture {
    engine: &'static str,
    grant: Grant,
    /// The very pool Grant uses (a clone of the same `Arc`ed sqlx pool).
    pool: Pool,
    sql: Sql,
    /// Rows `update_one` rewrites, cycling.
    updatable: RefCell<Vec<Item>>,
    /// Template of one `insert_all` batch (keys unset).
    batch: Vec<Item>,
}

fn item(i: i64, category: i32) -> Item {
    Item {
        id: 0,
        name: format!("item-{i:06}"),
        category,
        score: i,
        email: (i % 2 == 0).then(|| format!("item{i}@example.com")),
    }
}

/// Paired timings of every sample: (row, measured side) -> [(iters, grant, sqlx)].
type Pairs = BTreeMap<(String, u8), Vec<(u64, Duration, Duration)>>;

thread_local! {
    static PAIRS: RefCell<Pairs> = const { RefCell::new(BTreeMap::new()) };
}

impl Fixture {
    async fn new(engine: &'static str, url: &str) -> Fixture {
        let pool_config = PoolConfig {
            // Two connections opened up front (sqlx hands idle connections out in FIFO
            // order, so a sequential benchmark alternates between them).
            min_connections: 2,
            ..PoolConfig::default()
        };
        let grant = Grant::from_config(
            Config::builder()
                .database("primary", DatabaseConfig::new(url).pool(pool_config))
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
            std::sync::Arc::ptr_eq(&writer, &reader),
            "reads and writes share one pool (no replica configured)"
        );
        let backend = writer.backend();
        // The very sqlx pool Grant runs on (a clone of the same `Arc`ed pool).
        let pool = writer.pool().clone();

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
            grant::raw(ddl).execute(&grant).await.expect("ddl");
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

        if let Pool::Postgres(p) = &self.pool {
            // Every statement the connections prepared for this table is one of the raw
            // side's texts: Grant sent exactly the same SQL (including the filter's).
            let ours = [
                &self.sql.find,
                &self.sql.filter,
                &self.sql.insert,
                &self.sql.insert_batch,
                &self.sql.update,
            ];
            // Hold both connections at once so each is inspected.
            let mut conns = vec![p.acquire().await.unwrap(), p.acquire().await.unwrap()];
            let mut seen = Vec::new();
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
    fn input(&self, op: Op, i: u64) -> Vec<Item> {
        match op {
            Op::InsertAll1000 => self.batch.clone(),
            Op::UpdateOne => {
                let mut rows = self.updatable.borrow_mut();
                let n = rows.len();
                let row = &mut rows[i as usize % n];
                row.score += 1;
                vec![row.clone()]
            }
            _ => Vec::new(),
        }
    }

    /// Remove the rows inserted while benchmarking (outside any timing).
    async fn cleanup(&self) {
        with_pool!(&self.pool, |p| {
            sqlx::query(&format!("DELETE FROM bench_items WHERE id > {SEED_ROWS}"))
                .execute(p)
                .await
                .expect("cleanup");
        });
    }

    async fn grant_filter(&self, category: i32) -> Vec<Item> {
        Item::query()
            .filter(Item::CATEGORY.eq(category))
            .order_by(Item::ID.asc())
            .limit(LIMIT as u64)
            .all(&self.grant)
            .await
            .unwrap()
    }

    async fn raw_find(&self, id: i64) -> Option<Item> {
        with_pool!(&self.pool, |p| sqlx::query_as::<_, Item>(&self.sql.find)
            .bind(id)
            .fetch_optional(p)
            .await
            .unwrap())
    }

    async fn raw_filter(&self, category: i32) -> Vec<Item> {
        with_pool!(&self.pool, |p| sqlx::query_as::<_, Item>(&self.sql.filter)
            .bind(category)
            .bind(LIMIT)
            .fetch_all(p)
            .await
            .unwrap())
    }

    /// One operation on one side; `i` picks the key / category / row.
    async fn run(&self, op: Op, side: Side, i: u64, mut batch: Vec<Item>) {
        let key = (i.wrapping_mul(7919) % SEED_ROWS as u64) as i64 + 1;
        let category = (i % CATEGORIES as u64) as i32;
        match (op, side) {
            (Op::FindByPk, Side::Grant) => {
                let r = Item::find(&self.grant, key).await.unwrap();
                assert!(black_box(r).is_some());
            }
            (Op::FindByPk, Side::Sqlx) => {
                let r = self.raw_find(key).await;
                assert!(black_box(r).is_some());
            }
            (Op::Filter100, Side::Grant) => {
                let r = self.grant_filter(category).await;
                assert_eq!(black_box(r).len(), LIMIT as usize);
            }
            (Op::Filter100, Side::Sqlx) => {
                let r = self.raw_filter(category).await;
                assert_eq!(black_box(r).len(), LIMIT as usize);
            }
            (Op::InsertOne, Side::Grant) => {
                let mut row = item(i as i64, INSERT_CATEGORY);
                row.insert(&self.grant).await.unwrap();
                assert!(black_box(row).id > SEED_ROWS);
            }
            (Op::InsertOne, Side::Sqlx) => {
                let mut row = item(i as i64, INSERT_CATEGORY);
                row.id = with_pool!(&self.pool, |p| sqlx::query_scalar::<_, i64>(
                    &self.sql.insert
                )
                .bind(row.name.as_str())
                .bind(row.category)
                .bind(row.score)
                .bind(row.email.as_deref())
                .fetch_one(p)
                .await
                .unwrap());
                assert!(black_box(row).id > SEED_ROWS);
            }
            (Op::InsertAll1000, Side::Grant) => {
                let n = Item::insert_all(&self.grant, &mut batch).await.unwrap();
                assert_eq!(n, BATCH as u64);
                assert!(black_box(batch)[0].id > SEED_ROWS);
            }
            (Op::InsertAll1000, Side::Sqlx) => {
                let keys: Vec<i64> = with_pool!(&self.pool, |p| {
                    let mut q = sqlx::query_scalar::<_, i64>(&self.sql.insert_batch);
                    for r in &batch {
                        q = q
                            .bind(r.name.as_str())
                            .bind(r.category)
                            .bind(r.score)
                            .bind(r.email.as_deref());
                    }
                    q.fetch_all(p).await.unwrap()
                });
                assert_eq!(keys.len(), BATCH);
                for (r, k) in batch.iter_mut().zip(keys) {
                    r.id = k;
                }
                assert!(black_box(batch)[0].id > SEED_ROWS);
            }
            (Op::UpdateOne, side) => {
                let row = &mut batch[0];
                let updated = match side {
                    Side::Grant => row.update(&self.grant).await.unwrap(),
                    Side::Sqlx => with_pool!(&self.pool, |p| sqlx::query(&self.sql.update)
                        .bind(row.name.as_str())
                        .bind(row.category)
                        .bind(row.score)
                        .bind(row.email.as_deref())
                        .bind(row.id)
                        .execute(p)
                        .await
                        .unwrap()
                        .rows_affected()
                        > 0),
                };
                assert!(black_box(updated));
            }
        }
    }

    /// `iters` interleaved pairs; returns the time of the `measured` side and records
    /// both totals for the paired summary.
    async fn paired(&self, op: Op, iters: u64, measured: Side) -> Duration {
        let mut total = [Duration::ZERO; 2];
        for i in 0..iters {
            let order = if i % 2 == 0 {
                [Side::Grant, Side::Sqlx]
            } else {
                [Side::Sqlx, Side::Grant]
            };
            for side in order {
                let batch = self.input(op, i);
                let start = Instant::now();
                self.run(op, side, i, batch).await;
                total[side as usize] += start.elapsed();
            }
        }
        if op.writes() {
            self.cleanup().await;
        }
        let row = format!("{}/{}", self.engine, op.name());
        PAIRS.with(|p| {
            p.borrow_mut()
                .entry((row, measured as u8))
                .or_default()
                .push((iters, total[0], total[1]))
        });
        total[measured as usize]
    }
}

fn bench_engine(c: &mut Criterion, rt: &Runtime, fixture: &Fixture) {
    for op in Op::ALL {
        let mut group = c.benchmark_group(format!("{}/{}", fixture.engine, op.name()));
        group
            .sample_size(SAMPLES)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        if op == Op::InsertAll1000 {
            group.sampling_mode(SamplingMode::Flat);
        }
        for (name, side) in [("grant", Side::Grant), ("sqlx", Side::Sqlx)] {
            group.bench_function(name, |b| {
                b.to_async(rt)
                    .iter_custom(|iters| fixture.paired(op, iters, side))
            });
        }
        group.finish();
    }
}

/// What routing a statement costs: resolving the pool and reading the task-local context.
fn bench_routing(c: &mut Criterion, rt: &Runtime, grant: &Grant) {
    let mut group = c.benchmark_group("routing");
    group
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    let handler = grant.handler();
    group.bench_function("handler.pool(primary, Reading)", |b| {
        b.iter(|| {
            handler
                .pool(black_box("primary"), &Role::Reading, None)
                .unwrap()
        })
    });
    group.bench_function("handler.database(primary)", |b| {
        b.iter(|| handler.database(black_box("primary")).unwrap())
    });
    group.bench_function("Context::current (no scope)", |b| {
        b.to_async(rt).iter_custom(|iters| async move {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(Context::current());
            }
            start.elapsed()
        })
    });
    group.bench_function("Context::current (in connected_to Reading)", |b| {
        b.to_async(rt).iter_custom(|iters| {
            connected_to(Role::Reading, async move {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(Context::current());
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("Context::current (in scope with shard)", |b| {
        b.to_async(rt).iter_custom(|iters| {
            connection()
                .role(Role::Reading)
                .shard("shard_one")
                .run(async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(Context::current());
                    }
                    start.elapsed()
                })
        })
    });
    group.bench_function("Context::current + handler.pool (in scope)", |b| {
        b.to_async(rt).iter_custom(|iters| {
            connected_to(Role::Reading, async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let ctx = Context::current();
                    let role = ctx.role.as_ref().unwrap_or(&Role::Reading);
                    black_box(
                        handler
                            .pool(black_box("primary"), role, ctx.shard.as_deref())
                            .unwrap(),
                    );
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

/// Costs Grant adds per row or per statement that have no raw counterpart, measured alone.
fn bench_parts(c: &mut Criterion) {
    let mut group = c.benchmark_group("parts");
    group
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    let one = item(4, 4);
    group.bench_function("Model::values (1 row)", |b| {
        b.iter(|| black_box(&one).values())
    });
    let batch: Vec<Item> = (0..BATCH as i64).map(|i| item(i, 1)).collect();
    group.bench_function(
        "insert_all: values of 1,000 rows, a Vec per row (before 3295b72)",
        |b| {
            b.iter(|| {
                let mut values = Vec::with_capacity(BATCH * Item::META.columns.len());
                for m in black_box(&batch) {
                    let mut v = m.values();
                    v.remove(Item::META.primary_key);
                    values.extend(v);
                }
                values
            })
        },
    );
    group.bench_function(
        "insert_all: values of 1,000 rows, push_values into one Vec (now)",
        |b| {
            b.iter(|| {
                let mut values = Vec::with_capacity(BATCH * Item::META.columns.len());
                for m in black_box(&batch) {
                    m.push_values(&mut values, false);
                }
                values
            })
        },
    );
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let text = insert_text(backend, BATCH);
        assert_eq!(text, Sql::new(backend).insert_batch);
        group.bench_function(
            format!("insert_all: 1,000-row INSERT text built from scratch, what the cache avoids ({backend})"),
            |b| b.iter(|| insert_text(black_box(backend), black_box(BATCH))),
        );
    }
    group.bench_function("Model::META.statements (cached)", |b| {
        b.iter(|| {
            black_box(Item::META)
                .statements(black_box(Backend::Postgres))
                .find
                .len()
        })
    });
    group.bench_function("debug_span! (no subscriber)", |b| {
        b.iter(|| {
            tracing::debug_span!(
                target: "grant::statement",
                "statement",
                database = %black_box("primary"),
                role = %Role::Reading,
                shard = None::<&str>,
                model = "Item",
                op = "find",
                rows = tracing::field::Empty,
                elapsed_us = tracing::field::Empty,
            )
        })
    });
    group.finish();
}

/// The multi-row INSERT text built from scratch through the public `SqlWriter`, as Grant's
/// `insert_all` did on every call before 3295b72 (it is now cached per model and engine),
/// to time that step alone.
fn insert_text(backend: Backend, rows: usize) -> String {
    let meta = Item::META;
    let cols: Vec<usize> = (0..meta.columns.len())
        .filter(|&i| !(meta.auto_increment && i == meta.primary_key))
        .collect();
    let mut w = SqlWriter::new(backend, 64 + cols.len() * 16 + rows * (cols.len() * 5 + 4));
    w.push("INSERT INTO ").ident(meta.table).push(" (");
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
    w.push(" RETURNING ").ident(meta.key_column().name);
    w.finish()
}

fn summary() {
    PAIRS.with(|p| {
        let p = p.borrow();
        let mut rows: BTreeMap<&str, Vec<(u64, Duration, Duration)>> = BTreeMap::new();
        for ((row, _side), samples) in p.iter() {
            // Criterion warms up first, then takes exactly SAMPLES samples. Fewer: a
            // `--test` run (one call per function), nothing worth summarising.
            let n = samples.len();
            if n < SAMPLES {
                continue;
            }
            rows.entry(row.as_str())
                .or_default()
                .extend_from_slice(&samples[n.saturating_sub(SAMPLES)..]);
        }
        if rows.is_empty() {
            return;
        }
        println!();
        println!(
            "Same-window summary: every sample timed both sides interleaved; medians over the \
             {} samples of a row's two functions",
            2 * SAMPLES
        );
        println!(
            "{:<28} {:>12} {:>12} {:>10} {:>8}",
            "row", "grant", "sqlx", "g/s", "paired"
        );
        for (row, samples) in rows {
            let per_iter = |d: Duration, n: u64| d.as_nanos() as f64 / n as f64;
            let mut g: Vec<f64> = samples.iter().map(|s| per_iter(s.1, s.0)).collect();
            let mut s: Vec<f64> = samples.iter().map(|s| per_iter(s.2, s.0)).collect();
            let mut r: Vec<f64> = samples
                .iter()
                .map(|s| s.1.as_secs_f64() / s.2.as_secs_f64())
                .collect();
            let (g, s) = (median(&mut g), median(&mut s));
            println!(
                "{:<28} {:>12} {:>12} {:>9.3}x {:>7.3}x",
                row,
                fmt_ns(g),
                fmt_ns(s),
                g / s,
                median(&mut r)
            );
        }
    });
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut c = Criterion::default().configure_from_args();

    let path = std::env::temp_dir().join(format!("grant-bench-{}.db", std::process::id()));
    let remove = |path: &std::path::Path| {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    };
    remove(&path);
    let sqlite = rt.block_on(Fixture::new(
        "sqlite",
        &format!("sqlite://{}", path.display()),
    ));
    bench_engine(&mut c, &rt, &sqlite);

    match std::env::var("GRANT_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => {
            let pg = rt.block_on(Fixture::new("postgres", &url));
            bench_engine(&mut c, &rt, &pg);
            rt.block_on(async {
                grant::raw("DROP TABLE IF EXISTS bench_items")
                    .execute(&pg.grant)
                    .await
                    .expect("drop");
                pg.grant.close().await;
            });
        }
        _ => println!(
            "note: GRANT_TEST_POSTGRES_URL is not set: the PostgreSQL groups are skipped \
             (e.g. GRANT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/grant_test)"
        ),
    }

    bench_routing(&mut c, &rt, &sqlite.grant);
    bench_parts(&mut c);

    rt.block_on(sqlite.grant.close());
    remove(&path);
    c.final_summary();
    summary();
}
