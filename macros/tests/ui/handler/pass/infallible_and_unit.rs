#![deny(warnings)]

mod echo {
    // A handler that cannot fail returns its response directly.
    #[helve::handler]
    async fn echo(event: serde_json::Value) -> serde_json::Value {
        event
    }
}

mod sink {
    // A handler with no return type answers `null`; `log_buffer` alone is the default size.
    #[helve::handler(log_buffer)]
    async fn sink(_event: serde_json::Value) {}
}

mod io {
    // A one-argument `Result` alias is a `Result`: its error type comes through the alias.
    pub type Result<T> = std::result::Result<T, helve::Error>;

    #[helve::handler]
    async fn read(event: String) -> self::Result<usize> {
        Ok(event.len())
    }
}

fn main() {
    let _: fn() -> std::process::ExitCode = echo::main;
    let _: fn() -> std::process::ExitCode = sink::main;
    let _: fn() -> std::process::ExitCode = io::main;
}
