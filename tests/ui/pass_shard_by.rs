//! `#[shard_by]` with one key, a composite key, and a key after a skipped field: the
//! indexes point into the stored columns.

use grant::Model;

#[derive(Model)]
#[shard_by(customer_id)]
struct Order {
    id: i64,
    customer_id: i64,
}

#[derive(Model)]
#[shard_by(region, tenant)]
struct Tenant {
    #[grant(skip)]
    scratch: Vec<String>,
    id: i64,
    tenant: String,
    region: String,
}

#[derive(Model)]
#[shard_by(day)]
struct Price {
    #[grant(primary_key, manual)]
    id: uuid::Uuid,
    day: chrono::NaiveDate,
}

#[derive(Model)]
#[connects_to(shards(
    shard_one(writing = "primary_shard_one", reading = "primary_shard_one_replica"),
    shard_two(writing = "primary_shard_two"),
))]
struct Rails {
    #[grant(primary_key, generate = "snowflake")]
    id: i64,
}

fn main() {
    let rails = <Rails as Model>::META;
    assert_eq!(rails.shards.len(), 2);
    assert_eq!(rails.shards[0].name, "shard_one");
    assert_eq!(rails.shards[0].reading, Some("primary_shard_one_replica"));
    assert_eq!(rails.shards[1].writing, "primary_shard_two");
    assert_eq!(rails.generate, Some(grant::Generate::Snowflake));
    assert!(!rails.auto_increment);
    assert_eq!(<Order as Model>::META.shard_key, &[1]);
    let meta = <Tenant as Model>::META;
    let names: Vec<&str> = meta.shard_key.iter().map(|&i| meta.columns[i].name).collect();
    assert_eq!(names, ["region", "tenant"]);
    assert_eq!(<Price as Model>::META.shard_key, &[1]);
}
