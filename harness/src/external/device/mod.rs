//! `conformance device --role ROLE`: our own simulated device behind adapter
//! protocol 1, so that the suite can run through the adapter path with a client
//! whose behaviour is known (and misbehave on purpose through `--knobs`).

mod build;
pub mod options;

pub use options::{poll_ms_from_env, DeviceOptions};

use std::io::{BufRead, Write};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use devices::shell::{self, HttpExecutor};
use devices::{Command, DeviceEvent, Outcome};

use crate::adapter::protocol::{AdapterCommand, AdapterEvent, Setup, EXIT_UNIMPLEMENTED};
use crate::check::transcript::Ending;

/// Prints one event line on stdout.
fn emit(event: &AdapterEvent) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", event.to_line());
    let _ = out.flush();
}

/// The adapter event for a device event (channel messages are not reported).
pub fn event_for(event: &DeviceEvent) -> Option<AdapterEvent> {
    Some(match event {
        DeviceEvent::ShowsQrCode { payload } => AdapterEvent::QrCode { payload: payload.clone() },
        DeviceEvent::ShowsCheckCode { code } => AdapterEvent::CheckCode { code: code.clone() },
        DeviceEvent::Decision(d) => {
            AdapterEvent::Decision { decision: Value::String(d.phrase(&|id| id.to_owned())) }
        }
        DeviceEvent::Finished(outcome) => outcome_event(outcome),
        DeviceEvent::ChannelSent { .. } | DeviceEvent::ChannelReceived { .. } => return None,
    })
}

/// The `outcome` event for an outcome.
pub fn outcome_event(outcome: &Outcome) -> AdapterEvent {
    let (reason, detail) = match outcome.reason() {
        Some(reason) => (Some(reason.kind().name().to_owned()), reason.to_string()),
        None => (None, Ending::from(outcome).line()),
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
    let mut role = match build::build(&options, &setup, &start) {
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
    let flow = shell::run(
        options.kind,
        role.as_mut(),
        &executor,
        &mut commands,
        options.deadline,
        options.jitter,
        |event| {
            if let DeviceEvent::Decision(_)
            | DeviceEvent::ShowsCheckCode { .. }
            | DeviceEvent::ShowsQrCode { .. } = event
            {
                eprintln!("conformance device: {event:?}");
            }
            if let Some(line) = event_for(event).filter(|e| !matches!(e, AdapterEvent::Outcome { .. })) {
                emit(&line);
            }
        },
    );
    tokio::select! {
        outcome = flow => {
            emit(&outcome_event(&outcome));
            0
        }
        _ = stop.recv() => 0,
    }
}
