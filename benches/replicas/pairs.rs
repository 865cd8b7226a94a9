//! Interleaved sides and the same-window summary.
//!
//! A group's sides (say: raw sqlx, Grant outside a session, Grant inside one) all run in
//! every iteration of every criterion function, one after the other in an order that
//! rotates by a fixed pseudo-random offset per iteration, each timed separately; a function
//! reports its own side's time. Every sample's totals of *all* sides are recorded, so the
//! summary compares the sides over the same iterations (background load hits them alike).

use crate::support::{fmt_ns, median};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use tokio::runtime::Runtime;

/// A group of sides run interleaved.
pub(crate) trait Sides {
    /// The criterion group (and summary) name.
    fn group(&self) -> &'static str;
    /// The sides' names, in index order.
    fn names(&self) -> &'static [&'static str];
    /// What the summary compares: (side, against which side).
    fn pairs(&self) -> &'static [(usize, usize)];
    /// Operations one call of `run` performs (1 for a single statement; reads of a whole
    /// round for throughput).
    fn ops(&self) -> u64 {
        1
    }
    /// Calls a side makes in a row per iteration (a block: the cache misses of switching
    /// from another side's code land on one call in `block`, and a session side enters its
    /// session once per block, as a request handler does once per request).
    fn block(&self) -> u64 {
        1
    }
    /// `count` operations of `side` in a row; `first..first + count` pick the keys.
    async fn run(&self, side: usize, first: u64, count: u64);
}

/// The block of the single-statement groups: a session side enters its session once per
/// 8 statements.
pub(crate) const SESSION_BLOCK: u64 = 8;

/// One sample: (iterations, every side's total).
type Sample = (u64, Vec<Duration>);

struct Group {
    names: &'static [&'static str],
    pairs: &'static [(usize, usize)],
    ops: u64,
    block: u64,
    /// Samples criterion takes per function (warm-up calls come before them).
    keep: usize,
    /// Per measured side, every call's sample.
    samples: BTreeMap<usize, Vec<Sample>>,
}

static GROUPS: Mutex<BTreeMap<&'static str, Group>> = Mutex::new(BTreeMap::new());

/// `iters` interleaved iterations of every side; returns `measured`'s total and records all.
pub(crate) async fn paired<S: Sides>(s: &S, iters: u64, measured: usize, keep: usize) -> Duration {
    let n = s.names().len();
    let block = s.block();
    let mut total = vec![Duration::ZERO; n];
    for i in 0..iters {
        for side in order(i, n) {
            let start = Instant::now();
            s.run(side, i * block, block).await;
            total[side] += start.elapsed();
        }
    }
    let mut groups = GROUPS.lock().unwrap();
    groups
        .entry(s.group())
        .or_insert_with(|| Group {
            names: s.names(),
            pairs: s.pairs(),
            ops: s.ops(),
            block,
            keep,
            samples: BTreeMap::new(),
        })
        .samples
        .entry(measured)
        .or_default()
        .push((iters, total.clone()));
    // Criterion sees one call per iteration: its figures are per call too.
    total[measured] / block as u32
}

/// The order of the sides in iteration `i`: a pseudo-random permutation (a Fisher-Yates
/// shuffle driven by splitmix64 of `i`), so every side follows every other equally often,
/// without a period.
fn order(i: u64, n: usize) -> Vec<usize> {
    let mut state = i;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut v: Vec<usize> = (0..n).collect();
    for k in (1..n).rev() {
        v.swap(k, (next() % (k as u64 + 1)) as usize);
    }
    v
}

/// Settings of a group's criterion run.
pub(crate) struct Timing {
    pub(crate) samples: usize,
    pub(crate) warm_up: Duration,
    pub(crate) measure: Duration,
    pub(crate) flat: bool,
}

/// A criterion group with one function per side, each running all sides interleaved.
pub(crate) fn bench<S: Sides>(c: &mut Criterion, rt: &Runtime, s: &S, t: &Timing) {
    let mut group = c.benchmark_group(s.group());
    group
        .sample_size(t.samples)
        .warm_up_time(t.warm_up)
        .measurement_time(t.measure);
    if t.flat {
        group.sampling_mode(SamplingMode::Flat);
    }
    for (side, name) in s.names().iter().enumerate() {
        group.bench_function(*name, |b| {
            b.to_async(rt)
                .iter_custom(|iters| paired(s, iters, side, t.samples))
        });
    }
    group.finish();
}

/// Print the same-window summary of every group.
pub(crate) fn summary() {
    let groups = GROUPS.lock().unwrap();
    let mut header = false;
    for (name, g) in groups.iter() {
        // Criterion warms up first, then takes exactly `keep` samples per function: keep
        // those. Fewer: a `--test` run (one call per function), nothing worth summarising.
        let samples: Vec<&Sample> = g
            .samples
            .values()
            .filter(|v| v.len() >= g.keep)
            .flat_map(|v| &v[v.len() - g.keep..])
            .collect();
        if samples.is_empty() {
            continue;
        }
        if !header {
            header = true;
            println!();
            println!(
                "Same-window summary (every sample ran all sides of its group interleaved; \
                 medians over the samples of all the group's functions)"
            );
        }
        let per_op =
            |s: &Sample, side: usize| s.1[side].as_nanos() as f64 / (s.0 * g.block * g.ops) as f64;
        println!();
        println!("{name} ({} samples)", samples.len());
        let mut medians = Vec::new();
        for (side, side_name) in g.names.iter().enumerate() {
            let mut v: Vec<f64> = samples.iter().map(|s| per_op(s, side)).collect();
            let m = median(&mut v);
            medians.push(m);
            if g.ops > 1 {
                println!(
                    "  {side_name:<34} {:>12} per round   {:>9.0} reads/s",
                    fmt_ns(m * g.ops as f64),
                    1e9 / m
                );
            } else {
                println!("  {side_name:<34} {:>12} per statement", fmt_ns(m));
            }
        }
        for &(a, b) in g.pairs {
            let mut r: Vec<f64> = samples
                .iter()
                .map(|s| s.1[a].as_secs_f64() / s.1[b].as_secs_f64())
                .collect();
            let paired = median(&mut r);
            let mut d: Vec<f64> = samples
                .iter()
                .map(|s| per_op(s, a) - per_op(s, b))
                .collect();
            let diff = median(&mut d);
            if g.ops > 1 {
                // Throughput: the inverse of the time ratio.
                println!(
                    "  {:<16} / {:<16} reads/s ratio {:>6.3}x (paired {:.3}x)",
                    g.names[a],
                    g.names[b],
                    medians[b] / medians[a],
                    1.0 / paired
                );
            } else {
                println!(
                    "  {:<16} vs {:<16} {:>+9.1} ns (paired median), ratio {:.3}x, paired {:.3}x",
                    g.names[a],
                    g.names[b],
                    diff,
                    medians[a] / medians[b],
                    paired
                );
            }
        }
    }
}
