//! The deterministic driver: runs several roles against one homeserver, one step at a
//! time in a fixed order, on a virtual clock shared with the server.
//!
//! Nothing here waits in real time. A role that asks to sleep is woken when every
//! other role is also waiting, by moving the clock forward to the earliest wake-up.
//! The same scenario therefore produces the same sequence of requests every run.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use devices::shell::HttpExecutor;
use devices::{Command, DeviceEvent, HttpRequest, Role, Step};
use mock_homeserver::{Homeserver, ManualClock};

use crate::transcript::{Entry, TranscriptEntry};

/// Limits that stop a run that would not end.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Virtual time after which the run stops.
    pub deadline_ms: u64,
    /// Most steps (HTTP requests, wake-ups, commands) all roles together may take.
    pub max_steps: usize,
    /// Real time after which the run stops (a guard against a stuck server).
    pub wall_clock: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self { deadline_ms: 120_000, max_steps: 5_000, wall_clock: Duration::from_secs(60) }
    }
}

/// One role in a run.
pub struct Participant {
    /// `A`, `B` or `R`.
    pub name: String,
    /// The state machine.
    pub role: Box<dyn Role>,
    /// The role it talks to on the rendezvous, if any.
    pub peer: Option<String>,
}

/// The simulated user: scans the QR code the other device shows, compares the check
/// codes, and approves or declines on the existing device.
#[derive(Debug, Clone)]
pub struct User {
    /// Approve when the codes match (otherwise decline).
    pub approve: bool,
    /// The role that approves (the existing device).
    pub approver: String,
    queue: VecDeque<(String, Command)>,
    check_codes: Vec<(String, String)>,
    approved: bool,
}

impl User {
    /// A user who approves (or not) on `approver`.
    pub fn new(approve: bool, approver: &str) -> Self {
        Self {
            approve,
            approver: approver.to_owned(),
            queue: VecDeque::new(),
            check_codes: Vec::new(),
            approved: false,
        }
    }

    fn observe(&mut self, actor: &str, peer: Option<&str>, event: &DeviceEvent) {
        match event {
            DeviceEvent::ShowsQrCode { payload } => {
                if let Some(peer) = peer {
                    self.queue.push_back((peer.to_owned(), Command::ScanQrCode(payload.clone())));
                }
            }
            DeviceEvent::ShowsCheckCode { code } => self.check_codes.push((actor.to_owned(), code.clone())),
            _ => {}
        }
    }

    /// The command for a role that waits for the user, if the user has one.
    fn command_for(&mut self, actor: &str) -> Option<Command> {
        if let Some(i) = self.queue.iter().position(|(a, _)| a == actor) {
            return self.queue.remove(i).map(|(_, c)| c);
        }
        if actor == self.approver && !self.approved {
            let own = self.check_codes.iter().find(|(a, _)| a == actor).map(|(_, c)| c.clone());
            let others: Vec<&String> =
                self.check_codes.iter().filter(|(a, _)| a != actor).map(|(_, c)| c).collect();
            let codes_match = own.is_some() && others.iter().all(|c| Some(*c) == own.as_ref());
            self.approved = true;
            return Some(if self.approve && codes_match { Command::Approve } else { Command::Decline });
        }
        None
    }
}

enum Pending {
    Http(HttpRequest),
    WakeAt(u64),
    Command,
    Done,
}

impl Pending {
    fn from_step(step: Step, now_ms: u64) -> Self {
        match step {
            Step::Http(request) => Pending::Http(request),
            Step::Sleep { ms } => Pending::WakeAt(now_ms.saturating_add(ms)),
            Step::AwaitCommand => Pending::Command,
            Step::Done => Pending::Done,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// Every role finished.
    AllDone,
    /// The virtual deadline passed; the roles still running are named.
    Deadline(Vec<String>),
    /// Every unfinished role waits for a user action nobody will take.
    Stuck(Vec<String>),
    /// Too many steps, or too much real time.
    Runaway(String),
}

/// Drives roles against an in-process homeserver.
pub struct Driver {
    homeserver: Arc<Homeserver>,
    clock: ManualClock,
    executor: HttpExecutor,
    journal_seen: u64,
    /// Everything that happened, in order.
    pub transcript: Vec<TranscriptEntry>,
}

impl Driver {
    /// A driver for this server, whose clock must be `clock`.
    pub fn new(homeserver: Arc<Homeserver>, clock: ManualClock) -> Self {
        let journal_seen = homeserver.journal().last().map(|e| e.seq).unwrap_or(0);
        Self {
            homeserver,
            clock,
            executor: HttpExecutor::new(Duration::from_secs(30)),
            journal_seen,
            transcript: Vec::new(),
        }
    }

    fn push(&mut self, entry: Entry) {
        let seq = self.transcript.len() + 1;
        self.transcript.push(TranscriptEntry { seq, at_ms: self.clock_ms(), entry });
    }

    fn clock_ms(&self) -> u64 {
        use mock_homeserver::Clock;
        self.clock.now_ms()
    }

    /// Moves new journal entries into the transcript, attributed to `actor`.
    fn absorb_journal(&mut self, actor: &str) {
        for entry in self.homeserver.journal_since(self.journal_seen) {
            self.journal_seen = entry.seq;
            self.push(Entry::http(actor, entry));
        }
    }

    fn absorb_events(&mut self, participant: &mut Participant, user: &mut User) {
        for event in participant.role.take_events() {
            user.observe(&participant.name, participant.peer.as_deref(), &event);
            let actor = participant.name.clone();
            let peer = participant.peer.clone().unwrap_or_else(|| "?".to_owned());
            let entry = match event {
                DeviceEvent::ShowsQrCode { payload } => {
                    Entry::Shows { actor, what: "QR code".into(), value: payload }
                }
                DeviceEvent::ShowsCheckCode { code } => {
                    Entry::Shows { actor, what: "check code".into(), value: code }
                }
                DeviceEvent::ChannelSent { message, encrypted } => {
                    Entry::Channel { from: actor, to: peer, message, encrypted, seen_by: "sent".into() }
                }
                // Both ends are simulated here: the sender's record already shows the
                // message, so the receiver's copy would only repeat it.
                DeviceEvent::ChannelReceived { .. } => continue,
                DeviceEvent::Decision(decision) => Entry::Decision { actor, decision },
                DeviceEvent::Finished(outcome) => Entry::Finished { actor, outcome },
            };
            self.push(entry);
        }
    }

    /// Runs the participants until all are done or a limit is hit.
    pub async fn run(
        &mut self,
        participants: &mut [Participant],
        user: &mut User,
        limits: &Limits,
    ) -> RunEnd {
        let started = Instant::now();
        let mut pending = Vec::with_capacity(participants.len());
        for participant in participants.iter_mut() {
            let step = participant.role.start(self.clock_ms());
            self.absorb_events(participant, user);
            pending.push(Pending::from_step(step, self.clock_ms()));
        }
        let mut steps = 0usize;
        loop {
            if pending.iter().all(|p| matches!(p, Pending::Done)) {
                return RunEnd::AllDone;
            }
            if steps >= limits.max_steps {
                return RunEnd::Runaway(format!("more than {} steps", limits.max_steps));
            }
            if started.elapsed() > limits.wall_clock {
                return RunEnd::Runaway(format!("more than {} s of real time", limits.wall_clock.as_secs()));
            }
            let mut progressed = false;
            for (i, participant) in participants.iter_mut().enumerate() {
                let step = match &pending[i] {
                    Pending::Http(request) => {
                        let request = request.clone();
                        let result = self.executor.execute(&request).await;
                        self.absorb_journal(&participant.name);
                        Some(participant.role.on_http(self.clock_ms(), result))
                    }
                    Pending::Command => user
                        .command_for(&participant.name)
                        .map(|c| participant.role.on_command(self.clock_ms(), c)),
                    Pending::WakeAt(_) | Pending::Done => None,
                };
                if let Some(step) = step {
                    steps += 1;
                    progressed = true;
                    self.absorb_events(participant, user);
                    pending[i] = Pending::from_step(step, self.clock_ms());
                }
            }
            if progressed {
                continue;
            }
            let next_wake =
                pending.iter().filter_map(|p| if let Pending::WakeAt(t) = p { Some(*t) } else { None }).min();
            let Some(wake) = next_wake else {
                let waiting = names_where(participants, &pending, |p| matches!(p, Pending::Command));
                return RunEnd::Stuck(waiting);
            };
            if wake > limits.deadline_ms {
                let running = names_where(participants, &pending, |p| !matches!(p, Pending::Done));
                self.push(Entry::Note {
                    actor: "runner".into(),
                    text: format!(
                        "deadline of {} ms passed; still running: {}",
                        limits.deadline_ms,
                        running.join(", ")
                    ),
                });
                return RunEnd::Deadline(running);
            }
            if wake > self.clock_ms() {
                self.clock.set_ms(wake);
            }
            for (i, participant) in participants.iter_mut().enumerate() {
                if matches!(pending[i], Pending::WakeAt(t) if t <= wake) {
                    steps += 1;
                    let step = participant.role.on_wake(self.clock_ms());
                    self.absorb_events(participant, user);
                    pending[i] = Pending::from_step(step, self.clock_ms());
                }
            }
        }
    }
}

fn names_where(
    participants: &[Participant],
    pending: &[Pending],
    f: impl Fn(&Pending) -> bool,
) -> Vec<String> {
    participants.iter().zip(pending).filter(|(_, p)| f(p)).map(|(p, _)| p.name.clone()).collect()
}
