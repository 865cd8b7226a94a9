//! Property: the same random rows loaded into three shards and into one database give
//! identical answers to random queries: filters (on the shard key and off it), ORDER BY
//! with LIMIT/OFFSET, keyset pages, count, sum, avg, min, max, count_distinct and
//! GROUP BY. On SQLite always, and on PostgreSQL and MariaDB when configured.

mod common;

use common::Engine;
use grant::query::{Expr, Order as By};
use grant::{
    raw, AssertSqlSafe, Config, DatabaseConfig, Grant, Model, ResolverConfig, ShardConfig,
    ShardingConfig,
};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "grant_prop_rows")]
#[shard_by(customer_id)]
struct Row {
    #[grant(primary_key, manual)]
    id: i64,
    customer_id: i64,
    cents: i64,
    note: Option<String>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "grant_prop_rows", database = "single")]
struct One {
    #[grant(primary_key, manual)]
    id: i64,
    customer_id: i64,
    cents: i64,
    note: Option<String>,
}

impl From<One> for Row {
    fn from(o: One) -> Row {
        Row {
            id: o.id,
            customer_id: o.customer_id,
            cents: o.cents,
            note: o.note,
        }
    }
}

/// A filter, built for both models from the same description.
#[derive(Debug, Clone)]
enum F {
    CentsLt(i64),
    CustomerEq(i64),
    CustomerIn(Vec<i64>),
    CustomerRange(i64, i64),
    NoteNull,
    Or(Box<F>, Box<F>),
    And(Box<F>, Box<F>),
}

fn filter_strategy() -> impl Strategy<Value = F> {
    let leaf = prop_oneof![
        (0i64..25).prop_map(F::CentsLt),
        (0i64..12).prop_map(F::CustomerEq),
        prop::collection::vec(0i64..12, 0..4).prop_map(F::CustomerIn),
        (0i64..12, 0i64..12).prop_map(|(a, b)| F::CustomerRange(a.min(b), a.max(b))),
        Just(F::NoteNull),
    ];
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| F::Or(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| F::And(Box::new(a), Box::new(b))),
        ]
    })
}

/// The same filter on both models: the columns have the same names.
fn expr(f: &F) -> Expr {
    match f {
        F::CentsLt(v) => Row::CENTS.lt(*v),
        F::CustomerEq(v) => Row::CUSTOMER_ID.eq(*v),
        F::CustomerIn(v) => Row::CUSTOMER_ID.is_in(v.clone()),
        F::CustomerRange(a, b) => Row::CUSTOMER_ID.ge(*a).and(Row::CUSTOMER_ID.le(*b)),
        F::NoteNull => Row::NOTE.is_null(),
        F::Or(a, b) => expr(a).or(expr(b)),
        F::And(a, b) => expr(a).and(expr(b)),
    }
}

#[derive(Debug, Clone)]
struct Case {
    rows: Vec<(i64, i64, Option<u8>)>,
    filter: Option<F>,
    /// Order terms by index: 0 cents, 1 note, 2 customer_id; (term, descending).
    order: Vec<(u8, bool)>,
    limit: Option<u64>,
    offset: Option<u64>,
    page: u64,
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec((0i64..12, 0i64..25, prop::option::of(0u8..6)), 0..40),
        prop::option::of(filter_strategy()),
        prop::collection::vec((0u8..3, any::<bool>()), 0..3),
        prop::option::of(0u64..15),
        prop::option::of(0u64..30),
        1u64..7,
    )
        .prop_map(|(rows, filter, order, limit, offset, page)| Case {
            rows,
            filter,
            order,
            limit,
            offset,
            page,
        })
}

fn order_terms(order: &[(u8, bool)]) -> Vec<By> {
    let mut out = Vec::new();
    for &(term, desc) in order {
        let column = match term {
            0 => Row::CENTS.asc(),
            1 => Row::NOTE.asc(),
            _ => Row::CUSTOMER_ID.asc(),
        };
        let o = if desc {
            By {
                direction: grant::query::Direction::Desc,
                ..column
            }
        } else {
            column
        };
        if !out.iter().any(|x: &By| x.column == o.column) {
            out.push(o);
        }
    }
    // A total order, so both sides must agree row for row.
    out.push(Row::ID.asc());
    out
}

async fn load(db: &Grant, case: &Case) {
    Row::query().across_shards().delete_all(db).await.unwrap();
    One::query().delete_all(db).await.unwrap();
    let rows: Vec<Row> = case
        .rows
        .iter()
        .enumerate()
        .map(|(i, &(customer_id, cents, note))| Row {
            id: i as i64 + 1,
            customer_id,
            cents,
            note: note.map(|n| format!("note {n}")),
        })
        .collect();
    for shard in ["s0", "s1", "s2"] {
        let mut mine: Vec<Row> = rows
            .iter()
            .filter(|r| db.shard_of(*r).unwrap().as_deref() == Some(shard))
            .cloned()
            .collect();
        if !mine.is_empty() {
            Row::insert_all(db, &mut mine).await.unwrap();
        }
    }
    let mut ones: Vec<One> = rows
        .iter()
        .map(|r| One {
            id: r.id,
            customer_id: r.customer_id,
            cents: r.cents,
            note: r.note.clone(),
        })
        .collect();
    if !ones.is_empty() {
        One::insert_all(db, &mut ones).await.unwrap();
    }
}

async fn check(db: &Grant, case: Case) -> Result<(), TestCaseError> {
    load(db, &case).await;
    let base_s = || {
        let mut q = Row::query();
        if let Some(f) = &case.filter {
            q = q.filter(expr(f));
        }
        q
    };
    let base_o = || {
        let mut q = One::query();
        if let Some(f) = &case.filter {
            q = q.filter(expr(f));
        }
        q
    };
    let order = order_terms(&case.order);
    let paged = |mut q: grant::Query<Row>| {
        for o in &order {
            q = q.order_by(*o);
        }
        if let Some(l) = case.limit {
            q = q.limit(l);
        }
        if let Some(o) = case.offset {
            q = q.offset(o);
        }
        q
    };
    let paged_one = |mut q: grant::Query<One>| {
        for o in &order {
            q = q.order_by(*o);
        }
        if let Some(l) = case.limit {
            q = q.limit(l);
        }
        if let Some(o) = case.offset {
            q = q.offset(o);
        }
        q
    };
    let got = paged(base_s()).all(db).await.unwrap();
    let want: Vec<Row> = paged_one(base_o())
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(Row::from)
        .collect();
    prop_assert_eq!(&got, &want);
    prop_assert_eq!(
        paged(base_s()).count(db).await.unwrap(),
        paged_one(base_o()).count(db).await.unwrap()
    );
    prop_assert_eq!(
        base_s().exists(db).await.unwrap(),
        base_o().exists(db).await.unwrap()
    );
    prop_assert_eq!(
        paged(base_s()).first(db).await.unwrap(),
        paged_one(base_o()).first(db).await.unwrap().map(Row::from)
    );

    // Aggregates.
    prop_assert_eq!(
        base_s().sum(Row::CENTS, db).await.unwrap(),
        base_o().sum(One::CENTS, db).await.unwrap()
    );
    prop_assert_eq!(
        base_s().avg(Row::CENTS, db).await.unwrap(),
        base_o().avg(One::CENTS, db).await.unwrap()
    );
    prop_assert_eq!(
        base_s().min(Row::CENTS, db).await.unwrap(),
        base_o().min(One::CENTS, db).await.unwrap()
    );
    prop_assert_eq!(
        base_s().max(Row::NOTE, db).await.unwrap(),
        base_o().max(One::NOTE, db).await.unwrap()
    );
    prop_assert_eq!(
        base_s().count_distinct(Row::NOTE, db).await.unwrap(),
        base_o().count_distinct(One::NOTE, db).await.unwrap()
    );
    prop_assert_eq!(
        base_s()
            .group_by(Row::NOTE)
            .count()
            .sum(Row::CENTS)
            .avg(Row::CENTS)
            .max(Row::CUSTOMER_ID)
            .all(db)
            .await
            .unwrap(),
        base_o()
            .group_by(One::NOTE)
            .count()
            .sum(One::CENTS)
            .avg(One::CENTS)
            .max(One::CUSTOMER_ID)
            .all(db)
            .await
            .unwrap()
    );

    // Keyset pages over NOT NULL order columns walk the same rows as one ordered read.
    let keyset_order = [Row::CENTS.desc(), Row::CUSTOMER_ID.asc(), Row::ID.asc()];
    let mut walked = Vec::new();
    let mut last: Option<Row> = None;
    loop {
        let mut q = base_s();
        for o in keyset_order {
            q = q.order_by(o);
        }
        if let Some(l) = &last {
            q = q.after(l);
        }
        let page = q.limit(case.page).all(db).await.unwrap();
        if page.is_empty() {
            break;
        }
        last = page.last().cloned();
        walked.extend(page);
    }
    let mut all = base_o();
    for o in keyset_order {
        all = all.order_by(o);
    }
    let all: Vec<Row> = all
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(Row::from)
        .collect();
    prop_assert_eq!(walked, all);
    Ok(())
}

fn run(engine: Engine, cases: u32) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = rt.block_on(async {
        let (shards, single) = common::shards::urls(&engine, "prop").await;
        let mut primary = DatabaseConfig::new(&shards[0]).sharding(ShardingConfig::new(
            ResolverConfig::Hash { shards: vec![] },
        ));
        for (i, url) in shards.iter().enumerate() {
            primary = primary.shard(format!("s{i}"), ShardConfig::new(url));
        }
        let db = Grant::from_config(
            Config::builder()
                .database("primary", primary)
                .database("single", DatabaseConfig::new(&single))
                .default_database("primary")
                .build()
                .unwrap(),
        )
        .unwrap();
        let create = engine.ddl(
            "CREATE TABLE grant_prop_rows (id {i64} PRIMARY KEY, customer_id {i64} NOT NULL, cents {i64} NOT NULL, note {text})",
        );
        for s in ["s0", "s1", "s2"] {
            raw("DROP TABLE IF EXISTS grant_prop_rows").execute(db.on_shard(s)).await.unwrap();
            raw(AssertSqlSafe(create.clone())).execute(db.on_shard(s)).await.unwrap();
        }
        raw("DROP TABLE IF EXISTS grant_prop_rows").on("single").execute(&db).await.unwrap();
        raw(AssertSqlSafe(create)).on("single").execute(&db).await.unwrap();
        db
    });
    let mut runner = TestRunner::new(RunnerConfig {
        cases,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    runner
        .run(&case_strategy(), |case| rt.block_on(check(&db, case)))
        .unwrap();
    rt.block_on(db.close());
}

#[test]
fn sharded_equals_one_database_on_sqlite() {
    run(Engine::sqlite("prop"), 128);
}

#[test]
fn sharded_equals_one_database_on_postgres() {
    let Some(engine) = Engine::postgres() else {
        eprintln!("skipped: GRANT_TEST_POSTGRES_URL is not set");
        return;
    };
    run(engine, 64);
}

#[test]
fn sharded_equals_one_database_on_mariadb() {
    let Some(engine) = Engine::mariadb() else {
        eprintln!("skipped: GRANT_TEST_MARIADB_URL is not set");
        return;
    };
    run(engine, 64);
}
