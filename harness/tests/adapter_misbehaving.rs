//! Adapters that misbehave on purpose: each must give the right verdict for the
//! right reason, within a bounded time, whatever the adapter does.
//!
//! The scripts play the registrar: a register scenario has no simulated peer, so
//! these tests need nothing from the simulated devices.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use devices::RoleKind;
use harness::check::verdict::Verdict;
use harness::run::external::ExternalClient;
use harness::run::result::ScenarioResult;
use harness::scenario::Scenario;

use common::{load, run_with_client, REGISTER_MSC2912};

fn scenario() -> Scenario {
    load("register/adapter-test", REGISTER_MSC2912)
}

/// A fresh directory for this test's scripts.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("conformance-adapter-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Writes an executable `sh` script and returns the command that runs it.
fn script(name: &str, body: &str) -> String {
    let path = temp_dir(name).join("adapter.sh");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    format!("sh {}", path.display())
}

fn run(command: String, deadline_ms: u64) -> (ScenarioResult, Duration) {
    let client = ExternalClient {
        command,
        kind: RoleKind::Registrar,
        deadline: Some(Duration::from_millis(deadline_ms)),
        poll_ms: None,
        jitter: None,
    };
    let started = Instant::now();
    let result = run_with_client(&scenario(), &client);
    (result, started.elapsed())
}

fn messages(result: &ScenarioResult) -> String {
    result.explain()
}

const READY: &str = r#"echo '{"event":"ready","implementation":"test-adapter 0"}'"#;

#[test]
fn an_adapter_that_crashes_fails_with_its_stderr() {
    let command =
        script("crash", &format!("{READY}\nread setup\necho 'panic: the key store is on fire' >&2\nexit 1"));
    let (result, _) = run(command, 10_000);
    assert_eq!(result.verdict, Verdict::Fail, "{}", messages(&result));
    let text = messages(&result);
    assert!(text.contains("exit status 1"), "{text}");
    assert!(text.contains("the key store is on fire"), "{text}");
}

#[test]
fn an_adapter_that_prints_garbage_fails_naming_the_line() {
    let command = script("garbage", &format!("{READY}\nread setup\necho 'hello, I am not JSON'\nsleep 5"));
    let (result, _) = run(command, 10_000);
    assert_eq!(result.verdict, Verdict::Fail, "{}", messages(&result));
    let text = messages(&result);
    assert!(text.contains("malformed adapter line `hello, I am not JSON`"), "{text}");
}

#[test]
fn an_event_of_the_wrong_shape_is_malformed_too() {
    let command = script(
        "shape",
        &format!("{READY}\nread setup\necho '{{\"event\":\"outcome\",\"outcome\":\"splendid\"}}'\nsleep 5"),
    );
    let (result, _) = run(command, 10_000);
    assert_eq!(result.verdict, Verdict::Fail, "{}", messages(&result));
    assert!(messages(&result).contains("unknown outcome `splendid`"), "{}", messages(&result));
}

#[test]
fn an_adapter_that_hangs_fails_after_the_deadline() {
    let command = script("hang", &format!("{READY}\nexec sleep 60"));
    let (result, took) = run(command, 3_000);
    assert_eq!(result.verdict, Verdict::Fail, "{}", messages(&result));
    assert!(
        messages(&result).contains("did not finish within the deadline of 3000 ms"),
        "{}",
        messages(&result)
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[test]
fn an_adapter_silent_before_ready_fails_after_the_deadline() {
    let command = script("mute", "exec sleep 60");
    let (result, took) = run(command, 3_000);
    assert_eq!(result.verdict, Verdict::Fail, "{}", messages(&result));
    assert!(messages(&result).contains("`ready`"), "{}", messages(&result));
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[test]
fn an_adapter_that_closes_its_output_but_runs_on_fails_for_that() {
    // It answers `ready`, then closes stdout and keeps running.
    let command = script("closed", &format!("{READY}\nread setup\nexec sleep 60 >&-"));
    let (result, took) = run(command, 20_000);
    assert_eq!(result.verdict, Verdict::Fail, "{}", messages(&result));
    assert!(messages(&result).contains("closed its output"), "{}", messages(&result));
    assert!(took < Duration::from_secs(15), "it waited for the deadline: {took:?}");
}

#[test]
fn exit_89_is_unimplemented() {
    let command = script("exit89", &format!("{READY}\necho 'no registrar here' >&2\nexit 89"));
    let (result, _) = run(command, 10_000);
    assert_eq!(result.verdict, Verdict::Unimplemented, "{}", messages(&result));
}

#[test]
fn an_unimplemented_event_is_unimplemented() {
    let command = script(
        "unimpl",
        &format!(
            "{READY}\nread setup\necho '{{\"event\":\"unimplemented\",\"detail\":\"no MSC2912\"}}'\nexec sleep 60"
        ),
    );
    let (result, took) = run(command, 10_000);
    assert_eq!(result.verdict, Verdict::Unimplemented, "{}", messages(&result));
    assert!(messages(&result).contains("no MSC2912"), "{}", messages(&result));
    // The adapter would sleep for a minute: the runner stops it (after a short
    // grace) instead of waiting for it to exit.
    assert!(took < Duration::from_secs(30), "the runner waited for the adapter to exit: {took:?}");
}

#[test]
fn claiming_success_without_touching_the_server_fails_on_the_wire() {
    let command = script(
        "liar",
        &format!(
            "{READY}\nread setup\nread register\necho '{{\"event\":\"outcome\",\"outcome\":\"success\"}}'"
        ),
    );
    let (result, _) = run(command, 10_000);
    assert_eq!(result.verdict, Verdict::Fail, "{}", messages(&result));
    let text = messages(&result);
    assert!(text.contains("`R -> HS: GET /versions 200` never occurred"), "{text}");
    assert!(!text.contains("outcome of R"), "the reported outcome itself was right: {text}");
}

#[test]
fn a_command_that_does_not_exist_fails() {
    let (result, _) = run("/nonexistent/adapter --flag".to_owned(), 5_000);
    assert_eq!(result.verdict, Verdict::Fail, "{}", messages(&result));
}

#[test]
fn a_scenario_without_the_role_is_skipped() {
    let client = ExternalClient {
        command: "true".into(),
        kind: RoleKind::NewDevice,
        deadline: None,
        poll_ms: None,
        jitter: None,
    };
    let result = run_with_client(&scenario(), &client);
    assert_eq!(result.verdict, Verdict::Skipped);
    assert!(result.explain().contains("does not apply"), "{}", result.explain());
}

/// Our own registrar behind the protocol, started by a wrapper script.
fn reference_registrar() -> String {
    format!("{} device --role registrar", env!("CARGO_BIN_EXE_conformance"))
}

#[test]
fn an_adapter_that_ignores_stop_is_named_and_otherwise_passes() {
    // The wrapper outlives its device: it sleeps on after `stop` until it is killed.
    let command = script("deaf", &format!("{}\nexec sleep 60", reference_registrar()));
    let (result, took) = run(command, 20_000);
    assert_eq!(result.verdict, Verdict::Pass, "{}", messages(&result));
    assert!(
        result.notes.iter().any(|n| n.contains("did not exit within the grace period after `stop`")),
        "{:?}",
        result.notes
    );
    assert!(messages(&result).contains("note: the adapter did not exit"), "{}", messages(&result));
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

/// Whether process `pid` still runs (a zombie waiting for its reaper does not).
fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

#[test]
fn what_an_adapter_started_is_gone_after_the_run() {
    let dir = temp_dir("grandchild");
    let pid_file = dir.join("sleeper.pid");
    // A wrapper that starts a long-lived helper in the background, as a script that
    // starts an SDK's server would, then becomes the device.
    let command = script(
        "grandchild-wrapper",
        &format!("sleep 300 &\necho $! > {}\nexec {}", pid_file.display(), reference_registrar()),
    );
    let (result, _) = run(command, 20_000);
    assert_eq!(result.verdict, Verdict::Pass, "{}", messages(&result));
    let pid: u32 =
        std::fs::read_to_string(&pid_file).expect("the wrapper wrote the pid").trim().parse().unwrap();
    assert!(!running(pid), "the adapter's helper {pid} still runs after the run");
    assert!(
        result.notes.iter().any(|n| n.contains("still running after it")),
        "the report names what was left: {:?}",
        result.notes
    );
}

#[test]
fn a_line_that_is_not_utf8_fails_saying_so() {
    let command = script(
        "latin1",
        &format!(
            "{READY}\nread setup\nprintf '{{\"event\":\"decision\",\"decision\":\"caf\\351\"}}\\n'\nsleep 5"
        ),
    );
    let (result, took) = run(command, 10_000);
    assert_eq!(result.verdict, Verdict::Fail, "{}", messages(&result));
    assert!(messages(&result).contains("not UTF-8"), "{}", messages(&result));
    assert!(took < Duration::from_secs(10), "took {took:?}");
}
