//! The report of a campaign: runs made, distinct violations (by invariant and minimal
//! case), the saved files and the replay commands, and how many runs exercised each
//! generator kind; in the console, JSON and JUnit.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::case::Case;
use super::invariants::Violation;
use crate::check::expect::Failure;
use crate::check::verdict::Verdict;
use crate::run::result::ScenarioResult;

/// One distinct violation.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The invariant.
    pub invariant: &'static str,
    /// The seed of the first run that broke it this way.
    pub seed: u64,
    /// The violation, as the minimal case broke it.
    pub violation: Violation,
    /// The minimal case's ingredients, described.
    pub minimal: Vec<String>,
    /// How many runs broke it this way.
    pub occurrences: usize,
    /// Where it was saved.
    pub saved: Option<PathBuf>,
    /// The command that replays it.
    pub replay: Option<String>,
    /// The minimal case.
    #[serde(skip)]
    pub case: Case,
}

impl Finding {
    /// What makes two findings the same: the invariant and the minimal case.
    pub fn key(&self) -> (String, Vec<String>) {
        (self.invariant.to_owned(), self.minimal.clone())
    }
}

/// The report of one campaign.
#[derive(Debug, Clone, Serialize)]
pub struct FuzzReport {
    /// The role under test.
    pub role: String,
    /// The first seed (or the range and shard).
    pub seeds: String,
    /// Runs made (shrinking not counted).
    pub runs: u64,
    /// Runs made while shrinking.
    pub shrink_runs: u64,
    /// Real time, in milliseconds.
    pub elapsed_ms: u64,
    /// Distinct violations, by invariant and minimal case, in seed order.
    pub findings: Vec<Finding>,
    /// Runs that exercised each generator kind (`plain` for none).
    pub coverage: BTreeMap<String, u64>,
    /// Runs that could not be made (harness problems), with why.
    pub errors: Vec<String>,
}

impl FuzzReport {
    /// Runs per second.
    pub fn runs_per_second(&self) -> f64 {
        self.runs as f64 / (self.elapsed_ms.max(1) as f64 / 1000.0)
    }

    /// The console report.
    pub fn console(&self) -> String {
        let mut out = format!(
            "fuzz {}: {} runs in {:.1} s ({:.0} runs/s; {} more while shrinking), seeds {}\n",
            self.role,
            self.runs,
            self.elapsed_ms as f64 / 1000.0,
            self.runs_per_second(),
            self.shrink_runs,
            self.seeds
        );
        out.push_str("coverage (runs per generator kind):\n");
        for (kind, runs) in &self.coverage {
            out.push_str(&format!("  {kind:<52} {runs}\n"));
        }
        for error in &self.errors {
            out.push_str(&format!("error: {error}\n"));
        }
        out.push_str(&format!("{} distinct violation(s)\n", self.findings.len()));
        for finding in &self.findings {
            out.push_str(&format!(
                "\n✗ {} (seed {}, {} run(s))\n  {}\n",
                finding.invariant, finding.seed, finding.occurrences, finding.violation.message
            ));
            out.push_str(&format!("  minimal case: {}\n", plain(&finding.minimal)));
            for line in &finding.violation.lines {
                out.push_str(&format!("    {line}\n"));
            }
            if let Some(path) = &finding.saved {
                out.push_str(&format!("  saved: {}\n", path.display()));
            }
            if let Some(replay) = &finding.replay {
                out.push_str(&format!("  replay: {replay}\n"));
            }
        }
        out
    }

    /// The JSON report.
    pub fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The JUnit XML report: one testcase per invariant, failing with its findings.
    pub fn junit(&self) -> String {
        let results: Vec<ScenarioResult> = super::invariants::ALL
            .iter()
            .map(|invariant| {
                let name = format!("fuzz/{}/{invariant}", self.role);
                let mut result =
                    ScenarioResult::without_run(&name, invariant, Verdict::Pass, invariant, String::new());
                result.failures.clear();
                for finding in self.findings.iter().filter(|f| f.invariant == *invariant) {
                    result.verdict = Verdict::Fail;
                    let mut context = finding.violation.lines.clone();
                    context.extend(finding.replay.iter().map(|r| format!("replay: {r}")));
                    let message = format!("seed {}: {}", finding.seed, finding.violation.message);
                    result.failures.push(Failure::must(invariant, message, context));
                }
                result
            })
            .collect();
        let run = crate::report::summary::RunInfo {
            role: None,
            implementation: crate::report::summary::RunInfo::implementation_of(&results),
            duration_ms: self.elapsed_ms,
            exit_status: if self.findings.is_empty() && self.errors.is_empty() {
                crate::report::summary::ExitStatus::Success
            } else {
                crate::report::summary::ExitStatus::Failed
            },
        };
        crate::report::junit::junit_xml(&results, &format!("conformance fuzz {}", self.role), &run)
    }
}

fn plain(minimal: &[String]) -> String {
    if minimal.is_empty() {
        "a plain run (no fault, no misbehaviour)".into()
    } else {
        minimal.join("; ")
    }
}
