#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
enum OrderError {
    #[error("order created")]
    #[status(200)]
    Created,
}

fn main() {}
