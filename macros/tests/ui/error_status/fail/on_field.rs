#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
enum OrderError {
    #[error("store failed")]
    #[status(503)]
    Store(
        #[source]
        #[status(transparent)]
        std::io::Error,
    ),
}

fn main() {}
