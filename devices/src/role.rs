//! The interface every simulated device implements.

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
