// `connects_to(shards(..))`: each shard names its writing entry, known roles only, each
// shard once, and not together with the model's own writer or a shard key.
use grant::Model;

#[derive(Model)]
#[connects_to(shards(one(reading = "r")))]
struct NoWriter {
    id: i64,
}

#[derive(Model)]
#[connects_to(shards(one(writing = "a", admin = "b")))]
struct UnknownRole {
    id: i64,
}

#[derive(Model)]
#[connects_to(shards(one(writing = "a"), one(writing = "b")))]
struct Twice {
    id: i64,
}

#[derive(Model)]
#[connects_to(writing = "primary", shards(one(writing = "a")))]
struct WithWriter {
    id: i64,
}

#[derive(Model)]
#[shard_by(tenant)]
#[connects_to(shards(one(writing = "a")))]
struct WithShardKey {
    id: i64,
    tenant: i64,
}

fn main() {}
