//! `--transcripts` and `--diagrams`: one file per scenario, named after it; full
//! transcripts only for failing scenarios, with the HTTP bodies.

use harness::check::expect::{Failure, Level};
use harness::check::transcript::{Entry, TranscriptEntry};
use harness::check::verdict::Verdict;
use harness::report::artifacts::{full_transcript, write_diagrams, write_transcripts};
use harness::run::result::ScenarioResult;
use mock_homeserver::JournalBody;
use serde_json::json;

fn result(name: &str, verdict: Verdict) -> ScenarioResult {
    let transcript = vec![TranscriptEntry {
        seq: 1,
        at_ms: 0,
        entry: Entry::Http {
            actor: harness::check::transcript::Actor::Role(devices::RoleKind::ExistingDevice),
            method: "POST".into(),
            path: "/_matrix/client/v3/keys/query".into(),
            query: Some("timeout=0".into()),
            status: 200,
            request: JournalBody::Json(json!({"device_keys": {"@alice:test": ["NEWDEVICE"]}})),
            response: JournalBody::Json(
                json!({"device_keys": {"@alice:test": {"NEWDEVICE": {"keys": "k"}}}}),
            ),
            faults: vec!["tamper-device-key".into()],
        },
    }];
    let failures = match verdict {
        Verdict::Fail => vec![Failure {
            expectation: "outcome of B".into(),
            message: "expected B to finish `security_error`".into(),
            context: vec![],
            level: Level::Must,
        }],
        _ => vec![],
    };
    ScenarioResult {
        name: name.into(),
        title: format!("title of {name}"),
        steps: vec![],
        implementation: None,
        verdict,
        failures,
        duration_ms: 3,
        transcript,
        snapshot: String::new(),
        names: vec![],
        notes: vec![],
        stderr: String::new(),
        expected_failure: None,
        expectation_mismatch: None,
    }
}

fn temp_dir(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("harness-artifacts-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn the_full_transcript_has_the_explanation_lines_and_bodies() {
    let text = full_transcript(&result("qr-login/abort/x", Verdict::Fail));
    assert!(text.starts_with("FAIL qr-login/abort/x\ntitle of qr-login/abort/x\n"), "{text}");
    assert!(text.contains("✗ outcome of B: expected B to finish `security_error`"), "{text}");
    assert!(text.contains("   1       0ms  B -> HS: POST /keys/query 200"), "{text}");
    assert!(text.contains("#1 0ms B -> HS: POST /keys/query?timeout=0 200"), "{text}");
    assert!(text.contains("faults: tamper-device-key"), "{text}");
    assert!(text.contains("\"NEWDEVICE\": {"), "pretty JSON bodies: {text}");
}

#[test]
fn transcripts_are_written_for_failing_scenarios_only() {
    let dir = temp_dir("transcripts");
    let mut xfail = result("register/known-bug", Verdict::Fail);
    xfail.expected_failure = Some("issue 7".into());
    let results =
        [result("qr-login/happy/a", Verdict::Pass), result("qr-login/abort/b", Verdict::Fail), xfail];
    let written = write_transcripts(&dir, &results).expect("written");
    assert_eq!(written, [dir.join("qr-login__abort__b.txt"), dir.join("register__known-bug.txt")]);
    let text = std::fs::read_to_string(&written[1]).expect("readable");
    assert!(text.starts_with("XFAIL register/known-bug\n"), "{text}");
    assert!(text.contains("expected to fail: issue 7"), "{text}");
    std::fs::remove_dir_all(&dir).expect("cleaned up");
}

#[test]
fn diagrams_are_written_for_every_scenario() {
    let dir = temp_dir("diagrams");
    let results = [result("qr-login/happy/a", Verdict::Pass), result("qr-login/abort/b", Verdict::Fail)];
    let written = write_diagrams(&dir, &results).expect("written");
    assert_eq!(written, [dir.join("qr-login__happy__a.mmd"), dir.join("qr-login__abort__b.mmd")]);
    let text = std::fs::read_to_string(&written[0]).expect("readable");
    assert!(text.starts_with("sequenceDiagram\n"), "{text}");
    assert!(text.contains("    B->>HS: POST /keys/query\n"), "{text}");
    std::fs::remove_dir_all(&dir).expect("cleaned up");
}

#[test]
fn a_directory_that_cannot_be_made_is_an_error_not_a_panic() {
    let file = temp_dir("not-a-dir");
    std::fs::write(&file, "x").expect("a file");
    let error = write_diagrams(&file.join("sub"), &[result("a", Verdict::Pass)]).unwrap_err();
    assert!(error.contains("not-a-dir"), "{error}");
    std::fs::remove_file(&file).expect("cleaned up");
}
