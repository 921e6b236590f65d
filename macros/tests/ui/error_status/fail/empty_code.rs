#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
enum OrderError {
    #[error("order not found")]
    #[status(404, code = "")]
    NotFound,
}

fn main() {}
