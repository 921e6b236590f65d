#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
enum OrderError {
    #[error("order not found")]
    #[status(404, reason = "x")]
    NotFound,
}

fn main() {}
