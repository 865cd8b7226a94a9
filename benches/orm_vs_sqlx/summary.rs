//! Same-window pairing: every sample times both sides interleaved and records both
//! totals; the summary printed at the end pairs them per row.

use crate::support::{fmt_ns, median};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::rows::{Op, Side};
use crate::setup::{Fixture, SAMPLES};

/// Paired timings of every sample: (row, measured side) -> [(iters, grant, sqlx)].
type Pairs = BTreeMap<(String, u8), Vec<(u64, Duration, Duration)>>;

thread_local! {
    static PAIRS: RefCell<Pairs> = const { RefCell::new(BTreeMap::new()) };
}

impl Fixture {
    /// `iters` interleaved pairs; returns the time of the `measured` side and records
    /// both totals for the paired summary.
    pub(crate) async fn paired(&self, op: Op, iters: u64, measured: Side) -> Duration {
        let mut total = [Duration::ZERO; 2];
        for i in 0..iters {
            // Which side goes first: half the iterations each, in an order without a
            // period (SQLite's WAL checkpoints, every so many commits, would otherwise
            // always land on the same side of a strictly alternating order).
            let order = if first_is_grant(i) {
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

/// Whether Grant runs first in iteration `i`: a fixed pseudo-random bit (Fibonacci hashing
/// of `i`), so both sides go first equally often but not periodically.
fn first_is_grant(i: u64) -> bool {
    (i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 63) == 0
}

pub(crate) fn summary() {
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
            "{:<40} {:>12} {:>12} {:>10} {:>8}",
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
                "{:<40} {:>12} {:>12} {:>9.3}x {:>7.3}x",
                row,
                fmt_ns(g),
                fmt_ns(s),
                g / s,
                median(&mut r)
            );
        }
    });
}
