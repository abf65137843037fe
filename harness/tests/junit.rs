//! The JUnit report is well-formed XML whose counts, testcases and texts match the
//! results it was made from, special characters included.

use devices::RoleKind;
use devices::{Decision, Outcome};
use harness::check::expect::{Failure, Level};
use harness::check::transcript::{Actor, Ending, Entry, TranscriptEntry};
use harness::check::verdict::Verdict;
use harness::report::junit;
use harness::report::summary::{ExitStatus, RunInfo};
use harness::run::result::ScenarioResult;
use mock_homeserver::JournalBody;
use roxmltree::{Document, Node};
use serde_json::json;

fn failure(expectation: &str, message: &str, level: Level) -> Failure {
    Failure { expectation: expectation.into(), message: message.into(), context: vec![], level }
}

fn result(name: &str, verdict: Verdict, failures: Vec<Failure>) -> ScenarioResult {
    ScenarioResult {
        name: name.into(),
        title: format!("title of {name}"),
        steps: vec![],
        implementation: None,
        verdict,
        failures,
        duration_ms: 1234,
        transcript: Vec::new(),
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

/// The run's facts: simulated roles only, unless `external` names the client under test.
fn run(duration_ms: u64, external: Option<(&str, RoleKind)>) -> RunInfo {
    RunInfo {
        role: external.map(|(_, role)| role),
        implementation: external.map(|(name, _)| name.to_owned()),
        duration_ms,
        exit_status: ExitStatus::Failed,
    }
}

fn junit_xml(results: &[ScenarioResult], suite_name: &str, duration_ms: u64) -> String {
    junit::junit_xml(results, suite_name, &run(duration_ms, None))
}

fn http(seq: usize, actor: &str, method: &str, path: &str, status: u16) -> TranscriptEntry {
    TranscriptEntry {
        seq,
        at_ms: seq as u64 * 10,
        entry: Entry::Http {
            actor: Actor::Role(RoleKind::from_letter(actor).expect("a role letter")),
            method: method.into(),
            path: path.into(),
            query: None,
            status,
            request: JournalBody::Empty,
            response: JournalBody::Json(json!({})),
            faults: vec![],
        },
    }
}

/// A transcript of 60 entries, so that a failure shows only its last 40.
fn long_transcript() -> Vec<TranscriptEntry> {
    let mut entries: Vec<TranscriptEntry> =
        (1..=58).map(|seq| http(seq, "A", "GET", "/_matrix/client/v1/rendezvous/abc", 304)).collect();
    entries.push(TranscriptEntry {
        seq: 59,
        at_ms: 590,
        entry: Entry::Decision {
            actor: RoleKind::ExistingDevice,
            decision: Decision::MarkedVerified { device_id: "NEWDEVICE".into() },
        },
    });
    entries.push(TranscriptEntry {
        seq: 60,
        at_ms: 600,
        entry: Entry::Finished { actor: RoleKind::ExistingDevice, ending: Ending::from(&Outcome::Verified) },
    });
    entries
}

/// A nasty string: every XML special, a control character and a non-character.
const NASTY: &str = "a&b <c> \"d\" 'e' \u{1}\u{8}f\u{FFFE} g\th";
/// What survives of it: the forbidden characters dropped, the rest intact.
const NASTY_CLEAN: &str = "a&b <c> \"d\" 'e' f g\th";

fn all_results() -> Vec<ScenarioResult> {
    let mut fail = result(
        "qr-login/abort/wrong-device-key",
        Verdict::Fail,
        vec![failure("outcome of B", &format!("expected security_error, got verified {NASTY}"), Level::Must)],
    );
    fail.transcript = long_transcript();
    let mut xfail =
        result("qr-login/xfail", Verdict::Fail, vec![failure("order[0]", "never occurred", Level::Must)]);
    xfail.expected_failure = Some("known bug 12".into());
    let mut stale = result("qr-login/stale", Verdict::Pass, vec![]);
    stale.expected_failure = Some("was broken".into());
    vec![
        result("qr-login/happy/b-shows-code", Verdict::Pass, vec![]),
        result(
            "qr-login/happy/slow",
            Verdict::NonStrict,
            vec![failure("should_never `A -> HS: GET /x`", "it did at #3 <oops>", Level::Should)],
        ),
        result(
            "register/unstable",
            Verdict::Unimplemented,
            vec![failure("adapter", "no registrar", Level::Must)],
        ),
        result(
            "register/skipped",
            Verdict::Skipped,
            vec![failure("skipped", &format!("no faults {NASTY}"), Level::Must)],
        ),
        fail,
        xfail,
        stale,
        result("toplevel", Verdict::Pass, vec![]),
    ]
}

fn attr<'a>(node: Node<'a, '_>, name: &str) -> &'a str {
    node.attribute(name).unwrap_or_else(|| panic!("<{}> has no {name}", node.tag_name().name()))
}

fn count_attr(node: Node<'_, '_>, name: &str) -> usize {
    attr(node, name).parse().expect("a count")
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| c.has_tag_name(name))
}

fn testcase<'a, 'i>(suite: Node<'a, 'i>, name: &str) -> Node<'a, 'i> {
    suite
        .children()
        .find(|c| c.has_tag_name("testcase") && c.attribute("name") == Some(name))
        .unwrap_or_else(|| panic!("no testcase {name}"))
}

#[test]
fn the_report_is_valid_and_its_counts_match_its_testcases() {
    let results = all_results();
    let xml = junit_xml(&results, "conformance <&>", 65_432);
    let doc = Document::parse(&xml).unwrap_or_else(|e| panic!("invalid XML: {e}\n{xml}"));
    let root = doc.root_element();
    assert!(root.has_tag_name("testsuites"));
    let suites: Vec<Node> = root.children().filter(Node::is_element).collect();
    assert_eq!(suites.len(), 1);
    let suite = suites[0];
    assert!(suite.has_tag_name("testsuite"));
    assert_eq!(attr(suite, "name"), "conformance <&>");
    assert_eq!(attr(suite, "time"), "65.432");

    let cases: Vec<Node> = suite.children().filter(|c| c.has_tag_name("testcase")).collect();
    assert_eq!(cases.len(), results.len());
    assert_eq!(
        suite.children().filter(Node::is_element).count(),
        cases.len() + 1,
        "the properties, then only testcases in the suite"
    );
    assert!(suite.first_element_child().is_some_and(|n| n.has_tag_name("properties")));
    let with = |tag: &str| cases.iter().filter(|c| child(**c, tag).is_some()).count();
    for node in [root, suite] {
        assert_eq!(count_attr(node, "tests"), cases.len());
        assert_eq!(count_attr(node, "failures"), with("failure"));
        assert_eq!(count_attr(node, "errors"), with("error"));
        assert_eq!(count_attr(node, "skipped"), with("skipped"));
    }
    // FAIL and the stale expected failure fail; SKIPPED, UNIMPLEMENTED and XFAIL skip.
    assert_eq!(with("failure"), 2);
    assert_eq!(with("skipped"), 3);

    for case in &cases {
        assert!(!attr(*case, "classname").is_empty());
        assert!(!attr(*case, "name").is_empty());
        let time: f64 = attr(*case, "time").parse().expect("seconds");
        assert!((time - 1.234).abs() < 1e-9);
    }
    let names: Vec<&str> = cases.iter().map(|c| attr(*c, "name")).collect();
    let expected: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, expected);
    assert_eq!(attr(testcase(suite, "qr-login/abort/wrong-device-key"), "classname"), "qr-login.abort");
    assert_eq!(attr(testcase(suite, "toplevel"), "classname"), "conformance <&>");
}

#[test]
fn a_failure_explains_itself_and_shows_the_end_of_the_transcript() {
    let results = all_results();
    let xml = junit_xml(&results, "conformance", 1);
    let doc = Document::parse(&xml).expect("valid XML");
    let suite = doc.root_element().first_element_child().expect("a suite");
    let fail = child(testcase(suite, "qr-login/abort/wrong-device-key"), "failure").expect("a failure");
    assert_eq!(attr(fail, "type"), "FAIL");
    assert_eq!(
        attr(fail, "message"),
        format!("outcome of B: expected security_error, got verified {NASTY_CLEAN}")
    );
    let text = fail.text().expect("failure text");
    let explanation = results[4].explain().replace(['\u{1}', '\u{8}', '\u{FFFE}'], "");
    assert!(text.contains(&explanation), "{text}");
    assert!(text.contains("B: marked A verified"), "{text}");
    assert!(text.contains("B: finished verified"), "{text}");
    // 40 lines of transcript: entries 21 to 60.
    assert!(text.contains("  21     210ms  A -> HS: GET /rendezvous/abc 304"), "{text}");
    assert!(!text.contains("  20     200ms"), "{text}");
    assert!(text.contains("last 40 of 60 lines"), "{text}");
}

#[test]
fn skips_non_strict_and_expected_failures_are_reported_as_such() {
    let xml = junit_xml(&all_results(), "conformance", 1);
    let doc = Document::parse(&xml).expect("valid XML");
    let suite = doc.root_element().first_element_child().expect("a suite");

    let pass = testcase(suite, "qr-login/happy/b-shows-code");
    assert_eq!(pass.children().filter(Node::is_element).count(), 0);

    let non_strict = testcase(suite, "qr-login/happy/slow");
    assert!(child(non_strict, "failure").is_none() && child(non_strict, "skipped").is_none());
    let out = child(non_strict, "system-out").and_then(|n| n.text()).expect("system-out");
    assert!(out.contains("SHOULD failed: should_never `A -> HS: GET /x`: it did at #3 <oops>"), "{out}");

    let skipped = child(testcase(suite, "register/skipped"), "skipped").expect("skipped");
    assert_eq!(attr(skipped, "message"), format!("no faults {NASTY_CLEAN}"));
    let unimplemented = child(testcase(suite, "register/unstable"), "skipped").expect("skipped");
    assert_eq!(attr(unimplemented, "message"), "unimplemented: no registrar");
    let xfail = child(testcase(suite, "qr-login/xfail"), "skipped").expect("skipped");
    assert!(attr(xfail, "message").contains("expected failure (XFAIL): known bug 12"));
    let stale = child(testcase(suite, "qr-login/stale"), "failure").expect("failure");
    assert_eq!(attr(stale, "type"), "XPASS");
    assert!(attr(stale, "message").starts_with("stale expected failure: qr-login/stale passed"));
}

#[test]
fn special_characters_round_trip_in_names_and_messages() {
    let name = "weird/<&>\"'\u{7}\ttab\nnewline";
    let results =
        vec![result(name, Verdict::Skipped, vec![failure("skipped", "line one\nline two\r\n", Level::Must)])];
    let xml = junit_xml(&results, "s", 0);
    let doc = Document::parse(&xml).unwrap_or_else(|e| panic!("invalid XML: {e}\n{xml}"));
    let case = doc.descendants().find(|n| n.has_tag_name("testcase")).expect("testcase");
    assert_eq!(attr(case, "name"), "weird/<&>\"'\ttab\nnewline");
    assert_eq!(attr(case, "classname"), "weird");
    let skipped = child(case, "skipped").expect("skipped");
    assert_eq!(attr(skipped, "message"), "line one\nline two\r\n");
}

#[test]
fn an_empty_run_is_a_valid_empty_suite() {
    let xml = junit_xml(&[], "conformance", 0);
    let doc = Document::parse(&xml).expect("valid XML");
    let suite = doc.root_element().first_element_child().expect("a suite");
    assert_eq!(count_attr(suite, "tests"), 0);
    assert_eq!(suite.children().filter(|n| n.has_tag_name("testcase")).count(), 0);
}

fn property<'a>(suite: Node<'a, '_>, name: &str) -> Option<&'a str> {
    let properties = child(suite, "properties")?;
    properties
        .children()
        .find(|p| p.has_tag_name("property") && p.attribute("name") == Some(name))
        .map(|p| attr(p, "value"))
}

#[test]
fn the_implementation_and_role_under_test_are_properties() {
    let results = all_results();
    let xml = junit::junit_xml(
        &results,
        "conformance",
        &run(1, Some(("matrix-js-sdk 34.9.0 <&>", RoleKind::Registrar))),
    );
    let doc = Document::parse(&xml).unwrap_or_else(|e| panic!("invalid XML: {e}\n{xml}"));
    let suite = doc.root_element().first_element_child().expect("a suite");
    assert_eq!(property(suite, "implementation"), Some("matrix-js-sdk 34.9.0 <&>"));
    assert_eq!(property(suite, "role"), Some("registrar"));
    assert_eq!(
        property(suite, "harness"),
        Some(format!("conformance {}", env!("CARGO_PKG_VERSION")).as_str())
    );

    let simulated = junit_xml(&results, "conformance", 1);
    let doc = Document::parse(&simulated).expect("valid XML");
    let suite = doc.root_element().first_element_child().expect("a suite");
    assert_eq!(property(suite, "implementation"), None, "no client under test, no implementation");
    assert_eq!(property(suite, "role"), None);
}

#[test]
fn an_adapters_stderr_is_system_err_and_notes_are_system_out_whatever_the_verdict() {
    let stderr = format!("Traceback (most recent call last):\n  boom {NASTY}\n");
    let note = "the adapter did not exit within 2 s after `stop`: killed";
    let mut results = all_results();
    for result in &mut results {
        result.stderr = stderr.clone();
        result.notes.push(note.to_owned());
    }
    let mut quiet = result("register/quiet", Verdict::Pass, vec![]);
    quiet.stderr = " \n".into();
    results.push(quiet);
    let xml = junit_xml(&results, "conformance", 1);
    let doc = Document::parse(&xml).unwrap_or_else(|e| panic!("invalid XML: {e}\n{xml}"));
    let suite = doc.root_element().first_element_child().expect("a suite");
    for result in &results[..results.len() - 1] {
        let case = testcase(suite, &result.name);
        let err = child(case, "system-err")
            .and_then(|n| n.text())
            .unwrap_or_else(|| panic!("{}: no system-err", result.name));
        assert_eq!(err, format!("Traceback (most recent call last):\n  boom {NASTY_CLEAN}\n"));
        let out = child(case, "system-out")
            .and_then(|n| n.text())
            .unwrap_or_else(|| panic!("{}: no system-out", result.name));
        assert!(out.contains(note), "{}: {out}", result.name);
    }
    let quiet = testcase(suite, "register/quiet");
    assert!(child(quiet, "system-err").is_none(), "blank stderr is left out");
    assert_eq!(quiet.children().filter(Node::is_element).count(), 0);
}

#[test]
fn a_verdict_the_expectations_file_does_not_account_for_is_a_failure() {
    let mut unlisted = result(
        "qr-login/abort-b/quiet",
        Verdict::NonStrict,
        vec![failure("should_order[0]", "no e2ee_security_error", Level::Should)],
    );
    unlisted.expectation_mismatch = Some("unlisted NON-STRICT: qr-login/abort-b/quiet broke a SHOULD".into());
    let xml = junit_xml(&[unlisted], "conformance", 1);
    let doc = Document::parse(&xml).expect("valid XML");
    let suite = doc.root_element().first_element_child().expect("a suite");
    assert_eq!(count_attr(suite, "failures"), 1);
    let failure = child(testcase(suite, "qr-login/abort-b/quiet"), "failure").expect("a failure");
    assert_eq!(attr(failure, "type"), "EXPECTATIONS");
    assert!(attr(failure, "message").starts_with("unlisted NON-STRICT"), "{xml}");
    assert!(failure.text().unwrap_or("").contains("NON-STRICT qr-login/abort-b/quiet"), "{xml}");
}
