//! The ORM-vs-sqlx rows: each operation on each side, and its criterion group.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode};
use grant::{Model, Pool};
use tokio::runtime::Runtime;

use crate::setup::{
    item, with_pool, Fixture, Item, BATCH, CATEGORIES, INSERT_CATEGORY, LIMIT, SAMPLES, SEED_ROWS,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Op {
    FindByPk,
    Filter100,
    InsertOne,
    InsertAll1000,
    InsertAll1000NoKeys,
    UpdateOne,
    UpdateAllOne,
}

impl Op {
    pub(crate) const ALL: [Op; 7] = [
        Op::FindByPk,
        Op::Filter100,
        Op::InsertOne,
        Op::InsertAll1000,
        Op::InsertAll1000NoKeys,
        Op::UpdateOne,
        Op::UpdateAllOne,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::FindByPk => "find_by_pk",
            Op::Filter100 => "filter_100_rows",
            Op::InsertOne => "insert_one",
            Op::InsertAll1000 => "insert_all_1000",
            Op::InsertAll1000NoKeys => "insert_all_1000_without_keys",
            Op::UpdateOne => "update_one",
            Op::UpdateAllOne => "update_all_one_row",
        }
    }

    /// Whether the row writes (its samples are followed by a cleanup).
    pub(crate) fn writes(self) -> bool {
        !matches!(self, Op::FindByPk | Op::Filter100)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Grant = 0,
    Sqlx = 1,
}

impl Fixture {
    pub(crate) async fn grant_filter(&self, category: i32) -> Vec<Item> {
        Item::query()
            .filter(Item::CATEGORY.eq(category))
            .order_by(Item::ID.asc())
            .limit(LIMIT as u64)
            .all(&self.grant)
            .await
            .unwrap()
    }

    pub(crate) async fn raw_find(&self, id: i64) -> Option<Item> {
        with_pool!(&self.read_pool, |p| sqlx::query_as::<_, Item>(
            &self.sql.find
        )
        .bind(id)
        .fetch_optional(p)
        .await
        .unwrap())
    }

    pub(crate) async fn raw_filter(&self, category: i32) -> Vec<Item> {
        with_pool!(&self.read_pool, |p| sqlx::query_as::<_, Item>(
            &self.sql.filter
        )
        .bind(category)
        .bind(LIMIT)
        .fetch_all(p)
        .await
        .unwrap())
    }

    /// One operation on one side; `i` picks the key / category / row.
    pub(crate) async fn run(&self, op: Op, side: Side, i: u64, mut batch: Vec<Item>) {
        let key = (i.wrapping_mul(7919) % SEED_ROWS as u64) as i64 + 1;
        let category = (i % CATEGORIES as u64) as i32;
        match (op, side) {
            (Op::FindByPk, Side::Grant) => {
                let r = Item::find(&self.grant, key).await.unwrap();
                assert!(black_box(r).is_some());
            }
            (Op::FindByPk, Side::Sqlx) => {
                let r = self.raw_find(key).await;
                assert!(black_box(r).is_some());
            }
            (Op::Filter100, Side::Grant) => {
                let r = self.grant_filter(category).await;
                assert_eq!(black_box(r).len(), LIMIT as usize);
            }
            (Op::Filter100, Side::Sqlx) => {
                let r = self.raw_filter(category).await;
                assert_eq!(black_box(r).len(), LIMIT as usize);
            }
            (Op::InsertOne, Side::Grant) => {
                let mut row = item(i as i64, INSERT_CATEGORY);
                row.insert(&self.grant).await.unwrap();
                assert!(black_box(row).id > SEED_ROWS);
            }
            (Op::InsertOne, Side::Sqlx) => {
                let mut row = item(i as i64, INSERT_CATEGORY);
                row.id = with_pool!(&self.pool, |p| sqlx::query_scalar::<_, i64>(
                    &self.sql.insert
                )
                .bind(row.name.as_str())
                .bind(row.category)
                .bind(row.score)
                .bind(row.email.as_deref())
                .fetch_one(p)
                .await
                .unwrap());
                assert!(black_box(row).id > SEED_ROWS);
            }
            (Op::InsertAll1000, Side::Grant) => {
                let n = Item::insert_all(&self.grant, &mut batch).await.unwrap();
                assert_eq!(n, BATCH as u64);
                assert!(black_box(batch)[0].id > SEED_ROWS);
            }
            (Op::InsertAll1000, Side::Sqlx) => {
                let keys: Vec<i64> = with_pool!(&self.pool, |p| {
                    let mut q = sqlx::query_scalar::<_, i64>(&self.sql.insert_batch);
                    for r in &batch {
                        q = q
                            .bind(r.name.as_str())
                            .bind(r.category)
                            .bind(r.score)
                            .bind(r.email.as_deref());
                    }
                    q.fetch_all(p).await.unwrap()
                });
                assert_eq!(keys.len(), BATCH);
                for (r, k) in batch.iter_mut().zip(keys) {
                    r.id = k;
                }
                assert!(black_box(batch)[0].id > SEED_ROWS);
            }
            (Op::InsertAll1000NoKeys, Side::Grant) => {
                let n = Item::insert_all_without_keys(&self.grant, &mut batch)
                    .await
                    .unwrap();
                assert_eq!(black_box(n), BATCH as u64);
            }
            (Op::InsertAll1000NoKeys, Side::Sqlx) => {
                let n = with_pool!(&self.pool, |p| {
                    let mut q = sqlx::query(&self.sql.insert_batch_no_keys);
                    for r in &batch {
                        q = q
                            .bind(r.name.as_str())
                            .bind(r.category)
                            .bind(r.score)
                            .bind(r.email.as_deref());
                    }
                    q.execute(p).await.unwrap().rows_affected()
                });
                assert_eq!(black_box(n), BATCH as u64);
            }
            (Op::UpdateOne, side) => {
                let row = &mut batch[0];
                let updated = match side {
                    Side::Grant => row.update(&self.grant).await.unwrap(),
                    Side::Sqlx => with_pool!(&self.pool, |p| sqlx::query(&self.sql.update)
                        .bind(row.name.as_str())
                        .bind(row.category)
                        .bind(row.score)
                        .bind(row.email.as_deref())
                        .bind(row.id)
                        .execute(p)
                        .await
                        .unwrap()
                        .rows_affected()
                        > 0),
                };
                assert!(black_box(updated));
            }
            (Op::UpdateAllOne, side) => {
                let row = &batch[0];
                let n = match side {
                    Side::Grant => Item::query()
                        .filter(Item::ID.eq(row.id))
                        .update_all(&self.grant, [Item::SCORE.set(row.score)])
                        .await
                        .unwrap(),
                    Side::Sqlx => with_pool!(&self.pool, |p| sqlx::query(&self.sql.update_all)
                        .bind(row.score)
                        .bind(row.id)
                        .execute(p)
                        .await
                        .unwrap()
                        .rows_affected()),
                };
                assert_eq!(black_box(n), 1);
            }
        }
    }
}

pub(crate) fn bench_engine(c: &mut Criterion, rt: &Runtime, fixture: &Fixture) {
    for op in Op::ALL {
        let mut group = c.benchmark_group(format!("{}/{}", fixture.engine, op.name()));
        group
            .sample_size(SAMPLES)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        if matches!(op, Op::InsertAll1000 | Op::InsertAll1000NoKeys) {
            group.sampling_mode(SamplingMode::Flat);
        }
        for (name, side) in [("grant", Side::Grant), ("sqlx", Side::Sqlx)] {
            group.bench_function(name, |b| {
                b.to_async(rt)
                    .iter_custom(|iters| fixture.paired(op, iters, side))
            });
        }
        group.finish();
    }
}
