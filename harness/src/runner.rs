//! Running one scenario: a fresh mock homeserver on its own port with a virtual
//! clock, the simulated devices, the deterministic driver, the expectations, and the
//! normalised snapshot.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mock_homeserver::{Fault, ManualClock, MockHomeserver, Profile};
use serde::Serialize;

use crate::driver::{Driver, Limits, RunEnd, User};
use crate::expect::{self, Failure, Level};
use crate::normalize;
use crate::roles;
use crate::scenario::Scenario;
use crate::transcript::TranscriptEntry;
use crate::verdict::Verdict;

/// The password of the account the existing device signs in to.
pub const ACCOUNT_PASSWORD: &str = "correct horse battery staple";
/// The localpart of that account.
pub const ACCOUNT_LOCALPART: &str = "alice";

/// The result of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    /// Scenario name (its path below `scenarios/`).
    pub name: String,
    /// Its title.
    pub title: String,
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
    /// Device IDs to role names.
    #[serde(skip)]
    pub names: Vec<(String, String)>,
    /// Why an expectations file expects this scenario to fail, when it does
    /// ([`crate::expectations::apply`] sets it). A FAIL with a reason is an expected
    /// failure (XFAIL) and does not fail the run; a PASS with a reason is a stale
    /// expectation and does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_failure: Option<String>,
}

impl ScenarioResult {
    /// The transcript's last `lines` entries, numbered, for a failure's context.
    pub fn transcript_tail(&self, lines: usize) -> Vec<String> {
        crate::expect::excerpt(
            &self.transcript,
            &self.names,
            self.transcript.len().saturating_sub(lines),
            lines,
        )
    }

    /// A failed result for a scenario that could not be run (`setup`).
    pub(crate) fn broken(scenario: &Scenario, message: String, started: Instant) -> Self {
        ScenarioResult {
            name: scenario.name.clone(),
            title: scenario.title.clone(),
            verdict: Verdict::Fail,
            failures: vec![Failure {
                expectation: "setup".into(),
                message,
                context: Vec::new(),
                level: Level::Must,
            }],
            duration_ms: started.elapsed().as_millis() as u64,
            transcript: Vec::new(),
            snapshot: String::new(),
            names: Vec::new(),
            expected_failure: None,
        }
    }

    /// The result of a scenario that was not run: SKIPPED, with the reason as its
    /// only failure message so that reports and [`Self::explain`] show it.
    pub fn skipped(name: &str, title: &str, reason: &str) -> Self {
        ScenarioResult {
            name: name.to_owned(),
            title: title.to_owned(),
            verdict: Verdict::Skipped,
            failures: vec![Failure {
                expectation: "skipped".into(),
                message: reason.to_owned(),
                context: Vec::new(),
                level: Level::Must,
            }],
            duration_ms: 0,
            transcript: Vec::new(),
            snapshot: String::new(),
            names: Vec::new(),
            expected_failure: None,
        }
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
        if self.expected_failure.is_some() {
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

    /// A human explanation of every failure.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        for failure in &self.failures {
            let level = if failure.level == Level::Should { " (SHOULD)" } else { "" };
            out.push_str(&format!("  ✗ {}{level}: {}\n", failure.expectation, failure.message));
            for line in &failure.context {
                out.push_str(&format!("      {line}\n"));
            }
        }
        out
    }
}

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

/// Runs one scenario with every role simulated.
pub async fn run(scenario: &Scenario) -> ScenarioResult {
    let started = Instant::now();
    let clock = ManualClock::new();
    let profile = match Profile::named(&scenario.profile) {
        Ok(p) => match &scenario.overrides {
            Some(o) => p.with_overrides(o),
            None => Ok(p),
        },
        Err(e) => Err(e),
    };
    let profile = match profile {
        Ok(p) => p,
        Err(e) => return ScenarioResult::broken(scenario, e.to_string(), started),
    };
    let mut builder =
        MockHomeserver::builder().profile(profile.clone()).seed(scenario.seed).clock(Arc::new(clock.clone()));
    for fault in &scenario.faults {
        match serde_json::from_value::<Fault>(fault.clone()) {
            Ok(f) => builder = builder.fault(f),
            Err(e) => return ScenarioResult::broken(scenario, format!("invalid fault: {e}"), started),
        }
    }
    let server = match builder.start().await {
        Ok(s) => s,
        Err(e) => {
            return ScenarioResult::broken(
                scenario,
                format!("cannot start the mock homeserver: {e}"),
                started,
            )
        }
    };
    let context = roles::Context::with_account(server.core(), server.base_url(), &profile.server_name, None);
    let (mut participants, names) = match roles::build(scenario, &context) {
        Ok(built) => built,
        Err(e) => return ScenarioResult::broken(scenario, e, started),
    };
    let approver = if participants.iter().any(|p| p.name == "B") { "B" } else { "" };
    let mut user = User::new(scenario.approve, approver);
    let limits =
        Limits { deadline_ms: scenario.deadline_ms, max_steps: 20_000, wall_clock: Duration::from_secs(60) };
    let mut driver = Driver::new(server.core().clone(), clock);
    let end = driver.run(&mut participants, &mut user, &limits).await;
    finish(scenario, driver.transcript, names, end, server.base_url(), started)
}

/// Turns a finished run into a result: the run's end, then every expectation.
pub fn finish(
    scenario: &Scenario,
    transcript: Vec<TranscriptEntry>,
    names: Vec<(String, String)>,
    end: RunEnd,
    base_url: &str,
    started: Instant,
) -> ScenarioResult {
    let dn = &names;
    let mut failures = Vec::new();
    let tail = |n: usize| expect::excerpt(&transcript, dn, transcript.len().saturating_sub(n), n);
    match &end {
        RunEnd::AllDone => {}
        RunEnd::Deadline(running) => failures.push(Failure {
            expectation: "deadline".into(),
            message: format!(
                "{} did not finish within the scenario's deadline of {} ms (virtual time)",
                running.join(" and "),
                scenario.deadline_ms
            ),
            context: tail(15),
            level: Level::Must,
        }),
        RunEnd::Stuck(waiting) => failures.push(Failure {
            expectation: "progress".into(),
            message: format!("{} waited for a user action that never came", waiting.join(" and ")),
            context: tail(15),
            level: Level::Must,
        }),
        RunEnd::Runaway(why) => failures.push(Failure {
            expectation: "progress".into(),
            message: format!("the run was stopped: {why}"),
            context: tail(15),
            level: Level::Must,
        }),
    }
    for (expectation, level) in &scenario.expectations {
        if let Some(failure) = expect::check(expectation, *level, &transcript, dn) {
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
    let snapshot = normalize::snapshot(&transcript, dn, base_url);
    ScenarioResult {
        name: scenario.name.clone(),
        title: scenario.title.clone(),
        verdict,
        failures,
        duration_ms: started.elapsed().as_millis() as u64,
        transcript,
        snapshot,
        names,
        expected_failure: None,
    }
}
