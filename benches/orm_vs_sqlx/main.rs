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
//! run the two sides *interleaved* (in each iteration both, which one first chosen by a
//! fixed pseudo-random bit: half the iterations each, without a period) and time each
//! side separately; `grant` reports Grant's time, `sqlx` the raw
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

mod parts;
mod profile;
mod routing;
mod rows;
mod setup;
mod summary;
#[path = "../support/mod.rs"]
mod support;

use criterion::Criterion;

use crate::parts::bench_parts;
use crate::routing::bench_routing;
use crate::rows::bench_engine;
use crate::setup::Fixture;
use crate::summary::summary;

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if let Ok(spec) = std::env::var("GRANT_BENCH_PROFILE") {
        profile::run(&rt, &spec);
        return;
    }
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
