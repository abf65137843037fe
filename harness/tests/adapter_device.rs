//! Our own simulated device behind the adapter protocol (`conformance device`) must
//! get the same verdicts as the in-process run, for each role; and the same device
//! made to skip a check must FAIL for the right reason.

mod common;

use std::time::Duration;

use devices::RoleKind;
use harness::check::verdict::Verdict;
use harness::run::external::ExternalClient;
use harness::run::external::{does_not_apply, run_all_external};
use harness::run::result::ScenarioResult;
use harness::scenario::Scenario;

use common::{load, report, run_with_client, runtime, REGISTER_MSC2912};

/// The pause between two polls in these real-time runs: short, so that the tests
/// are quick; protocol waits (B's step-16 wait) keep their configured lengths.
const POLL_MS: u64 = 50;

/// Scenarios played at once through the adapter: the runs mostly wait (polls, B's
/// step-16 wait, B's quiet time after M8), so more than the cores.
const SUITE_JOBS: usize = 12;

const KINDS: [RoleKind; 3] = [RoleKind::NewDevice, RoleKind::ExistingDevice, RoleKind::Registrar];

/// Small scenarios of each flow, so that these tests do not depend on the suite.
const SCENARIOS: &[(&str, &str)] = &[
    (
        "qr-login/adapter/b-shows",
        r#"title = "B shows the code, A scans, both end verified"
flow = "qr-login"
shows_code = "B"
[roles.A]
kind = "new-device"
[roles.B]
kind = "existing-device"
[expect]
outcomes = { A = "verified", B = "verified" }
order = ["B -> HS: POST /rendezvous", "A -> B: m.login.progress", "B -> A: m.login.finish outcome=verified"]
never = ["A -> HS: POST /keys/device_signing/upload"]
"#,
    ),
    (
        "qr-login/adapter/a-shows-v2",
        r#"title = "A shows a v2 code, B scans, both end verified"
flow = "qr-login"
dialect = "v2"
shows_code = "A"
[roles.A]
kind = "new-device"
[roles.B]
kind = "existing-device"
[expect]
outcomes = { A = "verified", B = "verified" }
order = ["A -> HS: POST /rendezvous", "B -> A: *"]
"#,
    ),
    (
        "qr-login/adapter/declined",
        r#"title = "The user declines on B"
flow = "qr-login"
[user]
approve = false
[roles.A]
kind = "new-device"
[roles.B]
kind = "existing-device"
[expect]
outcomes = { B = "declined" }
order = ["B -> HS: POST /rendezvous", "A -> B: *"]
never = ["B -> HS: POST /login/get_token"]
"#,
    ),
];

/// The registrar's scenario.
const REGISTER: (&str, &str) = ("register/adapter/msc2912", REGISTER_MSC2912);

fn device_command(kind: RoleKind, knobs: Option<&str>) -> String {
    let mut command = format!("{} device --role {}", env!("CARGO_BIN_EXE_conformance"), kind.name());
    if let Some(knobs) = knobs {
        command.push_str(&format!(" --knobs '{knobs}'"));
    }
    command
}

fn external(scenario: &Scenario, kind: RoleKind, knobs: Option<&str>) -> ScenarioResult {
    let client = ExternalClient {
        command: device_command(kind, knobs),
        kind,
        deadline: Some(Duration::from_secs(90)),
        poll_ms: Some(POLL_MS),
        jitter: None,
    };
    run_with_client(scenario, &client)
}

/// Runs each scenario in process and through the adapter for every role it has;
/// returns the mismatches (and, with `all_pass`, every verdict that is not PASS).
fn compare(scenarios: &[Scenario], all_pass: bool) -> Vec<String> {
    let mut mismatches = Vec::new();
    for scenario in scenarios {
        let in_process = runtime().block_on(harness::run::in_process(scenario));
        if all_pass && in_process.verdict != Verdict::Pass {
            mismatches.push(format!("in process: {}", report(&in_process)));
        }
        for kind in KINDS {
            if does_not_apply(scenario, kind).is_some() {
                continue;
            }
            let through = external(scenario, kind, None);
            if all_pass && through.verdict != Verdict::Pass {
                mismatches.push(format!("through the adapter as {}: {}", kind.name(), report(&through)));
            }
            if through.verdict != in_process.verdict {
                mismatches.push(format!(
                    "{} as {}: in process {}, through the adapter {}\n--- in process:\n{}\n--- adapter:\n{}",
                    scenario.name,
                    kind.name(),
                    in_process.verdict,
                    through.verdict,
                    report(&in_process),
                    report(&through)
                ));
            }
        }
    }
    mismatches
}

#[test]
fn the_simulated_device_through_the_adapter_gets_the_in_process_verdicts() {
    let scenarios: Vec<Scenario> = SCENARIOS.iter().map(|(n, t)| load(n, t)).collect();
    let mismatches = compare(&scenarios, true);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}

#[test]
fn the_simulated_registrar_through_the_adapter_gets_the_in_process_verdict() {
    let mismatches = compare(&[load(REGISTER.0, REGISTER.1)], false);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}

#[test]
fn the_simulated_registrar_passes_both_ways() {
    let mismatches = compare(&[load(REGISTER.0, REGISTER.1)], true);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}

/// The whole suite both ways: in process, then through `conformance device` once per
/// role, the scenarios of each role in parallel, with a short poll (about a minute).
#[test]
fn the_whole_suite_gets_the_same_verdicts_through_the_adapter() {
    let root = harness::run::suite::default_scenarios_dir();
    let scenarios = harness::scenario::load_all(&[root]).expect("the suite loads");
    assert!(!scenarios.is_empty(), "no scenarios under scenarios/");
    let runtime = runtime();
    let in_process = runtime.block_on(harness::run::suite::run_all(scenarios.clone(), 2, |_| {}));
    // The three roles at once: a run mostly waits (polls, B's step-16 wait, the
    // rendezvous TTL of the expiry scenarios), so the longest scenario sets the time.
    let runs = KINDS.map(|kind| {
        let applicable: Vec<Scenario> =
            scenarios.iter().filter(|s| does_not_apply(s, kind).is_none()).cloned().collect();
        let client = ExternalClient {
            command: device_command(kind, None),
            kind,
            deadline: None,
            poll_ms: Some(POLL_MS),
            jitter: None,
        };
        run_all_external(applicable, client, SUITE_JOBS, |_| {})
    });
    let [a, b, r] = runs;
    let (a, b, r) = runtime.block_on(async { tokio::join!(a, b, r) });
    let mut mismatches = Vec::new();
    for (kind, through) in KINDS.into_iter().zip([a, b, r]) {
        for result in &through {
            let Some(expected) = in_process.iter().find(|r| r.name == result.name) else {
                mismatches.push(format!("{}: not run in process", result.name));
                continue;
            };
            if result.verdict != expected.verdict {
                mismatches.push(format!(
                    "{} as {}: in process {}, through the adapter {}\n--- in process:\n{}\n--- adapter:\n{}",
                    result.name,
                    kind.name(),
                    expected.verdict,
                    result.verdict,
                    report(expected),
                    report(result)
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}

#[test]
fn a_new_device_that_skips_the_master_key_check_fails_for_that_reason() {
    let scenario = load(
        "qr-login/adapter/wrong-master-key",
        r#"title = "A aborts when B's M8 carries a master key the homeserver does not have"
flow = "qr-login"
[roles.A]
kind = "new-device"
[roles.B]
kind = "existing-device"
knobs = { lie-master-key = true }
[expect]
outcomes = { A = "security_error (master_key_mismatch)" }
order = ["B -> A: m.login.*"]
never = ["A -> HS: PUT /sendToDevice/m.secret.request/*", "A -> HS: POST /keys/signatures/upload"]
"#,
    );
    let honest = external(&scenario, RoleKind::NewDevice, None);
    assert_eq!(honest.verdict, Verdict::Pass, "{}", report(&honest));
    let careless = external(&scenario, RoleKind::NewDevice, Some(r#"{"skip-master-key-check": true}"#));
    assert_eq!(careless.verdict, Verdict::Fail, "{}", report(&careless));
    let text = careless.explain();
    assert!(text.contains("expected A to finish `security_error`"), "{text}");
    assert!(!text.contains("adapter:"), "the adapter itself behaved: {text}");
}
