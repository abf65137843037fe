//! Properties of the suite as a whole: it is deterministic, its verdicts do not
//! depend on parallelism, and a device broken on purpose makes it fail for the right
//! reason.

use devices::RoleKind;
use harness::check::verdict::Verdict;
use harness::run::result::ScenarioResult;
use harness::run::suite;
use harness::scenario::{RoleConfig, Scenario};

fn scenarios() -> Vec<Scenario> {
    harness::scenario::load_all(&[suite::default_scenarios_dir()]).expect("the suite loads")
}

fn run(scenarios: Vec<Scenario>, jobs: usize) -> Vec<ScenarioResult> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(suite::run_all(scenarios, jobs, |_| {}))
}

#[test]
fn two_runs_give_identical_snapshots_and_jobs_do_not_change_verdicts() {
    let first = run(scenarios(), 1);
    let second = run(scenarios(), 4);
    assert!(!first.is_empty());
    assert_eq!(first.len(), second.len());
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.verdict, b.verdict, "{}: verdict differs between --jobs 1 and --jobs 4", a.name);
        assert_eq!(a.snapshot, b.snapshot, "{}: the snapshot differs between two runs", a.name);
    }
}

/// Sets a knob on every role of one kind.
fn with_knob(mut scenarios: Vec<Scenario>, kind: RoleKind, knob: &str) -> Vec<Scenario> {
    for scenario in &mut scenarios {
        for role in scenario.roles.iter_mut().filter(|r| r.kind == kind) {
            match &mut role.config {
                RoleConfig::NewDevice { knobs, .. } if knob == "skip-master-key-check" => {
                    knobs.skip_master_key_check = true
                }
                RoleConfig::Registrar { knobs, .. } if knob == "skip-key-check" => {
                    knobs.skip_key_check = true
                }
                _ => panic!("no knob {knob} for role {kind}"),
            }
            role.knob_names.push(knob.to_owned());
        }
    }
    scenarios
}

fn result<'a>(results: &'a [ScenarioResult], name: &str) -> &'a ScenarioResult {
    results.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("scenario {name} is in the suite"))
}

#[test]
fn a_new_device_that_skips_the_master_key_check_fails_the_suite_for_that_reason() {
    let broken = with_knob(scenarios(), RoleKind::NewDevice, "skip-master-key-check");
    let results = run(broken, 2);
    let failed = result(&results, "qr-login/abort-a/wrong-master-key");
    assert_eq!(failed.verdict, Verdict::Fail, "{}", failed.explain());
    let explanation = failed.explain();
    assert!(explanation.contains("outcome of A"), "names the broken expectation: {explanation}");
    assert!(
        explanation.contains("never `A: trusted master key`"),
        "names the broken expectation: {explanation}"
    );
    // Where A never reaches step 21a, nothing changes: the failure is specific.
    assert_eq!(result(&results, "qr-login/abort-b/wrong-device-key").verdict, Verdict::Pass);
    assert_eq!(result(&results, "qr-login/other/declined").verdict, Verdict::Pass);
}

#[test]
fn a_registrar_that_skips_its_key_check_fails_on_the_old_server() {
    let broken = with_knob(scenarios(), RoleKind::Registrar, "skip-key-check");
    let results = run(broken, 2);
    let failed = result(&results, "register/old-server-ignores-field");
    assert_eq!(failed.verdict, Verdict::Fail, "{}", failed.explain());
    assert!(failed.explain().contains("order["), "{}", failed.explain());
    // Where the registrar never gets as far as the check, nothing changes.
    assert_eq!(result(&results, "register/invalid-master-wrong-usage").verdict, Verdict::Pass);
}
