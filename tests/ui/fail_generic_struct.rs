use grant::Model;

#[derive(Model)]
struct Wrapper<T> {
    id: i64,
    value: T,
}

fn main() {}
