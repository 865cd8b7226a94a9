//! Instructions per statement, one side at a time, under callgrind (the wall-clock pairing
//! cannot resolve differences of tens of nanoseconds on a 15-80 µs statement).
//!
//! `GRANT_BENCH_PROFILE=<group>/<side>` (`sqlite_routing`, `postgres_causal` or
//! `mariadb_causal`; a side of that group) skips criterion: it sets the group's fixture up
//! (seeded, sessions written, warmed like the benchmark), then runs `GRANT_BENCH_ITERS`
//! (default 2,000) statements of that side inside [`measured`], in blocks of 8 as in the
//! benchmark:
//!
//! ```text
//! GRANT_BENCH_ITERS=1000 GRANT_BENCH_PROFILE=sqlite_routing/session_long_ago \
//!     valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*profile*measured*' \
//!     target/release/deps/replicas-<hash>
//! ```
//!
//! Instructions per statement = the collected total / iterations.

use std::time::Instant;

use tokio::runtime::Runtime;

use crate::causal::Causal;
use crate::common::env;
use crate::pairs::Sides;
use crate::sqlite::SqliteRouting;

pub(crate) fn run(spec: &str) {
    let (group, side) = spec
        .split_once('/')
        .unwrap_or_else(|| panic!("GRANT_BENCH_PROFILE=<group>/<side>, got {spec:?}"));
    let iters: u64 = env("GRANT_BENCH_ITERS")
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let urls = |url: &str, replica: &str| {
        (
            env(url).unwrap_or_else(|| panic!("{url} is not set")),
            env(replica).unwrap_or_else(|| panic!("{replica} is not set")),
        )
    };
    match group {
        "sqlite_routing" => {
            let f = rt.block_on(SqliteRouting::new());
            go(&rt, &f, side, iters);
            rt.block_on(f.close());
        }
        "postgres_causal" | "mariadb_causal" => {
            let (url, replica) = if group == "postgres_causal" {
                urls("GRANT_TEST_POSTGRES_URL", "GRANT_TEST_POSTGRES_REPLICA_URL")
            } else {
                urls("GRANT_TEST_MARIADB_URL", "GRANT_TEST_MARIADB_REPLICA_URL")
            };
            let group = if group == "postgres_causal" {
                "postgres_causal"
            } else {
                "mariadb_causal"
            };
            let f = rt.block_on(Causal::new(group, &url, &replica));
            go(&rt, &f, side, iters);
            rt.block_on(f.close());
        }
        other => {
            panic!("group is sqlite_routing, postgres_causal or mariadb_causal, got {other:?}")
        }
    }
}

fn go<S: Sides>(rt: &Runtime, s: &S, side: &str, iters: u64) {
    let index = s
        .names()
        .iter()
        .position(|n| *n == side)
        .unwrap_or_else(|| panic!("sides of {}: {:?}", s.group(), s.names()));
    let block = s.block();
    let iters = iters.div_ceil(block) * block;
    let start = Instant::now();
    measured(rt, s, index, iters / block, block);
    let elapsed = start.elapsed();
    println!(
        "profiled {iters} statements of {}/{side}: {:.2} µs each",
        s.group(),
        elapsed.as_secs_f64() * 1e6 / iters as f64
    );
}

/// The statements callgrind counts (the fixture is ready before it is entered), in
/// blocks as in the benchmark.
#[inline(never)]
fn measured<S: Sides>(rt: &Runtime, s: &S, side: usize, blocks: u64, block: u64) {
    rt.block_on(async {
        for i in 0..blocks {
            s.run(side, i * block, block).await;
        }
    });
}
