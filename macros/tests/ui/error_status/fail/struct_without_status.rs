#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
#[error("the card was declined")]
struct CardDeclined {
    card: String,
}

fn main() {}
