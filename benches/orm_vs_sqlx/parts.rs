//! Costs Grant adds that have no raw counterpart, measured alone.

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use grant::{Backend, Model, Role, SqlWriter};

use crate::setup::{item, Item, Sql, BATCH, SAMPLES};

/// Costs Grant adds per row or per statement that have no raw counterpart, measured alone.
pub(crate) fn bench_parts(c: &mut Criterion) {
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
