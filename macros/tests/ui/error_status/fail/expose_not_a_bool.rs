#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
enum OrderError {
    #[error("order not found")]
    #[status(404, expose = "yes")]
    NotFound,
}

fn main() {}
