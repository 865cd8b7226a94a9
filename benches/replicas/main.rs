//! Replicas (issue 6): what read routing with sessions costs, causal reads against plain
//! replica reads, and read throughput with two replica pools against one.
//!
//! ```text
//! eval "$(bash scripts/db-up.sh)"
//! taskset -c 0 cargo bench --bench replicas
//! ```
//!
//! Groups (see BENCHMARKS.md, "Replicas (issue 6)"):
//!
//! 1. `sqlite_routing`: `find` by key on SQLite (writer + a replica that is the same file):
//!    raw sqlx on the replica's pool, Grant outside any session, Grant inside sessions that
//!    change nothing (wrote to another database; wrote here longer than `replica_delay` ago).
//! 2. `postgres_causal`, `mariadb_causal`: in a session that wrote, a causal `find` on a
//!    replica that has replayed the write, against a plain replica `find` and raw sqlx.
//! 3. `postgres_throughput_32_readers`: 32 tasks on a multi-threaded runtime reading
//!    through one replica pool, two (round-robin), two (least-busy), and raw sqlx.
//!
//! `GRANT_BENCH_PROFILE=<group>/<side>` runs one side alone for callgrind (see `profile`).
//!
//! Each group runs its sides interleaved in every iteration (see `pairs`), on the very
//! pools Grant uses, with the same SQL text; a same-window summary is printed at the end.
//! Without the server URLs (`GRANT_TEST_POSTGRES_URL` + `GRANT_TEST_POSTGRES_REPLICA_URL`,
//! `GRANT_TEST_MARIADB_URL` + `GRANT_TEST_MARIADB_REPLICA_URL`) those groups are skipped
//! with a note. The server groups drop and recreate table `bench_replica_items` in their
//! database (it replicates to the replica).

mod causal;
mod common;
mod pairs;
mod profile;
mod sqlite;
#[path = "../support/mod.rs"]
mod support;
mod throughput;

use criterion::Criterion;

use crate::common::env;

fn main() {
    if let Some(spec) = env("GRANT_BENCH_PROFILE") {
        profile::run(&spec);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    sqlite::bench_sqlite(&mut c, &rt);

    let postgres = env("GRANT_TEST_POSTGRES_URL").zip(env("GRANT_TEST_POSTGRES_REPLICA_URL"));
    match &postgres {
        Some((url, replica)) => {
            causal::bench_causal(&mut c, &rt, "postgres_causal", (url, replica))
        }
        None => println!(
            "note: GRANT_TEST_POSTGRES_URL and GRANT_TEST_POSTGRES_REPLICA_URL are not both \
             set: the PostgreSQL groups (causal reads, throughput) are skipped \
             (eval \"$(bash scripts/db-up.sh)\" sets them)"
        ),
    }
    match env("GRANT_TEST_MARIADB_URL").zip(env("GRANT_TEST_MARIADB_REPLICA_URL")) {
        Some((url, replica)) => {
            causal::bench_causal(&mut c, &rt, "mariadb_causal", (&url, &replica))
        }
        None => println!(
            "note: GRANT_TEST_MARIADB_URL and GRANT_TEST_MARIADB_REPLICA_URL are not both set: \
             the MariaDB causal group is skipped"
        ),
    }
    drop(rt);

    if let Some((url, replica)) = &postgres {
        // 32 readers need a runtime with worker threads (pinned with `taskset`, they share
        // the pinned CPU).
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        throughput::bench_throughput(&mut c, &rt, url, replica);
    }

    c.final_summary();
    pairs::summary();
}
