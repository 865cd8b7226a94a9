//! Sharding on every engine: routing by key for every entry point (find, get, insert,
//! insert_all, update, delete, queries with =, IN, OR, no key), pruning, explicit sources
//! (on_shard, a shard scope, a transaction), scatter-gather results equal to the same query
//! on one database, deny-scatter, shard-key changes, cross-shard writes, transactions
//! pinned to a shard.
//!
//! SQLite runs on files; PostgreSQL and MariaDB on `grant_shard_1`, `grant_shard_2` and
//! `grant_test` of the server in `GRANT_TEST_POSTGRES_URL` / `GRANT_TEST_MARIADB_URL`
//! (plus `grant_single`, created here, as the one-database reference). Server tests skip
//! with a message when their URL is not set.

mod common;

use common::Engine;
use grant::{
    connection, raw, AssertSqlSafe, Config, DatabaseConfig, Error, Grant, Model, ResolverConfig,
    ShardConfig, ShardingConfig,
};

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "grant_sharded_orders")]
#[shard_by(customer_id)]
struct Order {
    #[grant(primary_key, manual)]
    id: i64,
    customer_id: i64,
    cents: i64,
    note: Option<String>,
}

/// The same rows, in the one-database reference.
#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "grant_sharded_orders", database = "single")]
struct SingleOrder {
    #[grant(primary_key, manual)]
    id: i64,
    customer_id: i64,
    cents: i64,
    note: Option<String>,
}

impl From<SingleOrder> for Order {
    fn from(o: SingleOrder) -> Order {
        Order {
            id: o.id,
            customer_id: o.customer_id,
            cents: o.cents,
            note: o.note,
        }
    }
}

const SHARDS: [&str; 3] = ["s0", "s1", "s2"];

/// `primary` with shards s0..s2 by `customer_id % 3`, and `single` (the reference).
fn sharded(shard_urls: &[String; 3], single: &str) -> Grant {
    let mut primary =
        DatabaseConfig::new(&shard_urls[0]).sharding(ShardingConfig::new(ResolverConfig::Modulo {
            shards: SHARDS.iter().map(|s| s.to_string()).collect(),
        }));
    for (name, url) in SHARDS.iter().zip(shard_urls) {
        primary = primary.shard(*name, ShardConfig::new(url));
    }
    Grant::from_config(
        Config::builder()
            .database("primary", primary)
            .database("single", DatabaseConfig::new(single))
            .default_database("primary")
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn create_sql(engine: &Engine) -> String {
    engine.ddl(
        "CREATE TABLE grant_sharded_orders (id {i64} PRIMARY KEY, customer_id {i64} NOT NULL, cents {i64} NOT NULL, note {text})",
    )
}

async fn setup(engine: &Engine, tag: &str) -> Grant {
    let (shard_urls, single) = common::shards::urls(engine, tag).await;
    let db = sharded(&shard_urls, &single);
    let create = create_sql(engine);
    let created = db
        .each_shard("primary", |_| {
            let create = create.clone();
            let db = &db;
            async move {
                raw("DROP TABLE IF EXISTS grant_sharded_orders")
                    .execute(db)
                    .await?;
                raw(AssertSqlSafe(create)).execute(db).await
            }
        })
        .await
        .unwrap();
    assert_eq!(created.len(), 3);
    for (shard, r) in created {
        r.unwrap_or_else(|e| panic!("{shard}: {e}"));
    }
    raw("DROP TABLE IF EXISTS grant_sharded_orders")
        .on("single")
        .execute(&db)
        .await
        .unwrap();
    raw(AssertSqlSafe(create))
        .on("single")
        .execute(&db)
        .await
        .unwrap();
    db
}

fn row(i: i64) -> Order {
    Order {
        id: i,
        customer_id: i % 10,
        cents: (i * 37) % 23,
        note: (i % 4 != 0).then(|| format!("n{:02}", (i * 7) % 11)),
    }
}

async fn load(db: &Grant, n: i64) -> Vec<Order> {
    let mut rows = Vec::new();
    for i in 1..=n {
        let mut o = row(i);
        o.insert(db).await.unwrap();
        let mut s = SingleOrder {
            id: o.id,
            customer_id: o.customer_id,
            cents: o.cents,
            note: o.note.clone(),
        };
        s.insert(db).await.unwrap();
        rows.push(o);
    }
    rows
}

fn shard_of_customer(c: i64) -> &'static str {
    SHARDS[(c % 3) as usize]
}

async fn scenario(engine: Engine, tag: &str) {
    let db = setup(&engine, tag).await;
    let rows = load(&db, 30).await;

    // Writes went to the shard of their key.
    for s in SHARDS {
        let n = Order::query().count(db.on_shard(s)).await.unwrap();
        let expected = rows
            .iter()
            .filter(|o| shard_of_customer(o.customer_id) == s)
            .count() as i64;
        assert_eq!(n, expected, "rows on {s}");
    }
    assert_eq!(
        db.shard_of(&rows[4]).unwrap().as_deref(),
        Some(shard_of_customer(rows[4].customer_id))
    );

    // find / get by primary key (not the shard key): a scatter that stops at the hit.
    for o in &rows {
        assert_eq!(Order::find(&db, o.id).await.unwrap().as_ref(), Some(o));
    }
    assert!(Order::find(&db, 999).await.unwrap().is_none());
    assert!(matches!(
        Order::get(&db, 999).await.unwrap_err(),
        Error::NotFound { .. }
    ));

    // key = v: one shard.
    let report = Order::query()
        .filter(Order::CUSTOMER_ID.eq(4))
        .all_with_report(&db)
        .await
        .unwrap();
    assert_eq!(report.shards.len(), 1);
    assert_eq!(
        report.shards[0].shard.as_deref(),
        Some(shard_of_customer(4))
    );
    assert!(report.rows.iter().all(|o| o.customer_id == 4));
    assert_eq!(report.rows.len(), 3);
    // key IN (..) and OR: only the shards that can hold rows.
    let report = Order::query()
        .filter(Order::CUSTOMER_ID.is_in([1, 4, 7]))
        .all_with_report(&db)
        .await
        .unwrap();
    assert_eq!(report.shards.len(), 1, "1, 4, 7 all live on s1");
    let report = Order::query()
        .filter(Order::CUSTOMER_ID.eq(1).or(Order::CUSTOMER_ID.eq(2)))
        .all_with_report(&db)
        .await
        .unwrap();
    let visited: Vec<_> = report
        .shards
        .iter()
        .map(|o| o.shard.clone().unwrap())
        .collect();
    assert_eq!(visited, ["s1", "s2"]);
    assert_eq!(report.rows.len(), 6);
    // No key: every shard.
    let report = Order::query().all_with_report(&db).await.unwrap();
    assert_eq!(report.shards.len(), 3);
    assert!(report.is_complete());
    assert_eq!(report.rows.len(), 30);

    // Scatter-gather equals the same query on one database.
    use grant::query::Order as By;
    let pages: Vec<(Vec<By>, Option<u64>, Option<u64>)> = vec![
        (vec![Order::CENTS.desc(), Order::ID.asc()], Some(7), Some(5)),
        (vec![Order::NOTE.asc(), Order::ID.desc()], Some(10), None),
        (vec![Order::NOTE.desc(), Order::ID.asc()], None, Some(3)),
        (
            vec![
                Order::CUSTOMER_ID.asc(),
                Order::CENTS.asc(),
                Order::ID.asc(),
            ],
            Some(4),
            Some(26),
        ),
        (vec![Order::ID.asc()], Some(0), None),
        (vec![Order::ID.asc()], Some(5), Some(40)),
    ];
    for (order, limit, offset) in pages {
        let mut q = Order::query().filter(Order::CENTS.gt(2));
        let mut r = SingleOrder::query().filter(SingleOrder::CENTS.gt(2));
        for o in &order {
            q = q.order_by(*o);
            r = r.order_by(*o);
        }
        if let Some(l) = limit {
            q = q.limit(l);
            r = r.limit(l);
        }
        if let Some(o) = offset {
            q = q.offset(o);
            r = r.offset(o);
        }
        let expected: Vec<Order> = r
            .clone()
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(Order::from)
            .collect();
        assert_eq!(
            q.clone().all(&db).await.unwrap(),
            expected,
            "{order:?} {limit:?} {offset:?}"
        );
        assert_eq!(
            q.count(&db).await.unwrap(),
            r.count(&db).await.unwrap(),
            "count {order:?} {limit:?} {offset:?}"
        );
    }
    // first, exists, count over every shard.
    assert_eq!(
        Order::query().first(&db).await.unwrap().map(|o| o.id),
        Some(1)
    );
    assert!(Order::query()
        .filter(Order::CENTS.eq(22))
        .exists(&db)
        .await
        .unwrap());
    assert!(!Order::query()
        .filter(Order::CENTS.gt(100))
        .exists(&db)
        .await
        .unwrap());
    assert_eq!(Order::query().count(&db).await.unwrap(), 30);

    // Aggregates across shards equal the same aggregates on one database.
    for filter in [None, Some(7i64), Some(100)] {
        let q = || match filter {
            Some(c) => Order::query().filter(Order::CENTS.lt(c)),
            None => Order::query(),
        };
        let r = || match filter {
            Some(c) => SingleOrder::query().filter(SingleOrder::CENTS.lt(c)),
            None => SingleOrder::query(),
        };
        assert_eq!(
            q().sum(Order::CENTS, &db).await.unwrap(),
            r().sum(SingleOrder::CENTS, &db).await.unwrap()
        );
        assert_eq!(
            q().avg(Order::CENTS, &db).await.unwrap(),
            r().avg(SingleOrder::CENTS, &db).await.unwrap()
        );
        assert_eq!(
            q().min(Order::NOTE, &db).await.unwrap(),
            r().min(SingleOrder::NOTE, &db).await.unwrap()
        );
        assert_eq!(
            q().max(Order::CENTS, &db).await.unwrap(),
            r().max(SingleOrder::CENTS, &db).await.unwrap()
        );
        assert_eq!(
            q().count_distinct(Order::NOTE, &db).await.unwrap(),
            r().count_distinct(SingleOrder::NOTE, &db).await.unwrap()
        );
        assert_eq!(
            q().count_distinct(Order::CENTS, &db).await.unwrap(),
            r().count_distinct(SingleOrder::CENTS, &db).await.unwrap()
        );
    }
    let total: i64 = rows.iter().map(|o| o.cents).sum();
    assert_eq!(
        Order::query().sum(Order::CENTS, &db).await.unwrap(),
        Some(total)
    );
    assert_eq!(
        Order::query()
            .filter(Order::CENTS.gt(1000))
            .sum(Order::CENTS, &db)
            .await
            .unwrap(),
        None
    );
    // The same value on several shards counts once.
    let distinct_cents = {
        let mut v: Vec<i64> = rows.iter().map(|o| o.cents).collect();
        v.sort();
        v.dedup();
        v.len() as i64
    };
    assert_eq!(
        Order::query()
            .count_distinct(Order::CENTS, &db)
            .await
            .unwrap(),
        distinct_cents
    );
    assert!(matches!(
        Order::query()
            .limit(3)
            .sum(Order::CENTS, &db)
            .await
            .unwrap_err(),
        Error::InvalidQuery { .. }
    ));

    // GROUP BY, merged by group across shards, equals one database's.
    let sharded_groups = Order::query()
        .filter(Order::CENTS.gt(1))
        .group_by(Order::NOTE)
        .count()
        .sum(Order::CENTS)
        .avg(Order::CENTS)
        .min(Order::CUSTOMER_ID)
        .max(Order::CENTS)
        .all(&db)
        .await
        .unwrap();
    let single_groups = SingleOrder::query()
        .filter(SingleOrder::CENTS.gt(1))
        .group_by(SingleOrder::NOTE)
        .count()
        .sum(SingleOrder::CENTS)
        .avg(SingleOrder::CENTS)
        .min(SingleOrder::CUSTOMER_ID)
        .max(SingleOrder::CENTS)
        .all(&db)
        .await
        .unwrap();
    assert!(sharded_groups.len() > 5);
    assert_eq!(sharded_groups, single_groups);
    let by_two = Order::query()
        .group_by(Order::CUSTOMER_ID)
        .then_by(Order::NOTE)
        .count()
        .all(&db)
        .await
        .unwrap();
    let single_two = SingleOrder::query()
        .group_by(SingleOrder::CUSTOMER_ID)
        .then_by(SingleOrder::NOTE)
        .count()
        .all(&db)
        .await
        .unwrap();
    assert_eq!(by_two, single_two);
    // By the shard key: one shard, and the same groups.
    let one_shard = Order::query()
        .filter(Order::CUSTOMER_ID.eq(4))
        .group_by(Order::CUSTOMER_ID)
        .count()
        .all(&db)
        .await
        .unwrap();
    assert_eq!(one_shard.len(), 1);
    assert_eq!(one_shard[0].values, [grant::Value::I64(3)]);
    assert!(matches!(
        Order::query()
            .group_by(Order::NOTE)
            .max(Order::NOTE)
            .all(&db)
            .await
            .unwrap_err(),
        Error::InvalidQuery { .. }
    ));

    // Keyset pages walk every row in order, the same as on one database.
    let mut walked = Vec::new();
    let mut last: Option<Order> = None;
    loop {
        let mut q = Order::query()
            .order_by(Order::CENTS.desc())
            .order_by(Order::ID.asc())
            .limit(4);
        if let Some(l) = &last {
            q = q.after(l);
        }
        let page = q.all(&db).await.unwrap();
        if page.is_empty() {
            break;
        }
        last = page.last().cloned();
        walked.extend(page);
    }
    let reference: Vec<Order> = SingleOrder::query()
        .order_by(SingleOrder::CENTS.desc())
        .order_by(SingleOrder::ID.asc())
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(Order::from)
        .collect();
    assert_eq!(walked, reference);
    assert!(matches!(
        Order::query()
            .order_by(Order::NOTE.asc())
            .after(&rows[0])
            .all(&db)
            .await
            .unwrap_err(),
        Error::InvalidQuery { .. }
    ));

    // A row copied onto two shards: returned twice, or once with dedupe().
    let mut copy = row(500);
    copy.insert(db.on_shard("s0")).await.unwrap();
    copy.insert(db.on_shard("s1")).await.unwrap();
    let twice = Order::query()
        .filter(Order::ID.eq(500))
        .all(&db)
        .await
        .unwrap();
    assert_eq!(twice.len(), 2);
    let once = Order::query()
        .filter(Order::ID.ge(499))
        .order_by(Order::ID.asc())
        .dedupe()
        .all(&db)
        .await
        .unwrap();
    assert_eq!(once, [copy.clone()]);
    let once = Order::query()
        .filter(Order::ID.ge(499))
        .dedupe()
        .all(&db)
        .await
        .unwrap();
    assert_eq!(once.len(), 1);
    raw("DELETE FROM grant_sharded_orders WHERE id = 500")
        .execute(db.on_shard("s0"))
        .await
        .unwrap();
    raw("DELETE FROM grant_sharded_orders WHERE id = 500")
        .execute(db.on_shard("s1"))
        .await
        .unwrap();

    // Deny scatter for the call: a query without the key is refused, naming model and key.
    let err = Order::query().deny_scatter().all(&db).await.unwrap_err();
    match &err {
        Error::ScatterDenied { model, key } => {
            assert_eq!(*model, "Order");
            assert_eq!(key, "customer_id");
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        Order::query()
            .deny_scatter()
            .filter(Order::CUSTOMER_ID.eq(3))
            .count(&db)
            .await
            .unwrap(),
        3
    );

    // Explicit source wins: on_shard and a shard scope.
    let only_s2 = Order::query().count(db.on_shard("s2")).await.unwrap();
    let scoped = connection()
        .shard("s2")
        .run(Order::query().count(&db))
        .await
        .unwrap();
    assert_eq!(only_s2, scoped);
    assert!(matches!(
        Order::query().count(db.on_shard("s9")).await.unwrap_err(),
        Error::UnknownShard { ref shard, .. } if shard == "s9"
    ));

    // update: same shard fine; a key that moves the row is refused, nothing changed.
    let mut o = rows[0].clone(); // customer 1 -> s1
    o.cents = 1000;
    assert!(o.update(&db).await.unwrap());
    o.customer_id = 4; // still s1
    assert!(o.update(&db).await.unwrap());
    o.customer_id = 5; // s2
    match o.update(&db).await.unwrap_err() {
        Error::ShardKeyChanged { from, to, .. } => {
            assert_eq!((&*from, &*to), ("s1", "s2"));
        }
        other => panic!("{other}"),
    }
    let stored = Order::get(&db, o.id).await.unwrap();
    assert_eq!((stored.customer_id, stored.cents), (4, 1000));

    // delete goes to the row's shard.
    assert!(stored.delete(&db).await.unwrap());
    assert!(Order::find(&db, stored.id).await.unwrap().is_none());

    // insert_all: one shard fine, several refused with nothing written.
    let mut same = vec![row(101), row(111)]; // customers 1, 1
    same[1].customer_id = 4;
    assert_eq!(Order::insert_all(&db, &mut same).await.unwrap(), 2);
    let mut mixed = vec![row(121), row(122)]; // customers 1, 2
    assert!(matches!(
        Order::insert_all(&db, &mut mixed).await.unwrap_err(),
        Error::CrossShardWrite {
            op: "insert_all",
            shards: 2,
            ..
        }
    ));
    assert!(Order::find(&db, 121).await.unwrap().is_none());

    // update_all / delete_all over several shards need the opt-in.
    let before = Order::query().count(&db).await.unwrap();
    let err = Order::query()
        .filter(Order::CENTS.lt(5))
        .update_all(&db, [Order::NOTE.set("low")])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::CrossShardWrite {
                op: "update_all",
                shards: 3,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        Order::query()
            .filter(Order::NOTE.eq("low"))
            .count(&db)
            .await
            .unwrap(),
        0
    );
    let low = Order::query()
        .filter(Order::CENTS.lt(5))
        .count(&db)
        .await
        .unwrap();
    let per_shard = Order::query()
        .filter(Order::CENTS.lt(5))
        .across_shards()
        .update_all_by_shard(&db, [Order::NOTE.set("low")])
        .await
        .unwrap();
    assert_eq!(per_shard.len(), 3);
    assert_eq!(per_shard.iter().map(|(_, n)| *n as i64).sum::<i64>(), low);
    assert_eq!(
        Order::query()
            .filter(Order::NOTE.eq("low"))
            .count(&db)
            .await
            .unwrap(),
        low
    );
    // One shard by key: no opt-in needed.
    let n = Order::query()
        .filter(Order::CUSTOMER_ID.eq(9))
        .delete_all(&db)
        .await
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(Order::query().count(&db).await.unwrap(), before - 3);

    // A transaction is pinned to its shard: a stray statement is refused, nothing commits.
    let mut tx = db.on_shard("s1").begin().await.unwrap();
    assert_eq!(tx.shard(), Some("s1"));
    let mut here = row(201); // customer 1 -> s1
    here.insert(&mut tx).await.unwrap();
    let mut stray = row(202); // customer 2 -> s2
    match stray.insert(&mut tx).await.unwrap_err() {
        Error::WrongShard {
            transaction,
            statement,
            ..
        } => {
            assert_eq!(transaction.as_deref(), Some("s1"));
            assert_eq!(statement, "s2");
        }
        other => panic!("{other}"),
    }
    assert!(matches!(
        Order::query()
            .filter(Order::CUSTOMER_ID.eq(5))
            .all(&mut tx)
            .await
            .unwrap_err(),
        Error::WrongShard { .. }
    ));
    // In the transaction, a query without the key reads the transaction's shard.
    let in_tx = Order::query().count(&mut tx).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        in_tx,
        Order::query().count(db.on_shard("s1")).await.unwrap() + 1
    );
    assert!(Order::find(&db, 201).await.unwrap().is_none());
    assert!(Order::find(&db, 202).await.unwrap().is_none());

    db.close().await;
}

#[tokio::test]
async fn sharding_on_sqlite() {
    scenario(Engine::sqlite("shard"), "shard").await;
}

#[tokio::test]
async fn sharding_on_postgres() {
    let Some(engine) = Engine::postgres() else {
        eprintln!("skipped: GRANT_TEST_POSTGRES_URL is not set");
        return;
    };
    scenario(engine, "pg").await;
}

#[tokio::test]
async fn sharding_on_mariadb() {
    let Some(engine) = Engine::mariadb() else {
        eprintln!("skipped: GRANT_TEST_MARIADB_URL is not set");
        return;
    };
    scenario(engine, "maria").await;
}

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "grant_sharded_tags")]
#[shard_by(customer_id)]
struct Tag {
    #[grant(primary_key, manual)]
    id: i64,
    customer_id: i64,
    label: String,
}

/// Keyset pages over a text order column, across shards: the page predicate compares text
/// the way the merge orders it (by code point), whatever the engine's collation (MariaDB's
/// default is case-insensitive), so every row comes once, in code point order.
async fn keyset_on_text(engine: Engine, tag: &str) {
    let (shard_urls, single) = common::shards::urls(&engine, tag).await;
    let db = sharded(&shard_urls, &single);
    let create = engine.ddl(
        "CREATE TABLE grant_sharded_tags (id {i64} PRIMARY KEY, customer_id {i64} NOT NULL, label {text} NOT NULL)",
    );
    for s in SHARDS {
        raw("DROP TABLE IF EXISTS grant_sharded_tags")
            .execute(db.on_shard(s))
            .await
            .unwrap();
        raw(AssertSqlSafe(create.clone()))
            .execute(db.on_shard(s))
            .await
            .unwrap();
    }
    let labels = ["b", "B", "a", "A", "Z", "z", "_x", "a", "Ab", "aB", "b"];
    for (i, label) in labels.iter().enumerate() {
        Tag {
            id: i as i64 + 1,
            customer_id: i as i64,
            label: label.to_string(),
        }
        .insert(&db)
        .await
        .unwrap();
    }
    let mut expected: Vec<(String, i64)> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.to_string(), i as i64 + 1))
        .collect();
    expected.sort();
    let mut walked = Vec::new();
    let mut last: Option<Tag> = None;
    loop {
        let mut q = Tag::query()
            .order_by(Tag::LABEL.asc())
            .order_by(Tag::ID.asc())
            .limit(2);
        if let Some(l) = &last {
            q = q.after(l);
        }
        let page = q.all(&db).await.unwrap();
        if page.is_empty() {
            break;
        }
        last = page.last().cloned();
        walked.extend(page.into_iter().map(|t| (t.label, t.id)));
    }
    assert_eq!(walked, expected);
    // One shard by key: the same order there.
    let one: Vec<i64> = Tag::query()
        .filter(Tag::CUSTOMER_ID.is_in([0, 3, 6, 9]))
        .order_by(Tag::LABEL.asc())
        .order_by(Tag::ID.asc())
        .after(&Tag {
            id: 0,
            customer_id: 0,
            label: "A".into(),
        })
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    let want: Vec<i64> = expected
        .iter()
        .filter(|(l, id)| (id - 1) % 3 == 0 && l.as_str() >= "A")
        .map(|(_, id)| *id)
        .collect();
    assert_eq!(one, want);
    db.close().await;
}

#[tokio::test]
async fn keyset_on_text_on_sqlite() {
    keyset_on_text(Engine::sqlite("tags"), "tags").await;
}

#[tokio::test]
async fn keyset_on_text_on_postgres() {
    let Some(engine) = Engine::postgres() else {
        eprintln!("skipped: GRANT_TEST_POSTGRES_URL is not set");
        return;
    };
    keyset_on_text(engine, "pg-tags").await;
}

#[tokio::test]
async fn keyset_on_text_on_mariadb() {
    let Some(engine) = Engine::mariadb() else {
        eprintln!("skipped: GRANT_TEST_MARIADB_URL is not set");
        return;
    };
    keyset_on_text(engine, "maria-tags").await;
}
