//! The real-time driver: one role played by an external client through its adapter
//! (`docs/adapter-protocol.md`), the other role(s) simulated, against a mock
//! homeserver on the wall clock.
//!
//! The simulated user routes the QR code from whoever shows it to the other device,
//! compares the check codes, and approves or declines on the existing device. The
//! transcript holds the homeserver's journal (a request is attributed to the
//! simulated role when our executor made it, to the external role otherwise), the
//! simulated role's channel messages, sent and received, and its decisions, the
//! external role's displays and reported outcome, and its decisions as notes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use devices::shell::HttpExecutor;
use devices::{Command, DeviceEvent, Step};
use mock_homeserver::Homeserver;

use crate::adapter::process::{AdapterError, AdapterProcess, Launch};
use crate::adapter::protocol::{outcome_of, AdapterCommand, AdapterEvent, Setup};
use crate::driver::Participant;
use crate::transcript::{Entry, TranscriptEntry};

mod recorder;
pub use recorder::Recorder;

/// The external role of a run.
#[derive(Debug, Clone)]
pub struct External {
    /// `A`, `B` or `R`.
    pub name: String,
    /// How to start its adapter.
    pub launch: Launch,
    /// The `setup` command.
    pub setup: Setup,
    /// The first command after `setup`: `show_qr` or `register`, or `None` when the
    /// role scans (it gets `scan_qr` once the peer shows its code).
    pub kick_off: Option<AdapterCommand>,
}

/// What the simulated user does and how long everything may take.
#[derive(Debug, Clone)]
pub struct Options {
    /// Approve on the existing device when the check codes match.
    pub approve: bool,
    /// The role that approves (`B`), or empty.
    pub approver: String,
    /// The whole run's deadline (real time).
    pub deadline: Duration,
    /// How long the adapter may take to print `ready`.
    pub ready_timeout: Duration,
    /// Whether the external role reports its outcome. A client a person drives by
    /// hand does not: the run then ends when the simulated roles are done.
    pub external_reports_outcome: bool,
    /// Told what the simulated roles show (role, `QR code` or `check code`, value),
    /// for a person to read.
    pub on_display: Option<mpsc::UnboundedSender<(String, String, String)>>,
}

/// How a real-time run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RealtimeEnd {
    /// Every role finished.
    AllDone,
    /// The deadline passed; the roles still running are named.
    Deadline(Vec<String>),
    /// The adapter does not implement the role.
    Unimplemented(String),
    /// The adapter broke the protocol, crashed or fell silent.
    AdapterFailed(AdapterError),
}

/// A finished real-time run.
#[derive(Debug, Clone)]
pub struct RealtimeRun {
    /// Everything that happened.
    pub transcript: Vec<TranscriptEntry>,
    /// How it ended.
    pub end: RealtimeEnd,
    /// The adapter's stderr.
    pub stderr: String,
    /// `name version` from `ready`.
    pub implementation: Option<String>,
    /// Whether the external role's outcome came with a reason the runner knows.
    pub reported_reason: bool,
}

enum Notice {
    ShowsQr(String),
    ShowsCheckCode(String, String),
    Finished(String),
}

/// Runs the simulated participants and the external role until all are done.
pub async fn run(
    homeserver: Arc<Homeserver>,
    simulated: Vec<Participant>,
    external: External,
    options: Options,
) -> RealtimeRun {
    let started = Instant::now();
    let deadline = started + options.deadline;
    let mut out = RealtimeRun {
        transcript: Vec::new(),
        end: RealtimeEnd::AllDone,
        stderr: String::new(),
        implementation: None,
        reported_reason: false,
    };
    let mut adapter = match AdapterProcess::spawn(&external.launch) {
        Ok(a) => a,
        Err(e) => {
            out.end = RealtimeEnd::AdapterFailed(e);
            return out;
        }
    };
    run_with(&mut adapter, homeserver, simulated, external, options, deadline, out).await
}

/// Like [`run`], with an adapter that is already running (e.g.
/// [`AdapterProcess::in_process`]); `external.launch` is not used.
pub async fn run_in_process(
    adapter: &mut AdapterProcess,
    homeserver: Arc<Homeserver>,
    simulated: Vec<Participant>,
    external: External,
    options: Options,
) -> RealtimeRun {
    let deadline = Instant::now() + options.deadline;
    let out = RealtimeRun {
        transcript: Vec::new(),
        end: RealtimeEnd::AllDone,
        stderr: String::new(),
        implementation: None,
        reported_reason: false,
    };
    run_with(adapter, homeserver, simulated, external, options, deadline, out).await
}

async fn run_with(
    adapter: &mut AdapterProcess,
    homeserver: Arc<Homeserver>,
    simulated: Vec<Participant>,
    external: External,
    options: Options,
    deadline: Instant,
    mut out: RealtimeRun,
) -> RealtimeRun {
    let recorder = Arc::new(Mutex::new(Recorder::new(homeserver, &external.name)));
    let end = session(adapter, &recorder, simulated, &external, &options, deadline, &mut out).await;
    adapter.stop(Duration::from_secs(2)).await;
    out.stderr = adapter.stderr_text();
    let mut rec = recorder.lock().unwrap_or_else(|e| e.into_inner());
    rec.finish_requests();
    rec.absorb_external();
    if let RealtimeEnd::Deadline(running) = &end {
        rec.push(Entry::Note {
            actor: "runner".into(),
            text: format!(
                "deadline of {} ms passed; still running: {}",
                options.deadline.as_millis(),
                running.join(", ")
            ),
        });
    }
    out.transcript = std::mem::take(&mut rec.transcript);
    out.end = end;
    out
}

async fn session(
    adapter: &mut AdapterProcess,
    recorder: &Arc<Mutex<Recorder>>,
    simulated: Vec<Participant>,
    external: &External,
    options: &Options,
    deadline: Instant,
    out: &mut RealtimeRun,
) -> RealtimeEnd {
    let write = Duration::from_secs(5);
    let ready_by = deadline.min(Instant::now() + options.ready_timeout);
    match adapter.next_event(ready_by, "the `ready` event").await {
        Ok(AdapterEvent::Ready { implementation }) => {
            lock(recorder).push(Entry::Note {
                actor: external.name.clone(),
                text: format!("adapter ready: {implementation}"),
            });
            out.implementation = Some(implementation);
        }
        Ok(other) => {
            return RealtimeEnd::AdapterFailed(AdapterError::Malformed(
                crate::adapter::protocol::MalformedLine {
                    line: other.to_line(),
                    reason: "the first event must be `ready`".into(),
                },
            ))
        }
        Err(e) => return ended(e),
    }
    let mut first = vec![AdapterCommand::Setup(external.setup.clone())];
    first.extend(external.kick_off.clone());
    for command in &first {
        if let Err(e) = adapter.send(command, write).await {
            return ended(e);
        }
    }

    let (notice_tx, mut notices) = mpsc::channel::<Notice>(64);
    let mut commands: BTreeMap<String, mpsc::Sender<Command>> = BTreeMap::new();
    let mut running: Vec<String> = Vec::new();
    if options.external_reports_outcome {
        running.push(external.name.clone());
    }
    let mut tasks = tokio::task::JoinSet::new();
    for participant in simulated {
        let (tx, rx) = mpsc::channel(8);
        commands.insert(participant.name.clone(), tx);
        running.push(participant.name.clone());
        let display = options.on_display.clone();
        tasks.spawn(drive(participant, recorder.clone(), rx, notice_tx.clone(), display, deadline));
    }
    drop(notice_tx);

    let mut codes: BTreeMap<String, String> = BTreeMap::new();
    let mut approved = false;
    let mut external_done = false;
    let mut ticker = tokio::time::interval(Duration::from_millis(25));
    let end = loop {
        if running.is_empty() {
            break RealtimeEnd::AllDone;
        }
        if Instant::now() >= deadline {
            break RealtimeEnd::Deadline(running.clone());
        }
        tokio::select! {
            event = adapter.next_event(deadline, "the external role's next event"), if !external_done => {
                let event = match event {
                    Ok(event) => event,
                    Err(AdapterError::Silent { .. }) => break RealtimeEnd::Deadline(running.clone()),
                    Err(e) => break ended(e),
                };
                let name = external.name.clone();
                // What the adapter reports happened after the requests it already made.
                lock(recorder).absorb_external();
                match event {
                    AdapterEvent::Ready { .. } => {}
                    AdapterEvent::QrCode { payload } => {
                        lock(recorder).push(Entry::Shows { actor: name, what: "QR code".into(), value: payload.clone() });
                        for tx in commands.values() {
                            let _ = tx.try_send(Command::ScanQrCode(payload.clone()));
                        }
                    }
                    AdapterEvent::CheckCode { code } => {
                        lock(recorder).push(Entry::Shows { actor: name.clone(), what: "check code".into(), value: code.clone() });
                        codes.insert(name, code);
                    }
                    AdapterEvent::Decision { decision } => {
                        let text = match decision {
                            serde_json::Value::String(s) => s,
                            other => other.to_string(),
                        };
                        lock(recorder).push(Entry::Note { actor: name, text: format!("decision: {text}") });
                    }
                    AdapterEvent::Outcome { outcome, detail, reason, status, errcode } => {
                        let parsed = outcome_of(&outcome, &detail, reason.as_deref(), status, errcode.as_deref());
                        match parsed {
                            Ok(o) => {
                                out.reported_reason =
                                    reason.as_deref().is_some_and(crate::adapter::protocol::is_known_reason);
                                let mut entries = Vec::new();
                                if !detail.is_empty() {
                                    entries.push(Entry::Note { actor: name.clone(), text: format!("outcome detail: {detail}") });
                                }
                                entries.push(Entry::Finished { actor: name.clone(), outcome: o });
                                // Its last requests may still be held back behind one
                                // of the simulated role's in flight: the ending waits.
                                lock(recorder).push_after_journal(entries);
                            }
                            Err(reason) => {
                                break RealtimeEnd::AdapterFailed(AdapterError::Malformed(
                                    crate::adapter::protocol::MalformedLine {
                                        line: AdapterEvent::Outcome { outcome, detail, reason: None, status, errcode }.to_line(),
                                        reason,
                                    },
                                ))
                            }
                        }
                        external_done = true;
                        running.retain(|r| *r != name);
                    }
                    AdapterEvent::Unimplemented { detail } => break RealtimeEnd::Unimplemented(detail),
                }
            }
            notice = notices.recv(), if !commands.is_empty() => {
                match notice {
                    Some(Notice::ShowsQr(payload)) => {
                        if !external_done {
                            if let Err(e) = adapter.send(&AdapterCommand::ScanQr { payload }, write).await {
                                break ended(e);
                            }
                        }
                    }
                    Some(Notice::ShowsCheckCode(who, code)) => { codes.insert(who, code); }
                    Some(Notice::Finished(who)) => running.retain(|r| *r != who),
                    None => commands.clear(),
                }
            }
            _ = ticker.tick() => lock(recorder).absorb_external(),
        }
        if !approved && !options.approver.is_empty() && codes.len() >= 2 {
            approved = true;
            let all_equal = codes.values().all(|c| Some(c) == codes.values().next());
            let approve = options.approve && all_equal;
            lock(recorder).push(Entry::Note {
                actor: "runner".into(),
                text: format!(
                    "the user {} on {} (check codes {})",
                    if approve { "approves" } else { "declines" },
                    options.approver,
                    if all_equal { "match" } else { "differ" }
                ),
            });
            if options.approver == external.name {
                let command = if approve { AdapterCommand::Approve } else { AdapterCommand::Decline };
                if let Err(e) = adapter.send(&command, write).await {
                    break ended(e);
                }
            } else if let Some(tx) = commands.get(&options.approver) {
                let _ = tx.try_send(if approve { Command::Approve } else { Command::Decline });
            }
        }
    };
    if matches!(end, RealtimeEnd::Deadline(_)) && !approved && !options.approver.is_empty() {
        let missing: Vec<&str> = ["A", "B"].into_iter().filter(|r| !codes.contains_key(*r)).collect();
        lock(recorder).push(Entry::Note {
            actor: "runner".into(),
            text: format!(
                "the user never saw the check code of {}, so never approved",
                missing.join(" and ")
            ),
        });
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    end
}

/// The end of a run by an adapter error: UNIMPLEMENTED or a failure.
fn ended(error: AdapterError) -> RealtimeEnd {
    match error {
        AdapterError::Unimplemented(detail) => RealtimeEnd::Unimplemented(detail),
        other => RealtimeEnd::AdapterFailed(other),
    }
}

fn lock(recorder: &Arc<Mutex<Recorder>>) -> std::sync::MutexGuard<'_, Recorder> {
    recorder.lock().unwrap_or_else(|e| e.into_inner())
}

/// Drives one simulated role in real time, recording into `recorder`.
async fn drive(
    mut participant: Participant,
    recorder: Arc<Mutex<Recorder>>,
    mut commands: mpsc::Receiver<Command>,
    notices: mpsc::Sender<Notice>,
    display: Option<mpsc::UnboundedSender<(String, String, String)>>,
    deadline: Instant,
) {
    let executor = HttpExecutor::new(Duration::from_secs(30));
    let started = Instant::now();
    let now = || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let name = participant.name.clone();
    let peer = participant.peer.clone().unwrap_or_else(|| "?".to_owned());
    let mut step = participant.role.start(now());
    loop {
        let events = participant.role.take_events();
        for event in &events {
            let notice = match event {
                DeviceEvent::ShowsQrCode { payload } => Some(Notice::ShowsQr(payload.clone())),
                DeviceEvent::ShowsCheckCode { code } => {
                    Some(Notice::ShowsCheckCode(name.clone(), code.clone()))
                }
                _ => None,
            };
            if let (Some(display), Some(Notice::ShowsQr(value) | Notice::ShowsCheckCode(_, value))) =
                (display.as_ref(), notice.as_ref())
            {
                let what = if matches!(notice, Some(Notice::ShowsQr(_))) { "QR code" } else { "check code" };
                let _ = display.send((name.clone(), what.to_owned(), value.clone()));
            }
            if let Some(notice) = notice {
                let _ = notices.send(notice).await;
            }
        }
        lock(&recorder).push_device_events(&name, &peer, events);
        if matches!(step, Step::Done) || Instant::now() >= deadline {
            let _ = notices.send(Notice::Finished(name.clone())).await;
            return;
        }
        step = match step {
            Step::Done => continue,
            Step::Http(request) => {
                lock(&recorder).begin_request();
                let result = match tokio::time::timeout_at(deadline, executor.execute(&request)).await {
                    Ok(result) => result,
                    Err(_) => Err(devices::TransportError("the run's deadline passed".into())),
                };
                lock(&recorder).end_request(&name, &request, &result);
                participant.role.on_http(now(), result)
            }
            Step::Sleep { ms } => {
                tokio::time::sleep_until(deadline.min(Instant::now() + Duration::from_millis(ms))).await;
                participant.role.on_wake(now())
            }
            Step::AwaitCommand => match tokio::time::timeout_at(deadline, commands.recv()).await {
                Ok(Some(command)) => participant.role.on_command(now(), command),
                Ok(None) | Err(_) => {
                    let _ = notices.send(Notice::Finished(name.clone())).await;
                    return;
                }
            },
        };
    }
}
