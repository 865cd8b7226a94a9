// `generate` makes Grant write the primary key: only on the key, of the generator's type,
// a known generator, given once, and not together with `manual`.
use grant::Model;

#[derive(Model)]
struct NotTheKey {
    id: i64,
    #[grant(generate = "snowflake")]
    other: i64,
}

#[derive(Model)]
struct WrongType {
    #[grant(primary_key, generate = "snowflake")]
    id: String,
}

#[derive(Model)]
struct UuidNeedsUuid {
    #[grant(primary_key, generate = "uuid_v7")]
    id: i64,
}

#[derive(Model)]
struct Unknown {
    #[grant(primary_key, generate = "serial")]
    id: i64,
}

#[derive(Model)]
struct Twice {
    #[grant(primary_key, generate = "snowflake", generate = "snowflake")]
    id: i64,
}

#[derive(Model)]
struct Manual {
    #[grant(primary_key, manual, generate = "snowflake")]
    id: i64,
}

fn main() {}
