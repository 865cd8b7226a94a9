//! What routing a statement costs, measured alone.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use grant::{connected_to, connection, Context, Grant, Role};
use tokio::runtime::Runtime;

use crate::setup::SAMPLES;

/// What routing a statement costs: resolving the pool and reading the task-local context.
pub(crate) fn bench_routing(c: &mut Criterion, rt: &Runtime, grant: &Grant) {
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
