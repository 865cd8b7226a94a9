//! Sharding (issue 7): what routing by key costs, scatter-gather against the same queries
//! run one after another, the k-way merge, and a find by key against raw sqlx.
//!
//! ```text
//! eval "$(bash scripts/db-up.sh)"
//! cargo bench --bench sharding
//! ```
//!
//! Groups (see BENCHMARKS.md, "Sharding (issue 7)"):
//!
//! 1. `merge`: k-way merge of 10 000 rows from 8 sorted shards (pure, no I/O), all of them
//!    and the first 100 after an offset of 1 000.
//! 2. `sqlite_routing`: the routing decision alone (`Grant::shard_of`: the row's shard key
//!    through the hash resolver to the shard's name), and `find` by key on in-memory SQLite:
//!    an unsharded model on a table the size of one shard against a model sharded by its
//!    key over 8 shards.
//! 3. `postgres_find_by_key`: `find` by key on 8 PostgreSQL shards against hand-written
//!    sqlx on that shard's pool, same SQL.
//! 4. `postgres_scatter_8`: one query over 8 shards (ORDER BY .. LIMIT 50 without the key)
//!    as a scatter, against the same 8 per-shard queries one after another; and
//!    `postgres_scatter_8_1ms_rtt`, the same through proxies that add a 1 ms round trip.
//!
//! The PostgreSQL groups need `GRANT_TEST_POSTGRES_URL` (skipped with a note otherwise);
//! they create databases `grant_bench_s0` .. `grant_bench_s7` and table `bench_orders`.

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use grant::sharding::merge::{compare_rows, merge_sorted, OrderBy, SortValue};
use grant::{
    raw, AssertSqlSafe, Config, DatabaseConfig, Grant, Model, Pool, ResolverConfig, Role,
    ShardConfig, ShardingConfig,
};
use tokio::runtime::Runtime;

#[derive(Model, Debug, Clone)]
#[grant(table = "bench_orders")]
#[shard_by(id)]
struct Order {
    #[grant(primary_key, manual)]
    id: i64,
    customer_id: i64,
    cents: i64,
}

#[derive(Model, Debug, Clone)]
#[grant(table = "bench_orders", database = "plain")]
struct PlainOrder {
    #[grant(primary_key, manual)]
    id: i64,
    customer_id: i64,
    cents: i64,
}

const SHARDS: usize = 8;
const ROWS_PER_SHARD: i64 = 2_000;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn on_database(base: &str, name: &str) -> String {
    let cut = base.rfind('/').expect("a database in the URL");
    format!("{}/{name}", &base[..cut])
}

fn sharded(urls: &[String], plain: &str) -> Grant {
    let mut db = DatabaseConfig::new(&urls[0]).sharding(
        ShardingConfig::new(ResolverConfig::Hash { shards: vec![] }).concurrency(SHARDS as u32),
    );
    for (i, url) in urls.iter().enumerate() {
        db = db.shard(format!("s{i}"), ShardConfig::new(url));
    }
    Grant::from_config(
        Config::builder()
            .database("primary", db)
            .database("plain", DatabaseConfig::new(plain))
            .build()
            .expect("config"),
    )
    .expect("handle")
}

/// Loads `rows_per_shard * 8` rows over the shards, and the first `plain_rows` of them
/// into `plain` (the same table size as one shard, for the routing comparison).
async fn load(db: &Grant, create: &str, rows_per_shard: i64, plain_rows: usize) {
    for s in 0..SHARDS {
        let shard = format!("s{s}");
        raw("DROP TABLE IF EXISTS bench_orders")
            .execute(db.on_shard(&shard))
            .await
            .unwrap();
        raw(AssertSqlSafe(create.to_string()))
            .execute(db.on_shard(&shard))
            .await
            .unwrap();
    }
    raw("DROP TABLE IF EXISTS bench_orders")
        .on("plain")
        .execute(db)
        .await
        .unwrap();
    raw(AssertSqlSafe(create.to_string()))
        .on("plain")
        .execute(db)
        .await
        .unwrap();
    let rows: Vec<Order> = (1..=rows_per_shard * SHARDS as i64)
        .map(|id| Order {
            id,
            customer_id: id % 97,
            cents: (id * 7919) % 100_000,
        })
        .collect();
    for s in 0..SHARDS {
        let shard = format!("s{s}");
        let mut mine: Vec<Order> = rows
            .iter()
            .filter(|r| db.shard_of(*r).unwrap().as_deref() == Some(shard.as_str()))
            .cloned()
            .collect();
        for chunk in mine.chunks_mut(500) {
            Order::insert_all_without_keys(db, chunk).await.unwrap();
        }
    }
    let mut plain: Vec<PlainOrder> = rows
        .iter()
        .take(plain_rows)
        .map(|r| PlainOrder {
            id: r.id,
            customer_id: r.customer_id,
            cents: r.cents,
        })
        .collect();
    for chunk in plain.chunks_mut(500) {
        PlainOrder::insert_all_without_keys(db, chunk)
            .await
            .unwrap();
    }
}

fn bench_merge(c: &mut Criterion) {
    let shards: Vec<Vec<Vec<SortValue>>> = (0..SHARDS as i64)
        .map(|s| {
            (0..1_250i64)
                .map(|i| vec![SortValue::Int(i * SHARDS as i64 + s)])
                .collect()
        })
        .collect();
    let cmp = compare_rows(&[OrderBy::asc(0)]);
    let mut g = c.benchmark_group("merge");
    g.bench_function("10k_rows_from_8_shards", |b| {
        b.iter_batched(
            || shards.clone(),
            |s| black_box(merge_sorted(s, |a, b| cmp(a, b), 0, None)),
            criterion::BatchSize::LargeInput,
        )
    });
    g.bench_function("100_after_1000_from_8_shards", |b| {
        b.iter_batched(
            || shards.clone(),
            |s| black_box(merge_sorted(s, |a, b| cmp(a, b), 1_000, Some(100))),
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn bench_sqlite_routing(c: &mut Criterion, rt: &Runtime) {
    let urls: Vec<String> = (0..SHARDS)
        .map(|i| format!("sqlite:file:grant_bench_shard_{i}?mode=memory&cache=shared"))
        .collect();
    let db = sharded(
        &urls,
        "sqlite:file:grant_bench_plain?mode=memory&cache=shared",
    );
    rt.block_on(load(
        &db,
        "CREATE TABLE bench_orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, cents INTEGER NOT NULL)",
        250,
        250,
    ));
    let n = 250 * SHARDS as i64;
    let mut g = c.benchmark_group("sqlite_routing");
    // The decision alone: the shard key through the resolver, to the shard's name.
    let row = Order {
        id: 42,
        customer_id: 0,
        cents: 0,
    };
    g.bench_function("shard_of_row", |b| {
        b.iter(|| black_box(db.shard_of(black_box(&row)).unwrap()))
    });
    let mut k = 0i64;
    g.bench_function("find_unsharded", |b| {
        b.to_async(rt).iter(|| {
            // The plain table holds as many rows as one shard.
            k = k % 250 + 1;
            let db = &db;
            let key = k;
            async move { black_box(PlainOrder::find(db, key).await.unwrap()) }
        })
    });
    g.bench_function("find_sharded_by_key", |b| {
        b.to_async(rt).iter(|| {
            k = k % n + 1;
            let db = &db;
            let key = k;
            async move { black_box(Order::find(db, key).await.unwrap()) }
        })
    });
    g.finish();
    rt.block_on(db.close());
}

async fn postgres(url: &str) -> Grant {
    let admin = Grant::from_config(Config::single(url).unwrap()).unwrap();
    for i in 0..SHARDS {
        let name = format!("grant_bench_s{i}");
        let exists = raw("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(name.clone())
            .fetch_optional(&admin)
            .await
            .unwrap()
            .is_some();
        if !exists {
            raw(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&admin)
                .await
                .unwrap();
        }
    }
    admin.close().await;
    let urls: Vec<String> = (0..SHARDS)
        .map(|i| on_database(url, &format!("grant_bench_s{i}")))
        .collect();
    let db = sharded(&urls, &on_database(url, "grant_test"));
    load(
        &db,
        "CREATE TABLE bench_orders (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, cents BIGINT NOT NULL)",
        ROWS_PER_SHARD,
        0,
    )
    .await;
    db
}

fn bench_postgres(c: &mut Criterion, rt: &Runtime, url: &str) {
    let db = rt.block_on(postgres(url));
    let n = ROWS_PER_SHARD * SHARDS as i64;
    // Pools open (and spawn their maintenance task) on first use: inside the runtime.
    let _runtime = rt.enter();

    // find by key against raw sqlx on the shard's pool (the same pool Grant reads from).
    let pools: Vec<sqlx::PgPool> = (0..SHARDS)
        .map(|i| {
            let slot = db
                .handler()
                .pool("primary", &Role::Reading, Some(&format!("s{i}")))
                .unwrap();
            match slot.pool() {
                Pool::Postgres(p) => p.clone(),
                _ => unreachable!("a PostgreSQL shard"),
            }
        })
        .collect();
    let shard_index: Vec<usize> = (0..=n)
        .map(|id| {
            let row = Order {
                id,
                customer_id: 0,
                cents: 0,
            };
            db.shard_of(&row).unwrap().unwrap()[1..].parse().unwrap()
        })
        .collect();
    let mut g = c.benchmark_group("postgres_find_by_key");
    let mut k = 0i64;
    g.bench_function("sqlx_on_the_shard", |b| {
        b.to_async(rt).iter(|| {
            k = k % n + 1;
            let pool = &pools[shard_index[k as usize]];
            let key = k;
            async move {
                black_box(
                    sqlx::query_as::<_, (i64, i64, i64)>(
                        "SELECT \"id\", \"customer_id\", \"cents\" FROM \"bench_orders\" WHERE \"id\" = $1",
                    )
                    .bind(key)
                    .fetch_optional(pool)
                    .await
                    .unwrap(),
                )
            }
        })
    });
    g.bench_function("grant_find_by_shard_key", |b| {
        b.to_async(rt).iter(|| {
            k = k % n + 1;
            let db = &db;
            let key = k;
            async move { black_box(Order::find(db, key).await.unwrap()) }
        })
    });
    g.finish();

    // One query without the key over 8 shards: scatter against one shard after another.
    scatter_group(c, rt, "postgres_scatter_8", &db);

    // The same, with a network between the application and its shards: a proxy per
    // shard holds every server reply for 1 ms (a 1 ms round trip), as in a deployment
    // where the database is not on the application's machine.
    let proxied: Vec<String> = rt.block_on(async {
        let mut out = Vec::new();
        for i in 0..SHARDS {
            let shard_url = on_database(url, &format!("grant_bench_s{i}"));
            let addr = latency_proxy(host_port(&shard_url), Duration::from_micros(500)).await;
            out.push(with_host(&shard_url, &addr.to_string()));
        }
        out
    });
    let far = sharded(&proxied, &on_database(url, "grant_test"));
    scatter_group(c, rt, "postgres_scatter_8_1ms_rtt", &far);
    rt.block_on(far.close());
    rt.block_on(db.close());
}

/// `ORDER BY cents DESC LIMIT 50` without the key: as one scatter, and as the 8 per-shard
/// queries one after another.
fn scatter_group(c: &mut Criterion, rt: &Runtime, name: &str, db: &Grant) {
    let query = || {
        Order::query()
            .filter(Order::CENTS.gt(500))
            .order_by(Order::CENTS.desc())
            .limit(50)
    };
    let mut g = c.benchmark_group(name);
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("scatter", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(query().all(db).await.unwrap()) })
    });
    g.bench_function("sequential", |b| {
        b.to_async(rt).iter(|| async {
            let mut all = Vec::with_capacity(SHARDS * 50);
            for i in 0..SHARDS {
                let shard = format!("s{i}");
                all.extend(query().all(db.on_shard(&shard)).await.unwrap());
            }
            black_box(all)
        })
    });
    g.finish();
}

fn host_port(url: &str) -> String {
    let rest = url.split_once("://").expect("a URL").1;
    let host = rest.split('/').next().expect("a host");
    host.rsplit_once('@').map_or(host, |(_, h)| h).to_string()
}

fn with_host(url: &str, host_port: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (auth_host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let auth = auth_host
        .rsplit_once('@')
        .map(|(a, _)| format!("{a}@"))
        .unwrap_or_default();
    format!("{scheme}://{auth}{host_port}/{path}")
}

/// A TCP proxy to `upstream` that delays every chunk the server sends by `delay`.
async fn latency_proxy(upstream: String, delay: Duration) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    while let Ok(n) = cr.read(&mut buf).await {
                        if n == 0 || sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n) = sr.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    tokio::time::sleep(delay * 2).await;
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                up.abort();
            });
        }
    });
    addr
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    bench_merge(&mut c);
    bench_sqlite_routing(&mut c, &rt);
    match env("GRANT_TEST_POSTGRES_URL") {
        Some(url) => bench_postgres(&mut c, &rt, &url),
        None => {
            println!("note: GRANT_TEST_POSTGRES_URL is not set; the PostgreSQL groups are skipped")
        }
    }
    c.final_summary();
}
