use grant::Model;

#[derive(Model)]
struct Membership {
    #[grant(primary_key)]
    user_id: i64,
    #[grant(primary_key)]
    group_id: i64,
}

fn main() {}
