//! The example Python adapter (`adapters/python/example_adapter.py`), the starting
//! point for client authors: its registrar passes (the suite's register scenarios
//! included), its QR-login roles are UNIMPLEMENTED. Skipped with a message when
//! `python3` is not installed.

mod common;

use std::path::Path;
use std::time::Duration;

use devices::RoleKind;
use harness::check::verdict::Verdict;
use harness::run::external::ExternalClient;
use harness::run::result::ScenarioResult;

use common::{load, report, run_with_client, REGISTER_MSC2912};

fn python() -> bool {
    let found =
        std::process::Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("python3 is not installed: skipping the example adapter's tests");
    }
    found
}

fn adapter() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../adapters/python/example_adapter.py");
    format!("python3 {}", path.display())
}

fn run(text: &str, name: &str, kind: RoleKind) -> ScenarioResult {
    let client = ExternalClient {
        command: adapter(),
        kind,
        deadline: Some(Duration::from_secs(60)),
        poll_ms: None,
        jitter: None,
    };
    run_with_client(&load(name, text), &client)
}

const REGISTER_IGNORED: &str = r#"title = "R re-uploads its keys when the server ignores MSC2912"
flow = "register"
[server]
profile = "default"
[roles.R]
kind = "registrar"
[expect]
outcomes = { R = "success" }
order = ["R -> HS: POST /register 200", "R -> HS: POST /keys/device_signing/upload 200"]
"#;

const QR: &str = r#"title = "B shows the code, A scans"
flow = "qr-login"
[roles.A]
kind = "new-device"
[roles.B]
kind = "existing-device"
[expect]
outcomes = { A = "verified" }
order = ["A -> HS: POST /login"]
never = ["B -> HS: POST /keys/device_signing/upload 400"]
"#;

#[test]
fn the_example_registrar_passes_with_keys_in_register() {
    if !python() {
        return;
    }
    let result = run(REGISTER_MSC2912, "register/python", RoleKind::Registrar);
    assert_eq!(result.verdict, Verdict::Pass, "{}", report(&result));
}

#[test]
fn the_example_registrar_re_uploads_when_the_server_ignores_the_field() {
    if !python() {
        return;
    }
    let result = run(REGISTER_IGNORED, "register/python-ignored", RoleKind::Registrar);
    assert_eq!(result.verdict, Verdict::Pass, "{}", report(&result));
}

#[test]
fn the_example_qr_roles_are_unimplemented() {
    if !python() {
        return;
    }
    for kind in [RoleKind::NewDevice, RoleKind::ExistingDevice] {
        let result = run(QR, "qr-login/python", kind);
        assert_eq!(result.verdict, Verdict::Unimplemented, "{}", report(&result));
    }
}

/// The suite's own register scenarios: every one the example adapter can play
/// passes; the rest are skipped because they need a registrar that misbehaves on
/// purpose, which no adapter can be told to be.
#[test]
fn the_example_registrar_passes_the_suites_register_scenarios() {
    if !python() {
        return;
    }
    let dir = harness::run::suite::default_scenarios_dir().join("register");
    let scenarios = harness::scenario::load_all(&[dir]).expect("the register scenarios load");
    let client = ExternalClient {
        command: adapter(),
        kind: RoleKind::Registrar,
        deadline: None,
        poll_ms: None,
        jitter: None,
    };
    let results =
        common::runtime().block_on(harness::run::external::run_all_external(scenarios, client, 4, |_| {}));
    let passed = results.iter().filter(|r| r.verdict == Verdict::Pass).count();
    for result in &results {
        match result.verdict {
            Verdict::Pass => {}
            Verdict::Skipped => {
                assert!(result.explain().contains("misbehaves on purpose"), "{}", report(result))
            }
            _ => panic!("{}", report(result)),
        }
    }
    assert!(passed >= 5, "only {passed} of {} passed", results.len());
}
