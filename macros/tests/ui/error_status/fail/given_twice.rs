#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
enum OrderError {
    #[error("order not found")]
    #[status(404)]
    #[status(410)]
    NotFound,
}

fn main() {}
