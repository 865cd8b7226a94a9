//! Shards: a database with three shards (SQLite files here), a stable-hash resolver that
//! maps a customer id to a shard identically in every process, and `connection().shard(..)`
//! scopes that route statements to it. An unknown shard is a typed error.
//!
//! `cargo run --example sharding`

use grant::sharding::{ShardResolver, StableHash};
use grant::{connection, raw, Config, DatabaseConfig, Grant, Model, Role, ShardConfig};

#[derive(Model, Debug, Clone)]
#[grant(table = "orders")]
struct Order {
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

    let shards = ["shard_1", "shard_2", "shard_3"];
    let mut orders = DatabaseConfig::new(url("orders_default"));
    for s in shards {
        orders = orders.shard(s, ShardConfig::new(url(s)));
    }
    let db = Grant::from_config(Config::builder().database("primary", orders).build()?)?;
    let resolver = StableHash::new(shards)?;

    for s in shards {
        connection()
            .shard(s)
            .run(raw("CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, customer_id INTEGER NOT NULL, cents INTEGER NOT NULL)").execute(&db))
            .await?;
    }

    for customer in 1..=9i64 {
        let shard = resolver.resolve(&customer.into())?.to_string();
        let mut order = Order {
            id: 0,
            customer_id: customer,
            cents: customer * 1_000,
        };
        connection()
            .role(Role::Writing)
            .shard(&shard)
            .run(order.insert(&db))
            .await?;
        println!("customer {customer} -> {shard}");
    }

    for s in shards {
        let n = connection().shard(s).run(Order::query().count(&db)).await?;
        println!("{s}: {n} orders");
    }

    let customer = 7i64;
    let shard = resolver.resolve(&customer.into())?.to_string();
    let mine = connection()
        .shard(&shard)
        .run(
            Order::query()
                .filter(Order::CUSTOMER_ID.eq(customer))
                .all(&db),
        )
        .await?;
    println!("customer {customer}'s orders, read from {shard}: {mine:?}");

    match connection()
        .shard("shard_9")
        .run(Order::query().count(&db))
        .await
    {
        Err(e) => println!("unknown shard: {e}"),
        Ok(_) => println!("unexpected: shard_9 answered"),
    }
    db.close().await;
    Ok(())
}
