//! Migrating many shards: `--concurrency 1` (one target at a time) against the default
//! ([`grant_migrate::DEFAULT_CONCURRENCY`] targets at once), in one process run.
//!
//! * 32 SQLite shard files (temp folder).
//! * 8 PostgreSQL shard databases `grant_bench_shard_1` .. `_8` on the server of
//!   `GRANT_TEST_POSTGRES_URL` (created when missing; skipped with a message when unset).
//!
//! Each sample reverts every migration (not timed), then times one `migrate_all` of
//! 10 migrations (a table, an index and a row each) on every shard. At the end the bench
//! prints, per engine, the median time of each side and the ratio default / one at a time
//! (the issue's goal on SQLite: <= 0.25).
//!
//! ```text
//! GRANT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/grant_test \
//!     cargo bench -p grant-migrate --bench migrate
//! ```

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::Criterion;
use grant_core::{Config, Grant};
use grant_migrate::{Migrator, Operation, DEFAULT_CONCURRENCY};

const MIGRATIONS: usize = 10;
const SQLITE_SHARDS: usize = 32;
const PG_SHARDS: usize = 8;

/// Every timed sample, per (engine, concurrency), for the summary.
static SAMPLES: Mutex<Vec<(String, usize, Duration)>> = Mutex::new(Vec::new());

fn write_migrations(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 1..=MIGRATIONS {
        std::fs::write(
            dir.join(format!("{i:04}_table_{i}.sql")),
            format!(
                "CREATE TABLE t{i} (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, cents BIGINT NOT NULL);\n\
                 CREATE INDEX t{i}_name ON t{i} (name);\n\
                 INSERT INTO t{i} (id, name, cents) VALUES (1, 'first', 100);\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("{i:04}_table_{i}.down.sql")),
            format!("DROP TABLE t{i};\n"),
        )
        .unwrap();
    }
}

/// A config with one database whose own URL is its first shard (so it is migrated once)
/// and `urls.len()` shards.
fn config(urls: &[String], migrations: &Path) -> Config {
    let mut toml = format!(
        "[databases.bench]\nurl = \"{}\"\nmigrations = \"{}\"\n",
        urls[0],
        migrations.display()
    );
    for (i, url) in urls.iter().enumerate() {
        toml.push_str(&format!(
            "\n[databases.bench.shards.shard_{}]\nurl = \"{url}\"\n",
            i + 1
        ));
    }
    Config::from_toml_str_with(&toml, "development", &|_| None).expect("bench config")
}

fn bench_engine(c: &mut Criterion, rt: &tokio::runtime::Runtime, engine: &str, grant: &Grant) {
    let mut group = c.benchmark_group(format!("migrate_{engine}"));
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(5));
    for concurrency in [1, DEFAULT_CONCURRENCY] {
        let migrator = Migrator::new(grant).concurrency(concurrency);
        group.bench_function(format!("concurrency_{concurrency}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    rt.block_on(migrator.run(None, Operation::RevertTo(0)))
                        .expect("revert");
                    let start = Instant::now();
                    let report = rt.block_on(migrator.migrate_all()).expect("migrate");
                    let elapsed = start.elapsed();
                    assert_eq!(report.applied_count(), report.targets.len() * MIGRATIONS);
                    total += elapsed;
                    if let Ok(mut samples) = SAMPLES.lock() {
                        samples.push((engine.to_string(), concurrency, elapsed));
                    }
                }
                total
            })
        });
    }
    group.finish();
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn summary() {
    let samples = SAMPLES.lock().map(|s| s.clone()).unwrap_or_default();
    println!("\nsummary (median of every timed migrate_all):");
    for engine in ["sqlite", "postgres"] {
        let of = |c: usize| -> Vec<Duration> {
            samples
                .iter()
                .filter(|(e, n, _)| e == engine && *n == c)
                .map(|(_, _, d)| *d)
                .collect()
        };
        let (one, many) = (of(1), of(DEFAULT_CONCURRENCY));
        if one.is_empty() || many.is_empty() {
            continue;
        }
        let (one, many) = (median(one), median(many));
        println!(
            "  {engine:<8} concurrency 1: {:>8.1} ms   concurrency {DEFAULT_CONCURRENCY}: {:>8.1} ms   ratio {:.2}",
            one.as_secs_f64() * 1000.0,
            many.as_secs_f64() * 1000.0,
            many.as_secs_f64() / one.as_secs_f64()
        );
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut c = Criterion::default().configure_from_args();
    let tmp = std::env::temp_dir().join(format!("grant-migrate-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let migrations = tmp.join("migrations");
    write_migrations(&migrations);

    let urls: Vec<String> = (1..=SQLITE_SHARDS)
        .map(|i| format!("sqlite://{}", tmp.join(format!("shard_{i}.db")).display()))
        .collect();
    let sqlite = Grant::from_config(config(&urls, &migrations)).expect("sqlite grant");
    bench_engine(&mut c, &rt, "sqlite", &sqlite);
    rt.block_on(sqlite.close());

    match std::env::var("GRANT_TEST_POSTGRES_URL") {
        Err(_) => println!("postgres: skipped (GRANT_TEST_POSTGRES_URL is not set)"),
        Ok(base) => {
            let urls: Vec<String> = (1..=PG_SHARDS)
                .map(|i| grant_migrate::url_with_database(&base, &format!("grant_bench_shard_{i}")))
                .collect();
            let pg = Grant::from_config(config(&urls, &migrations)).expect("postgres grant");
            // Create the shard databases when missing, and start from nothing applied
            // (a bench interrupted earlier may have left tables behind).
            rt.block_on(async {
                Migrator::new(&pg)
                    .create_databases(None)
                    .await
                    .expect("create databases");
                for url in &urls {
                    use sqlx::{Connection, Executor};
                    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
                    for i in 1..=MIGRATIONS {
                        conn.execute(format!("DROP TABLE IF EXISTS t{i}").as_str())
                            .await
                            .expect("clean");
                    }
                    conn.execute("DROP TABLE IF EXISTS grant_migrations")
                        .await
                        .expect("clean");
                    conn.close().await.expect("close");
                }
            });
            bench_engine(&mut c, &rt, "postgres", &pg);
            rt.block_on(pg.close());
        }
    }
    summary();
    let _ = std::fs::remove_dir_all(&tmp);
    c.final_summary();
}
