//! The guide's pages (`docs/*.md`) are read on GitHub and, through `include_str!` in
//! `helve::guide`, in rustdoc: each link must work in both. A page writes its links
//! reference-style and defines them at its end for GitHub (relative `.md` links, docs.rs URLs);
//! `src/guide_links/<page>.md`, included before the page, defines the same names as rustdoc paths,
//! and the first definition wins. This test reads the pages with std only, no network.

use std::{collections::BTreeSet, fs, path::Path};

/// Pages rewritten in their own change: checked once it lands.
const PENDING: &[&str] = &[];

#[test]
fn guide_links_work_on_github_and_in_rustdoc() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let mut names: Vec<_> = fs::read_dir(&docs)
        .expect("docs/ is readable")
        .map(|entry| {
            entry
                .expect("docs/ entry")
                .file_name()
                .into_string()
                .expect("UTF-8 name")
        })
        .filter(|name| name.ends_with(".md") && !PENDING.contains(&name.as_str()))
        .collect();
    names.sort();
    assert!(
        names.len() > 10,
        "found only {names:?} in {}",
        docs.display()
    );

    let mut problems = Vec::new();
    for name in &names {
        let text = fs::read_to_string(docs.join(name)).expect("page is readable");
        for problem in check_page(&docs, &text) {
            problems.push(format!("docs/{name}: {problem}"));
        }
    }
    assert!(
        problems.is_empty(),
        "broken guide links:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_finds_each_kind_of_mistake() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let page = r#"See [local mode](crate::guide::local_mode), [`Context`], [errors][errors.md], [gone][gone],
[deploy](deploy.md), [missing][missing.md] and [`Function`](super::Function).

```rust
# use helve::Context;
let x = 1;
```

```yaml
# a YAML comment is not hidden
```

```rust
# #[cfg(feature = "cloudwatch")]
# mod example {
# }
```

[`Context`][errors.md]: a reference link at the start of a line, not a definition.

Not links: `[helve::handler]`, `[`Context`](crate::Context)` in code, \[escaped].

[errors.md]: errors.md
[missing.md]: missing.md
[Errors.md]: http.md
"#;
    let problems = check_page(&docs, page);
    let expected = [
        "line 1: `[`Context`]` is a rustdoc link with no definition in the page",
        "line 1: inline link to `crate::guide::local_mode` works in rustdoc only; write it reference-style",
        "line 1: reference `gone` is not defined in the page",
        "line 2: inline link to `deploy.md` works on GitHub only; write it reference-style",
        "line 2: inline link to `super::Function` works in rustdoc only; write it reference-style",
        "line 5: rustdoc hides this line of a Rust example on its side only: `# use helve::Context;`",
        "line 24: `missing.md` does not exist",
        "line 25: reference `Errors.md` is defined twice",
    ];
    assert_eq!(problems, expected);
}

/// Everything wrong with one page's links, each with its line number.
fn check_page(docs: &Path, text: &str) -> Vec<String> {
    let (prose, problems) = split_code(text);
    let mut problems = problems;
    let code = code_spans(&prose);
    let line_of = |at: usize| prose[..at].matches('\n').count() + 1;

    let mut defined = BTreeSet::new();
    let mut offset = 0;
    for line in prose.split_inclusive('\n') {
        if let Some((label, dest)) = definition(line) {
            if !defined.insert(normalize(label)) {
                // The first definition wins, in rustdoc as on GitHub.
                problems.push((
                    line_of(offset),
                    format!("reference `{label}` is defined twice"),
                ));
            }
            if let Some(problem) = check_dest(docs, dest, false) {
                problems.push((line_of(offset), problem));
            }
        }
        offset += line.len();
    }

    for link in links(&prose, &code) {
        let line = line_of(link.at);
        match link.kind {
            Kind::Inline(dest) => {
                if let Some(problem) = check_dest(docs, dest, true) {
                    problems.push((line, problem));
                }
            }
            Kind::Reference(label) if !defined.contains(&normalize(label)) => {
                problems.push((
                    line,
                    format!("reference `{label}` is not defined in the page"),
                ));
            }
            Kind::Shortcut(label) if !defined.contains(&normalize(label)) => {
                let rustdoc_style = label.contains("::")
                    || (label.starts_with('`') && label.ends_with('`') && label.len() > 2);
                if rustdoc_style {
                    problems.push((
                        line,
                        format!("`[{label}]` is a rustdoc link with no definition in the page"),
                    ));
                }
            }
            Kind::Reference(_) | Kind::Shortcut(_) => {}
        }
    }
    problems.sort();
    problems
        .into_iter()
        .map(|(line, problem)| format!("line {line}: {problem}"))
        .collect()
}

/// The page with each fenced code block's lines blanked (so line numbers stay), and the
/// rustdoc-hidden lines of its Rust blocks: on GitHub they would show. A block that opens with
/// `# #[cfg(...)]` may hide the wrapper that compiles it only with the features it names:
/// rustdoc builds an ungated page without it.
fn split_code(text: &str) -> (String, Vec<(usize, String)>) {
    let mut prose = String::with_capacity(text.len());
    let mut problems = Vec::new();
    // The fence's character and length, and whether its hidden lines are mistakes.
    let mut fence: Option<(char, usize, bool)> = None;
    let mut first_line = false;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start();
        let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = marker.map_or(0, |c| trimmed.chars().take_while(|x| *x == c).count());
        match (fence, marker) {
            (None, Some(c)) if run >= 3 => {
                fence = Some((c, run, is_rust(trimmed[run..].trim())));
                first_line = true;
                prose.push('\n');
            }
            (Some((c, open, _)), Some(m))
                if m == c && run >= open && trimmed[run..].trim().is_empty() =>
            {
                fence = None;
                prose.push('\n');
            }
            (Some((c, open, rust)), _) => {
                let code = line.trim();
                if std::mem::take(&mut first_line) && code.starts_with("# #[cfg(") {
                    fence = Some((c, open, false));
                } else if rust && (code == "#" || code.starts_with("# ")) {
                    problems.push((
                        index + 1,
                        format!(
                            "rustdoc hides this line of a Rust example on its side only: `{code}`"
                        ),
                    ));
                }
                prose.push('\n');
            }
            (None, _) => prose.push_str(line),
        }
    }
    (prose, problems)
}

/// Rustdoc runs a fenced block as Rust when its info string names no other language.
fn is_rust(info: &str) -> bool {
    info.split([',', ' '])
        .filter(|token| !token.is_empty())
        .all(|token| {
            matches!(
                token,
                "rust" | "no_run" | "ignore" | "should_panic" | "compile_fail" | "test_harness"
            ) || token.starts_with("edition")
        })
}

/// For each byte of the prose, whether it is inside a code span (backticks included).
fn code_spans(prose: &str) -> Vec<bool> {
    let bytes = prose.as_bytes();
    let mut code = vec![false; bytes.len()];
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'`' {
            i += 1;
            continue;
        }
        let run = bytes[i..].iter().take_while(|b| **b == b'`').count();
        let closing = (i + run..bytes.len()).find(|&j| {
            bytes[j..].iter().take_while(|b| **b == b'`').count() == run
                && (j == 0 || bytes[j - 1] != b'`')
        });
        match closing {
            Some(j) => {
                code[i..j + run].iter_mut().for_each(|c| *c = true);
                i = j + run;
            }
            None => i += run,
        }
    }
    code
}

struct Link<'a> {
    at: usize,
    kind: Kind<'a>,
}

enum Kind<'a> {
    Inline(&'a str),
    Reference(&'a str),
    Shortcut(&'a str),
}

/// The links of the prose, in order: `[text](dest)`, `[text][label]`, `[text][]` and `[text]`.
fn links<'a>(prose: &'a str, code: &[bool]) -> Vec<Link<'a>> {
    let bytes = prose.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let opens = bytes[i] == b'[' && !code[i] && (i == 0 || bytes[i - 1] != b'\\');
        let Some(close) = opens.then(|| closing(bytes, code, i, b'[', b']')).flatten() else {
            i += 1;
            continue;
        };
        let text = &prose[i + 1..close];
        let line_start = i == 0 || bytes[i - 1] == b'\n';
        match bytes.get(close + 1) {
            Some(b':') if line_start => {}
            Some(b'(') => {
                if let Some(end) = closing(bytes, code, close + 1, b'(', b')') {
                    let dest = prose[close + 2..end]
                        .split_whitespace()
                        .next()
                        .unwrap_or("");
                    found.push(Link {
                        at: i,
                        kind: Kind::Inline(dest),
                    });
                    i = end + 1;
                    continue;
                }
            }
            Some(b'[') => {
                if let Some(end) = closing(bytes, code, close + 1, b'[', b']') {
                    let label = &prose[close + 2..end];
                    let label = if label.is_empty() { text } else { label };
                    found.push(Link {
                        at: i,
                        kind: Kind::Reference(label),
                    });
                    i = end + 1;
                    continue;
                }
            }
            _ => found.push(Link {
                at: i,
                kind: Kind::Shortcut(text),
            }),
        }
        // A link's text may hold links of its own only as images; look inside it.
        i += 1;
    }
    found
}

/// The bracket that closes the one at `open`, outside code spans.
fn closing(bytes: &[u8], code: &[bool], open: usize, left: u8, right: u8) -> Option<usize> {
    let mut depth = 0;
    for j in open..bytes.len() {
        if code[j] || (j > 0 && bytes[j - 1] == b'\\') {
            continue;
        }
        if bytes[j] == left {
            depth += 1;
        } else if bytes[j] == right {
            depth -= 1;
            if depth == 0 {
                return Some(j);
            }
        } else if bytes[j] == b'\n' && bytes.get(j + 1) == Some(&b'\n') {
            return None;
        }
    }
    None
}

/// A link reference definition, `[label]: dest`, at the start of a line.
fn definition(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('[')?;
    let (label, rest) = rest.split_once("]:")?;
    if label.contains(['[', ']']) {
        return None;
    }
    Some((label, rest.split_whitespace().next().unwrap_or("")))
}

/// What is wrong with a link's destination, if anything.
fn check_dest(docs: &Path, dest: &str, inline: bool) -> Option<String> {
    let dest = dest.trim_start_matches('<').trim_end_matches('>');
    let path = dest.split('#').next().unwrap_or("");
    if dest.contains("://") || dest.starts_with("mailto:") || path.is_empty() {
        None
    } else if dest.contains("::") {
        Some(format!(
            "{} to `{dest}` works in rustdoc only; write it reference-style",
            kind(inline)
        ))
    } else if !docs.join(path).exists() {
        Some(format!("`{dest}` does not exist"))
    } else if inline {
        Some(format!(
            "inline link to `{dest}` works on GitHub only; write it reference-style"
        ))
    } else {
        None
    }
}

fn kind(inline: bool) -> &'static str {
    if inline { "inline link" } else { "definition" }
}

/// Labels match case-insensitively, with runs of white space as one space.
fn normalize(label: &str) -> String {
    label
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}
