//! The roles of the flows ([`RoleKind`]) and the interface every simulated device
//! implements ([`Role`]).

use crate::events::DeviceEvent;
use crate::io::{Command, HttpResult, Step};

/// A simulated device as a sans-I/O state machine.
///
/// The driver calls [`Role::start`] once, then feeds back exactly one input for every
/// [`Step`] it got: the result of a [`Step::Http`] to [`Role::on_http`], the end of a
/// [`Step::Sleep`] to [`Role::on_wake`], a user [`crate::Command`] after
/// [`Step::AwaitCommand`] to [`Role::on_command`]. `now_ms` is the driver's clock, so a
/// runner with a virtual clock makes the whole run deterministic. After
/// [`Step::Done`] the role takes no more input.
///
/// A role must end: every wait it starts is bounded by a deadline on `now_ms`.
pub trait Role: Send {
    /// The first step.
    fn start(&mut self, now_ms: u64) -> Step;
    /// The result of the last [`Step::Http`].
    fn on_http(&mut self, now_ms: u64, result: HttpResult) -> Step;
    /// The end of the last [`Step::Sleep`].
    fn on_wake(&mut self, now_ms: u64) -> Step;
    /// A user command, after [`Step::AwaitCommand`] (a role may also accept
    /// [`Command::Cancel`] at other times through this method).
    fn on_command(&mut self, now_ms: u64, command: Command) -> Step;
    /// Takes the events produced since the last call.
    fn take_events(&mut self) -> Vec<DeviceEvent>;
}

impl<R: Role + ?Sized> Role for &mut R {
    fn start(&mut self, now_ms: u64) -> Step {
        (**self).start(now_ms)
    }
    fn on_http(&mut self, now_ms: u64, result: HttpResult) -> Step {
        (**self).on_http(now_ms, result)
    }
    fn on_wake(&mut self, now_ms: u64) -> Step {
        (**self).on_wake(now_ms)
    }
    fn on_command(&mut self, now_ms: u64, command: Command) -> Step {
        (**self).on_command(now_ms, command)
    }
    fn take_events(&mut self) -> Vec<DeviceEvent> {
        (**self).take_events()
    }
}

/// A role of the two flows: the new device (A) and the existing device (B) of sign-in
/// with QR code, and the registrar (R) of MSC2912.
///
/// Scenario files and transcripts name a role by its letter (`A -> HS: POST /login`),
/// the command line and the adapter protocol by its kebab-case name (`new-device`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleKind {
    /// A: the device that signs in by QR code.
    NewDevice,
    /// B: the signed-in device that lets A in and cross-signs it.
    ExistingDevice,
    /// R: the client that registers with cross-signing keys (MSC2912).
    Registrar,
}

impl RoleKind {
    /// Every role, in letter order.
    pub const ALL: [RoleKind; 3] = [RoleKind::NewDevice, RoleKind::ExistingDevice, RoleKind::Registrar];

    /// `A`, `B` or `R`.
    pub fn letter(self) -> &'static str {
        match self {
            RoleKind::NewDevice => "A",
            RoleKind::ExistingDevice => "B",
            RoleKind::Registrar => "R",
        }
    }

    /// `new-device`, `existing-device` or `registrar`.
    pub fn name(self) -> &'static str {
        match self {
            RoleKind::NewDevice => "new-device",
            RoleKind::ExistingDevice => "existing-device",
            RoleKind::Registrar => "registrar",
        }
    }

    /// The role with this letter.
    pub fn from_letter(letter: &str) -> Option<RoleKind> {
        RoleKind::ALL.into_iter().find(|r| r.letter() == letter)
    }

    /// The role with this kebab-case name.
    pub fn from_name(name: &str) -> Option<RoleKind> {
        RoleKind::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The device on the other end of the rendezvous: A for B, B for A; the
    /// registrar has none.
    pub fn peer(self) -> Option<RoleKind> {
        match self {
            RoleKind::NewDevice => Some(RoleKind::ExistingDevice),
            RoleKind::ExistingDevice => Some(RoleKind::NewDevice),
            RoleKind::Registrar => None,
        }
    }
}

impl std::fmt::Display for RoleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.letter())
    }
}
