//! The repository is self-contained: nothing in it reads or cites a path outside it,
//! and every `docs/protocol.md §N.M` citation names a section that exists.
//!
//! A fresh clone has nothing beside it, so a test that reads the reference folder
//! beside the project (or any path two levels above a crate) fails there, and a citation of a reference the
//! reader does not have is a dead end. This walks every file of the workspace except
//! build output and VCS metadata, so new files are covered without a list to keep.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Directories never walked: build output, VCS metadata, Python caches.
const SKIPPED_DIRS: &[&str] = &["target", ".git", "__pycache__"];

/// The reference folder that lies beside the project on the machine it was written
/// on; a clone does not have it.
const REFERENCE_DIR: &str = "shared";

/// Text that only a path outside the repository (or a machine-specific absolute
/// path) can contain. Built at run time so that this file does not name those paths
/// itself.
fn outside_paths() -> Vec<String> {
    let dir = REFERENCE_DIR;
    vec![
        format!("../{dir}"),
        format!("{dir}/protocol.md"),
        format!("{dir}/test-vectors"),
        "/work/".to_owned(),
    ]
}

/// In Rust sources: a path two levels up from a crate directory leaves the workspace.
const ESCAPES_IN_RUST: &[&str] = &["\"/../../", "\"../../", ".join(\"..\").join(\"..\")"];

fn root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().expect("a crate directory has a parent, the workspace").to_path_buf()
}

/// Every text file of the workspace, with its path relative to the root.
fn text_files() -> Vec<(String, String)> {
    let root = root();
    let this_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("self_contained.rs");
    let mut pending = vec![root.clone()];
    let mut files = Vec::new();
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()));
        for entry in entries {
            let entry = entry.unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()));
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let kind = entry.file_type().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if kind.is_dir() {
                if !SKIPPED_DIRS.contains(&name.as_str()) {
                    pending.push(path);
                }
            } else if kind.is_file() && name != ".git" && path != this_file {
                // Binary files (not UTF-8) cannot hold a path we would read or cite.
                if let Ok(text) = std::fs::read_to_string(&path) {
                    let relative = path.strip_prefix(&root).unwrap_or(&path).display().to_string();
                    files.push((relative, text));
                }
            }
        }
    }
    files.sort();
    files
}

/// `(line number, line)` of every line of `text` containing `needle`.
fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<(usize, &'a str)> {
    text.lines().enumerate().filter(|(_, line)| line.contains(needle)).map(|(i, l)| (i + 1, l)).collect()
}

#[test]
fn the_walk_sees_the_whole_workspace() {
    let files = text_files();
    let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    for expected in
        ["Cargo.toml", "README.md", "docs/protocol.md", ".ci/run", "protocol/tests/vectors/signing.json"]
    {
        assert!(names.contains(&expected), "the walk missed {expected}; it saw {} files", names.len());
    }
    assert!(
        names.iter().any(|n| n.starts_with("scenarios/") && n.ends_with(".toml")),
        "no scenario file seen"
    );
    assert!(!names.iter().any(|n| n.starts_with("target/")), "the walk entered target/");
}

#[test]
fn nothing_reads_or_names_a_path_outside_the_repository() {
    let mut found = Vec::new();
    for (name, text) in text_files() {
        let mut needles = outside_paths();
        if name.ends_with(".rs") {
            needles.extend(ESCAPES_IN_RUST.iter().map(|e| e.to_string()));
        }
        for needle in needles {
            for (line, text) in lines_with(&text, &needle) {
                found.push(format!("{name}:{line}: `{needle}` in: {}", text.trim()));
            }
        }
    }
    assert!(found.is_empty(), "paths outside the repository:\n{}", found.join("\n"));
}

/// Section numbers (`1`, `1.5`) and divergence IDs (`D7`) of docs/protocol.md.
fn protocol_anchors() -> BTreeSet<String> {
    let path = root().join("docs").join("protocol.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut anchors = BTreeSet::new();
    for line in text.lines() {
        let heading = line.strip_prefix("### ").or_else(|| line.strip_prefix("## "));
        if let Some(number) = heading.and_then(|h| h.split_whitespace().next()) {
            let number = number.trim_end_matches('.');
            if number.starts_with(|c: char| c.is_ascii_digit()) {
                anchors.insert(number.to_owned());
            }
        }
        if let Some(id) = line.strip_prefix("| D").and_then(|rest| rest.split_whitespace().next()) {
            if id.chars().all(|c| c.is_ascii_digit()) && !id.is_empty() {
                anchors.insert(format!("D{id}"));
            }
        }
    }
    anchors
}

/// The anchors one citation names: the text after `docs/protocol.md` up to the end of
/// the citation (a closing bracket, a quote, a semicolon or the line's end), read as
/// `§1.5`, `§7.1–§7.3`, `§10 D7` and the like.
fn cited_anchors(after: &str) -> Vec<String> {
    let end = after.find([')', '"', ';', '`', ']']).unwrap_or(after.len());
    let mut anchors = Vec::new();
    for word in after[..end].split(|c: char| c.is_whitespace() || c == ',' || c == '–' || c == '-') {
        let word = word.trim_end_matches(['.', ':']);
        let section = word.strip_prefix('§');
        if let Some(number) = section.filter(|n| n.starts_with(|c: char| c.is_ascii_digit())) {
            anchors.push(number.to_owned());
        } else if word.len() > 1 && word.starts_with('D') && word[1..].chars().all(|c| c.is_ascii_digit()) {
            anchors.push(word.to_owned());
        }
    }
    anchors
}

#[test]
fn citations_of_the_protocol_reference_name_existing_sections() {
    let anchors = protocol_anchors();
    for expected in ["0", "1.5", "4.4", "7.4", "9.2", "11", "D1", "D11"] {
        assert!(anchors.contains(expected), "docs/protocol.md has no {expected}; found {anchors:?}");
    }
    let mut bad = Vec::new();
    let mut cited = 0;
    for (name, text) in text_files() {
        for (line, content) in lines_with(&text, "protocol.md") {
            for (at, _) in content.match_indices("protocol.md") {
                let before = &content[..at];
                let allowed =
                    before.ends_with("docs/") || before.ends_with("adapter-") || before.ends_with("](");
                if !allowed {
                    bad.push(format!("{name}:{line}: cite it as `docs/protocol.md`: {}", content.trim()));
                    continue;
                }
                for anchor in cited_anchors(&content[at + "protocol.md".len()..]) {
                    cited += 1;
                    if !anchors.contains(&anchor) {
                        bad.push(format!(
                            "{name}:{line}: no §/row {anchor} in docs/protocol.md: {}",
                            content.trim()
                        ));
                    }
                }
            }
        }
    }
    assert!(bad.is_empty(), "citations of the protocol reference:\n{}", bad.join("\n"));
    assert!(cited > 50, "only {cited} section citations found; is the walk or the parsing broken?");
}

#[test]
fn the_citation_reader_understands_the_forms_in_use() {
    assert_eq!(cited_anchors(" §1.1, §1.5\"]"), ["1.1", "1.5"]);
    assert_eq!(cited_anchors(" §7.1–§7.3): the key endpoints"), ["7.1", "7.3"]);
    assert_eq!(cited_anchors(" §10 D7\"]"), ["10", "D7"]);
    assert_eq!(cited_anchors(" §3.4.)"), ["3.4"]);
    assert_eq!(cited_anchors(" §9.2 (1, 2)\"]"), ["9.2"]);
    assert_eq!(cited_anchors(" §1.1 C1–C4, M1, M3/M4, §1.7 step 3): the QR"), ["1.1", "1.7"]);
    assert!(cited_anchors("'s conventions: standard alphabet").is_empty());
}
