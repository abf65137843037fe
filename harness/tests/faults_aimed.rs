//! A fault aimed at a role (`seen_by = "B"`) reaches exactly that role's requests,
//! whichever client plays it: the suite's `qr-login/abort-b/device-hidden-from-b`
//! hides A's device from B alone, in process and with either role played through the
//! adapter by our own device (`conformance device`).

mod common;

use std::path::Path;
use std::time::Duration;

use devices::RoleKind;
use harness::check::transcript::{Actor, Entry};
use harness::check::verdict::Verdict;
use harness::run::external::ExternalClient;
use harness::run::result::ScenarioResult;
use harness::scenario::Scenario;

use common::{report, run_with_client, runtime};

fn scenario() -> Scenario {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    Scenario::load(&root.join("qr-login/abort-b/device-hidden-from-b.toml"), &root)
        .expect("the scenario loads")
}

fn device_of(result: &ScenarioResult, role: RoleKind) -> String {
    let names = &result.names;
    let found = names.iter().find(|(_, r)| *r == role).map(|(id, _)| id.clone());
    found.unwrap_or_else(|| panic!("no device of {role} in {names:?}"))
}

/// Checks that B's every `/keys/query` answer was changed by the aimed fault and left
/// A's device out, and that A's were not touched.
fn assert_aimed_at_b(result: &ScenarioResult) {
    let detail = report(result);
    assert_eq!(result.verdict, Verdict::Pass, "{detail}");
    let (a, b) = (device_of(result, RoleKind::NewDevice), device_of(result, RoleKind::ExistingDevice));
    let aimed = format!("hide-device @alice:test/{a} seen by @alice:test/{b}");
    let (mut of_a, mut of_b) = (0, 0);
    for entry in &result.transcript {
        let Entry::Http { actor: Actor::Role(role), path, faults, response, .. } = &entry.entry else {
            continue;
        };
        if !path.ends_with("/keys/query") {
            continue;
        }
        let lists_a = response.json().is_some_and(|v| v["device_keys"]["@alice:test"].get(&a).is_some());
        match role {
            RoleKind::ExistingDevice => {
                of_b += 1;
                assert_eq!(faults, &vec![aimed.clone()], "B's query #{}: {detail}", entry.seq);
                assert!(!lists_a, "B was shown A's device at #{}: {detail}", entry.seq);
            }
            RoleKind::NewDevice => {
                of_a += 1;
                assert!(faults.is_empty(), "A's own query #{} was changed: {detail}", entry.seq);
                assert!(lists_a, "A was not shown its own device at #{}: {detail}", entry.seq);
            }
            RoleKind::Registrar => {}
        }
    }
    assert!(of_b >= 2, "B looked for A's device {of_b} times: {detail}");
    assert!(of_a >= 1, "A never queried its own keys, so nothing shows it was spared: {detail}");
}

#[test]
fn in_process_the_fault_reaches_b_alone() {
    let scenario = scenario();
    let result = runtime().block_on(harness::run::in_process(&scenario));
    assert_aimed_at_b(&result);
}

#[test]
fn with_either_role_played_through_the_adapter_the_fault_reaches_b_alone() {
    let scenario = scenario();
    for kind in [RoleKind::NewDevice, RoleKind::ExistingDevice] {
        let client = ExternalClient {
            command: format!("{} device --role {}", env!("CARGO_BIN_EXE_conformance"), kind.name()),
            kind,
            deadline: Some(Duration::from_secs(90)),
            poll_ms: Some(50),
            jitter: None,
        };
        let result = run_with_client(&scenario, &client);
        assert_aimed_at_b(&result);
    }
}
