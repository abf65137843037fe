//! Expectations files: skips are not run, expected failures do not fail the run,
//! stale expected failures do, and a bad file names its line.

use std::path::Path;

use harness::check::expect::{Failure, Level};
use harness::check::verdict::Verdict;
use harness::report::expectations::{apply, Expectations};
use harness::run::result::ScenarioResult;
use harness::run::suite::run_succeeded;

const FILE: &str = r#"# Known gaps of the example implementation.
[[skip]]
scenarios = "qr-login/abort/*"
reason = "the adapter cannot inject faults"

[[expected-failure]]
scenarios = "register/*-unstable"
reason = "only the stable field is implemented"

[[expected-failure]]
scenarios = "qr-login/happy/a-shows-code"
reason = "issue 42"
"#;

fn load(text: &str) -> Result<Expectations, String> {
    Expectations::parse(text, Path::new("impl/expectations.toml")).map_err(|e| e.to_string())
}

fn expectations() -> Expectations {
    load(FILE).expect("a valid file")
}

fn result(name: &str, verdict: Verdict) -> ScenarioResult {
    let failures = match verdict {
        Verdict::Fail => vec![Failure {
            expectation: "outcome of A".into(),
            message: "expected A to finish `verified`, but it finished `error`".into(),
            context: vec![],
            level: Level::Must,
        }],
        _ => vec![],
    };
    ScenarioResult {
        name: name.into(),
        title: String::new(),
        steps: vec![],
        implementation: None,
        verdict,
        failures,
        duration_ms: 5,
        transcript: vec![],
        snapshot: String::new(),
        names: vec![],
        notes: vec![],
        stderr: String::new(),
        expected_failure: None,
        expectation_mismatch: None,
    }
}

#[test]
fn a_valid_file_loads_with_lines() {
    let e = expectations();
    assert_eq!(e.path, "impl/expectations.toml");
    assert_eq!(e.skip.len(), 1);
    assert_eq!(e.skip[0].scenarios, "qr-login/abort/*");
    assert_eq!(e.skip[0].line, 2, "the line of the `[[skip]]` header");
    assert_eq!(e.expected_failure.len(), 2);
    assert_eq!(e.expected_failure[1].reason, "issue 42");
    assert_eq!(
        load("").expect("an empty file is valid"),
        Expectations { path: e.path, ..Default::default() }
    );
}

#[test]
fn a_skip_matches_across_directories_and_gives_skipped() {
    let e = expectations();
    assert_eq!(e.should_skip("qr-login/abort/wrong-device-key"), Some("the adapter cannot inject faults"));
    assert_eq!(e.should_skip("qr-login/abort/deep/er"), Some("the adapter cannot inject faults"));
    assert_eq!(e.should_skip("qr-login/happy/b-shows-code"), None);

    // What the CLI does before running: the scenario becomes SKIPPED with the reason.
    let skipped = ScenarioResult::skipped("qr-login/abort/x", "title", "the adapter cannot inject faults");
    assert_eq!(skipped.verdict, Verdict::Skipped);
    assert_eq!(skipped.label(), "SKIPPED");
    assert!(skipped.explain().contains("the adapter cannot inject faults"), "{}", skipped.explain());
    assert!(run_succeeded(&[skipped]));

    // A skipped scenario that ran anyway is turned into a skip by apply.
    let (results, problems) = apply(vec![result("qr-login/abort/x", Verdict::Fail)], &e);
    assert!(problems.is_empty());
    assert_eq!(results[0].verdict, Verdict::Skipped);
    assert_eq!(results[0].failures[0].message, "the adapter cannot inject faults");
    assert!(run_succeeded(&results));
}

#[test]
fn an_expected_failure_is_xfail_and_the_run_succeeds() {
    let e = expectations();
    let ran = vec![
        result("qr-login/happy/b-shows-code", Verdict::Pass),
        result("qr-login/happy/a-shows-code", Verdict::Fail),
        result("register/keys-unstable", Verdict::Fail),
    ];
    assert!(!run_succeeded(&ran), "without expectations the FAILs fail the run");
    let (results, problems) = apply(ran, &e);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(results[0].label(), "PASS");
    assert_eq!(results[1].verdict, Verdict::Fail, "the verdict stays FAIL");
    assert_eq!(results[1].label(), "XFAIL");
    assert_eq!(results[1].expected_failure.as_deref(), Some("issue 42"));
    assert_eq!(results[2].label(), "XFAIL");
    assert!(run_succeeded(&results));
}

#[test]
fn an_unexpected_failure_still_fails_the_run() {
    let (results, problems) = apply(vec![result("qr-login/happy/other", Verdict::Fail)], &expectations());
    assert!(problems.is_empty());
    assert_eq!(results[0].label(), "FAIL");
    assert!(!run_succeeded(&results));
}

#[test]
fn a_stale_expected_failure_fails_the_run_with_a_clear_message() {
    let e = expectations();
    for verdict in [Verdict::Pass, Verdict::NonStrict] {
        let (results, problems) = apply(vec![result("qr-login/happy/a-shows-code", verdict)], &e);
        assert_eq!(results[0].label(), "XPASS");
        assert!(!run_succeeded(&results));
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with(
                "stale expected failure: qr-login/happy/a-shows-code passed; remove it from impl/expectations.toml"
            ),
            "{}",
            problems[0]
        );
        assert!(problems[0].contains("line 10"), "{}", problems[0]);
    }
    // UNIMPLEMENTED neither passes nor fails: not stale.
    let (results, problems) = apply(vec![result("qr-login/happy/a-shows-code", Verdict::Unimplemented)], &e);
    assert!(problems.is_empty());
    assert!(run_succeeded(&results));
}

#[test]
fn a_skip_wins_over_an_expected_failure() {
    let text = format!("{FILE}\n[[expected-failure]]\nscenarios = \"qr-login/abort/x\"\nreason = \"r\"\n");
    let (results, problems) =
        apply(vec![result("qr-login/abort/x", Verdict::Pass)], &load(&text).expect("valid"));
    assert!(problems.is_empty());
    assert_eq!(results[0].label(), "SKIPPED");
}

#[test]
fn an_unknown_key_names_file_and_line() {
    let text = FILE.replace("reason = \"issue 42\"", "reason = \"issue 42\"\nticket = 42");
    let error = load(&text).unwrap_err();
    assert!(error.starts_with("impl/expectations.toml:13:"), "{error}");
    assert!(error.contains("ticket"), "{error}");

    let error = load("[[skipped]]\nscenarios = \"x\"\nreason = \"y\"\n").unwrap_err();
    assert!(error.starts_with("impl/expectations.toml:1:"), "{error}");
    assert!(error.contains("skipped"), "{error}");
}

#[test]
fn a_glob_of_the_wrong_type_names_file_and_line() {
    let text = FILE.replace("scenarios = \"register/*-unstable\"", "scenarios = [\"register/*\"]");
    let error = load(&text).unwrap_err();
    assert!(error.starts_with("impl/expectations.toml:7:"), "{error}");
    assert!(error.contains("string"), "{error}");

    let error = load("[[skip]]\nscenarios = 3\nreason = \"y\"\n").unwrap_err();
    assert!(error.starts_with("impl/expectations.toml:2:"), "{error}");
}

#[test]
fn missing_or_empty_fields_name_file_and_line() {
    let error = load("[[skip]]\nscenarios = \"x\"\n").unwrap_err();
    assert!(error.starts_with("impl/expectations.toml:1:"), "{error}");
    assert!(error.contains("reason"), "{error}");

    let error = load("\n[[expected-failure]]\nscenarios = \"\"\nreason = \"y\"\n").unwrap_err();
    assert_eq!(error, "impl/expectations.toml:3: [[expected-failure]] scenarios must not be empty");

    let error = load("[[skip]]\nscenarios = \"x\"\nreason = \" \"\n").unwrap_err();
    assert_eq!(error, "impl/expectations.toml:3: [[skip]] reason must not be empty");

    let error = load("[[skip]]\nscenarios = \"x \"\nreason = \"y\"\n").unwrap_err();
    assert!(error.starts_with("impl/expectations.toml:2:"), "{error}");
}

#[test]
fn a_file_that_is_not_toml_names_file_and_line() {
    let error = load("[[skip]]\nscenarios = \"x\nreason = \"y\"\n").unwrap_err();
    assert!(error.starts_with("impl/expectations.toml:2:"), "{error}");
    let error = Expectations::load(Path::new("/nonexistent/expectations.toml")).unwrap_err().to_string();
    // No line to name when the file cannot be read: never a made-up `:0`.
    assert!(error.starts_with("/nonexistent/expectations.toml: cannot read"), "{error}");
}

const NON_STRICT: &str = r#"
[[non-strict]]
scenarios = "qr-login/abort-b/*"
reason = "sends no e2ee_security_error after a security abort"
"#;

#[test]
fn a_listed_non_strict_keeps_the_run_green() {
    let e = load(NON_STRICT).unwrap();
    assert_eq!(e.non_strict.len(), 1);
    assert_eq!(e.non_strict[0].line, 2);
    let (results, problems) =
        apply(vec![result("qr-login/abort-b/wrong-device-key", Verdict::NonStrict)], &e);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(results[0].verdict, Verdict::NonStrict);
    assert!(run_succeeded(&results));
}

#[test]
fn a_listed_non_strict_that_passes_is_stale_and_fails_the_run() {
    let e = load(NON_STRICT).unwrap();
    let (results, problems) = apply(vec![result("qr-login/abort-b/wrong-device-key", Verdict::Pass)], &e);
    assert_eq!(problems.len(), 1);
    assert!(problems[0].starts_with("stale non-strict expectation: qr-login/abort-b/wrong-device-key passed"));
    assert!(problems[0].contains("impl/expectations.toml (line 2"), "{}", problems[0]);
    assert!(!run_succeeded(&results));
}

#[test]
fn an_unlisted_non_strict_fails_the_run_only_with_a_file() {
    let e = load(NON_STRICT).unwrap();
    let (results, problems) = apply(vec![result("qr-login/other/cancelled-by-a", Verdict::NonStrict)], &e);
    assert_eq!(problems.len(), 1);
    assert!(problems[0].starts_with("unlisted NON-STRICT: qr-login/other/cancelled-by-a"), "{}", problems[0]);
    assert!(!run_succeeded(&results));

    // Without an expectations file, NON-STRICT is a success, as always.
    let (results, problems) =
        apply(vec![result("qr-login/other/cancelled-by-a", Verdict::NonStrict)], &Expectations::default());
    assert!(problems.is_empty());
    assert!(run_succeeded(&results));
}

#[test]
fn an_entry_that_matches_no_scenario_is_noted_with_its_line() {
    let file = expectations();
    let names = ["qr-login/abort/wrong-device-key", "qr-login/happy/a-shows-code"];
    let notes = file.unmatched(names);
    assert_eq!(
        notes,
        vec![
            "note: impl/expectations.toml line 6: [[expected-failure]] scenarios = \"register/*-unstable\" \
             matches no scenario of this run (renamed or removed?)"
                .to_owned()
        ]
    );
    let every = ["qr-login/abort/x", "register/keys-unstable", "qr-login/happy/a-shows-code"];
    assert!(file.unmatched(every).is_empty());
}
