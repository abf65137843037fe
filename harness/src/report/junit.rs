//! JUnit XML reports (`conformance run --junit FILE`), for CI systems that show test
//! results.
//!
//! One `<testsuite>` holds one `<testcase>` per scenario; its `classname` is the
//! scenario's directory with `/` as `.` (`qr-login.abort`) and its `name` the full
//! scenario name. FAIL becomes `<failure>` with the explanation and the end of the
//! transcript; SKIPPED, UNIMPLEMENTED and expected failures (XFAIL) become `<skipped>`;
//! NON-STRICT passes with the failed SHOULDs in `<system-out>`; a stale expected
//! failure (XPASS) is a `<failure>`, as it fails the run.
//!
//! The run's facts are `<properties>` of the suite: `harness`, and `implementation`
//! and `role` when an external client was under test. A result's notes (e.g. an
//! adapter killed after `stop`) go to `<system-out>` whatever its verdict, and an
//! external client's stderr to `<system-err>`.

use super::summary::{harness_name, RunInfo};
use crate::check::expect::{Failure, Level};
use crate::check::verdict::Verdict;
use crate::run::result::ScenarioResult;

/// How many transcript lines a failure shows.
pub const TRANSCRIPT_TAIL: usize = 40;

/// What one testcase reports beyond passing.
enum Status {
    Passed { out: Option<String> },
    Failed { message: String, kind: &'static str, text: String },
    Skipped { message: String },
}

fn status_of(result: &ScenarioResult) -> Status {
    let reason = |fallback: &str| {
        result.failures.first().map(|f| f.message.clone()).unwrap_or_else(|| fallback.to_owned())
    };
    let first = |fallback: &str| result.failures.first().map(short).unwrap_or_else(|| fallback.to_owned());
    if let Some(mismatch) = &result.expectation_mismatch {
        // The verdict passes, but the expectations file accounts for it otherwise:
        // the run fails, so the testcase does.
        return Status::Failed {
            message: mismatch.clone(),
            kind: "EXPECTATIONS",
            text: format!("{} {}\n{mismatch}\n{}", result.verdict, result.name, result.explain()),
        };
    }
    if result.is_stale_expectation() {
        return Status::Failed {
            message: format!(
                "stale expected failure: {} passed; expected to fail because: {}",
                result.name,
                result.expected_failure.as_deref().unwrap_or("")
            ),
            kind: "XPASS",
            text: result.explain(),
        };
    }
    match result.verdict {
        Verdict::Pass => Status::Passed { out: None },
        Verdict::NonStrict => {
            let shoulds: String = result
                .failures
                .iter()
                .filter(|f| f.level == Level::Should)
                .map(|f| format!("SHOULD failed: {}\n", short(f)))
                .collect();
            Status::Passed { out: Some(format!("NON-STRICT {}\n{shoulds}{}", result.name, result.explain())) }
        }
        Verdict::Skipped => Status::Skipped { message: reason("skipped") },
        Verdict::Unimplemented => Status::Skipped { message: format!("unimplemented: {}", reason("")) },
        Verdict::Fail if result.is_expected_failure() => Status::Skipped {
            message: format!(
                "expected failure (XFAIL): {}; {}",
                result.expected_failure.as_deref().unwrap_or(""),
                first("")
            ),
        },
        Verdict::Fail => {
            let lines: Vec<String> = result.transcript_text().lines().map(str::to_owned).collect();
            let tail = &lines[lines.len().saturating_sub(TRANSCRIPT_TAIL)..];
            let mut text = result.explain();
            if !tail.is_empty() {
                text.push_str(&format!("\ntranscript (last {} of {} lines):\n", tail.len(), lines.len()));
                for line in tail {
                    text.push_str(line);
                    text.push('\n');
                }
            }
            Status::Failed { message: first("failed"), kind: "FAIL", text }
        }
    }
}

fn short(failure: &Failure) -> String {
    format!("{}: {}", failure.expectation, failure.message)
}

/// The `<system-out>` of a testcase: what its status says there, then its notes.
fn system_out(status: &Status, result: &ScenarioResult) -> Option<String> {
    let mut text = match status {
        Status::Passed { out: Some(text) } => text.clone(),
        _ => String::new(),
    };
    // A NON-STRICT's explanation already lists the notes.
    if !matches!(status, Status::Passed { out: Some(_) }) {
        for note in &result.notes {
            text.push_str(&format!("note: {note}\n"));
        }
    }
    (!text.is_empty()).then_some(text)
}

/// The suite's `<properties>`: the harness, and the implementation and role under test
/// when there was one.
fn properties(run: &RunInfo) -> String {
    let mut pairs = vec![("harness", harness_name())];
    if let Some(implementation) = &run.implementation {
        pairs.push(("implementation", implementation.clone()));
    }
    if let Some(role) = run.role {
        pairs.push(("role", role.name().to_owned()));
    }
    let mut out = String::from("    <properties>\n");
    for (name, value) in pairs {
        out.push_str(&format!("      <property name=\"{name}\" value=\"{}\"/>\n", attr(&value)));
    }
    out.push_str("    </properties>\n");
    out
}

/// The JUnit XML of a run: one `<testsuites>` with one `<testsuite>` named
/// `suite_name`, its time the run's real time.
pub fn junit_xml(results: &[ScenarioResult], suite_name: &str, run: &RunInfo) -> String {
    let statuses: Vec<Status> = results.iter().map(status_of).collect();
    let failures = statuses.iter().filter(|s| matches!(s, Status::Failed { .. })).count();
    let skipped = statuses.iter().filter(|s| matches!(s, Status::Skipped { .. })).count();
    let suite = attr(suite_name);
    let time = seconds(run.duration_ms);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"{suite}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time}\">\n",
        results.len()
    ));
    out.push_str(&format!(
        "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time}\">\n",
        results.len()
    ));
    out.push_str(&properties(run));
    for (result, status) in results.iter().zip(&statuses) {
        let classname = match result.name.rsplit_once('/') {
            Some((dir, _)) => dir.replace('/', "."),
            None => suite_name.to_owned(),
        };
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
            attr(&classname),
            attr(&result.name),
            seconds(result.duration_ms)
        ));
        let mut body = String::new();
        match status {
            Status::Passed { .. } => {}
            Status::Skipped { message } => {
                body.push_str(&format!("      <skipped message=\"{}\"/>\n", attr(message)))
            }
            Status::Failed { message, kind, text } => body.push_str(&format!(
                "      <failure message=\"{}\" type=\"{kind}\">{}</failure>\n",
                attr(message),
                text_node(text)
            )),
        }
        if let Some(text) = system_out(status, result) {
            body.push_str(&format!("      <system-out>{}</system-out>\n", text_node(&text)));
        }
        if !result.stderr.trim().is_empty() {
            body.push_str(&format!("      <system-err>{}</system-err>\n", text_node(&result.stderr)));
        }
        if body.is_empty() {
            out.push_str("/>\n");
        } else {
            out.push_str(&format!(">\n{body}    </testcase>\n"));
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Whether XML 1.0 allows a character at all.
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes text content: markup characters become references, characters XML 1.0
/// forbids are dropped.
pub fn text_node(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().filter(|c| allowed(*c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // A bare CR would be read back as a newline.
            '\r' => out.push_str("&#13;"),
            other => out.push(other),
        }
    }
    out
}

/// Escapes an attribute value: like [`text_node`], and tab and newline as references
/// so that they survive attribute-value normalisation.
pub fn attr(text: &str) -> String {
    text_node(text).replace('\t', "&#9;").replace('\n', "&#10;")
}
