use grant::Model;

#[derive(Model)]
#[grant(timestamps)]
struct User {
    id: i64,
    created_at: i64,
}

fn main() {}
