//! Every expectation of the suite says why it holds: an MSC step, a section of
//! docs/protocol.md, or causality. The reason is a comment on the expectation's line,
//! or a comment block right above the key or table it belongs to, so that a reviewer
//! can check each one against the spec (issue: expectations that only describe our own
//! devices' habits fail correct clients).

use std::path::Path;

/// The lines of `[expect]` and its sub-tables that state an expectation without a
/// reason.
fn unexplained(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut in_expect = false;
    // Whether the array or table being read has a comment block above it.
    let mut covered = false;
    let commented_above = |i: usize| i > 0 && lines[i - 1].trim_start().starts_with('#');
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') && !trimmed.starts_with("[\"") {
            in_expect = trimmed == "[expect]" || trimmed.starts_with("[[expect.");
            covered = trimmed.starts_with("[[expect.") && commented_above(i);
            if trimmed.starts_with("[[expect.") && !covered {
                out.push((i + 1, trimmed.to_owned()));
            }
            continue;
        }
        if !in_expect || trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some((key, _)) = trimmed.split_once('=').filter(|_| !trimmed.starts_with('"')) {
            let key = key.trim();
            let starts_array = trimmed.ends_with('[');
            let table_key = ["event", "then", "times", "at_least", "at_most"].contains(&key);
            if table_key {
                continue;
            }
            let here = commented_above(i) || line.contains('#');
            if starts_array {
                covered = here;
            } else if !here && !covered {
                out.push((i + 1, trimmed.to_owned()));
            }
            continue;
        }
        if trimmed.starts_with('"') && !covered && !line.contains('#') {
            out.push((i + 1, trimmed.to_owned()));
        }
    }
    out
}

#[test]
fn every_expectation_of_the_suite_has_its_reason() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut missing = Vec::new();
    let mut files = 0;
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("scenarios/") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                files += 1;
                let text = std::fs::read_to_string(&path).expect("scenario file");
                for (line, what) in unexplained(&text) {
                    missing.push(format!("{}:{line}: {what}", path.strip_prefix(&root).unwrap().display()));
                }
            }
        }
    }
    assert!(files > 30, "the suite was found");
    assert!(missing.is_empty(), "expectations without a reason:\n{}", missing.join("\n"));
}

#[test]
fn the_check_finds_an_unexplained_expectation() {
    let text = "title = \"x\"\n[expect]\n# why\noutcomes = { A = \"verified\" }\norder = [\n  \"A -> HS: POST /login 200\",  # step 13\n  \"A -> HS: POST /keys/upload 200\",\n]\n\n[[expect.count]]\nevent = \"A -> HS: GET /x\"\ntimes = 1\n";
    let found = unexplained(text);
    let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [7, 10], "{found:?}");
}
