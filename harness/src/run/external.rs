//! One scenario with one role played from outside: which scenarios apply to an
//! external client, what its adapter is told, which expectations can be checked,
//! and the run itself on the wall clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::time::Instant as Deadline;

use devices::engine::real_time::{self, External, ExternalSeat};
use devices::engine::{ExternalEvent, Marking};
use devices::{AbortKind, Command, OutcomeKind, RoleKind};

use super::ending::{conclude, Outcome};
use super::executor::InProcess;
use super::prepare::{prepare, Mode, Prepared, RealTime};
use super::recorder::{Recorder, Report};
use super::result::ScenarioResult;
use crate::adapter::process::{AdapterError, AdapterProcess, Launch};
use crate::adapter::protocol::{AdapterCommand, AdapterEvent, MalformedLine, Setup};
use crate::check::expect::{Expectation, Level};
use crate::check::pattern::Pattern;
use crate::check::transcript::{Actor, Ending, Entry};
use crate::scenario::roles::{
    RoleConfig, RunContext, ACCOUNT_LOCALPART, ACCOUNT_PASSWORD, REGISTRAR_PASSWORD, REGISTRAR_USERNAME,
};
use crate::scenario::Scenario;

/// The external client under test.
#[derive(Debug, Clone)]
pub struct ExternalClient {
    /// The adapter's command line.
    pub command: String,
    /// The role it plays.
    pub kind: RoleKind,
    /// A deadline for every scenario (real time), instead of the scenario's own.
    pub deadline: Option<Duration>,
    /// The pause between two polls (rendezvous, `/sync`, `/keys/query`) of the
    /// simulated peer, also passed to the adapter as `CONFORMANCE_POLL_MS`; `None`
    /// keeps the devices' default (1 s).
    pub poll_ms: Option<u64>,
    /// Random delays before each request of the simulated roles; their seed is mixed
    /// with each scenario's, so that runs of one scenario can try different ones.
    /// `None` sends the requests at once.
    pub jitter: Option<real_time::Jitter>,
}

/// The setup keys of each role that the adapter protocol can pass on.
fn passable_setup(kind: RoleKind) -> &'static [&'static str] {
    match kind {
        RoleKind::NewDevice => &["e2ee"],
        RoleKind::ExistingDevice => &["cross-signing", "backup"],
        RoleKind::Registrar => &["registration-token"],
    }
}

/// Why a scenario does not apply to an external client playing `kind`, if it does
/// not.
pub fn does_not_apply(scenario: &Scenario, kind: RoleKind) -> Option<String> {
    let Some(spec) = scenario.role(kind) else {
        return Some(format!("does not apply: the scenario has no role {kind} ({})", kind.name()));
    };
    let counts_polls = |f: &crate::scenario::ScenarioFault| {
        matches!(f.fault, mock_homeserver::Fault::ExpireRendezvous { after_writes: None, .. })
    };
    if scenario.faults.iter().any(counts_polls) {
        return Some(
            "does not apply: the fault `expire-rendezvous` fires after a number of requests, which depends on how often a client polls"
                .to_owned(),
        );
    }
    if let Some(knob) = spec.knob_names.first() {
        return Some(format!(
            "does not apply: role {kind} misbehaves on purpose (knob `{knob}`), which an external client cannot be told to do"
        ));
    }
    if let Some(key) = spec.setup_keys.iter().find(|k| !passable_setup(kind).contains(&k.as_str())) {
        return Some(format!(
            "does not apply: role {kind}'s setup `{key}` chooses behaviour the adapter protocol cannot pass on"
        ));
    }
    None
}

/// The `setup` command and the first command after it for the external role.
pub fn commands_for(
    scenario: &Scenario,
    kind: RoleKind,
    context: &RunContext,
) -> (Setup, Option<AdapterCommand>) {
    let spec = scenario.role(kind);
    let wait_ms = spec.and_then(|s| s.wait_ms).map(|wait| context.wait_ms(wait));
    let server_name = &context.server_name;
    let show = (scenario.shows_code == kind).then(|| AdapterCommand::ShowQr {
        dialect: match scenario.dialect {
            devices::qr_login::DialectName::V1 => "v1".to_owned(),
            devices::qr_login::DialectName::V2 => "v2".to_owned(),
        },
    });
    match spec.map(|s| &s.config) {
        Some(RoleConfig::NewDevice { setup, .. }) => {
            (Setup { e2ee: Some(setup.e2ee), wait_ms, ..Setup::default() }, show)
        }
        Some(RoleConfig::ExistingDevice { setup, .. }) => (
            Setup {
                username: Some(ACCOUNT_LOCALPART.to_owned()),
                password: Some(ACCOUNT_PASSWORD.to_owned()),
                device_id: Some(crate::scenario::roles::device_id_of(kind).to_owned()),
                cross_signing: Some(setup.cross_signing),
                backup: Some(setup.backup),
                wait_ms,
                ..Setup::default()
            },
            show,
        ),
        Some(RoleConfig::Registrar { setup, .. }) => (
            Setup {
                username: Some(REGISTRAR_USERNAME.to_owned()),
                password: Some(REGISTRAR_PASSWORD.to_owned()),
                server_name: Some(server_name.to_owned()),
                ..Setup::default()
            },
            Some(AdapterCommand::Register { registration_token: setup.registration_token.clone() }),
        ),
        None => (Setup::default(), None),
    }
}

/// Whether the runner can check a pattern when `external` is played from outside:
/// everything except the external role's decisions and displays, which only its
/// own words would show.
pub fn checkable(pattern: &Pattern, external: RoleKind) -> bool {
    pattern.actor() != external || !matches!(pattern, Pattern::Decision { .. } | Pattern::Shows { .. })
}

/// The scenario's expectations that apply with `external` played from outside; an
/// outcome's reason is only compared when the client reported one.
pub fn checkable_expectations(
    expectations: &[(Expectation, Level)],
    external: RoleKind,
    reported_reason: bool,
) -> Vec<(Expectation, Level)> {
    expectations
        .iter()
        .filter_map(|(expectation, level)| {
            let kept = match expectation {
                Expectation::Outcome { role, expected } if *role == external && !reported_reason => {
                    let expected = expected.iter().map(|(outcome, _)| (*outcome, None)).collect();
                    Some(Expectation::Outcome { role: *role, expected })
                }
                Expectation::Order(steps) => {
                    let steps: Vec<_> =
                        steps.iter().filter(|(_, p)| checkable(p, external)).cloned().collect();
                    (!steps.is_empty()).then_some(Expectation::Order(steps))
                }
                Expectation::After { anchor, then } => {
                    let keep = |list: &[(String, Pattern)]| -> Vec<(String, Pattern)> {
                        list.iter().filter(|(_, p)| checkable(p, external)).cloned().collect()
                    };
                    let (anchor, then) = (keep(anchor), keep(then));
                    (!anchor.is_empty() && !then.is_empty()).then_some(Expectation::After { anchor, then })
                }
                Expectation::Never(_, p) | Expectation::Count { pattern: p, .. } => {
                    checkable(p, external).then(|| expectation.clone())
                }
                other => Some(other.clone()),
            };
            kept.map(|e| (e, *level))
        })
        .collect()
}

/// An adapter's `outcome` event as the runner records it. An unknown outcome or
/// reason breaks the protocol.
pub fn ending_of(event: &AdapterEvent) -> Result<Ending, MalformedLine> {
    let AdapterEvent::Outcome { outcome, detail, reason, status, errcode } = event else {
        return Err(MalformedLine { line: event.to_line(), reason: "not an outcome".into() });
    };
    let malformed = |why: String| MalformedLine { line: event.to_line(), reason: why };
    let known = |names: Vec<&str>| names.join(", ");
    let kind = OutcomeKind::parse(outcome).ok_or_else(|| {
        malformed(format!(
            "unknown outcome `{outcome}` (known: {})",
            known(OutcomeKind::ALL.iter().map(|k| k.name()).collect())
        ))
    })?;
    let reason = match reason.as_deref() {
        None => None,
        Some(name) => Some(AbortKind::parse(name).ok_or_else(|| {
            malformed(format!(
                "unknown reason `{name}` (known: {})",
                known(AbortKind::ALL.iter().map(|k| k.name()).collect())
            ))
        })?),
    };
    let rejected = match (kind, status, errcode) {
        (OutcomeKind::Rejected, Some(status), Some(errcode)) => Some((*status, errcode.clone())),
        _ => None,
    };
    let detail = (!detail.is_empty()).then(|| detail.clone());
    Ok(Ending { outcome: kind, reason, rejected, detail })
}

/// How many of an adapter's `decision` events the transcript keeps from the start.
pub const NOTES_HEAD: usize = 500;
/// How many it keeps from the end.
pub const NOTES_TAIL: usize = 500;

/// An adapter playing the external role of a run.
pub struct AdapterSeat<'a> {
    adapter: &'a mut AdapterProcess,
    deadline: Deadline,
    write: Duration,
    /// Whether the reported outcome came with a reason (then the reason is checked).
    pub reported_reason: bool,
    notes: usize,
    tail: std::collections::VecDeque<String>,
}

impl<'a> AdapterSeat<'a> {
    /// The seat of `adapter`, whose waits end at `deadline`.
    pub fn new(adapter: &'a mut AdapterProcess, deadline: Deadline) -> Self {
        Self {
            adapter,
            deadline,
            write: Duration::from_secs(5),
            reported_reason: false,
            notes: 0,
            tail: std::collections::VecDeque::new(),
        }
    }

    /// The adapter's remarks beyond the first [`NOTES_HEAD`], for the end of the
    /// transcript: how many were not recorded, then the last [`NOTES_TAIL`].
    pub fn held_notes(&mut self) -> Vec<String> {
        let held = self.notes.saturating_sub(NOTES_HEAD);
        if held == 0 {
            return Vec::new();
        }
        let dropped = held - self.tail.len();
        let mut out = Vec::new();
        if dropped > 0 {
            out.push(format!("{dropped} more decision events of the adapter were not recorded"));
        }
        out.extend(self.tail.drain(..).map(|note| format!("decision (late): {note}")));
        out
    }
}

impl ExternalSeat for AdapterSeat<'_> {
    type Report = Report;
    type Error = AdapterError;

    async fn next(&mut self) -> Result<ExternalEvent<Report>, AdapterError> {
        loop {
            let event = self.adapter.next_event(self.deadline, "the external role's next event").await?;
            return Ok(match event {
                AdapterEvent::Ready { .. } => continue,
                AdapterEvent::QrCode { payload } => ExternalEvent::ShowsQrCode(payload),
                AdapterEvent::CheckCode { code } => ExternalEvent::ShowsCheckCode(code),
                AdapterEvent::Decision { decision } => {
                    let text = match decision {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    // What the runner keeps of an adapter's remarks is bounded: the
                    // first ones now, the last ones at the end.
                    self.notes += 1;
                    if self.notes > NOTES_HEAD {
                        if self.tail.len() == NOTES_TAIL {
                            self.tail.pop_front();
                        }
                        self.tail.push_back(text);
                        continue;
                    }
                    ExternalEvent::Said(Report::Note(format!("decision: {text}")))
                }
                outcome @ AdapterEvent::Outcome { .. } => {
                    let ending = ending_of(&outcome)?;
                    self.reported_reason = ending.reason.is_some();
                    ExternalEvent::Finished(Report::Ending(ending))
                }
                AdapterEvent::Unimplemented { detail } => return Err(AdapterError::Unimplemented(detail)),
            });
        }
    }

    async fn command(&mut self, command: Command) -> Result<(), AdapterError> {
        let command = match command {
            Command::ScanQrCode(payload) => AdapterCommand::ScanQr { payload },
            Command::Approve => AdapterCommand::Approve,
            Command::Decline => AdapterCommand::Decline,
            Command::Cancel => return Ok(()),
        };
        self.adapter.send(&command, self.write).await
    }
}

/// Waits for `ready`, then sends `setup` and the command that starts the flow.
pub async fn handshake(
    adapter: &mut AdapterProcess,
    ready_by: Deadline,
    setup: Setup,
    kick_off: Option<AdapterCommand>,
) -> Result<String, AdapterError> {
    let implementation = match adapter.next_event(ready_by, "the `ready` event").await? {
        AdapterEvent::Ready { implementation } => implementation,
        AdapterEvent::Unimplemented { detail } => return Err(AdapterError::Unimplemented(detail)),
        other => {
            return Err(AdapterError::Malformed(MalformedLine {
                line: other.to_line(),
                reason: "the first event must be `ready`".into(),
            }))
        }
    };
    let write = Duration::from_secs(5);
    adapter.send(&AdapterCommand::Setup(setup), write).await?;
    if let Some(command) = kick_off {
        adapter.send(&command, write).await?;
    }
    Ok(implementation)
}

/// How long an adapter may take to print `ready`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs one scenario with `client` playing its role (SKIPPED when the scenario does
/// not apply).
pub async fn run_external(scenario: &Scenario, client: &ExternalClient) -> ScenarioResult {
    run_external_keeping_server(scenario, client).await.0
}

/// [`run_external`], also handing back the homeserver's core with the state the run
/// left (`None` when the run could not start).
pub async fn run_external_keeping_server(
    scenario: &Scenario,
    client: &ExternalClient,
) -> (ScenarioResult, Option<Arc<mock_homeserver::Homeserver>>) {
    let started = Instant::now();
    if let Some(reason) = does_not_apply(scenario, client.kind) {
        return (ScenarioResult::skipped_scenario(scenario, &reason), None);
    }
    let mode = Mode::RealTime(RealTime {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        public_url: None,
        poll_ms: client.poll_ms,
        scale_timers: true,
        external: Some(client.kind),
    });
    let prepared = match prepare(scenario, &mode).await {
        Ok(prepared) => prepared,
        Err(message) => return (ScenarioResult::broken(scenario, message, started), None),
    };
    let Prepared { core, server, base_url, seats, names, simulated, user, context, armed_faults, .. } =
        prepared;
    let deadline = client.deadline.unwrap_or(Duration::from_millis(scenario.deadline_ms));
    let launch = Launch {
        command: client.command.clone(),
        homeserver: base_url.clone(),
        role: client.kind.name().to_owned(),
        scenario: scenario.name.clone(),
        poll_ms: client.poll_ms,
    };
    let mut recorder =
        Recorder::new(core.clone(), simulated, Some(client.kind), names).with_armed_faults(armed_faults);
    let mut adapter = match AdapterProcess::spawn(&launch) {
        Ok(adapter) => adapter,
        Err(error) => return (ScenarioResult::broken(scenario, error.to_string(), started), Some(core)),
    };
    let run_deadline = Deadline::now() + deadline;
    let (setup, kick_off) = commands_for(scenario, client.kind, &context);
    let ready_by = run_deadline.min(Deadline::now() + READY_TIMEOUT);
    let mut implementation = None;
    let (end, reported_reason) = match handshake(&mut adapter, ready_by, setup, kick_off).await {
        Err(error) => (devices::engine::RunEnd::External(error), false),
        Ok(ready) => {
            recorder.push(Entry::Note {
                actor: Actor::Role(client.kind),
                text: format!("adapter ready: {ready}"),
            });
            implementation = Some(ready);
            let mut seat = AdapterSeat::new(&mut adapter, run_deadline + Duration::from_secs(1));
            let external = External { kind: client.kind, seat: &mut seat, reports_outcome: true };
            let options = real_time::Options {
                deadline: run_deadline.saturating_duration_since(Deadline::now()),
                marking: Marking::Role,
                jitter: client.jitter.map(|j| real_time::Jitter { seed: scenario.seed ^ j.seed, ..j }),
            };
            let end = real_time::run(
                seats,
                Some(external),
                user,
                InProcess::new(core.clone()),
                &mut recorder,
                None,
                options,
            )
            .await;
            for text in seat.held_notes() {
                recorder.push(Entry::Note { actor: Actor::Role(client.kind), text });
            }
            (end, seat.reported_reason)
        }
    };
    let stopped = adapter.stop(Duration::from_secs(2)).await;
    let stderr = adapter.stderr_text();
    drop(server);
    let (transcript, names) = recorder.finish();
    let expectations = checkable_expectations(&scenario.expectations, client.kind, reported_reason);
    let mut result = conclude(Outcome {
        scenario,
        expectations,
        transcript,
        names,
        end,
        deadline: (deadline.as_millis() as u64, "real"),
        base_url,
        stderr: Some(stderr),
        started,
    });
    result.notes.extend(stopped.note());
    result.implementation = implementation;
    (result, Some(core))
}

/// Runs scenarios with the external client, at most `jobs` at once, the longest
/// first ([`super::schedule::longest_first`]); the results come back in the
/// scenarios' order.
pub async fn run_all_external(
    scenarios: Vec<Scenario>,
    client: ExternalClient,
    jobs: usize,
    on_done: impl FnMut(&ScenarioResult),
) -> Vec<ScenarioResult> {
    let (positions, ordered): (Vec<usize>, Vec<Scenario>) =
        super::schedule::longest_first(scenarios, jobs).await.into_iter().unzip();
    let client = Arc::new(client);
    let run = |scenario: Scenario| {
        let client = client.clone();
        async move { run_external(&scenario, &client).await }
    };
    let results = super::suite::in_parallel(ordered, jobs, run, on_done).await;
    let mut placed: Vec<(usize, ScenarioResult)> = positions.into_iter().zip(results).collect();
    placed.sort_by_key(|(position, _)| *position);
    placed.into_iter().map(|(_, result)| result).collect()
}
