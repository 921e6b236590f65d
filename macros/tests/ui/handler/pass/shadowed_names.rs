#![deny(warnings)]

mod function {
    // A user's module commonly shadows these names; the generated code must not care.
    #[allow(dead_code)]
    type Result<T> = std::result::Result<T, MyError>;
    #[allow(dead_code)]
    struct Option;
    #[allow(dead_code)]
    struct Box;
    #[allow(dead_code)]
    struct ExitCode;
    #[allow(dead_code)]
    mod helve {}

    #[derive(Debug, thiserror::Error)]
    #[error("nope")]
    pub struct MyError;

    impl ::helve::FunctionError for MyError {
        fn error_type(&self) -> std::borrow::Cow<'static, str> {
            "test.Nope".into()
        }
    }

    #[::helve::handler(service = "shadowing")]
    async fn handle(event: serde_json::Value) -> Result<serde_json::Value> {
        Ok(event)
    }
}

fn main() {
    let _: fn() -> std::process::ExitCode = function::main;
}
