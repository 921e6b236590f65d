//! `#[helve::handler]` in a crate whose helve has no features: a handler that needs one gives
//! one error, naming the feature and the Cargo.toml line that turns it on.

#[test]
fn missing_features() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
