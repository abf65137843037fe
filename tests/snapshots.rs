//! Every scenario under `scenarios/` has its snapshot under `snapshots/`, and every
//! snapshot its scenario: a new scenario without a snapshot, or a snapshot left behind
//! by a renamed scenario, is named here plainly.
//!
//! The snapshot of `scenarios/qr-login/happy/a-shows-code.toml` is
//! `snapshots/qr-login__happy__a-shows-code.snap`; the harness's `scenarios` test
//! writes and compares it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The name of every scenario file below `dir` (its path below `scenarios/` without
/// `.toml`, with `/` as the separator).
fn scenario_names(dir: &Path, base: &Path, names: &mut BTreeSet<String>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path: PathBuf = entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display())).path();
        if path.is_dir() {
            scenario_names(&path, base, names);
        } else if path.extension().is_some_and(|e| e == "toml") {
            let relative = path.strip_prefix(base).unwrap_or(&path).with_extension("");
            let parts: Vec<String> =
                relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            names.insert(parts.join("/"));
        }
    }
}

/// The scenario name each `.snap` file under `snapshots/` belongs to.
fn snapshot_names() -> BTreeSet<String> {
    let dir = root().join("snapshots");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    entries
        .map(|entry| entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display())).file_name())
        .filter_map(|name| name.to_string_lossy().strip_suffix(".snap").map(|n| n.replace("__", "/")))
        .collect()
}

#[test]
fn every_scenario_has_a_snapshot_and_every_snapshot_a_scenario() {
    let scenarios_dir = root().join("scenarios");
    let mut scenarios = BTreeSet::new();
    scenario_names(&scenarios_dir, &scenarios_dir, &mut scenarios);
    assert!(scenarios.len() > 30, "the suite is under scenarios/: {scenarios:?}");
    let snapshots = snapshot_names();
    let mut problems = Vec::new();
    for name in scenarios.difference(&snapshots) {
        problems.push(format!(
            "scenario {name} has no snapshot yet (snapshots/{}.snap): run `cargo insta test --test scenarios`, \
             then review it with `cargo insta review` (or keep it with `cargo insta accept`)",
            name.replace('/', "__")
        ));
    }
    for name in snapshots.difference(&scenarios) {
        problems.push(format!(
            "snapshots/{}.snap belongs to no scenario (scenarios/{name}.toml does not exist): delete it, or \
             rename it with its scenario",
            name.replace('/', "__")
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
