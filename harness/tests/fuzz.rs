//! `conformance fuzz` end to end: the same seed gives the same runs and findings; our
//! honest devices break no invariant; each knob that breaks a safety rule is found,
//! and its saved scenario replays the violation under the normal runner; fuzzing
//! through the reference adapter works and keeps to `--jobs`.

use std::path::{Path, PathBuf};

use devices::RoleKind;
use harness::check::verdict::Verdict;
use harness::fuzz::play::Target;
use harness::fuzz::report::FuzzReport;
use harness::fuzz::{campaign, Budget, FuzzOptions};
use harness::scenario::Scenario;
use serde_json::{json, Map, Value};

const A: RoleKind = RoleKind::NewDevice;
const B: RoleKind = RoleKind::ExistingDevice;
const R: RoleKind = RoleKind::Registrar;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("conformance-fuzz-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn knobs(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

async fn fuzz(options: FuzzOptions) -> FuzzReport {
    campaign(options, |_| {}).await
}

fn summary(report: &FuzzReport) -> Vec<(String, u64, Vec<String>, Vec<String>)> {
    report
        .findings
        .iter()
        .map(|f| (f.invariant.to_owned(), f.seed, f.minimal.clone(), f.violation.lines.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_runs_and_findings() {
    let options = || FuzzOptions {
        jobs: 2,
        own_knobs: knobs(json!({"skip-master-key-check": true})),
        ..FuzzOptions::in_process(A, 1_000, 60)
    };
    let first = fuzz(options()).await;
    let second = fuzz(options()).await;
    assert_eq!(first.runs, 60);
    assert!(!first.findings.is_empty(), "the broken device is found: {}", first.console());
    assert_eq!(summary(&first), summary(&second));
    assert_eq!(first.coverage, second.coverage);
    let other = fuzz(FuzzOptions { jobs: 1, ..options() }).await;
    assert_eq!(summary(&first), summary(&other), "the number of jobs changes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_honest_devices_break_no_invariant() {
    for role in [A, B, R] {
        let report = fuzz(FuzzOptions { jobs: 2, ..FuzzOptions::in_process(role, 0, 150) }).await;
        assert_eq!(report.runs, 150);
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert!(report.findings.is_empty(), "{}", report.console());
        assert!(report.coverage.len() > 10, "the generators vary the runs: {:?}", report.coverage);
    }
}

/// Fuzzes our own device with `knob` on, and replays what was saved.
async fn found_and_replayed(role: RoleKind, knob: &str) {
    let dir = temp_dir(knob);
    let report = fuzz(FuzzOptions {
        jobs: 2,
        save: Some(dir.clone()),
        own_knobs: knobs(json!({ knob: true })),
        budget: Budget::Runs(400),
        ..FuzzOptions::in_process(role, 0, 0)
    })
    .await;
    let finding = report
        .findings
        .iter()
        .find(|f| f.invariant.starts_with("safety."))
        .unwrap_or_else(|| panic!("{knob}: no safety violation found\n{}", report.console()));
    println!("{}", report.console());
    let path = finding.saved.clone().expect("saved");
    let replay = finding.replay.clone().expect("a replay command");
    assert!(replay.starts_with("conformance run ") && replay.ends_with(&path.display().to_string()));
    let scenario =
        Scenario::load(&path, path.parent().unwrap_or(Path::new("."))).expect("the saved file loads");
    assert!(scenario.title.contains(&format!("seed {}", finding.seed)), "{}", scenario.title);
    assert!(scenario.title.contains(finding.invariant), "{}", scenario.title);
    let result = harness::run::in_process(&scenario).await;
    assert_eq!(result.verdict, Verdict::Fail, "{knob}: the saved scenario replays\n{}", result.explain());
    let replayed = result.failures.iter().any(|f| {
        finding.violation.never.iter().any(|p| f.expectation.contains(p.as_str()))
            || f.expectation.starts_with("outcome")
    });
    assert!(replayed, "{knob}: the replay fails on the violation's own expectation\n{}", result.explain());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_device_that_skips_step_20_is_found() {
    found_and_replayed(A, "skip-verifying-device-check").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_device_that_skips_step_21a_is_found() {
    found_and_replayed(A, "skip-master-key-check").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_device_that_asks_for_secrets_before_it_is_verified_is_found() {
    found_and_replayed(A, "request-secrets-early").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_device_that_sends_secrets_in_clear_is_found() {
    found_and_replayed(B, "answer-secrets-unencrypted").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_device_that_skips_step_17_is_found() {
    found_and_replayed(B, "skip-device-key-check").await;
}

/// `skip-key-check` skips the registrar's check right after registering (and so its
/// repair of a server that dropped the keys), but not its last `/keys/query`: it ends
/// `error` rather than `success` without its keys, which breaks no safety rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registrar_that_skips_its_first_key_check_still_never_claims_keys_it_lacks() {
    let report = fuzz(FuzzOptions {
        jobs: 2,
        own_knobs: knobs(json!({"skip-key-check": true})),
        ..FuzzOptions::in_process(R, 0, 1_000)
    })
    .await;
    assert!(report.coverage.get("server:msc2912").copied().unwrap_or(0) > 50, "{:?}", report.coverage);
    assert!(report.findings.is_empty(), "{}", report.console());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzzing_through_the_reference_adapter_works_and_keeps_to_jobs() {
    let dir = temp_dir("adapter");
    std::fs::create_dir_all(dir.join("alive")).unwrap();
    // A wrapper that notes how many adapters are alive when it starts.
    let script = dir.join("adapter.sh");
    let body = format!(
        "#!/bin/sh\nalive='{alive}'\ntouch \"$alive/$$\"\nls \"$alive\" | wc -l >> '{log}'\n'{bin}' device --role existing-device\nrc=$?\nrm -f \"$alive/$$\"\nexit $rc\n",
        alive = dir.join("alive").display(),
        log = dir.join("log").display(),
        bin = env!("CARGO_BIN_EXE_conformance"),
    );
    std::fs::write(&script, body).unwrap();
    let command = format!("sh {}", script.display());
    let report = fuzz(FuzzOptions {
        target: Target::external(&command, B, std::time::Duration::from_secs(20)),
        jobs: 2,
        ..FuzzOptions::in_process(B, 0, 4)
    })
    .await;
    assert_eq!(report.runs, 4);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(report.findings.is_empty(), "{}", report.console());
    let log = std::fs::read_to_string(dir.join("log")).unwrap();
    let counts: Vec<usize> = log.lines().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(counts.len(), 4, "one adapter per run: {log}");
    assert!(counts.iter().all(|n| *n <= 2), "never more adapters at once than --jobs: {counts:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
