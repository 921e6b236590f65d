#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
enum OrderError {
    #[error("the store is unavailable")]
    #[status(503, expose = true)]
    Store,
}

fn main() {}
