//! `conformance serve`: one scenario in real time for a client that a person drives
//! by hand.
//!
//! The person's client is an external role without an adapter process: a bridge in
//! this process speaks the adapter protocol to the run ([`crate::run::external`]) and
//! talks to the person instead. It prints
//! what the person needs (the homeserver URL, the credentials, the simulated peer's
//! QR code and check code) and reads from the person's input the QR payload their
//! client shows and whether they approve. The person's requests appear in the
//! homeserver's journal and are attributed to their role. When the simulated roles
//! are done, or the deadline passes, the expectations that can be checked for an
//! external role give the verdict.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::mpsc;
use tokio::time::Instant as Deadline;

use devices::engine::real_time::{self, External};
use devices::engine::{Marking, RunEnd};
use devices::RoleKind;

use crate::adapter::process::AdapterProcess;
use crate::adapter::protocol::{AdapterCommand, AdapterEvent};
use crate::check::expect::{Expectation, Level};
use crate::check::pattern::Pattern;
use crate::check::transcript::Display;
use crate::check::verdict::Verdict;
use crate::run::ending::{conclude, Outcome};
use crate::run::executor::InProcess;
use crate::run::external::{checkable_expectations, commands_for, handshake, AdapterSeat, READY_TIMEOUT};
use crate::run::prepare::{prepare, Mode, Prepared, RealTime};
use crate::run::recorder::Recorder;
use crate::run::result::ScenarioResult;
use crate::scenario::roles::{ACCOUNT_LOCALPART, ACCOUNT_PASSWORD, REGISTRAR_PASSWORD, REGISTRAR_USERNAME};
use crate::scenario::Scenario;

/// What `conformance serve` runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The scenario.
    pub scenario: Scenario,
    /// The role the person's client plays.
    pub kind: RoleKind,
    /// Where the mock homeserver listens.
    pub listen: SocketAddr,
    /// Where the transcript is written.
    pub transcript: PathBuf,
    /// The URL clients reach the homeserver at, when it is not the bound address
    /// (e.g. `http://192.168.1.20:8008` with `--listen 0.0.0.0:8008`, for a phone).
    pub public_url: Option<String>,
    /// How long the homeserver stays up after the verdict, so that the person's
    /// client can finish what it still does (e.g. the existing device's wait for
    /// more secret requests); `done` or the end of the input stops it sooner.
    pub linger: Duration,
    /// The pause between two polls of the simulated peer, when not the default.
    pub poll_ms: Option<u64>,
}

/// The default transcript file of a scenario: its name with `/` as `__`, plus
/// `.transcript.txt`, in the current directory.
pub fn default_transcript(scenario: &Scenario) -> PathBuf {
    PathBuf::from(format!("{}.transcript.txt", scenario.name.replace('/', "__")))
}

/// The expectations that can be checked when a person drives `external`: those of
/// an external role, without its outcome (a person's client reports none).
pub fn checkable_by_hand(
    expectations: &[(Expectation, Level)],
    external: RoleKind,
) -> Vec<(Expectation, Level)> {
    let not_outcome = |p: &Pattern| !(p.actor() == external && matches!(p, Pattern::Finished { .. }));
    checkable_expectations(expectations, external, false)
        .into_iter()
        .filter_map(|(expectation, level)| {
            let kept = match expectation {
                Expectation::Outcome { role, .. } if role == external => None,
                Expectation::Order(steps) => {
                    let steps: Vec<_> = steps.into_iter().filter(|(_, p)| not_outcome(p)).collect();
                    (!steps.is_empty()).then_some(Expectation::Order(steps))
                }
                Expectation::After { anchor, then } => {
                    let anchor: Vec<_> = anchor.into_iter().filter(|(_, p)| not_outcome(p)).collect();
                    let then: Vec<_> = then.into_iter().filter(|(_, p)| not_outcome(p)).collect();
                    (!anchor.is_empty() && !then.is_empty()).then_some(Expectation::After { anchor, then })
                }
                Expectation::Never(_, ref p) | Expectation::Count { pattern: ref p, .. } => {
                    not_outcome(p).then_some(expectation)
                }
                other => Some(other),
            };
            kept.map(|e| (e, level))
        })
        .collect()
}

/// Prints a line to the person and flushes it.
fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// The person's input, one line at a time, read on a thread of its own (so that a
/// blocked read never holds up the runtime's shutdown).
fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    let spawned = std::thread::Builder::new().name("serve-stdin".into()).spawn(move || {
        let stdin = std::io::stdin();
        let mut line = String::new();
        loop {
            line.clear();
            match stdin.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    if tx.send(line.trim().to_owned()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    if let Err(e) = spawned {
        say(&format!("cannot read the input: {e}"));
    }
    rx
}

/// The person's answer on the simulated existing device, once the codes are known.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Approve,
    Decline,
    Code(String),
}

/// The QR payload of the person's client, on its way to the simulated peer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Qr {
    /// The person's client does not show the code in this scenario.
    NotShown,
    /// It will; the run has not asked for the payload yet.
    Expected,
    /// Pasted before the run asked for it (a person may be quicker than the
    /// driver): handed over as soon as it does.
    Early(String),
    /// The run asked; the person has not pasted it yet.
    Awaited,
    /// Given to the simulated peer.
    HandedOver,
}

/// Plays the person's client towards the driver: reads the driver's commands from
/// `commands`, writes events to `events`, prints to the person and reads their input.
struct Bridge {
    /// Closed when the person types `done`: the driver then ends the run.
    events: Option<DuplexStream>,
    /// Whether the simulated existing device waits for the person's approval.
    asks_approval: bool,
    /// Where the QR payload of the person's client is.
    qr: Qr,
    peer_code: Option<String>,
    pending: Option<Answer>,
    answered: bool,
}

impl Bridge {
    /// A bridge that writes its events to `events`.
    fn new(events: DuplexStream, asks_approval: bool, shows_qr: bool) -> Self {
        Self {
            events: Some(events),
            asks_approval,
            qr: if shows_qr { Qr::Expected } else { Qr::NotShown },
            peer_code: None,
            pending: None,
            answered: false,
        }
    }

    async fn emit(&mut self, event: &AdapterEvent) {
        let Some(events) = self.events.as_mut() else { return };
        let mut line = event.to_line();
        line.push('\n');
        let _ = tokio::time::timeout(Duration::from_secs(5), events.write_all(line.as_bytes())).await;
    }

    async fn on_command(&mut self, line: &str) {
        match AdapterCommand::parse(line) {
            Ok(AdapterCommand::ShowQr { .. }) => match std::mem::replace(&mut self.qr, Qr::Awaited) {
                Qr::Early(payload) => {
                    say("The simulated peer scans the QR payload you pasted.");
                    self.qr = Qr::HandedOver;
                    self.emit(&AdapterEvent::QrCode { payload }).await;
                }
                _ => say("Your client shows the QR code: paste its JSON payload here as one line."),
            },
            Ok(AdapterCommand::Approve) => say("The simulated user approves (approve on your client too)."),
            Ok(AdapterCommand::Decline) => say("The simulated user declines (decline on your client too)."),
            Ok(AdapterCommand::Register { registration_token: Some(token) }) => {
                say(&format!("registration token: {token}"))
            }
            _ => {}
        }
    }

    async fn on_display(&mut self, role: RoleKind, what: Display, value: &str) {
        if what == Display::QrCode {
            say(&format!("{role} shows the QR code; scan it with your client, or give it this JSON:"));
            say(&format!("qr: {value}"));
            match super::qr_text::render(value) {
                Ok(drawing) => say(&drawing),
                Err(e) => say(&format!("({e})")),
            }
        } else {
            say(&format!("check code of {role}: {value}"));
            if self.asks_approval {
                self.peer_code = Some(value.to_owned());
                say("Compare it with your client's code: type `approve`, `decline`, or the code your client shows.");
                self.answer_if_ready().await;
            }
        }
    }

    async fn on_input(&mut self, line: &str) {
        if line.is_empty() {
            return;
        }
        if line == "done" {
            say("The run ends now.");
            self.events = None;
            return;
        }
        let is_qr = self.qr == Qr::Awaited || (self.qr == Qr::Expected && line.starts_with('{'));
        if is_qr {
            if let Err(e) = serde_json::from_str::<serde_json::Value>(line) {
                say(&format!("that is not JSON ({e}); paste the QR payload as one line"));
            } else if self.qr == Qr::Awaited {
                say("QR payload read; the simulated peer scans it.");
                self.qr = Qr::HandedOver;
                self.emit(&AdapterEvent::QrCode { payload: line.to_owned() }).await;
            } else {
                say("QR payload read; the simulated peer scans it once the run is ready.");
                self.qr = Qr::Early(line.to_owned());
            }
            return;
        }
        if !self.asks_approval || self.answered {
            say("(nothing to answer now)");
            return;
        }
        self.pending = Some(match line {
            "approve" => Answer::Approve,
            "decline" => Answer::Decline,
            code => Answer::Code(code.to_owned()),
        });
        self.answer_if_ready().await;
    }

    /// Tells the driver the person's check code once the peer's code is known: the
    /// peer's own code to approve, another to decline.
    async fn answer_if_ready(&mut self) {
        let (Some(peer), Some(answer)) = (self.peer_code.clone(), self.pending.clone()) else {
            return;
        };
        let code = match answer {
            Answer::Approve => peer,
            Answer::Decline => "declined".to_owned(),
            Answer::Code(code) => code,
        };
        self.answered = true;
        self.emit(&AdapterEvent::CheckCode { code }).await;
    }
}

/// Runs one scenario for a person's client and returns its result; prints to
/// stdout as it goes and writes the transcript.
pub async fn serve(options: ServeOptions) -> Result<ScenarioResult, String> {
    let started = Instant::now();
    let scenario = &options.scenario;
    let kind = options.kind;
    let Some(spec) = scenario.role(kind) else {
        return Err(format!("the scenario has no role {kind} ({})", kind.name()));
    };
    if spec.has_knobs() {
        say(&format!(
            "note: role {kind} misbehaves on purpose in this scenario (knobs); your client will not"
        ));
    }
    let mode = Mode::RealTime(RealTime {
        listen: options.listen,
        public_url: options.public_url.clone(),
        poll_ms: options.poll_ms,
        // A person needs their time: the scenario's timers stay as written.
        scale_timers: false,
        external: Some(kind),
    });
    let Prepared { core, server, base_url, seats, names, simulated, user, context, armed_faults, .. } =
        prepare(scenario, &mode).await?;
    let (setup, kick_off) = commands_for(scenario, kind, &context);

    say(&format!("scenario: {} ({})", scenario.name, scenario.title));
    say(&format!("homeserver: {}", &base_url));
    say(&format!("you play {kind} ({})", kind.name()));
    match kind {
        RoleKind::ExistingDevice => {
            say(&format!("username: {ACCOUNT_LOCALPART}"));
            say(&format!("password: {ACCOUNT_PASSWORD}"));
        }
        RoleKind::Registrar => {
            say(&format!("register username: {REGISTRAR_USERNAME}"));
            say(&format!("password: {REGISTRAR_PASSWORD}"));
            // The cross-signing keys name the user ID, so the client needs it before
            // it registers.
            say(&format!("server name: {}", context.server_name));
            say("register, then type `done` when your client has finished");
        }
        RoleKind::NewDevice => {}
    }
    let asks_approval = kind != RoleKind::ExistingDevice && simulated.contains(&RoleKind::ExistingDevice);
    if asks_approval && !scenario.approve {
        say("note: in this scenario the user declines on B");
    }
    let deadline = Duration::from_millis(scenario.deadline_ms);
    say(&format!(
        "deadline: {} s; the run ends when the simulated roles are done, or type `done` to end it",
        deadline.as_secs()
    ));

    let (display_tx, mut displays) = mpsc::unbounded_channel();
    let (adapter, commands, events) = AdapterProcess::in_process();
    let mut bridge = Bridge::new(events, asks_approval, scenario.shows_code == kind);
    bridge
        .emit(&AdapterEvent::Ready { implementation: "a client driven by hand (conformance serve)".into() })
        .await;
    // With nobody simulated (the registrar), the run waits for the person: until they
    // type `done` or the deadline passes.
    let reports_outcome = simulated.is_empty();
    let mut recorder = Recorder::new(core.clone(), simulated, Some(kind), names)
        .with_display(display_tx)
        .with_armed_faults(armed_faults);
    let mut run = tokio::spawn(async move {
        let mut adapter = adapter;
        let run_deadline = Deadline::now() + deadline;
        let ready_by = run_deadline.min(Deadline::now() + READY_TIMEOUT);
        let end = match handshake(&mut adapter, ready_by, setup, kick_off).await {
            Err(error) => RunEnd::External(error),
            Ok(_) => {
                let mut seat = AdapterSeat::new(&mut adapter, run_deadline + Duration::from_secs(1));
                let external = External { kind, seat: &mut seat, reports_outcome };
                let options = real_time::Options { deadline, marking: Marking::Role, jitter: None };
                let executor = InProcess::new(core);
                real_time::run(seats, Some(external), user, executor, &mut recorder, None, options).await
            }
        };
        adapter.stop(Duration::from_millis(100)).await;
        (end, recorder)
    });
    let mut command_lines = BufReader::new(commands).lines();
    let mut commands_open = true;
    let mut input = stdin_lines();
    let mut input_open = true;
    let bound = tokio::time::Instant::now() + deadline + Duration::from_secs(30);
    let (end, recorder) = loop {
        tokio::select! {
            joined = &mut run => break joined.map_err(|e| format!("the run failed: {e}"))?,
            line = command_lines.next_line(), if commands_open => match line {
                Ok(Some(line)) => bridge.on_command(&line).await,
                _ => commands_open = false,
            },
            Some((role, what, value)) = displays.recv() => bridge.on_display(role, what, &value).await,
            line = input.recv(), if input_open => match line {
                Some(line) => bridge.on_input(&line).await,
                None => input_open = false,
            },
            _ = tokio::time::sleep_until(bound) => {
                run.abort();
                return Err("the run did not end after its deadline".into());
            }
        }
    };
    let (transcript, names) = recorder.finish();
    if let RunEnd::External(_) = &end {
        // The bridge closed its events: the person typed `done`.
        say("the person ended the run");
    }
    // The person's own lateness is not a failure: a person's client reports nothing.
    let end = match end {
        RunEnd::Deadline(running) => {
            let still: Vec<RoleKind> = running.into_iter().filter(|r| *r != kind).collect();
            if still.is_empty() {
                RunEnd::AllDone
            } else {
                RunEnd::Deadline(still)
            }
        }
        RunEnd::External(_) => RunEnd::AllDone,
        other => other,
    };
    let mut result = conclude(Outcome {
        scenario,
        expectations: checkable_by_hand(&scenario.expectations, kind),
        transcript,
        names,
        end,
        deadline: (scenario.deadline_ms, "real"),
        base_url: base_url.clone(),
        stderr: None,
        started,
    });
    if result.failures.iter().any(|f| f.level == Level::Must) {
        result.verdict = Verdict::Fail;
    }
    std::fs::write(&options.transcript, result.transcript_text())
        .map_err(|e| format!("{}: {e}", options.transcript.display()))?;
    say(&format!("\n{} {}", result.label(), result.name));
    let explained = result.explain();
    if !explained.is_empty() {
        say(explained.trim_end());
    }
    say(&format!("transcript: {}", options.transcript.display()));
    // The homeserver lingers for the person's client, unless they already said it is
    // done.
    let person_done = bridge.events.is_none();
    if !options.linger.is_zero() && input_open && !person_done {
        say(&format!(
            "the homeserver stays up for {} s so your client can finish; type `done` to stop now",
            options.linger.as_secs()
        ));
        let until = tokio::time::Instant::now() + options.linger;
        loop {
            match tokio::time::timeout_at(until, input.recv()).await {
                Ok(Some(line)) if line != "done" => {}
                _ => break,
            }
        }
    }
    if let crate::run::prepare::Server::Http(server) = server {
        server.shutdown().await;
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use devices::OutcomeKind;

    fn pattern(text: &str) -> Pattern {
        Pattern::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn bridge(shows_qr: bool) -> (Bridge, DuplexStream) {
        let (ours, theirs) = tokio::io::duplex(4096);
        (Bridge::new(ours, false, shows_qr), theirs)
    }

    /// The next event the bridge wrote; `None` when it wrote nothing within 200 ms. A
    /// line that is not an event fails the test.
    async fn next_event(events: &mut tokio::io::Lines<BufReader<DuplexStream>>) -> Option<AdapterEvent> {
        let line = tokio::time::timeout(Duration::from_millis(200), events.next_line()).await.ok()?;
        let line = line.expect("the bridge's events can be read")?;
        Some(AdapterEvent::parse(&line).unwrap_or_else(|e| panic!("the bridge wrote {line:?}: {e}")))
    }

    #[tokio::test]
    async fn a_qr_payload_pasted_before_the_run_asks_is_handed_over_when_it_does() {
        let (mut bridge, theirs) = bridge(true);
        let mut events = BufReader::new(theirs).lines();
        let payload = r#"{"rendezvous":{"url":"http://127.0.0.1:1/r/x"}}"#;
        bridge.on_input(payload).await;
        assert_eq!(next_event(&mut events).await, None, "nothing before the run asks");
        bridge.on_command(&AdapterCommand::ShowQr { dialect: "v1".into() }.to_line()).await;
        assert_eq!(next_event(&mut events).await, Some(AdapterEvent::QrCode { payload: payload.into() }));
        // A second paste is not a second QR code.
        bridge.on_input(payload).await;
        assert_eq!(next_event(&mut events).await, None);
    }

    #[tokio::test]
    async fn a_qr_payload_is_not_held_when_the_persons_client_does_not_show_the_code() {
        let (mut bridge, theirs) = bridge(false);
        let mut events = BufReader::new(theirs).lines();
        bridge.on_input(r#"{"intent":"login.start"}"#).await;
        bridge.on_command(&AdapterCommand::ShowQr { dialect: "v1".into() }.to_line()).await;
        assert_eq!(next_event(&mut events).await, None);
        assert_eq!(bridge.qr, Qr::Awaited, "nothing was held");
    }

    #[test]
    fn the_persons_outcome_decisions_and_displays_are_dropped() {
        let expectations = vec![
            (
                Expectation::Outcome {
                    role: RoleKind::NewDevice,
                    expected: vec![(OutcomeKind::Verified, None)],
                },
                Level::Must,
            ),
            (
                Expectation::Outcome {
                    role: RoleKind::ExistingDevice,
                    expected: vec![(OutcomeKind::Verified, None)],
                },
                Level::Must,
            ),
            (
                Expectation::Order(vec![
                    ("x".into(), pattern("A -> HS: POST /login 200")),
                    ("y".into(), pattern("A: marked B verified")),
                    ("z".into(), pattern("A: finished verified")),
                ]),
                Level::Must,
            ),
            (Expectation::Never("n".into(), pattern("A: finished error")), Level::Must),
        ];
        let kept = checkable_by_hand(&expectations, RoleKind::NewDevice);
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert!(matches!(&kept[0].0, Expectation::Outcome { role: RoleKind::ExistingDevice, .. }));
        match &kept[1].0 {
            Expectation::Order(steps) => assert_eq!(steps.len(), 1),
            other => panic!("{other:?}"),
        }
    }
}
