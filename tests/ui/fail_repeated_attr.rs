// Every attribute is given once: a repeat is an error pointing at it.
use grant::Model;

#[derive(Model)]
#[grant(table = "a", table = "b")]
struct Table {
    id: i64,
}

#[derive(Model)]
#[connects_to(reading = "one")]
#[connects_to(reading = "two")]
struct Reading {
    id: i64,
}

#[derive(Model)]
struct Renamed {
    id: i64,
    #[grant(rename = "a")]
    #[grant(rename = "b")]
    name: String,
}

#[derive(Model)]
struct Key {
    #[grant(primary_key, primary_key)]
    id: i64,
}

fn main() {}
