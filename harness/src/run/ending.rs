//! How a run ends, in one place: the engine's [`RunEnd`] and every expectation turned
//! into failures, a verdict and a snapshot.

use std::time::Instant;

use devices::engine::RunEnd;
use devices::RoleKind;

use super::result::{stderr_tail, ScenarioResult};
use crate::adapter::process::AdapterError;
use crate::check::expect::{self, Expectation, Failure, Level};
use crate::check::normalize;
use crate::check::transcript::{Actor, Entry, Names, TranscriptEntry};
use crate::check::verdict::Verdict;
use crate::scenario::Scenario;

/// A finished run, before its verdict.
pub struct Outcome<'s> {
    /// The scenario.
    pub scenario: &'s Scenario,
    /// The expectations to check (all of them, or those an external role allows).
    pub expectations: Vec<(Expectation, Level)>,
    /// What happened.
    pub transcript: Vec<TranscriptEntry>,
    /// Device IDs and their roles.
    pub names: Names,
    /// How the engine ended.
    pub end: RunEnd<AdapterError>,
    /// The deadline that applied, in milliseconds, and on which clock (`virtual` or
    /// `real`).
    pub deadline: (u64, &'static str),
    /// The homeserver's base URL (a placeholder in the snapshot).
    pub base_url: String,
    /// The external client's stderr, when there is one.
    pub stderr: Option<String>,
    /// When the run started.
    pub started: Instant,
}

fn roles(list: &[RoleKind]) -> String {
    list.iter().map(|r| r.letter()).collect::<Vec<_>>().join(" and ")
}

fn last_line(text: &str) -> String {
    text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("(nothing)").to_owned()
}

/// The verdict of a finished run.
pub fn conclude(run: Outcome<'_>) -> ScenarioResult {
    let Outcome { scenario, expectations, mut transcript, names, end, deadline, base_url, stderr, started } =
        run;
    let mut note = |text: String| {
        let at_ms = transcript.last().map(|e| e.at_ms).unwrap_or(0);
        let seq = transcript.len() + 1;
        transcript.push(TranscriptEntry { seq, at_ms, entry: Entry::Note { actor: Actor::Runner, text } });
    };
    let mut failures = Vec::new();
    let mut unimplemented = None;
    match &end {
        RunEnd::AllDone => {}
        RunEnd::Deadline(running) => {
            note(format!("deadline of {} ms passed; still running: {}", deadline.0, roles(running)));
            failures.push(Failure::must(
                "deadline",
                format!(
                    "{} did not finish within the deadline of {} ms ({} time)",
                    roles(running),
                    deadline.0,
                    deadline.1
                ),
                Vec::new(),
            ));
        }
        RunEnd::Stuck(waiting) => failures.push(Failure::must(
            "progress",
            format!("{} waited for a user action that never came", roles(waiting)),
            Vec::new(),
        )),
        RunEnd::Runaway(why) => {
            failures.push(Failure::must("progress", format!("the run was stopped: {why}"), Vec::new()))
        }
        RunEnd::External(AdapterError::Unimplemented(detail)) => unimplemented = Some(detail.clone()),
        RunEnd::External(error) => {
            let said = stderr.as_deref().map(last_line).unwrap_or_else(|| "(nothing)".into());
            failures.push(Failure::must("adapter", format!("{error}; its stderr ends: {said}"), Vec::new()));
        }
    }
    // The run's own failures point at the end of the transcript (and the adapter's
    // last words).
    let tail = expect::excerpt(&transcript, &names, transcript.len().saturating_sub(15), 15);
    for failure in &mut failures {
        failure.context = tail.clone();
        if let Some(stderr) = stderr.as_deref().filter(|_| failure.expectation != "progress") {
            failure.context.extend(stderr_tail(stderr, 30));
        }
    }
    if let Some(detail) = unimplemented {
        let message = format!("the adapter does not implement this: {detail}");
        let mut result = ScenarioResult::without_run(
            &scenario.name,
            &scenario.title,
            Verdict::Unimplemented,
            "unimplemented",
            message,
        );
        result.steps = scenario.steps.clone();
        result.duration_ms = started.elapsed().as_millis() as u64;
        result.transcript = transcript;
        result.names = names;
        result.stderr = stderr.unwrap_or_default();
        return result;
    }
    for (expectation, level) in &expectations {
        if let Some(failure) = expect::check(expectation, *level, &transcript, &names) {
            failures.push(failure);
        }
    }
    let verdict = if failures.iter().any(|f| f.level == Level::Must) {
        Verdict::Fail
    } else if failures.is_empty() {
        Verdict::Pass
    } else {
        Verdict::NonStrict
    };
    let snapshot = normalize::snapshot(&transcript, &names, &base_url);
    ScenarioResult {
        name: scenario.name.clone(),
        title: scenario.title.clone(),
        steps: scenario.steps.clone(),
        implementation: None,
        verdict,
        failures,
        duration_ms: started.elapsed().as_millis() as u64,
        transcript,
        snapshot,
        names,
        notes: Vec::new(),
        stderr: stderr.unwrap_or_default(),
        expected_failure: None,
        expectation_mismatch: None,
    }
}
