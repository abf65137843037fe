//! JUnit XML reports (`conformance run --junit FILE`), for CI systems that show test
//! results.
//!
//! One `<testsuite>` holds one `<testcase>` per scenario; its `classname` is the
//! scenario's directory with `/` as `.` (`qr-login.abort`) and its `name` the full
//! scenario name. FAIL becomes `<failure>` with the explanation and the end of the
//! transcript; SKIPPED, UNIMPLEMENTED and expected failures (XFAIL) become `<skipped>`;
//! NON-STRICT passes with the failed SHOULDs in `<system-out>`; a stale expected
//! failure (XPASS) is a `<failure>`, as it fails the run.

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

/// The JUnit XML of a run: one `<testsuites>` with one `<testsuite>` named
/// `suite_name`; `total_time_ms` is the run's real time.
pub fn junit_xml(results: &[ScenarioResult], suite_name: &str, total_time_ms: u64) -> String {
    let statuses: Vec<Status> = results.iter().map(status_of).collect();
    let failures = statuses.iter().filter(|s| matches!(s, Status::Failed { .. })).count();
    let skipped = statuses.iter().filter(|s| matches!(s, Status::Skipped { .. })).count();
    let suite = attr(suite_name);
    let time = seconds(total_time_ms);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"{suite}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time}\">\n",
        results.len()
    ));
    out.push_str(&format!(
        "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time}\">\n",
        results.len()
    ));
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
        match status {
            Status::Passed { out: None } => out.push_str("/>\n"),
            Status::Passed { out: Some(text) } => out.push_str(&format!(
                ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                text_node(text)
            )),
            Status::Skipped { message } => {
                out.push_str(&format!(">\n      <skipped message=\"{}\"/>\n    </testcase>\n", attr(message)))
            }
            Status::Failed { message, kind, text } => out.push_str(&format!(
                ">\n      <failure message=\"{}\" type=\"{kind}\">{}</failure>\n    </testcase>\n",
                attr(message),
                text_node(text)
            )),
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
