use std::fmt;

#[derive(Debug, helve::ErrorStatus)]
enum OrderError {
    #[status(404)]
    NotFound,
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("order not found")
    }
}

fn main() {}
