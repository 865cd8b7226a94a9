//! Shards: a database with three shards (SQLite files here) and a stable-hash resolver;
//! `#[shard_by(customer_id)]` routes every statement of `Order` by its customer: writes
//! and lookups by key go to one shard, queries without the key are sent to every shard in
//! parallel and merged (ORDER BY / LIMIT / OFFSET applied once, aggregates combined). A
//! transaction is pinned to one shard. An unknown shard is a typed error.
//!
//! `cargo run --example sharding`

use grant::{connection, raw, Config, Error, Grant, Model};

#[derive(Model, Debug, Clone)]
#[grant(table = "orders")]
#[shard_by(customer_id)]
struct Order {
    #[grant(primary_key, manual)]
    id: i64,
    customer_id: i64,
    cents: i64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join("grant-sharding");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let url = |name: &str| format!("sqlite://{}/{name}.db", dir.display());

    let db = Grant::from_config(Config::from_toml_str(&format!(
        r#"
        [databases.primary]
        url = "{default}"
        shards.shard_1 = {{ url = "{s1}" }}
        shards.shard_2 = {{ url = "{s2}" }}
        shards.shard_3 = {{ url = "{s3}" }}

        [databases.primary.sharding]
        resolver = "hash"   # the same shard for a key in every process, forever
        concurrency = 3     # shards queried at once by a scatter
        timeout = "5s"      # one deadline for a whole scatter
        "#,
        default = url("orders_default"),
        s1 = url("shard_1"),
        s2 = url("shard_2"),
        s3 = url("shard_3"),
    ))?)?;

    // `each_shard` runs in a scope on every shard (Rails' connected_to_all_shards).
    for (shard, created) in db
        .each_shard("primary", |_| async {
            raw("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, cents INTEGER NOT NULL)")
                .execute(&db)
                .await
        })
        .await?
    {
        created?;
        println!("{shard}: table created");
    }

    // Writes go to the shard of their key.
    for id in 1..=12i64 {
        let mut order = Order {
            id,
            customer_id: id % 6,
            cents: id * 1_000,
        };
        order.insert(&db).await?;
    }
    for customer in 0..6i64 {
        let shard = db.shard_of(&Order {
            id: 0,
            customer_id: customer,
            cents: 0,
        })?;
        println!("customer {customer} -> {}", shard.unwrap_or_default());
    }

    // By key: one shard. Without the key: every shard, merged.
    let mine = Order::query()
        .filter(Order::CUSTOMER_ID.eq(3))
        .all(&db)
        .await?;
    println!("customer 3: {} orders", mine.len());
    let report = Order::query()
        .order_by(Order::CENTS.desc())
        .limit(3)
        .offset(2)
        .all_with_report(&db)
        .await?;
    let cents: Vec<i64> = report.rows.iter().map(|o| o.cents).collect();
    println!("3rd to 5th biggest orders across shards: {cents:?}");
    assert_eq!(cents, [10_000, 9_000, 8_000]);
    for outcome in &report.shards {
        println!(
            "  {}: {} rows in {:?}",
            outcome.shard.as_deref().unwrap_or("-"),
            outcome.rows,
            outcome.elapsed
        );
    }
    let total = Order::query().sum(Order::CENTS, &db).await?;
    let per_customer = Order::query()
        .group_by(Order::CUSTOMER_ID)
        .count()
        .sum(Order::CENTS)
        .all(&db)
        .await?;
    println!("total {total:?}; per customer {per_customer:?}");

    // find by primary key without the shard key: a scatter that stops at the first hit.
    let order = Order::get(&db, 7).await?;
    println!("order 7 belongs to customer {}", order.customer_id);

    // A transaction is pinned to one shard; straying is refused and nothing commits.
    let home = db.shard_of(&order)?.unwrap_or_default();
    let mut tx = db.on_shard(&home).begin().await?;
    let mut same = Order {
        id: 100,
        customer_id: order.customer_id,
        cents: 1,
    };
    same.insert(&mut tx).await?;
    let stray_customer = (0..6)
        .find(|c| {
            db.shard_of(&Order {
                id: 0,
                customer_id: *c,
                cents: 0,
            })
            .ok()
            .flatten()
                != Some(home.clone())
        })
        .expect("another shard");
    let mut stray = Order {
        id: 101,
        customer_id: stray_customer,
        cents: 1,
    };
    match stray.insert(&mut tx).await {
        Err(e @ Error::WrongShard { .. }) => println!("refused in the transaction: {e}"),
        other => return Err(format!("expected WrongShard, got {other:?}").into()),
    }
    tx.rollback().await?;
    assert!(Order::find(&db, 100).await?.is_none());

    // An explicit shard, and an unknown one.
    let n = connection()
        .shard("shard_2")
        .run(Order::query().count(&db))
        .await?;
    println!("shard_2 holds {n} orders");
    match Order::query().count(db.on_shard("shard_9")).await {
        Err(e) => println!("unknown shard: {e}"),
        Ok(_) => return Err("shard_9 answered".into()),
    }
    db.close().await;
    Ok(())
}
