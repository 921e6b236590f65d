#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
enum OrderError {
    #[error(transparent)]
    #[status(transparent)]
    Io(std::io::Error),
}

fn main() {}
