// Automatic timestamps: a repeated or contradictory declaration is an error at the attribute.
use grant::Model;

type Ts = chrono::DateTime<chrono::Utc>;

#[derive(Model)]
#[grant(timestamps)]
#[grant(timestamps)]
struct Twice {
    id: i64,
    created_at: Ts,
}

#[derive(Model)]
struct BothKinds {
    id: i64,
    #[grant(created_at, updated_at)]
    at: Ts,
}

#[derive(Model)]
struct SameMarkTwice {
    id: i64,
    #[grant(updated_at)]
    #[grant(updated_at)]
    at: Ts,
}

#[derive(Model)]
struct TwoCreated {
    id: i64,
    #[grant(created_at)]
    first: Ts,
    #[grant(created_at)]
    second: Ts,
}

#[derive(Model)]
#[grant(timestamps = false)]
struct OffButMarked {
    id: i64,
    #[grant(created_at)]
    at: Ts,
}

#[derive(Model)]
#[grant(timestamps)]
struct ByNameAndMarked {
    id: i64,
    #[grant(created_at)]
    inserted: Ts,
    created_at: Ts,
}

#[derive(Model)]
#[grant(timestamps)]
struct NothingToFill {
    id: i64,
    inserted: Ts,
}

#[derive(Model)]
struct OnSkippedField {
    id: i64,
    #[grant(skip, updated_at)]
    at: Option<Ts>,
}

fn main() {}
