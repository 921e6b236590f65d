#[helve::handler]
struct Handler;

fn main() {}
