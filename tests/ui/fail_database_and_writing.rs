use grant::Model;

#[derive(Model)]
#[grant(database = "a")]
#[connects_to(writing = "b")]
struct User {
    id: i64,
}

fn main() {}
