#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
#[status(500)]
enum OrderError {
    #[error("order not found")]
    #[status(404)]
    NotFound,
}

fn main() {}
