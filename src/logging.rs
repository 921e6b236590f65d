//! Where helve's own log lines go until the structured JSON logger lands: a plain `tracing`
//! subscriber on stdout (which Lambda sends to CloudWatch Logs), filtered by
//! `AWS_LAMBDA_LOG_LEVEL`, then `RUST_LOG`, then INFO.

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the subscriber, unless the program already installed one.
pub(crate) fn init() {
    let filter = ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok())
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    // An error only means a subscriber is already installed, which is the program's choice.
    let _ = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .with_ansi(false)
        .with_target(false)
        .try_init();
}
