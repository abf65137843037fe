//! The suite tells a deviation from the MSC apart from a difference of style, through
//! the adapter path, with our own device built to misbehave:
//!
//! * a device that aborts correctly but stays silent on the channel (as js-sdk's B and
//!   Element iOS do) gets NON-STRICT, never FAIL: the MSC only asks it to tell its user;
//! * a device that skips a check of steps 16-21a FAILs the scenario made for that
//!   check, whether it talks afterwards or not.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use devices::RoleKind;
use harness::check::verdict::Verdict;
use harness::run::external::{run_all_external, ExternalClient};
use harness::run::result::ScenarioResult;
use harness::run::suite::default_scenarios_dir;

use common::{report, runtime};

/// Runs the named scenarios with our own device playing `kind` with `knobs`.
fn through_adapter(kind: RoleKind, knobs: &str, names: &[&str]) -> BTreeMap<String, ScenarioResult> {
    let scenarios = harness::scenario::load_all(&[default_scenarios_dir()])
        .expect("the suite loads")
        .into_iter()
        .filter(|s| names.contains(&s.name.as_str()))
        .collect::<Vec<_>>();
    assert_eq!(scenarios.len(), names.len(), "every named scenario is in the suite");
    let client = ExternalClient {
        command: format!(
            "{} device --role {} --knobs '{knobs}'",
            env!("CARGO_BIN_EXE_conformance"),
            kind.name()
        ),
        kind,
        // A device that skips a check may wait for secrets nobody sends: the deadline
        // ends it, which is a FAIL like any other.
        deadline: Some(Duration::from_secs(20)),
        poll_ms: Some(50),
        jitter: None,
    };
    let results = runtime().block_on(run_all_external(scenarios, client, 2, |_| {}));
    results.into_iter().map(|r| (r.name.clone(), r)).collect()
}

fn expect(results: &BTreeMap<String, ScenarioResult>, verdict: Verdict) {
    for result in results.values() {
        assert_eq!(result.verdict, verdict, "{}", report(result));
    }
}

const A_ABORTS: [&str; 7] = [
    "qr-login/abort-a/announced-master-key-is-self-signing-key",
    "qr-login/abort-a/homeserver-has-no-master-key",
    "qr-login/abort-a/homeserver-tampers-master-key",
    "qr-login/abort-a/self-signing-key-not-signed-by-master",
    "qr-login/abort-a/unknown-verifying-device-id",
    "qr-login/abort-a/wrong-master-key",
    "qr-login/abort-a/wrong-verifying-device-key",
];

const B_ABORTS: [&str; 3] = [
    "qr-login/abort-b/homeserver-tampers-device-key",
    "qr-login/abort-b/invalid-self-signature",
    "qr-login/abort-b/wrong-device-key",
];

#[test]
fn a_new_device_that_aborts_silently_is_non_strict() {
    let results = through_adapter(RoleKind::NewDevice, r#"{"silent-security-abort": true}"#, &A_ABORTS);
    expect(&results, Verdict::NonStrict);
    for result in results.values() {
        assert!(
            result.explain().contains("e2ee_security_error"),
            "names the missing message: {}",
            report(result)
        );
    }
}

#[test]
fn an_existing_device_that_aborts_silently_is_non_strict() {
    let results = through_adapter(RoleKind::ExistingDevice, r#"{"silent-security-abort": true}"#, &B_ABORTS);
    expect(&results, Verdict::NonStrict);
}

#[test]
fn a_new_device_that_skips_step_21a_fails_whether_it_talks_or_not() {
    let master = [
        "qr-login/abort-a/announced-master-key-is-self-signing-key",
        "qr-login/abort-a/homeserver-has-no-master-key",
        "qr-login/abort-a/homeserver-tampers-master-key",
        "qr-login/abort-a/wrong-master-key",
    ];
    for knobs in [
        r#"{"skip-master-key-check": true}"#,
        r#"{"skip-master-key-check": true, "silent-security-abort": true}"#,
    ] {
        let results = through_adapter(RoleKind::NewDevice, knobs, &master);
        expect(&results, Verdict::Fail);
        for result in results.values() {
            let why = result.explain();
            assert!(why.contains("m.secret.request") || why.contains("outcome of A"), "{}", report(result));
        }
    }
}

#[test]
fn a_new_device_that_skips_step_20_fails_whether_it_talks_or_not() {
    let device =
        ["qr-login/abort-a/unknown-verifying-device-id", "qr-login/abort-a/wrong-verifying-device-key"];
    for knobs in [
        r#"{"skip-verifying-device-check": true}"#,
        r#"{"skip-verifying-device-check": true, "silent-security-abort": true}"#,
    ] {
        expect(&through_adapter(RoleKind::NewDevice, knobs, &device), Verdict::Fail);
    }
}

#[test]
fn an_existing_device_that_skips_step_17_fails_whether_it_talks_or_not() {
    let scenario = ["qr-login/abort-b/wrong-device-key"];
    for knobs in [
        r#"{"skip-device-key-check": true}"#,
        r#"{"skip-device-key-check": true, "silent-security-abort": true}"#,
    ] {
        let results = through_adapter(RoleKind::ExistingDevice, knobs, &scenario);
        expect(&results, Verdict::Fail);
        let why = results.values().map(|r| r.explain()).collect::<String>();
        assert!(why.contains("about A") || why.contains("outcome=verified"), "{why}");
    }
}
