use grant::Model;

#[derive(Model)]
struct User {
    id: i64,
    created_at: i64,
}

fn main() {}
