//! Running many scenarios in parallel, and the summary of their results.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::Semaphore;

use super::result::ScenarioResult;
use crate::check::verdict::Verdict;
use crate::scenario::Scenario;

/// The scenarios directory of this repository (for the repository's own tests).
pub fn default_scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("scenarios")
}

/// Runs scenarios with at most `jobs` at once; `on_done` sees each result as it ends.
pub async fn run_all(
    scenarios: Vec<Scenario>,
    jobs: usize,
    on_done: impl FnMut(&ScenarioResult),
) -> Vec<ScenarioResult> {
    in_parallel(scenarios, jobs, |scenario| async move { super::in_process(&scenario).await }, on_done).await
}

/// Runs `run` on each scenario with at most `jobs` at once; `on_done` sees each
/// result as it ends; the results come back in the scenarios' order. A run that
/// panics is a failed result that says so, never a missing one.
pub async fn in_parallel<F, Fut>(
    scenarios: Vec<Scenario>,
    jobs: usize,
    run: F,
    mut on_done: impl FnMut(&ScenarioResult),
) -> Vec<ScenarioResult>
where
    F: Fn(Scenario) -> Fut,
    Fut: std::future::Future<Output = ScenarioResult> + Send + 'static,
{
    let started = std::time::Instant::now();
    let semaphore = Arc::new(Semaphore::new(jobs.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut by_task = std::collections::HashMap::new();
    for (index, scenario) in scenarios.into_iter().enumerate() {
        let semaphore = semaphore.clone();
        let future = run(scenario.clone());
        let handle = tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            (index, future.await)
        });
        by_task.insert(handle.id(), (index, scenario));
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next_with_id().await {
        let (index, result) = match joined {
            Ok((_, done)) => done,
            Err(error) => {
                let Some((index, scenario)) = by_task.remove(&error.id()) else { continue };
                let message = format!("the run stopped before it ended: {error}");
                (index, ScenarioResult::broken(&scenario, message, started))
            }
        };
        on_done(&result);
        results.push((index, result));
    }
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// The machine-readable result of one scenario.
#[derive(Debug, Serialize)]
pub struct JsonResult<'a> {
    /// Scenario name.
    pub name: &'a str,
    /// Verdict.
    pub verdict: Verdict,
    /// Failure explanations.
    pub failures: Vec<String>,
    /// Real time in milliseconds.
    pub duration_ms: u64,
    /// Why the expectations file expects a failure, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_failure: Option<&'a str>,
}

/// The `--json` report.
pub fn json_report(results: &[ScenarioResult]) -> serde_json::Value {
    let items: Vec<JsonResult<'_>> = results
        .iter()
        .map(|r| JsonResult {
            name: &r.name,
            verdict: r.verdict,
            failures: r.failures.iter().map(|f| format!("{}: {}", f.expectation, f.message)).collect(),
            duration_ms: r.duration_ms,
            expected_failure: r.expected_failure.as_deref(),
        })
        .collect();
    serde_json::json!({ "scenarios": items })
}

/// Counts per verdict, in report order.
pub fn summary(results: &[ScenarioResult]) -> Vec<(Verdict, usize)> {
    [Verdict::Pass, Verdict::NonStrict, Verdict::Unimplemented, Verdict::Skipped, Verdict::Fail]
        .into_iter()
        .map(|v| (v, results.iter().filter(|r| r.verdict == v).count()))
        .collect()
}

/// Whether a run succeeded, i.e. the exit decision of `conformance run`: every result
/// is PASS, NON-STRICT, UNIMPLEMENTED, SKIPPED or an expected failure (XFAIL), and no
/// expected failure passed (a stale expectation fails the run).
pub fn run_succeeded(results: &[ScenarioResult]) -> bool {
    results.iter().all(ScenarioResult::is_success)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(name: &str) -> Scenario {
        let text = r#"title = "R registers"
flow = "register"
[roles.R]
kind = "registrar"
[expect]
order = ["R -> HS: POST /register"]
"#;
        Scenario::parse(text, Path::new(&format!("scenarios/{name}.toml")), name).expect("loads")
    }

    #[tokio::test]
    async fn a_run_that_panics_is_a_failed_result_in_its_place() {
        let scenarios =
            vec![scenario("register/first"), scenario("register/panics"), scenario("register/last")];
        let run = |scenario: Scenario| async move {
            assert!(scenario.name != "register/panics", "a bug in the run");
            let mut result = ScenarioResult::broken(&scenario, String::new(), std::time::Instant::now());
            result.verdict = Verdict::Pass;
            result
        };
        let mut seen = 0;
        let results = in_parallel(scenarios, 2, run, |_| seen += 1).await;
        let names: Vec<_> = results.iter().map(|r| (r.name.as_str(), r.verdict)).collect();
        assert_eq!(
            names,
            [
                ("register/first", Verdict::Pass),
                ("register/panics", Verdict::Fail),
                ("register/last", Verdict::Pass)
            ]
        );
        assert_eq!(seen, 3);
        assert!(results[1].explain().contains("the run stopped before it ended"), "{}", results[1].explain());
    }
}
