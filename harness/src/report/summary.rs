//! What a run adds up to: counts per report label, how many scenarios were verified
//! at all, and the exit status of `conformance run`, with the facts about the run
//! that every report names (the implementation and the role under test).

use devices::RoleKind;

use crate::check::verdict::Verdict;
use crate::run::result::{ScenarioResult, REPORT_LABELS};

/// How `conformance run` exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Every scenario that ran passed (PASS, NON-STRICT, or XFAIL: a failure the
    /// expectations file expects), and at least one was verified.
    Success,
    /// A scenario failed (FAIL), a scenario the expectations file expects to fail
    /// passed (XPASS: the expectation is stale), or a verdict disagrees with the
    /// file's `[[non-strict]]` entries.
    Failed,
    /// The command could not run: a bad argument, an unreadable or invalid scenario or
    /// expectations file, an output path that cannot be written, an adapter command
    /// that names no program.
    Error,
    /// Nothing was verified: no scenario matched the paths and filters, or every one
    /// was SKIPPED or UNIMPLEMENTED (`--allow-empty` makes this a success).
    NothingVerified,
}

impl ExitStatus {
    /// Every exit status, by code.
    pub const ALL: [ExitStatus; 4] =
        [ExitStatus::Success, ExitStatus::Failed, ExitStatus::Error, ExitStatus::NothingVerified];

    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failed => 1,
            ExitStatus::Error => 2,
            ExitStatus::NothingVerified => 4,
        }
    }

    /// What the code means, in one line (for `--help` and the README).
    pub fn meaning(self) -> &'static str {
        match self {
            ExitStatus::Success => {
                "every scenario that ran passed (PASS, NON-STRICT or XFAIL) and at least one was verified"
            }
            ExitStatus::Failed => {
                "a scenario FAILed, one expected to fail passed (XPASS), or a verdict disagrees with the \
                 expectations file's [[non-strict]] entries"
            }
            ExitStatus::Error => {
                "the run could not start: bad arguments, a scenario or expectations file that does not \
                 load, an output path that cannot be written, an adapter command that names no program"
            }
            ExitStatus::NothingVerified => {
                "nothing was verified: no scenario matched, or every one was SKIPPED or UNIMPLEMENTED \
                 (exit 0 instead with --allow-empty)"
            }
        }
    }
}

/// The exit-status section of `conformance --help` and `conformance run --help`.
pub fn exit_status_help() -> String {
    let mut out = String::from("Exit status of `conformance run`:\n");
    for status in ExitStatus::ALL {
        out.push_str(&format!("  {}  {}\n", status.code(), status.meaning()));
    }
    out
}

/// The counts of a finished run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Scenarios in the run (skipped ones included).
    pub total: usize,
    /// Results per report label, every label of [`REPORT_LABELS`] in its order, zeros
    /// included.
    pub counts: Vec<(&'static str, usize)>,
    /// Scenarios that ran to a verdict about the implementation: every result except
    /// SKIPPED and UNIMPLEMENTED.
    pub verified: usize,
    /// Whether no result fails the run (see [`ScenarioResult::is_success`]).
    pub succeeded: bool,
}

impl Summary {
    /// The summary of `results`.
    pub fn of(results: &[ScenarioResult]) -> Self {
        let counts = REPORT_LABELS
            .iter()
            .map(|label| (*label, results.iter().filter(|r| r.label() == *label).count()));
        Summary {
            total: results.len(),
            counts: counts.collect(),
            verified: results
                .iter()
                .filter(|r| !matches!(r.verdict, Verdict::Skipped | Verdict::Unimplemented))
                .count(),
            succeeded: results.iter().all(ScenarioResult::is_success),
        }
    }

    /// How many results have `label`.
    pub fn count(&self, label: &str) -> usize {
        self.counts.iter().find(|(l, _)| *l == label).map(|(_, n)| *n).unwrap_or(0)
    }

    /// The exit status: a failure wins; then a run that verified nothing, unless
    /// `allow_empty`.
    pub fn exit_status(&self, allow_empty: bool) -> ExitStatus {
        if !self.succeeded {
            ExitStatus::Failed
        } else if self.verified == 0 && !allow_empty {
            ExitStatus::NothingVerified
        } else {
            ExitStatus::Success
        }
    }

    /// `3 pass, 1 fail, 2 xfail`: the counts in report order, the zero ones left out.
    pub fn line(&self) -> String {
        let parts: Vec<String> = self
            .counts
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(label, n)| format!("{n} {}", label.to_lowercase()))
            .collect();
        if parts.is_empty() {
            "none run".to_owned()
        } else {
            parts.join(", ")
        }
    }

    /// Why the run verified nothing, when it did not: for the console.
    pub fn nothing_verified(&self) -> Option<String> {
        if self.verified > 0 {
            return None;
        }
        Some(if self.total == 0 {
            "no scenario matched the paths and filters, so nothing was verified".to_owned()
        } else {
            format!(
                "nothing was verified: all {} scenarios were skipped or unimplemented ({})",
                self.total,
                self.line()
            )
        })
    }
}

/// What every report says about the run as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    /// The role an external client played (`--role`); `None` when the harness
    /// simulated every role.
    pub role: Option<RoleKind>,
    /// The implementation under test, as the adapter's `ready` event named it.
    pub implementation: Option<String>,
    /// Real time of the whole run, in milliseconds.
    pub duration_ms: u64,
    /// How `conformance run` exits.
    pub exit_status: ExitStatus,
}

impl RunInfo {
    /// The implementation the results name: the distinct names in the order they
    /// first appear, joined by `, ` (one name, unless the adapter changed its mind);
    /// `None` when no adapter got as far as `ready`.
    pub fn implementation_of(results: &[ScenarioResult]) -> Option<String> {
        let mut names: Vec<&str> = Vec::new();
        for name in results.iter().filter_map(|r| r.implementation.as_deref()) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        (!names.is_empty()).then(|| names.join(", "))
    }
}

/// `conformance <version>`: the harness that wrote a report.
pub fn harness_name() -> String {
    format!("conformance {}", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, verdict: Verdict, expected_failure: bool) -> ScenarioResult {
        let mut result = ScenarioResult::without_run(name, "t", verdict, "x", "y".into());
        result.expected_failure = expected_failure.then(|| "known".to_owned());
        result
    }

    #[test]
    fn a_failure_wins_then_an_empty_run_then_success() {
        let pass = result("a", Verdict::Pass, false);
        let skipped = result("b", Verdict::Skipped, false);
        let unimplemented = result("c", Verdict::Unimplemented, false);
        let xfail = result("d", Verdict::Fail, true);
        let xpass = result("e", Verdict::Pass, true);
        let fail = result("f", Verdict::Fail, false);
        let status = |results: &[ScenarioResult], allow_empty| Summary::of(results).exit_status(allow_empty);
        assert_eq!(status(&[], false), ExitStatus::NothingVerified);
        assert_eq!(status(&[], true), ExitStatus::Success);
        assert_eq!(status(&[skipped.clone(), unimplemented.clone()], false), ExitStatus::NothingVerified);
        assert_eq!(status(&[skipped.clone(), unimplemented.clone()], true), ExitStatus::Success);
        assert_eq!(status(&[skipped.clone(), pass.clone()], false), ExitStatus::Success);
        assert_eq!(status(&[skipped.clone(), xfail.clone()], false), ExitStatus::Success);
        assert_eq!(status(&[pass.clone(), xpass], true), ExitStatus::Failed);
        assert_eq!(status(&[pass, fail, skipped], true), ExitStatus::Failed);
    }

    #[test]
    fn the_counts_use_the_console_labels() {
        let results = [
            result("a", Verdict::Pass, false),
            result("b", Verdict::Fail, true),
            result("c", Verdict::Fail, true),
            result("d", Verdict::Skipped, false),
        ];
        let summary = Summary::of(&results);
        assert_eq!(summary.count("XFAIL"), 2);
        assert_eq!(summary.count("FAIL"), 0);
        assert_eq!(summary.verified, 3);
        assert_eq!(summary.line(), "1 pass, 1 skipped, 2 xfail");
        assert_eq!(summary.counts.len(), REPORT_LABELS.len());
    }

    #[test]
    fn exit_codes_are_distinct_and_in_the_help() {
        let help = exit_status_help();
        let mut codes: Vec<u8> = ExitStatus::ALL.iter().map(|s| s.code()).collect();
        codes.dedup();
        assert_eq!(codes.len(), ExitStatus::ALL.len());
        for status in ExitStatus::ALL {
            assert!(help.contains(&format!("  {}  {}", status.code(), status.meaning())), "{help}");
        }
    }
}
