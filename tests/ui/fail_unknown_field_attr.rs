use grant::Model;

#[derive(Model)]
struct User {
    #[grant(primary)]
    id: i64,
    name: String,
}

fn main() {}
