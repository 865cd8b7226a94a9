use grant::Model;

#[derive(Model)]
#[grant(table = "")]
struct User {
    id: i64,
}

fn main() {}
