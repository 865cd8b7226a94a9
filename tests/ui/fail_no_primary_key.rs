use grant::Model;

#[derive(Model)]
struct Note {
    title: String,
    body: String,
}

fn main() {}
