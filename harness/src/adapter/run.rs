//! One scenario with one role played by an external client: which scenarios apply,
//! what the adapter is told, which expectations can be checked, and the verdict.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mock_homeserver::{Fault, MockHomeserver, Profile};

use super::process::Launch;
use super::protocol::{AdapterCommand, Setup};
use crate::driver::{Participant, RunEnd};
use crate::expect::{Expectation, Failure, Level};
use crate::pattern::Pattern;
use crate::realtime::{self, External, Options, RealtimeEnd};
use crate::roles;
use crate::runner::{self, ScenarioResult};
use crate::scenario::{DialectName, RoleKind, Scenario};
use crate::transcript::Entry;
use crate::verdict::Verdict;

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
}

/// The scenario role name of a kind: `A`, `B` or `R`.
pub fn role_name(kind: RoleKind) -> &'static str {
    match kind {
        RoleKind::NewDevice => "A",
        RoleKind::ExistingDevice => "B",
        RoleKind::Registrar => "R",
    }
}

/// The `CONFORMANCE_ROLE` value of a kind.
pub fn role_env(kind: RoleKind) -> &'static str {
    match kind {
        RoleKind::NewDevice => "new-device",
        RoleKind::ExistingDevice => "existing-device",
        RoleKind::Registrar => "registrar",
    }
}

/// Parses `new-device`, `existing-device` or `registrar`.
pub fn parse_role(text: &str) -> Result<RoleKind, String> {
    match text {
        "new-device" => Ok(RoleKind::NewDevice),
        "existing-device" => Ok(RoleKind::ExistingDevice),
        "registrar" => Ok(RoleKind::Registrar),
        other => Err(format!("unknown role `{other}` (new-device, existing-device or registrar)")),
    }
}

/// The setup keys of each kind that the adapter protocol can pass on.
fn passable_setup(kind: RoleKind) -> &'static [&'static str] {
    match kind {
        RoleKind::NewDevice => &["e2ee"],
        RoleKind::ExistingDevice => &["cross-signing", "backup"],
        RoleKind::Registrar => &["registration-token", "registration_token"],
    }
}

/// Why a scenario does not apply to an external client of this kind, if it does not.
pub fn does_not_apply(scenario: &Scenario, kind: RoleKind) -> Option<String> {
    let name = role_name(kind);
    let Some(spec) = scenario.roles.iter().find(|r| r.name == name) else {
        return Some(format!("does not apply: the scenario has no role {name} ({})", role_env(kind)));
    };
    let counts_polls =
        |f: &&serde_json::Value| f.get("after_requests").is_some() && f.get("after_writes").is_none();
    if let Some(fault) = scenario.faults.iter().find(counts_polls) {
        let kind = fault.get("kind").and_then(serde_json::Value::as_str).unwrap_or("?");
        return Some(format!(
            "does not apply: the fault `{kind}` fires after a number of requests, which depends on how often a client polls"
        ));
    }
    if let Some(knobs) = spec.knobs.as_ref().and_then(toml::Value::as_table) {
        if let Some((knob, _)) = knobs.iter().next() {
            return Some(format!(
                "does not apply: role {name} misbehaves on purpose (knob `{knob}`), which an external client cannot be told to do"
            ));
        }
    }
    if let Some(setup) = spec.setup.as_ref().and_then(toml::Value::as_table) {
        if let Some((key, _)) = setup.iter().find(|(k, _)| !passable_setup(kind).contains(&k.as_str())) {
            return Some(format!(
                "does not apply: role {name}'s setup `{key}` chooses behaviour the adapter protocol cannot pass on"
            ));
        }
    }
    None
}

fn setup_value<'a>(scenario: &'a Scenario, name: &str, keys: &[&str]) -> Option<&'a toml::Value> {
    let spec = scenario.roles.iter().find(|r| r.name == name)?;
    let table = spec.setup.as_ref()?.as_table()?;
    keys.iter().find_map(|k| table.get(*k))
}

/// The `setup` command and the first command after it for the external role.
pub(crate) fn commands_for(
    scenario: &Scenario,
    kind: RoleKind,
    context: &roles::Context,
) -> (Setup, Option<AdapterCommand>) {
    let name = role_name(kind);
    let wait_ms = scenario.roles.iter().find(|r| r.name == name).and_then(|r| r.wait_ms);
    let flag =
        |keys: &[&str]| setup_value(scenario, name, keys).and_then(toml::Value::as_bool).unwrap_or(true);
    let dialect = match scenario.dialect {
        DialectName::V1 => "v1",
        DialectName::V2 => "v2",
    };
    let show = (scenario.shows_code == name).then(|| AdapterCommand::ShowQr { dialect: dialect.to_owned() });
    match kind {
        RoleKind::NewDevice => (Setup { e2ee: Some(flag(&["e2ee"])), wait_ms, ..Setup::default() }, show),
        RoleKind::ExistingDevice => (
            Setup {
                username: Some(context.username.clone()),
                password: Some(context.password.clone()),
                device_id: Some(roles::device_id_of(name).to_owned()),
                cross_signing: Some(flag(&["cross-signing"])),
                backup: Some(flag(&["backup"])),
                wait_ms,
                ..Setup::default()
            },
            show,
        ),
        RoleKind::Registrar => {
            let token = setup_value(scenario, name, &["registration-token", "registration_token"])
                .and_then(toml::Value::as_str)
                .map(str::to_owned);
            (
                Setup {
                    username: Some(REGISTRAR_USERNAME.to_owned()),
                    password: Some(REGISTRAR_PASSWORD.to_owned()),
                    server_name: Some(context.server_name.clone()),
                    ..Setup::default()
                },
                Some(AdapterCommand::Register { registration_token: token }),
            )
        }
    }
}

/// The localpart an external registrar registers.
pub const REGISTRAR_USERNAME: &str = roles::REGISTRAR_USERNAME;
/// Its password.
pub const REGISTRAR_PASSWORD: &str = "registrar password";

/// Whether the runner can check a pattern when `external` is played by an external
/// client: everything except the external role's decisions and displays.
pub fn checkable(pattern: &Pattern, external: &str) -> bool {
    pattern.actor() != external || !matches!(pattern, Pattern::Decision { .. } | Pattern::Shows { .. })
}

/// The scenario's expectations that apply with `external` played by an external
/// client; an outcome's reason is only compared when the adapter reported one.
pub fn checkable_expectations(
    expectations: &[(Expectation, Level)],
    external: &str,
    reported_reason: bool,
) -> Vec<(Expectation, Level)> {
    expectations
        .iter()
        .filter_map(|(expectation, level)| {
            let kept = match expectation {
                Expectation::Outcome { role, outcome } if role == external && !reported_reason => {
                    let name = outcome.split_whitespace().next().unwrap_or("").to_owned();
                    Some(Expectation::Outcome { role: role.clone(), outcome: name })
                }
                Expectation::Order(steps) => {
                    let steps: Vec<_> =
                        steps.iter().filter(|(_, p)| checkable(p, external)).cloned().collect();
                    (!steps.is_empty()).then_some(Expectation::Order(steps))
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

fn broken(scenario: &Scenario, message: String, started: Instant) -> ScenarioResult {
    let mut result = ScenarioResult::skipped(&scenario.name, &scenario.title, "");
    result.verdict = Verdict::Fail;
    result.failures =
        vec![Failure { expectation: "setup".into(), message, context: Vec::new(), level: Level::Must }];
    result.duration_ms = started.elapsed().as_millis() as u64;
    result
}

/// Runs one scenario with `client` playing its role (SKIPPED when the scenario does
/// not apply).
pub async fn run_external(scenario: &Scenario, client: &ExternalClient) -> ScenarioResult {
    let started = Instant::now();
    if let Some(reason) = does_not_apply(scenario, client.kind) {
        return ScenarioResult::skipped(&scenario.name, &scenario.title, &reason);
    }
    let name = role_name(client.kind);
    let profile = Profile::named(&scenario.profile).and_then(|p| match &scenario.overrides {
        Some(o) => p.with_overrides(o),
        None => Ok(p),
    });
    let profile = match profile {
        Ok(p) => p,
        Err(e) => return broken(scenario, e.to_string(), started),
    };
    let mut builder = MockHomeserver::builder().profile(profile.clone()).seed(scenario.seed);
    for fault in &scenario.faults {
        match serde_json::from_value::<Fault>(fault.clone()) {
            Ok(f) => builder = builder.fault(f),
            Err(e) => return broken(scenario, format!("invalid fault: {e}"), started),
        }
    }
    let server = match builder.start().await {
        Ok(s) => s,
        Err(e) => return broken(scenario, format!("cannot start the mock homeserver: {e}"), started),
    };
    let context =
        roles::Context::with_account(server.core(), server.base_url(), &profile.server_name, client.poll_ms);
    let mut simulated: Vec<Participant> = Vec::new();
    let mut names = Vec::new();
    for spec in &scenario.roles {
        names.push((roles::device_id_of(&spec.name).to_owned(), spec.name.clone()));
        if spec.name != name {
            match roles::build_role(spec, scenario, &context) {
                Ok(p) => simulated.push(p),
                Err(e) => return broken(scenario, e, started),
            }
        }
    }
    let (setup, kick_off) = commands_for(scenario, client.kind, &context);
    let external = External {
        name: name.to_owned(),
        launch: Launch {
            command: client.command.clone(),
            homeserver: server.base_url().to_owned(),
            role: role_env(client.kind).to_owned(),
            scenario: scenario.name.clone(),
            poll_ms: client.poll_ms,
        },
        setup,
        kick_off,
    };
    let approver = if scenario.roles.iter().any(|r| r.name == "B") { "B" } else { "" };
    let options = Options {
        approve: scenario.approve,
        approver: approver.to_owned(),
        deadline: client.deadline.unwrap_or(Duration::from_millis(scenario.deadline_ms)),
        ready_timeout: Duration::from_secs(30),
        external_reports_outcome: true,
        on_display: None,
    };
    let run = realtime::run(server.core().clone(), simulated, external, options.clone()).await;
    learn_external_device(&run.transcript, name, &mut names);

    let mut checked = scenario.clone();
    checked.expectations = checkable_expectations(&scenario.expectations, name, run.reported_reason);
    let mut result =
        runner::finish(&checked, run.transcript, names, RunEnd::AllDone, server.base_url(), started);
    let stderr_tail = || -> Vec<String> {
        let lines: Vec<&str> = run.stderr.lines().collect();
        let from = lines.len().saturating_sub(30);
        let mut out = vec!["adapter stderr:".to_owned()];
        out.extend(lines[from..].iter().map(|l| format!("  | {l}")));
        out
    };
    match &run.end {
        RealtimeEnd::AllDone => {}
        RealtimeEnd::Unimplemented(detail) => {
            result.verdict = Verdict::Unimplemented;
            result.failures = vec![Failure {
                expectation: "unimplemented".into(),
                message: format!("the adapter does not implement role {name} here: {detail}"),
                context: Vec::new(),
                level: Level::Must,
            }];
            return result;
        }
        RealtimeEnd::Deadline(running) => {
            let mut context = result.transcript_tail(15);
            context.extend(stderr_tail());
            result.failures.insert(0, Failure::deadline(running, options.deadline, context));
        }
        RealtimeEnd::AdapterFailed(error) => {
            let mut context = stderr_tail();
            context.push("transcript (last lines):".into());
            context.extend(result.transcript_tail(15));
            result.failures.insert(
                0,
                Failure {
                    expectation: "adapter".into(),
                    message: format!("{error}; its stderr ends: {}", last_line(&run.stderr)),
                    context,
                    level: Level::Must,
                },
            );
        }
    }
    if result.failures.iter().any(|f| f.level == Level::Must) {
        result.verdict = Verdict::Fail;
    }
    result
}

fn last_line(text: &str) -> String {
    text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("(nothing)").to_owned()
}

/// Adds the device ID the external role logged in or registered with to `names`, so
/// that the simulated peer's decisions read `checked A's device key`.
pub(crate) fn learn_external_device(
    transcript: &[crate::transcript::TranscriptEntry],
    name: &str,
    names: &mut Vec<(String, String)>,
) {
    for entry in transcript {
        if let Entry::Http { actor, path, status: 200, response, .. } = &entry.entry {
            if actor == name && (path.ends_with("/login") || path.ends_with("/register")) {
                if let Some(id) = response.json().and_then(|v| v.get("device_id")).and_then(|v| v.as_str()) {
                    if !names.iter().any(|(d, _)| d == id) {
                        names.push((id.to_owned(), name.to_owned()));
                    }
                }
            }
        }
    }
}

/// Runs scenarios with the external client, at most `jobs` at once.
pub async fn run_all_external(
    scenarios: Vec<Scenario>,
    client: ExternalClient,
    jobs: usize,
    on_done: impl FnMut(&ScenarioResult),
) -> Vec<ScenarioResult> {
    let client = Arc::new(client);
    let run = |scenario: Scenario| {
        let client = client.clone();
        async move { run_external(&scenario, &client).await }
    };
    crate::suite::in_parallel(scenarios, jobs, run, on_done).await
}
