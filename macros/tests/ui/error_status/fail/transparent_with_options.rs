#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
#[error("payment failed")]
#[status(402)]
struct PaymentError;

#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
enum OrderError {
    #[error(transparent)]
    #[status(transparent, code = "payment")]
    Payment(PaymentError),
}

fn main() {}
