//! The `location` of a line: a source file's path relative to its crate, never the absolute
//! path of the machine that built the function.
//!
//! `file!()` is relative to the workspace for the workspace's own crates (`src/main.rs`), but
//! absolute for the others: a crate from crates.io is
//! `/home/me/.cargo/registry/src/index.crates.io-…/helve-0.1.0/src/layers/logging.rs`, one
//! from git or a path outside the workspace the same. Such a path is cut to its crate's
//! `src/…`; one without a `src` folder to its file name.

/// `file` as a line shows it: a relative path as it is, an absolute one from its last `src`
/// folder (`src/layers/logging.rs`), else its file name.
pub(crate) fn crate_relative(file: &str) -> &str {
    if !is_absolute(file) {
        return file;
    }
    let from_src = ["/src/", "\\src\\"]
        .iter()
        .filter_map(|folder| file.rfind(folder))
        .max()
        .map(|at| at + 1);
    let from_name = || file.rfind(['/', '\\']).map_or(0, |at| at + 1);
    file.get(from_src.unwrap_or_else(from_name)..)
        .unwrap_or(file)
}

/// `/…`, `\…` (a UNC or rooted path) or `C:…`: a path that names the build machine.
fn is_absolute(file: &str) -> bool {
    let bytes = file.as_bytes();
    matches!(bytes.first(), Some(b'/' | b'\\'))
        || (bytes.len() > 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absolute_path_is_cut_to_its_crates_src_folder() {
        for (file, shown) in [
            (
                "/home/ci/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/helve-0.1.0/src/layers/logging.rs",
                "src/layers/logging.rs",
            ),
            (
                "/home/ci/.cargo/git/checkouts/helve-3f1c/5e2a9d1/src/logging/json.rs",
                "src/logging/json.rs",
            ),
            ("/Users/ada/work/helve/src/lib.rs", "src/lib.rs"),
            (
                r"C:\Users\ada\.cargo\registry\src\index.crates.io-1949cf8c6b5b557f\helve-0.1.0\src\layers\logging.rs",
                r"src\layers\logging.rs",
            ),
            (
                "/build/target/debug/build/x-1a2b/out/generated.rs",
                "generated.rs",
            ),
        ] {
            assert_eq!(crate_relative(file), shown, "{file}");
        }
    }

    #[test]
    fn a_relative_path_is_shown_as_it_is() {
        for file in [
            "src/main.rs",
            "crates/api/src/handler.rs",
            "examples/a.rs",
            "lib.rs",
        ] {
            assert_eq!(crate_relative(file), file);
        }
    }
}
