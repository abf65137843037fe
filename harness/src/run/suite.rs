//! Running many scenarios in parallel, what is running at a given moment (for a
//! progress line), and whether the results add up to a successful run.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::result::ScenarioResult;
use crate::scenario::Scenario;

/// The scenarios directory of the checkout this crate was built from, for the
/// repository's own tests. The CLI never uses it: it reads `./scenarios` of the
/// directory it runs in, or the paths it is given.
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

/// Whether no result fails the run: every result is PASS, NON-STRICT, UNIMPLEMENTED,
/// SKIPPED or an expected failure (XFAIL), and no expected failure passed (a stale
/// expectation fails the run). [`crate::report::summary::Summary::exit_status`] also
/// fails a run that verified nothing.
pub fn run_succeeded(results: &[ScenarioResult]) -> bool {
    results.iter().all(ScenarioResult::is_success)
}

/// The scenarios running right now and since when, and how many have ended: what a
/// progress line shows. Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct Activity(Arc<Mutex<ActivityState>>);

#[derive(Debug, Default)]
struct ActivityState {
    running: Vec<(u64, String, Instant)>,
    next: u64,
    ended: usize,
}

/// A scenario marked running in an [`Activity`]: it ends (and counts as ended) when
/// this is dropped, also when its run panics.
#[derive(Debug)]
pub struct Running {
    activity: Activity,
    id: u64,
}

impl Activity {
    fn state(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Marks `name` as running from now until the returned guard is dropped.
    pub fn start(&self, name: &str) -> Running {
        let mut state = self.state();
        let id = state.next;
        state.next += 1;
        state.running.push((id, name.to_owned(), Instant::now()));
        Running { activity: self.clone(), id }
    }

    /// The running scenarios with how long each has run, the longest first.
    pub fn running(&self) -> Vec<(String, Duration)> {
        let mut running: Vec<(String, Duration)> =
            self.state().running.iter().map(|(_, name, since)| (name.clone(), since.elapsed())).collect();
        running.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        running
    }

    /// How many scenarios have ended.
    pub fn ended(&self) -> usize {
        self.state().ended
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut state = self.activity.state();
        state.running.retain(|(id, _, _)| *id != self.id);
        state.ended += 1;
    }
}

/// `run` with each scenario marked in `activity` while it runs (from the moment it
/// gets its turn, not while it waits for one).
pub fn watched<F, Fut>(
    activity: &Activity,
    run: F,
) -> impl Fn(Scenario) -> std::pin::Pin<Box<dyn std::future::Future<Output = ScenarioResult> + Send>>
where
    F: Fn(Scenario) -> Fut,
    Fut: std::future::Future<Output = ScenarioResult> + Send + 'static,
{
    let activity = activity.clone();
    move |scenario: Scenario| {
        let activity = activity.clone();
        let name = scenario.name.clone();
        let future = run(scenario);
        Box::pin(async move {
            let _running = activity.start(&name);
            future.await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::verdict::Verdict;

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

    #[tokio::test]
    async fn the_activity_shows_what_runs_and_counts_what_ended() {
        let activity = Activity::default();
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        let wait = Arc::new(Mutex::new(Some(wait)));
        let run = move |scenario: Scenario| {
            let wait = wait.lock().unwrap().take();
            async move {
                if let Some(wait) = wait {
                    let _ = wait.await;
                }
                ScenarioResult::broken(&scenario, String::new(), Instant::now())
            }
        };
        let scenarios = vec![scenario("register/first"), scenario("register/second")];
        let watching = activity.clone();
        let task =
            tokio::spawn(async move { in_parallel(scenarios, 1, watched(&watching, run), |_| {}).await });
        // With one job, the first scenario runs (and waits) while the second waits its turn.
        let until = Instant::now() + Duration::from_secs(10);
        while activity.running().is_empty() {
            assert!(Instant::now() < until, "the first scenario never started");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let running: Vec<String> = activity.running().into_iter().map(|(name, _)| name).collect();
        assert_eq!(running, ["register/first"]);
        assert_eq!(activity.ended(), 0);
        release.send(()).unwrap();
        let results = task.await.unwrap();
        assert_eq!(results.len(), 2);
        assert!(activity.running().is_empty());
        assert_eq!(activity.ended(), 2);
    }
}
