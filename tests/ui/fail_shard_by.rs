// `#[shard_by(..)]` names stored fields of a type a resolver can take, each once, and is
// given once; every misuse points at the field or attribute at fault.
use grant::Model;

#[derive(Model)]
#[shard_by(tenant)]
struct UnknownField {
    id: i64,
    customer_id: i64,
}

#[derive(Model)]
#[shard_by(score)]
struct FloatKey {
    id: i64,
    score: f64,
}

#[derive(Model)]
#[shard_by(region)]
struct OptionalKey {
    id: i64,
    region: Option<String>,
}

#[derive(Model)]
#[shard_by(customer_id)]
#[shard_by(id)]
struct Repeated {
    id: i64,
    customer_id: i64,
}

#[derive(Model)]
#[shard_by(customer_id, customer_id)]
struct Twice {
    id: i64,
    customer_id: i64,
}

#[derive(Model)]
#[shard_by()]
struct Empty {
    id: i64,
}

#[derive(Model)]
#[shard_by(cache)]
struct Skipped {
    id: i64,
    #[grant(skip)]
    cache: i64,
}

#[derive(Model)]
#[shard_by(customer_id = 3)]
struct NotAName {
    id: i64,
    customer_id: i64,
}

fn main() {}
