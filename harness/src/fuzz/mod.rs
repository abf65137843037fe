//! `conformance fuzz`: protocol fuzzing of any client, on the one run engine.
//!
//! A campaign draws one case per seed ([`generate`]): server faults, the simulated
//! peer's misbehaviour and the user's answer, as data. Each case runs as an ordinary
//! scenario ([`case`], [`play`]), in process with our own device in the role under
//! test or through an adapter, and the invariants are checked on every run
//! ([`invariants`]). A violation is shrunk to a minimal case ([`shrink`]), saved as a
//! scenario file that `conformance run` replays ([`save`]), and reported with the
//! coverage of the generators ([`report`]). Seeds can be split over machines
//! ([`shard`]). See `docs/fuzzing.md`.

pub mod case;
pub mod command;
pub mod generate;
pub mod invariants;
pub mod play;
pub mod report;
pub mod save;
pub mod shard;
pub mod shrink;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use devices::RoleKind;

use play::{play, Target};
use report::{Finding, FuzzReport};
use shard::Seeds;

/// When a campaign stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// After this many runs.
    Runs(u64),
    /// Once this much real time has passed (runs under way finish).
    Time(Duration),
    /// When the seeds run out (a bounded range).
    Seeds,
}

/// What a campaign does.
#[derive(Debug, Clone)]
pub struct FuzzOptions {
    /// The role under test.
    pub role: RoleKind,
    /// Who plays it.
    pub target: Target,
    /// The seeds.
    pub seeds: Seeds,
    /// When to stop.
    pub budget: Budget,
    /// Runs at once.
    pub jobs: usize,
    /// Where to save findings.
    pub save: Option<PathBuf>,
    /// Knobs of our own device in the role under test (in process only): a
    /// deliberately broken device, for the harness's own tests.
    pub own_knobs: Map<String, Value>,
}

impl FuzzOptions {
    /// A campaign of `runs` runs from `seed` on, in process, one job.
    pub fn in_process(role: RoleKind, seed: u64, runs: u64) -> Self {
        FuzzOptions {
            role,
            target: Target::InProcess,
            seeds: Seeds::from(seed),
            budget: Budget::Runs(runs),
            jobs: 1,
            save: None,
            own_knobs: Map::new(),
        }
    }
}

/// One run's result, as the campaign collects it.
struct RunResult {
    seed: u64,
    kinds: Vec<String>,
    outcome: Result<Vec<Finding>, String>,
    shrink_runs: u64,
}

/// Runs case `seed`, shrinks each violation, and returns the findings.
async fn one(options: Arc<FuzzOptions>, seed: u64) -> RunResult {
    let case = generate::generate(options.role, seed, &options.own_knobs);
    let kinds = case.ingredients.iter().map(case::Ingredient::kind).collect();
    let checked = match play(&case, &options.target).await {
        Ok(checked) => checked,
        Err(e) => return RunResult { seed, kinds, outcome: Err(e), shrink_runs: 0 },
    };
    let mut findings = Vec::new();
    let mut shrink_runs = 0;
    for violation in checked.violations.clone() {
        let shrunk = shrink::shrink(case.clone(), violation, checked.clone(), &options.target).await;
        shrink_runs += shrunk.runs as u64;
        let mut finding = Finding {
            invariant: shrunk.violation.invariant,
            seed,
            minimal: shrunk.case.ingredients.iter().map(case::Ingredient::describe).collect(),
            violation: shrunk.violation.clone(),
            occurrences: 1,
            saved: None,
            replay: None,
            case: shrunk.case.clone(),
        };
        if let Some(dir) = &options.save {
            let expect = save::expect_for(&shrunk.case, &shrunk.violation, &shrunk.checked.first_requests);
            match save::write(dir, &shrunk.case, &shrunk.violation, &expect) {
                Ok(path) => {
                    finding.replay = Some(save::replay_command(&path, &options.target, options.role));
                    finding.saved = Some(path);
                }
                Err(e) => return RunResult { seed, kinds, outcome: Err(e), shrink_runs },
            }
        }
        findings.push(finding);
    }
    RunResult { seed, kinds, outcome: Ok(findings), shrink_runs }
}

/// Runs a campaign; `on_run` sees each run's seed as it ends.
pub async fn campaign(options: FuzzOptions, mut on_run: impl FnMut(u64)) -> FuzzReport {
    let started = Instant::now();
    let options = Arc::new(options);
    let jobs = options.jobs.max(1);
    let mut tasks = tokio::task::JoinSet::new();
    let mut next = 0u64;
    let mut results: Vec<RunResult> = Vec::new();
    let more = |next: u64| -> Option<u64> {
        let within = match options.budget {
            Budget::Runs(runs) => next < runs,
            Budget::Time(limit) => started.elapsed() < limit,
            Budget::Seeds => true,
        };
        within.then(|| options.seeds.nth(next)).flatten()
    };
    loop {
        while tasks.len() < jobs {
            let Some(seed) = more(next) else { break };
            next += 1;
            tasks.spawn(one(options.clone(), seed));
        }
        let Some(joined) = tasks.join_next().await else { break };
        match joined {
            Ok(result) => {
                on_run(result.seed);
                results.push(result);
            }
            Err(e) => results.push(RunResult {
                seed: u64::MAX,
                kinds: Vec::new(),
                outcome: Err(format!("a run stopped before it ended: {e}")),
                shrink_runs: 0,
            }),
        }
    }
    results.sort_by_key(|r| r.seed);
    let mut coverage: BTreeMap<String, u64> = BTreeMap::new();
    let mut findings: Vec<Finding> = Vec::new();
    let mut errors = Vec::new();
    let mut shrink_runs = 0;
    for result in &results {
        shrink_runs += result.shrink_runs;
        if result.kinds.is_empty() {
            *coverage.entry("plain".into()).or_default() += 1;
        }
        for kind in &result.kinds {
            *coverage.entry(kind.clone()).or_default() += 1;
        }
        match &result.outcome {
            Ok(found) => {
                for finding in found {
                    match findings.iter_mut().find(|f| f.key() == finding.key()) {
                        Some(same) => same.occurrences += 1,
                        None => findings.push(finding.clone()),
                    }
                }
            }
            Err(e) => errors.push(format!("seed {}: {e}", result.seed)),
        }
    }
    // Saved files of duplicates are left out: only the first of each finding stays.
    if options.save.is_some() {
        for result in &results {
            if let Ok(found) = &result.outcome {
                for finding in found {
                    let kept = findings.iter().any(|f| f.seed == finding.seed && f.key() == finding.key());
                    if let (false, Some(path)) = (kept, &finding.saved) {
                        if findings.iter().all(|f| f.saved.as_ref() != Some(path)) {
                            let _ = std::fs::remove_file(path);
                        }
                    }
                }
            }
        }
    }
    let seeds = match options.seeds.end {
        Some(end) => {
            format!("{}..{} shard {}/{}", options.seeds.start, end, options.seeds.index, options.seeds.count)
        }
        None => format!("from {}", options.seeds.start),
    };
    FuzzReport {
        role: options.role.name().to_owned(),
        seeds,
        runs: results.len() as u64,
        shrink_runs,
        elapsed_ms: started.elapsed().as_millis() as u64,
        findings,
        coverage,
        errors,
    }
}
