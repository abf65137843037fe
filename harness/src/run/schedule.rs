//! The order in which a real-time suite starts its scenarios.
//!
//! In real time a scenario lasts about as long as the timers it waits for (a
//! rendezvous that must expire, B's step-16 wait), and those are exactly what its
//! in-process run on the virtual clock measures: the virtual moment of its last
//! transcript entry. Starting the longest first (longest-processing-time-first
//! scheduling) lets the short scenarios run beside the long ones, instead of a long
//! one starting last and holding up the end of the run. The in-process suite costs a
//! fraction of a second, and it changes no verdict: only the order of starts.

use super::result::ScenarioResult;
use super::suite::run_all;
use crate::scenario::Scenario;

/// `scenarios` with their positions, ordered by the length of their in-process run,
/// longest first (ties keep the given order).
pub async fn longest_first(scenarios: Vec<Scenario>, jobs: usize) -> Vec<(usize, Scenario)> {
    let lengths: Vec<u64> =
        run_all(scenarios.clone(), jobs, |_| {}).await.iter().map(virtual_length).collect();
    let mut ordered: Vec<(usize, Scenario)> = scenarios.into_iter().enumerate().collect();
    ordered.sort_by_key(|(index, _)| std::cmp::Reverse(lengths[*index]));
    ordered
}

/// The virtual time of a run's last transcript entry.
fn virtual_length(result: &ScenarioResult) -> u64 {
    result.transcript.last().map_or(0, |entry| entry.at_ms)
}
