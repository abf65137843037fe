//! No import cycle inside any crate of the workspace, and the top-level folders of
//! `harness/src` and `mock-homeserver/src` form layers (no cycle between folders).
//!
//! The check is `scripts/module-cycles.py`, run here so that `cargo test` enforces it;
//! a second test gives it a crate with a cycle to prove that it can fail.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("harness lies in the workspace").to_path_buf()
}

fn module_cycles(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new("python3")
        .arg(workspace_root().join("scripts/module-cycles.py"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("python3 runs scripts/module-cycles.py");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn the_workspace_has_no_import_cycle_and_layered_folders() {
    let (code, text) = module_cycles(
        &workspace_root(),
        &[
            "--layers",
            "harness",
            "--layers",
            "mock-homeserver",
            "protocol",
            "mock-homeserver",
            "devices",
            "harness",
        ],
    );
    assert_eq!(code, 0, "import cycles:\n{text}");
}

#[test]
fn a_cycle_between_folders_is_reported() {
    let dir = std::env::temp_dir().join(format!("conformance-module-cycles-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let src = dir.join("demo/src");
    std::fs::create_dir_all(src.join("core")).unwrap();
    std::fs::create_dir_all(src.join("endpoints")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod core;\npub mod endpoints;\n").unwrap();
    std::fs::write(src.join("core/mod.rs"), "use crate::endpoints::versions::answer;\npub struct Ctx;\n")
        .unwrap();
    std::fs::write(src.join("endpoints/mod.rs"), "pub mod versions;\n").unwrap();
    std::fs::write(src.join("endpoints/versions.rs"), "use crate::core::Ctx;\npub fn answer(_: &Ctx) {}\n")
        .unwrap();

    let (code, text) = module_cycles(&dir, &["--layers", "demo", "demo"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 1, "a cycle must fail the check:\n{text}");
    assert!(text.contains("core") && text.contains("endpoints"), "the cycle is named:\n{text}");
}
