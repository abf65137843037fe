//! Playing one case on the one run engine: in process with our own device in the role
//! under test (virtual clock), or through an adapter in real time; then the
//! invariants over what happened.

use std::time::Duration;

use devices::engine::RunEnd;
use devices::RoleKind;

use super::case::Case;
use super::invariants::{self, wire, Observed, Violation};
use crate::adapter::process::AdapterError;
use crate::check::transcript::{Actor, Entry, TranscriptEntry};
use crate::run::external::{run_external_keeping_server, ExternalClient};
use crate::scenario::roles::REGISTRAR_USERNAME;
use crate::scenario::Scenario;

/// Who plays the role under test.
#[derive(Debug, Clone)]
pub enum Target {
    /// Our own simulated device, in process.
    InProcess,
    /// An external client through its adapter.
    External(ExternalClient),
}

impl Target {
    /// The external client through `command`, playing `role`, with the fuzzer's
    /// pace: a short poll interval and a bounded deadline per run.
    pub fn external(command: &str, role: RoleKind, deadline: Duration) -> Target {
        Target::External(ExternalClient {
            command: command.to_owned(),
            kind: role,
            deadline: Some(deadline),
            poll_ms: Some(50),
            jitter: None,
        })
    }
}

/// The scenario a case runs as. Its expectations are dropped: a fuzz run checks the
/// invariants instead (a saved case gets expectations of its own, [`super::save`]).
pub fn scenario_of(case: &Case) -> Result<Scenario, String> {
    let name = format!("fuzz/{}-{}", case.role.name(), case.seed);
    let mut scenario =
        case.scenario(&name, &super::case::placeholder_expect(case)).map_err(|e| e.to_string())?;
    scenario.expectations.clear();
    Ok(scenario)
}

/// The master key the homeserver holds for the registrar's user, if any.
fn registrar_master_key(core: &mock_homeserver::Homeserver, server_name: &str) -> Option<String> {
    let key = core.cross_signing_key(&format!("@{REGISTRAR_USERNAME}:{server_name}"), "master")?;
    key.get("keys")?.as_object()?.values().find_map(|v| v.as_str().map(str::to_owned))
}

/// The liveness invariant a run's own ending breaks, if it broke one.
fn run_problem(end: &RunEnd<AdapterError>, role: RoleKind) -> Option<(&'static str, String)> {
    let letters = |roles: &[RoleKind]| roles.iter().map(|r| r.letter()).collect::<Vec<_>>().join(" and ");
    match end {
        RunEnd::AllDone => None,
        RunEnd::Deadline(running) if running.contains(&role) => {
            Some(("liveness.deadline", format!("{} still running at the deadline", letters(running))))
        }
        // A device waiting for its user (a QR code to scan, an answer) is not hung:
        // the user can always cancel. Only the runner's user could not act.
        RunEnd::Stuck(_) => None,
        RunEnd::Runaway(why) => Some(("liveness.progress", format!("the run was stopped: {why}"))),
        RunEnd::External(error) => Some(("liveness.adapter", error.to_string())),
        RunEnd::Deadline(_) => None,
    }
}

/// What one run of a case gave.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The invariants it broke.
    pub violations: Vec<Violation>,
    /// The first request of each role, as a pattern.
    pub first_requests: Vec<(RoleKind, String)>,
}

fn first_requests(transcript: &[TranscriptEntry]) -> Vec<(RoleKind, String)> {
    let mut out: Vec<(RoleKind, String)> = Vec::new();
    for entry in transcript {
        if let Entry::Http { actor: Actor::Role(role), method, path, .. } = &entry.entry {
            if !out.iter().any(|(r, _)| r == role) {
                out.push((*role, format!("{} -> HS: {method} {}", role.letter(), wire::path_pattern(path))));
            }
        }
    }
    out
}

/// Plays `case` and checks every invariant; `Err` when the run could not be set up
/// (a harness problem, not a finding).
pub async fn play(case: &Case, target: &Target) -> Result<Checked, String> {
    let scenario = scenario_of(case)?;
    let server_name = scenario.profile.server_name.clone();
    match target {
        Target::InProcess => {
            let played = crate::run::play_in_process(&scenario).await?;
            let registrar =
                (case.role == RoleKind::Registrar).then(|| registrar_master_key(&played.core, &server_name));
            let violations = invariants::check(&Observed {
                role: case.role,
                transcript: &played.transcript,
                names: &played.names,
                run_problem: run_problem(&played.end, case.role),
                waiting_for_user: matches!(&played.end, RunEnd::Stuck(waiting) if waiting.contains(&case.role)),
                registrar_master_key: registrar,
            });
            Ok(Checked { violations, first_requests: first_requests(&played.transcript) })
        }
        Target::External(client) => {
            let (result, core) = run_external_keeping_server(&scenario, client).await;
            if let Some(setup) =
                result.failures.iter().find(|f| matches!(f.expectation.as_str(), "setup" | "skipped"))
            {
                return Err(format!("case {}: {}", case.seed, setup.message));
            }
            let waiting_for_user = result
                .failures
                .iter()
                .any(|f| f.expectation == "progress" && f.message.contains("waited for a user action"));
            let finished = invariants::wire::finished(&result.transcript, case.role).is_some();
            let run_problem = result.failures.iter().find_map(|f| {
                let name = match f.expectation.as_str() {
                    "progress" if waiting_for_user => return None,
                    // The peer still running at the deadline is the peer's affair.
                    "deadline" if finished => return None,
                    "deadline" => "liveness.deadline",
                    "progress" => "liveness.progress",
                    "adapter" => "liveness.adapter",
                    _ => return None,
                };
                Some((name, f.message.clone()))
            });
            let registrar = match (case.role, &core) {
                (RoleKind::Registrar, Some(core)) => Some(registrar_master_key(core, &server_name)),
                _ => None,
            };
            let violations = invariants::check(&Observed {
                role: case.role,
                transcript: &result.transcript,
                names: &result.names,
                run_problem,
                waiting_for_user,
                registrar_master_key: registrar,
            });
            Ok(Checked { violations, first_requests: first_requests(&result.transcript) })
        }
    }
}
