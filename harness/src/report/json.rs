//! The `--json` report, version [`REPORT_VERSION`]; `docs/report-format.md`
//! documents every field.
//!
//! Every key is always present (`null` when it does not apply), verdicts are the
//! console's labels (`XFAIL`, `XPASS`, `NON-STRICT`, …), and failures are objects.

use serde::Serialize;

use super::summary::{harness_name, RunInfo, Summary};
use crate::check::expect::{Failure, Level};
use crate::run::result::ScenarioResult;

/// The version of the report's shape. It changes when a field is removed or changes
/// its meaning; new fields may be added within a version.
pub const REPORT_VERSION: u32 = 1;

/// The whole report.
#[derive(Debug, Serialize)]
pub struct JsonReport<'a> {
    /// [`REPORT_VERSION`].
    pub version: u32,
    /// `conformance <version>`.
    pub harness: String,
    /// The implementation under test, as its adapter's `ready` event named it.
    pub implementation: Option<&'a str>,
    /// The role it played (`new-device`, `existing-device`, `registrar`); `null` when
    /// the harness simulated every role.
    pub role: Option<&'static str>,
    /// The counts and the exit status.
    pub summary: JsonSummary,
    /// One entry per scenario, by name.
    pub scenarios: Vec<JsonScenario<'a>>,
}

/// The counts of a run.
#[derive(Debug, Serialize)]
pub struct JsonSummary {
    /// Scenarios in the run.
    pub total: usize,
    /// Results per verdict label, every label present.
    pub counts: serde_json::Map<String, serde_json::Value>,
    /// Scenarios that reached a verdict about the implementation (all but SKIPPED
    /// and UNIMPLEMENTED).
    pub verified: usize,
    /// Whether no result fails the run.
    pub succeeded: bool,
    /// The exit code of `conformance run`.
    pub exit_code: u8,
    /// Real time of the run.
    pub duration_ms: u64,
}

/// One scenario's result.
#[derive(Debug, Serialize)]
pub struct JsonScenario<'a> {
    /// Its name (its path below `scenarios/` without `.toml`).
    pub name: &'a str,
    /// Its title.
    pub title: &'a str,
    /// The spec steps it covers.
    pub steps: &'a [String],
    /// The console's label: `PASS`, `NON-STRICT`, `UNIMPLEMENTED`, `SKIPPED`,
    /// `XFAIL`, `XPASS` or `FAIL`.
    pub verdict: &'static str,
    /// Why the expectations file expects it to fail, when it does.
    pub expected_failure: Option<&'a str>,
    /// How the verdict disagrees with the expectations file's `[[non-strict]]`
    /// entries, when it does (a listed NON-STRICT that passed, or a NON-STRICT the
    /// file does not list): such a scenario fails the run whatever its verdict.
    pub expectation_mismatch: Option<&'a str>,
    /// The implementation its adapter named, when one got as far as `ready`.
    pub implementation: Option<&'a str>,
    /// The failed expectations (and, for SKIPPED and UNIMPLEMENTED, the reason).
    pub failures: Vec<JsonFailure<'a>>,
    /// What the run noticed that is no failure (e.g. an adapter killed after `stop`).
    pub notes: &'a [String],
    /// Real time of its run.
    pub duration_ms: u64,
}

/// One failed expectation.
#[derive(Debug, Serialize)]
pub struct JsonFailure<'a> {
    /// Which expectation, e.g. `order[3]` or `outcome of B`.
    pub expectation: &'a str,
    /// `MUST` (fails the scenario) or `SHOULD` (makes it NON-STRICT).
    pub level: &'static str,
    /// What was expected and what happened.
    pub message: &'a str,
    /// The transcript lines around the place, and the adapter's last words.
    pub context: &'a [String],
}

fn failure(failure: &Failure) -> JsonFailure<'_> {
    JsonFailure {
        expectation: &failure.expectation,
        level: match failure.level {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
        },
        message: &failure.message,
        context: &failure.context,
    }
}

/// The report of `results`.
pub fn report<'a>(results: &'a [ScenarioResult], run: &'a RunInfo) -> JsonReport<'a> {
    let summary = Summary::of(results);
    let counts = summary.counts.iter().map(|(label, n)| ((*label).to_owned(), (*n).into())).collect();
    JsonReport {
        version: REPORT_VERSION,
        harness: harness_name(),
        implementation: run.implementation.as_deref(),
        role: run.role.map(|r| r.name()),
        summary: JsonSummary {
            total: summary.total,
            counts,
            verified: summary.verified,
            succeeded: summary.succeeded,
            exit_code: run.exit_status.code(),
            duration_ms: run.duration_ms,
        },
        scenarios: results
            .iter()
            .map(|r| JsonScenario {
                name: &r.name,
                title: &r.title,
                steps: &r.steps,
                verdict: r.label(),
                expected_failure: r.expected_failure.as_deref(),
                expectation_mismatch: r.expectation_mismatch.as_deref(),
                implementation: r.implementation.as_deref(),
                failures: r.failures.iter().map(failure).collect(),
                notes: &r.notes,
                duration_ms: r.duration_ms,
            })
            .collect(),
    }
}

/// The report as pretty-printed JSON text, ending with a newline.
pub fn report_text(results: &[ScenarioResult], run: &RunInfo) -> Result<String, String> {
    let mut text = serde_json::to_string_pretty(&report(results, run)).map_err(|e| e.to_string())?;
    text.push('\n');
    Ok(text)
}
