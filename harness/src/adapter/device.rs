//! `conformance device --role ROLE`: our own simulated device behind adapter
//! protocol 1, so that the suite can run through the adapter path with a client
//! whose behaviour is known (and misbehave on purpose through `--knobs`).

use std::io::{BufRead, Write};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use devices::registrar::{Registrar, RegistrarConfig, RegistrarKnobs};
use devices::retry::RetryOn429;
use devices::shell::{self, HttpExecutor};
use devices::{Command, DeviceEvent, Outcome, Role};

use super::protocol::{AdapterCommand, AdapterEvent, Setup, EXIT_UNIMPLEMENTED};
use crate::scenario::RoleKind;
use crate::transcript::{abort_kind, decision_line, outcome_line};

/// How `conformance device` runs.
#[derive(Debug, Clone)]
pub struct DeviceOptions {
    /// The role to play.
    pub kind: RoleKind,
    /// The role's misbehaviour knobs (kebab-case JSON object), if any.
    pub knobs: Option<Value>,
    /// Base URL of the homeserver (`CONFORMANCE_HOMESERVER`).
    pub homeserver: String,
    /// The whole run's bound.
    pub deadline: Duration,
    /// The pause between two polls (`CONFORMANCE_POLL_MS`); `None` keeps the
    /// devices' default of one second.
    pub poll_ms: Option<u64>,
}

/// Reads `CONFORMANCE_POLL_MS` from the environment: `None` when it is unset, an
/// error when it is set but not a positive number of milliseconds.
pub fn poll_ms_from_env() -> Result<Option<u64>, String> {
    match std::env::var("CONFORMANCE_POLL_MS") {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(e) => Err(format!("CONFORMANCE_POLL_MS: {e}")),
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(ms) if ms > 0 => Ok(Some(ms)),
            _ => Err(format!("CONFORMANCE_POLL_MS must be a positive number of milliseconds, not `{text}`")),
        },
    }
}

/// Prints one event line on stdout.
fn emit(event: &AdapterEvent) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", event.to_line());
    let _ = out.flush();
}

/// The adapter event for a device event (channel messages are not reported).
pub fn event_for(event: &DeviceEvent) -> Option<AdapterEvent> {
    let no_names: Vec<(String, String)> = Vec::new();
    Some(match event {
        DeviceEvent::ShowsQrCode { payload } => AdapterEvent::QrCode { payload: payload.clone() },
        DeviceEvent::ShowsCheckCode { code } => AdapterEvent::CheckCode { code: code.clone() },
        DeviceEvent::Decision(d) => {
            AdapterEvent::Decision { decision: Value::String(decision_line(d, &no_names)) }
        }
        DeviceEvent::Finished(outcome) => outcome_event(outcome),
        DeviceEvent::ChannelSent { .. } | DeviceEvent::ChannelReceived { .. } => return None,
    })
}

/// The `outcome` event for an outcome.
pub fn outcome_event(outcome: &Outcome) -> AdapterEvent {
    let (reason, detail) = match outcome {
        Outcome::SecurityError { reason } | Outcome::Error { reason } => {
            (Some(abort_kind(reason)), reason.to_string())
        }
        other => (None, outcome_line(other)),
    };
    let (status, errcode) = match outcome {
        Outcome::Rejected { status, errcode } => (Some(*status), Some(errcode.clone())),
        _ => (None, None),
    };
    AdapterEvent::Outcome { outcome: outcome.name().to_owned(), detail, reason, status, errcode }
}

fn unimplemented(detail: &str) -> i32 {
    emit(&AdapterEvent::Unimplemented { detail: detail.to_owned() });
    EXIT_UNIMPLEMENTED
}

/// Builds the role from the `setup` command and the command that starts the flow.
fn build(options: &DeviceOptions, setup: &Setup, start: &AdapterCommand) -> Result<Box<dyn Role>, String> {
    match (options.kind, start) {
        (RoleKind::Registrar, AdapterCommand::Register { registration_token }) => {
            let mut config = RegistrarConfig::new(
                &options.homeserver,
                setup.username.as_deref().unwrap_or("rita"),
                setup.password.as_deref().unwrap_or("registrar password"),
                0,
            );
            if let Some(server_name) = &setup.server_name {
                config.server_name = server_name.clone();
            }
            config.registration_token = registration_token.clone();
            config.deadline_ms = options.deadline.as_millis() as u64;
            if let Some(knobs) = &options.knobs {
                config.knobs = serde_json::from_value::<RegistrarKnobs>(knobs.clone())
                    .map_err(|e| format!("--knobs: {e}"))?;
            }
            Ok(Box::new(RetryOn429::new(Registrar::new(config))))
        }
        (RoleKind::Registrar, other) => {
            Err(format!("a registrar expects `register`, not {}", other.to_line()))
        }
        (kind, start) => crate::adapter::device_qr::build(kind, options, setup, start),
    }
}

/// Speaks the adapter protocol on stdin and stdout; returns the exit status.
pub async fn serve(options: DeviceOptions) -> i32 {
    emit(&AdapterEvent::Ready {
        implementation: format!("conformance-simulated-device {}", env!("CARGO_PKG_VERSION")),
    });
    let (line_tx, mut lines) = mpsc::channel::<String>(32);
    // Standard input is read on a thread of its own: a blocking read cannot hold up
    // the runtime, and the thread ends with the process.
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if line_tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    let deadline = tokio::time::Instant::now() + options.deadline;
    let mut setup = Setup::default();
    let start = loop {
        let line = match tokio::time::timeout_at(deadline, lines.recv()).await {
            Ok(Some(line)) => line,
            Ok(None) | Err(_) => return 0,
        };
        if line.trim().is_empty() {
            continue;
        }
        match AdapterCommand::parse(&line) {
            Ok(AdapterCommand::Setup(s)) => setup = s,
            Ok(AdapterCommand::Stop) => return 0,
            Ok(
                c @ (AdapterCommand::ShowQr { .. }
                | AdapterCommand::ScanQr { .. }
                | AdapterCommand::Register { .. }),
            ) => break c,
            Ok(other) => {
                eprintln!("conformance device: ignoring {} before the flow started", other.to_line())
            }
            Err(e) => {
                eprintln!("conformance device: {e}");
                return 2;
            }
        }
    };
    let mut role = match build(&options, &setup, &start) {
        Ok(role) => role,
        Err(e) if e.starts_with("unimplemented: ") => return unimplemented(&e["unimplemented: ".len()..]),
        Err(e) => {
            eprintln!("conformance device: {e}");
            return 2;
        }
    };
    let (command_tx, mut commands) = mpsc::channel::<Command>(8);
    if let AdapterCommand::ScanQr { payload } = &start {
        let _ = command_tx.send(Command::ScanQrCode(payload.clone())).await;
    }
    let (stop_tx, mut stop) = mpsc::channel::<()>(1);
    tokio::spawn(async move {
        while let Some(line) = lines.recv().await {
            match AdapterCommand::parse(&line) {
                Ok(AdapterCommand::Approve) => {
                    let _ = command_tx.send(Command::Approve).await;
                }
                Ok(AdapterCommand::Decline) => {
                    let _ = command_tx.send(Command::Decline).await;
                }
                Ok(AdapterCommand::Stop) => break,
                Ok(other) => eprintln!("conformance device: ignoring {}", other.to_line()),
                Err(e) => eprintln!("conformance device: {e}"),
            }
        }
        let _ = stop_tx.send(()).await;
    });
    let executor = HttpExecutor::new(Duration::from_secs(30));
    let flow = shell::run(role.as_mut(), &executor, &mut commands, options.deadline, |event| {
        if let DeviceEvent::Decision(_)
        | DeviceEvent::ShowsCheckCode { .. }
        | DeviceEvent::ShowsQrCode { .. } = event
        {
            eprintln!("conformance device: {event:?}");
        }
        if let Some(line) = event_for(event).filter(|e| !matches!(e, AdapterEvent::Outcome { .. })) {
            emit(&line);
        }
    });
    tokio::select! {
        outcome = flow => {
            emit(&outcome_event(&outcome));
            0
        }
        _ = stop.recv() => 0,
    }
}
