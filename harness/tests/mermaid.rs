//! Sequence diagrams drawn from transcripts: participants, arrows, collapsed polling,
//! failure notes in place, and every line a statement Mermaid knows.

use devices::RoleKind;
use devices::{Abort, Decision, Outcome};
use harness::check::expect::{Failure, Level};
use harness::check::transcript::{Actor, Display, Ending, Entry, SeenBy, TranscriptEntry};
use harness::check::verdict::Verdict;
use harness::report::mermaid::{sequence_diagram, MAX_TEXT};
use harness::run::result::ScenarioResult;
use mock_homeserver::JournalBody;
use serde_json::json;

const RENDEZVOUS: &str = "/_matrix/client/unstable/org.matrix.msc3886/rendezvous/abc";

struct Builder(Vec<TranscriptEntry>);

fn role(letter: &str) -> RoleKind {
    RoleKind::from_letter(letter).expect("a role letter")
}

impl Builder {
    fn push(mut self, entry: Entry) -> Self {
        let seq = self.0.len() + 1;
        self.0.push(TranscriptEntry { seq, at_ms: seq as u64 * 100, entry });
        self
    }
    fn http(self, actor: &str, method: &str, path: &str, status: u16) -> Self {
        let response = if status >= 400 {
            JournalBody::Json(json!({"errcode": "M_NOT_FOUND"}))
        } else {
            JournalBody::Json(json!({}))
        };
        self.push(Entry::Http {
            actor: Actor::Role(role(actor)),
            method: method.into(),
            path: path.into(),
            query: None,
            status,
            request: JournalBody::Empty,
            response,
            faults: vec![],
        })
    }
    fn polls(mut self, actor: &str, times: usize) -> Self {
        for _ in 0..times {
            self = self.http(actor, "GET", RENDEZVOUS, 304);
        }
        self
    }
    fn channel(self, from: &str, to: &str, message: serde_json::Value) -> Self {
        self.push(Entry::Channel {
            from: role(from),
            to: role(to),
            message,
            encrypted: true,
            seen_by: SeenBy::Sent,
        })
    }
    fn decision(self, actor: &str, decision: Decision) -> Self {
        self.push(Entry::Decision { actor: role(actor), decision })
    }
    fn finished(self, actor: &str, outcome: Outcome) -> Self {
        self.push(Entry::Finished { actor: role(actor), ending: Ending::from(&outcome) })
    }
}

fn result(transcript: Vec<TranscriptEntry>, verdict: Verdict, failures: Vec<Failure>) -> ScenarioResult {
    ScenarioResult {
        name: "qr-login/example".into(),
        title: "example".into(),
        steps: vec![],
        implementation: None,
        verdict,
        failures,
        duration_ms: 10,
        transcript,
        snapshot: String::new(),
        names: vec![
            ("NEWDEVICE".into(), RoleKind::NewDevice),
            ("OLDDEVICE".into(), RoleKind::ExistingDevice),
        ],
        notes: vec![],
        stderr: String::new(),
        expected_failure: None,
        expectation_mismatch: None,
    }
}

fn happy_path() -> ScenarioResult {
    let t = Builder(Vec::new())
        .http("B", "POST", "/_matrix/client/unstable/org.matrix.msc3886/rendezvous", 201)
        .push(Entry::Shows { actor: role("B"), what: Display::QrCode, value: "payload".into() })
        .polls("B", 3)
        .http("A", "PUT", RENDEZVOUS, 202)
        .polls("B", 2)
        .polls("A", 1)
        .polls("B", 2)
        .channel("B", "A", json!({"type": "m.login.progress", "protocol": "org.matrix.msc3906.login_token"}))
        .http("A", "POST", "/_matrix/client/v3/keys/query", 200)
        .decision("A", Decision::MarkedVerified { device_id: "OLDDEVICE".into() })
        .channel("B", "A", json!({"type": "m.login.finish", "outcome": "verified"}))
        .finished("A", Outcome::Verified)
        .finished("B", Outcome::Verified);
    result(t.0, Verdict::Pass, vec![])
}

fn abort_path() -> ScenarioResult {
    let t = Builder(Vec::new())
        .channel("A", "B", json!({"type": "m.login.progress", "outcome": "success"}))
        .http("B", "POST", "/_matrix/client/v3/keys/query", 200)
        .decision("B", Decision::CheckedDeviceKey { device_id: "NEWDEVICE".into(), matched: false })
        .decision(
            "B",
            Decision::Aborted {
                reason: Abort::DeviceKeyMismatch {
                    device_id: "NEWDEVICE".into(),
                    expected: "x".into(),
                    found: "y".into(),
                },
            },
        )
        .http("B", "POST", "/_matrix/client/v3/keys/signatures/upload", 200)
        .channel("B", "A", json!({"type": "m.login.finish", "outcome": "e2ee_security_error"}))
        .http("A", "DELETE", RENDEZVOUS, 404)
        .push(Entry::Note { actor: Actor::Runner, text: "deadline; of #1 <passed>\nsecond line".into() })
        .finished("B", Outcome::SecurityError { reason: Abort::PeerSecurityError });
    let failures = vec![
        Failure {
            expectation: "never `B -> HS: POST /keys/signatures/upload`".into(),
            message: "`B -> HS: POST /keys/signatures/upload` must never occur, but it did at #5".into(),
            context: vec!["   3  B: checked A's device key: mismatch".into(), "   5  B -> HS: ...".into()],
            level: Level::Must,
        },
        Failure {
            expectation: "outcome of A".into(),
            message: "expected A to finish `security_error`, but it never finished".into(),
            context: vec![
                "   1  A -> B: m.login.progress outcome=success".into(),
                "   7  A -> HS: ...".into(),
            ],
            level: Level::Must,
        },
        Failure {
            expectation: "should_never `x`".into(),
            message: "something; with # and a very long tail ".repeat(10),
            context: vec![],
            level: Level::Should,
        },
    ];
    result(t.0, Verdict::Fail, failures)
}

/// Checks that every line is a statement of a sequence diagram and that every
/// participant used was declared; returns the declared participant IDs.
fn check_well_formed(diagram: &str) -> Vec<String> {
    let mut lines = diagram.lines();
    assert_eq!(lines.next(), Some("sequenceDiagram"));
    let is_id = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let mut declared: Vec<String> = Vec::new();
    let mut body_started = false;
    for line in lines {
        let statement = line.strip_prefix("    ").unwrap_or_else(|| panic!("not indented: {line:?}"));
        let check_text = |text: &str| {
            assert!(!text.is_empty(), "empty text: {line:?}");
            assert!(text.chars().count() <= MAX_TEXT * 4, "too long: {line:?}");
            assert!(!text.contains(['<', '>', '\n', '\r']), "unescaped: {line:?}");
            // `;` and `#` only inside entity codes like `#59;`.
            let mut rest = text;
            while let Some(at) = rest.find(['#', ';']) {
                assert!(rest[at..].starts_with('#'), "bare `;`: {line:?}");
                let end = rest[at..].find(';').unwrap_or_else(|| panic!("bare `#`: {line:?}"));
                assert!(rest[at + 1..at + end].chars().all(|c| c.is_ascii_digit()), "bad entity: {line:?}");
                rest = &rest[at + end + 1..];
            }
        };
        let declared_id = |id: &str, declared: &[String]| {
            assert!(declared.iter().any(|d| d == id), "undeclared participant {id}: {line:?}")
        };
        if let Some(rest) = statement.strip_prefix("participant ") {
            assert!(!body_started, "participant after the body: {line:?}");
            let (id, label) = rest.split_once(" as ").unwrap_or_else(|| panic!("no label: {line:?}"));
            assert!(is_id(id), "bad participant id: {line:?}");
            check_text(label);
            declared.push(id.to_owned());
            continue;
        }
        body_started = true;
        if let Some(rest) = statement.strip_prefix("Note over ") {
            let (over, text) = rest.split_once(": ").unwrap_or_else(|| panic!("no text: {line:?}"));
            let ids: Vec<&str> = over.split(',').collect();
            assert!((1..=2).contains(&ids.len()), "{line:?}");
            for id in ids {
                assert!(is_id(id), "{line:?}");
                declared_id(id, &declared);
            }
            check_text(text);
            continue;
        }
        let (arrow, text) =
            statement.split_once(": ").unwrap_or_else(|| panic!("unknown statement: {line:?}"));
        let (from, to) = arrow
            .split_once("-->>")
            .or_else(|| arrow.split_once("->>"))
            .unwrap_or_else(|| panic!("unknown statement: {line:?}"));
        for id in [from, to] {
            assert!(is_id(id), "{line:?}");
            declared_id(id, &declared);
        }
        check_text(text);
    }
    declared
}

#[test]
fn a_happy_path_has_its_participants_arrows_and_notes() {
    let diagram = sequence_diagram(&happy_path());
    let participants = check_well_formed(&diagram);
    assert_eq!(participants, ["B", "HS", "A"], "in order of appearance\n{diagram}");
    for expected in [
        "    participant B as B (existing device)",
        "    participant HS as HS (homeserver)",
        "    participant A as A (new device)",
        "    B->>HS: POST /rendezvous",
        "    HS-->>B: 201",
        "    Note over B: shows QR code",
        "    A->>HS: POST /keys/query",
        "    HS-->>A: 200",
        "    B->>A: m.login.progress protocol=org.matrix.msc3906.login_token",
        "    Note over A: marked B verified",
        "    B->>A: m.login.finish outcome=verified",
        "    Note over A: finished verified",
        "    Note over B: finished verified",
    ] {
        assert!(diagram.lines().any(|l| l == expected), "missing {expected:?} in\n{diagram}");
    }
    assert!(!diagram.contains('✗'), "{diagram}");
}

#[test]
fn polling_is_collapsed_per_poller() {
    let diagram = sequence_diagram(&happy_path());
    let lines: Vec<&str> = diagram.lines().collect();
    let polls: Vec<&str> = lines.iter().copied().filter(|l| l.contains("304")).collect();
    // 3 polls by B; then 2 by B, 1 by A, 2 by B (interleaved: one run of polls).
    assert_eq!(
        polls,
        ["    HS-->>B: 304 (polled 3×)", "    HS-->>B: 304 (polled 4×)", "    HS-->>A: 304"],
        "{diagram}"
    );
    let gets = lines.iter().filter(|l| l.contains("GET /rendezvous/abc")).count();
    assert_eq!(gets, 3, "{diagram}");
}

#[test]
fn an_abort_marks_each_failure_where_it_happened() {
    let diagram = sequence_diagram(&abort_path());
    let participants = check_well_formed(&diagram);
    assert_eq!(participants, ["A", "B", "HS"], "{diagram}");
    let lines: Vec<&str> = diagram.lines().collect();
    let position = |text: &str| {
        lines.iter().position(|l| l.contains(text)).unwrap_or_else(|| panic!("no {text:?} in\n{diagram}"))
    };
    assert!(lines.contains(&"    Note over B: checked A's device key: mismatch"), "{diagram}");
    assert!(lines.contains(&"    Note over B: aborted: device_key_mismatch"), "{diagram}");
    assert!(lines.contains(&"    B->>A: m.login.finish outcome=e2ee_security_error"), "{diagram}");
    assert!(lines.contains(&"    HS-->>A: 404 M_NOT_FOUND"), "{diagram}");

    // The `never` failure names #5: right after the exchange it forbids, over B.
    let never = position("✗ never");
    assert_eq!(lines[never - 1], "    HS-->>B: 200");
    assert_eq!(lines[never - 2], "    B->>HS: POST /keys/signatures/upload");
    assert!(lines[never].starts_with("    Note over B: ✗ never `B -#62; HS: POST /keys/signatures/upload`: "));

    // The outcome failure has no #seq in its message: its last context line (#7).
    let outcome = position("✗ outcome of A");
    assert_eq!(lines[outcome - 1], "    HS-->>A: 404 M_NOT_FOUND");
    assert!(lines[outcome].starts_with("    Note over A: ✗ outcome of A: expected A to finish"));

    // The SHOULD failure points nowhere: at the end, over everyone, cut short and escaped.
    let should = position("✗ should_never");
    assert_eq!(should, lines.len() - 1);
    assert!(lines[should]
        .starts_with("    Note over A,HS: ✗ should_never `x` (SHOULD): something#59; with #35; and"));
    assert!(lines[should].ends_with('…'), "{}", lines[should]);

    // The runner's note is over everyone, on one line, escaped.
    assert!(
        lines.contains(&"    Note over A,HS: runner: deadline#59; of #35;1 #60;passed#62; second line"),
        "{diagram}"
    );
}

#[test]
fn a_run_that_broke_before_any_entry_still_draws_its_failure() {
    let failure = Failure {
        expectation: "setup".into(),
        message: "cannot start the mock homeserver".into(),
        context: vec![],
        level: Level::Must,
    };
    let diagram = sequence_diagram(&result(vec![], Verdict::Fail, vec![failure]));
    assert_eq!(check_well_formed(&diagram), ["harness"]);
    assert!(
        diagram.ends_with("    Note over harness: ✗ setup: cannot start the mock homeserver\n"),
        "{diagram}"
    );

    let empty = sequence_diagram(&result(vec![], Verdict::Pass, vec![]));
    assert_eq!(empty, "sequenceDiagram\n");
}
