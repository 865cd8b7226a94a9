use grant::Model;

#[derive(Model)]
#[grant(tabel = "x")]
struct User {
    id: i64,
    name: String,
}

fn main() {}
