//! Every diagnostic of `#[helve::handler]` and `#[derive(helve::ErrorStatus)]`, and the shapes
//! they must accept; each macro's cases in its own folder.

use std::fs;
use std::path::Path;

/// Fail cases that make two real mistakes, so that their `.stderr` rightly holds two errors.
const TWO_MISTAKES: &[(&str, &str)] = &[(
    "error_status/fail/variant_without_status",
    "two variants (`Gone` and `Store`) each lack a status: every problem is reported at once",
)];

/// Fail cases that still report one mistake more than once, with what is left to do. Not
/// two mistakes: each is to be fixed, and then leaves this list.
const KNOWN_REPEATS: &[(&str, &str)] = &[];

#[test]
fn handler() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/handler/pass/*.rs");
    cases.compile_fail("tests/ui/handler/fail/*.rs");
}

#[test]
fn error_status() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/error_status/pass/*.rs");
    cases.compile_fail("tests/ui/error_status/fail/*.rs");
}

/// One mistake gives one error: a `.stderr` with more than one `error` line is a mistake
/// reported twice, unless the case is listed in [`TWO_MISTAKES`] (or, until fixed, [`KNOWN_REPEATS`]).
#[test]
fn one_error_per_mistake() {
    let mut repeated = Vec::new();
    for macro_dir in ["handler", "error_status"] {
        let dir = Path::new("tests/ui").join(macro_dir).join("fail");
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path
                .extension()
                .is_none_or(|extension| extension != "stderr")
            {
                continue;
            }
            let errors = fs::read_to_string(&path)
                .unwrap()
                .lines()
                .filter(|line| line.starts_with("error"))
                .count();
            let case = format!(
                "{macro_dir}/fail/{}",
                path.file_stem().unwrap().to_string_lossy()
            );
            let allowed = TWO_MISTAKES
                .iter()
                .chain(KNOWN_REPEATS)
                .any(|(listed, _)| *listed == case);
            if errors > 1 && !allowed {
                repeated.push(format!("{case}: {errors} errors"));
            }
            if errors <= 1 && allowed {
                repeated.push(format!(
                    "{case}: listed as repeating but has {errors} error"
                ));
            }
        }
    }
    assert!(
        repeated.is_empty(),
        "one mistake must give one error:\n{}",
        repeated.join("\n")
    );
}
