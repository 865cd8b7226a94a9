use grant::Model;

#[derive(Model)]
#[connects_to(writting = "primary")]
struct User {
    id: i64,
}

fn main() {}
