#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
#[error("payment failed")]
#[status(402)]
struct PaymentError;

#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
enum OrderError {
    #[error("payment of {1} cents failed")]
    #[status(transparent)]
    Payment(#[source] PaymentError, u64),
}

fn main() {}
