//! What both schedulers share: the seats and their pending steps, the simulated user,
//! the observer that records, and how a run ends.

use std::collections::VecDeque;

use crate::events::DeviceEvent;
use crate::io::{Command, HttpRequest, HttpResult, Step};
use crate::role::{Role, RoleKind};

use super::user::{Choice, User};

/// One simulated device taking part in a run.
pub struct Seat<'m> {
    /// Which role it plays.
    pub kind: RoleKind,
    /// Its state machine.
    pub machine: Box<dyn Role + 'm>,
}

impl<'m> Seat<'m> {
    /// A seat for `machine` playing `kind`.
    pub fn new(kind: RoleKind, machine: Box<dyn Role + 'm>) -> Self {
        Self { kind, machine }
    }

    /// A seat for a machine the caller keeps (to look at it after the run).
    pub fn borrowed(kind: RoleKind, machine: &'m mut dyn Role) -> Self {
        Self { kind, machine: Box::new(machine) }
    }
}

impl std::fmt::Debug for Seat<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seat").field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// Whether the engine marks each request with its seat's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marking {
    /// Requests go out as the role made them (a device playing an external client).
    None,
    /// Every request carries [`protocol::ROLE_HEADER`] with the role's letter.
    Role,
}

/// What an external role (a client behind an adapter, or a person) did, as far as the
/// run is concerned; `R` is the external side's own report of its ending or remarks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternalEvent<R> {
    /// It shows this QR code (its JSON text): the user lets the peer scan it.
    ShowsQrCode(String),
    /// It shows this check code: the user compares it.
    ShowsCheckCode(String),
    /// It said something worth recording that changes nothing in the run.
    Said(R),
    /// It ended, with this report.
    Finished(R),
}

/// Sees everything a run does, as it happens (the conformance runner's recorder).
pub trait Observer {
    /// What an external role reports when it says something or ends (`()` when the
    /// observer never sees one).
    type Report;
    /// A simulated role reported `event`.
    fn device_event(&mut self, role: RoleKind, event: &DeviceEvent);
    /// The external role `role` did `event`.
    fn external_event(&mut self, role: RoleKind, event: &ExternalEvent<Self::Report>) {
        let _ = (role, event);
    }
    /// The user chose on an external device (a simulated one records its own
    /// `user approved`).
    fn user_chose(&mut self, choice: &Choice) {
        let _ = choice;
    }
    /// The run ended without the user's choice on the approving device, because the
    /// check codes of `missing` never showed.
    fn user_never_chose(&mut self, missing: &[RoleKind]) {
        let _ = missing;
    }
}

/// How a run ended; `X` is what ended an external role's part early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd<X = std::convert::Infallible> {
    /// Every role finished.
    AllDone,
    /// The deadline passed; the roles still running are named.
    Deadline(Vec<RoleKind>),
    /// Every unfinished role waits for a user action nobody will take.
    Stuck(Vec<RoleKind>),
    /// Too many steps, or too much real time.
    Runaway(String),
    /// The external role's side failed (its adapter crashed, broke the protocol, or
    /// does not implement the role).
    External(X),
}

/// What a seat waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pending {
    /// This request to be performed.
    Http(HttpRequest),
    /// The clock to reach this time.
    WakeAt(u64),
    /// A user command.
    Command,
    /// Nothing: the role has ended.
    Done,
}

/// The answer to what a seat waited for.
#[derive(Debug)]
pub(crate) enum Input {
    Http(HttpResult),
    Wake,
    Command(Command),
}

/// The seats, the user and the observer of one run.
pub(crate) struct Conductor<'o, 'm, O> {
    seats: Vec<(Seat<'m>, Pending)>,
    user: User,
    observer: &'o mut O,
    marking: Marking,
    external: Option<RoleKind>,
}

impl<'o, 'm, O: Observer> Conductor<'o, 'm, O> {
    pub(crate) fn new(
        seats: Vec<Seat<'m>>,
        user: User,
        observer: &'o mut O,
        marking: Marking,
        external: Option<RoleKind>,
    ) -> Self {
        let seats = seats.into_iter().map(|seat| (seat, Pending::Done)).collect();
        Self { seats, user, observer, marking, external }
    }

    pub(crate) fn len(&self) -> usize {
        self.seats.len()
    }

    pub(crate) fn pending(&self, i: usize) -> &Pending {
        &self.seats[i].1
    }

    /// Starts every seat, in order.
    pub(crate) fn start(&mut self, now_ms: u64) {
        for i in 0..self.seats.len() {
            let step = self.seats[i].0.machine.start(now_ms);
            self.after(i, step, now_ms);
        }
    }

    /// Gives seat `i` what it waited for.
    pub(crate) fn feed(&mut self, i: usize, input: Input, now_ms: u64) {
        let machine = &mut self.seats[i].0.machine;
        let step = match input {
            Input::Http(result) => machine.on_http(now_ms, result),
            Input::Wake => machine.on_wake(now_ms),
            Input::Command(command) => machine.on_command(now_ms, command),
        };
        self.after(i, step, now_ms);
    }

    /// Records seat `i`'s events, then notes what it waits for next.
    fn after(&mut self, i: usize, step: Step, now_ms: u64) {
        let kind = self.seats[i].0.kind;
        for event in self.seats[i].0.machine.take_events() {
            self.observer.device_event(kind, &event);
            match &event {
                DeviceEvent::ShowsQrCode { payload } => self.user.sees_qr_code(kind, payload),
                DeviceEvent::ShowsCheckCode { code } => self.sees_check_code(kind, code),
                _ => {}
            }
        }
        self.seats[i].1 = match step {
            Step::Http(request) => Pending::Http(match self.marking {
                Marking::None => request,
                Marking::Role => request.header(protocol::ROLE_HEADER, kind.letter()),
            }),
            Step::Sleep { ms } => Pending::WakeAt(now_ms.saturating_add(ms)),
            Step::AwaitCommand => Pending::Command,
            Step::Done => Pending::Done,
        };
    }

    fn sees_check_code(&mut self, role: RoleKind, code: &str) {
        if let Some(choice) = self.user.sees_check_code(role, code) {
            if Some(choice.on) == self.external {
                self.observer.user_chose(&choice);
            }
        }
    }

    /// Records what the external role did and lets the user see it.
    pub(crate) fn external_event(&mut self, event: &ExternalEvent<O::Report>) {
        let Some(role) = self.external else { return };
        self.observer.external_event(role, event);
        match event {
            ExternalEvent::ShowsQrCode(payload) => self.user.sees_qr_code(role, payload),
            ExternalEvent::ShowsCheckCode(code) => self.sees_check_code(role, code),
            ExternalEvent::Said(_) | ExternalEvent::Finished(_) => {}
        }
    }

    /// A command from outside the run (a person, or the runner behind an adapter)
    /// for `role`.
    pub(crate) fn give(&mut self, role: RoleKind, command: Command) {
        self.user.give(role, command);
    }

    /// The user's next command for seat `i`, when it waits for one.
    pub(crate) fn command_for(&mut self, i: usize) -> Option<Command> {
        if self.seats[i].1 != Pending::Command {
            return None;
        }
        self.user.command_for(self.seats[i].0.kind)
    }

    /// The user's commands for the external role.
    pub(crate) fn commands_for_external(&mut self) -> VecDeque<Command> {
        let mut out = VecDeque::new();
        if let Some(role) = self.external {
            while let Some(command) = self.user.command_for(role) {
                out.push_back(command);
            }
        }
        out
    }

    /// Whether every seat has ended.
    pub(crate) fn all_done(&self) -> bool {
        self.seats.iter().all(|(_, p)| *p == Pending::Done)
    }

    /// The roles whose pending step satisfies `f`.
    pub(crate) fn roles_where(&self, f: impl Fn(&Pending) -> bool) -> Vec<RoleKind> {
        self.seats.iter().filter(|(_, p)| f(p)).map(|(s, _)| s.kind).collect()
    }

    /// The earliest wake-up any seat waits for.
    pub(crate) fn next_wake(&self) -> Option<u64> {
        self.seats.iter().filter_map(|(_, p)| if let Pending::WakeAt(t) = p { Some(*t) } else { None }).min()
    }

    /// Ends the run: tells the observer when it ended (by deadline or stuck) before
    /// the user could choose, and hands `end` back.
    pub(crate) fn finish<X>(&mut self, end: RunEnd<X>) -> RunEnd<X> {
        if matches!(end, RunEnd::Deadline(_) | RunEnd::Stuck(_)) && !self.user.has_chosen() {
            let missing = self.user.missing_codes();
            if !missing.is_empty() {
                self.observer.user_never_chose(&missing);
            }
        }
        end
    }
}
