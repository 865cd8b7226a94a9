//! Instruction counts per statement, one side at a time, under callgrind.
//!
//! `GRANT_BENCH_PROFILE=<engine>/<row>/<side>` (`side`: `grant` or `sqlx`) skips criterion:
//! it sets the engine's fixture up (seeded and warmed like the benchmark), then runs
//! `GRANT_BENCH_ITERS` (default 2,000) statements of that row on that side only inside
//! [`measured`], a function callgrind can switch collection on for:
//!
//! ```text
//! GRANT_BENCH_PROFILE=sqlite/find_by_pk/grant valgrind --tool=callgrind \
//!     --collect-atstart=no --toggle-collect='*profile*measured*' \
//!     target/release/deps/orm_vs_sqlx-<hash>
//! ```
//!
//! Instructions per statement = the collected total / iterations. The main thread runs the
//! whole client side (a current-thread runtime); SQLite's worker thread does the same work
//! for both sides.

use tokio::runtime::Runtime;

use crate::rows::{Op, Side};
use crate::setup::Fixture;

pub(crate) fn run(rt: &Runtime, spec: &str) {
    let parts: Vec<&str> = spec.split('/').collect();
    let [engine, row, side] = parts[..] else {
        panic!("GRANT_BENCH_PROFILE=<engine>/<row>/<side>, got {spec:?}");
    };
    let op = Op::ALL
        .into_iter()
        .find(|op| op.name() == row)
        .unwrap_or_else(|| panic!("unknown row {row:?}"));
    let side = match side {
        "grant" => Side::Grant,
        "sqlx" => Side::Sqlx,
        other => panic!("side is grant or sqlx, got {other:?}"),
    };
    let iters: u64 = std::env::var("GRANT_BENCH_ITERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    let path = std::env::temp_dir().join(format!("grant-profile-{}.db", std::process::id()));
    let url = match engine {
        "sqlite" => format!("sqlite://{}", path.display()),
        "postgres" => std::env::var("GRANT_TEST_POSTGRES_URL").expect("GRANT_TEST_POSTGRES_URL"),
        other => panic!("engine is sqlite or postgres, got {other:?}"),
    };
    let fixture = rt.block_on(Fixture::new(engine_name(engine), &url));
    let inputs: Vec<Vec<_>> = (0..iters).map(|i| fixture.input(op, i)).collect();
    let start = std::time::Instant::now();
    measured(rt, &fixture, op, side, inputs);
    let elapsed = start.elapsed();
    if op.writes() {
        rt.block_on(fixture.cleanup());
    }
    rt.block_on(fixture.grant.close());
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    println!(
        "profiled {iters} statements of {spec}: {:.2} µs each",
        elapsed.as_secs_f64() * 1e6 / iters as f64
    );
}

fn engine_name(engine: &str) -> &'static str {
    match engine {
        "sqlite" => "sqlite",
        _ => "postgres",
    }
}

/// The statements callgrind counts (inputs are prepared before it is entered).
#[inline(never)]
fn measured(
    rt: &Runtime,
    fixture: &Fixture,
    op: Op,
    side: Side,
    inputs: Vec<Vec<crate::setup::Item>>,
) {
    rt.block_on(async {
        for (i, batch) in inputs.into_iter().enumerate() {
            fixture.run(op, side, i as u64, batch).await;
        }
    });
}
