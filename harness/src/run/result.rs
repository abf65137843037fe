//! The result of one scenario: its verdict, the failed expectations, the transcript
//! and the snapshot.

use std::time::Instant;

use serde::Serialize;

use crate::check::expect::{self, Failure, Level};
use crate::check::transcript::{Names, TranscriptEntry};
use crate::check::verdict::Verdict;
use crate::scenario::Scenario;

/// The result of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    /// Scenario name (its path below `scenarios/`).
    pub name: String,
    /// Its title.
    pub title: String,
    /// The spec steps it covers (the scenario's `steps`).
    pub steps: Vec<String>,
    /// The implementation under test, as its adapter's `ready` event named it
    /// (`None` when every role is simulated, or the adapter never got that far).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub implementation: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// Failed expectations (MUST and SHOULD).
    pub failures: Vec<Failure>,
    /// Real time the run took.
    pub duration_ms: u64,
    /// The transcript.
    #[serde(skip)]
    pub transcript: Vec<TranscriptEntry>,
    /// The normalised transcript (the snapshot).
    #[serde(skip)]
    pub snapshot: String,
    /// Device IDs to roles.
    #[serde(skip)]
    pub names: Names,
    /// What the run noticed about an external client that is no failure (e.g. its
    /// adapter did not exit after `stop`): shown with the verdict.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The external client's stderr, as much as was kept.
    #[serde(skip)]
    pub stderr: String,
    /// Why an expectations file expects this scenario to fail, when it does
    /// ([`crate::expectations::apply`] sets it). A FAIL with a reason is an expected
    /// failure (XFAIL) and does not fail the run; a PASS with a reason is a stale
    /// expectation and does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_failure: Option<String>,
    /// Set by [`crate::expectations::apply`] when the verdict disagrees with the
    /// expectations file's `[[non-strict]]` entries (a listed NON-STRICT that passed,
    /// or a NON-STRICT the file does not list): the message, and the run fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expectation_mismatch: Option<String>,
}

impl ScenarioResult {
    /// The transcript's last `lines` entries, numbered, for a failure's context.
    pub fn transcript_tail(&self, lines: usize) -> Vec<String> {
        expect::excerpt(&self.transcript, &self.names, self.transcript.len().saturating_sub(lines), lines)
    }

    /// A result with no run behind it: `verdict`, one failure named `expectation`
    /// saying `message`.
    pub fn without_run(
        name: &str,
        title: &str,
        verdict: Verdict,
        expectation: &str,
        message: String,
    ) -> Self {
        ScenarioResult {
            name: name.to_owned(),
            title: title.to_owned(),
            steps: Vec::new(),
            implementation: None,
            verdict,
            failures: vec![Failure::must(expectation, message, Vec::new())],
            duration_ms: 0,
            transcript: Vec::new(),
            snapshot: String::new(),
            names: Vec::new(),
            notes: Vec::new(),
            stderr: String::new(),
            expected_failure: None,
            expectation_mismatch: None,
        }
    }

    /// A failed result for a scenario that could not be run (`setup`).
    pub fn broken(scenario: &Scenario, message: String, started: Instant) -> Self {
        let mut result = Self::without_run(&scenario.name, &scenario.title, Verdict::Fail, "setup", message);
        result.steps = scenario.steps.clone();
        result.duration_ms = started.elapsed().as_millis() as u64;
        result
    }

    /// [`Self::skipped`] for a loaded scenario, its steps kept for the reports.
    pub fn skipped_scenario(scenario: &Scenario, reason: &str) -> Self {
        let mut result = Self::skipped(&scenario.name, &scenario.title, reason);
        result.steps = scenario.steps.clone();
        result
    }

    /// The result of a scenario that was not run: SKIPPED, with the reason as its
    /// only failure message so that reports and [`Self::explain`] show it.
    pub fn skipped(name: &str, title: &str, reason: &str) -> Self {
        Self::without_run(name, title, Verdict::Skipped, "skipped", reason.to_owned())
    }

    /// A FAIL that an expectations file expects (XFAIL).
    pub fn is_expected_failure(&self) -> bool {
        self.verdict == Verdict::Fail && self.expected_failure.is_some()
    }

    /// An expected failure that did not fail (PASS or NON-STRICT): the expectation
    /// is stale.
    pub fn is_stale_expectation(&self) -> bool {
        self.expected_failure.is_some() && matches!(self.verdict, Verdict::Pass | Verdict::NonStrict)
    }

    /// Whether this result lets the run as a whole succeed: not a FAIL unless one is
    /// expected, and no stale expected failure.
    pub fn is_success(&self) -> bool {
        if self.expectation_mismatch.is_some() {
            false
        } else if self.expected_failure.is_some() {
            !self.is_stale_expectation()
        } else {
            self.verdict.is_success()
        }
    }

    /// The label for reports: the verdict's, `XFAIL` for an expected failure, or
    /// `XPASS` for a stale expected failure.
    pub fn label(&self) -> &'static str {
        report_label(self.verdict, self.expected_failure.is_some())
    }

    /// The full transcript, one line per entry, with role names.
    pub fn transcript_text(&self) -> String {
        let names = &self.names;
        self.transcript
            .iter()
            .map(|e| format!("{:>4} {:>7}ms  {}\n", e.seq, e.at_ms, e.entry.line(names)))
            .collect()
    }

    /// A human explanation: the notes, every failure, and for a failing external
    /// client the end of its stderr.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        for note in &self.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
        for failure in &self.failures {
            let level = if failure.level == Level::Should { " (SHOULD)" } else { "" };
            out.push_str(&format!("  ✗ {}{level}: {}\n", failure.expectation, failure.message));
            for line in &failure.context {
                out.push_str(&format!("      {line}\n"));
            }
        }
        let shown = self.failures.iter().any(|f| f.context.iter().any(|l| l == STDERR_HEADING));
        if self.verdict == Verdict::Fail && !shown && !self.stderr.trim().is_empty() {
            for line in stderr_tail(&self.stderr, 30) {
                out.push_str(&format!("      {line}\n"));
            }
        }
        out
    }
}

/// The heading of an external client's stderr in a failure's context.
pub const STDERR_HEADING: &str = "adapter stderr:";

/// The last `lines` lines of an external client's stderr, under [`STDERR_HEADING`].
pub fn stderr_tail(stderr: &str, lines: usize) -> Vec<String> {
    let all: Vec<&str> = stderr.lines().collect();
    let mut out = vec![STDERR_HEADING.to_owned()];
    out.extend(all[all.len().saturating_sub(lines)..].iter().map(|l| format!("  | {l}")));
    out
}

/// Every label a result can have in a report, in report order: the verdicts' own,
/// and `XFAIL` and `XPASS` for the scenarios an expectations file expects to fail.
pub const REPORT_LABELS: [&str; 7] =
    ["PASS", "NON-STRICT", "UNIMPLEMENTED", "SKIPPED", "XFAIL", "XPASS", "FAIL"];

/// The report label of a verdict, given whether an expectations file expects the
/// scenario to fail: `XFAIL` for an expected FAIL, `XPASS` for a stale one (PASS or
/// NON-STRICT), the verdict's own label otherwise.
pub fn report_label(verdict: Verdict, expected_failure: bool) -> &'static str {
    match (verdict, expected_failure) {
        (Verdict::Fail, true) => "XFAIL",
        (Verdict::Pass | Verdict::NonStrict, true) => "XPASS",
        (other, _) => other.label(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_labels_are_every_label_a_result_can_have() {
        let mut labels: Vec<&str> =
            Verdict::ALL.iter().flat_map(|v| [report_label(*v, false), report_label(*v, true)]).collect();
        labels.sort_unstable();
        labels.dedup();
        let mut listed = REPORT_LABELS.to_vec();
        listed.sort_unstable();
        assert_eq!(labels, listed);
    }
}
