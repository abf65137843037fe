//! One engine drives every role, whichever clock it runs on.
//!
//! In the spirit of quinn-proto's single test driver: the roles are sans-I/O state
//! machines ([`crate::Role`]); the [`conductor`] feeds them their inputs, hands their
//! events to an [`Observer`] and to the simulated [`User`], and decides how a run ends
//! ([`RunEnd`]). Two schedulers differ only in how they wait:
//!
//! * [`virtual_time`]: one step at a time in a fixed order, moving a virtual clock to
//!   the next wake-up when every role waits. The same inputs give the same run.
//! * [`real_time`]: every role's request or pause in flight at once on the wall
//!   clock, next to an external role (a real client behind an adapter, or a person)
//!   and commands from outside the run.
//!
//! Requests go through an [`Executor`]: real HTTP ([`crate::shell::HttpExecutor`]) or
//! whatever the caller provides (the conformance runner hands them to the mock
//! homeserver's core in process). With [`Marking::Role`], every request carries the
//! seat's role in [`protocol::ROLE_HEADER`], so that a homeserver's journal tells by
//! fact which device made it.

pub mod conductor;
pub mod real_time;
mod user;
pub mod virtual_time;

use std::future::Future;

pub use conductor::{ExternalEvent, Marking, Observer, RunEnd, Seat};
pub use user::{Choice, User};

use crate::io::{HttpRequest, HttpResult};

/// Performs the HTTP requests of the roles.
pub trait Executor {
    /// Performs one request.
    fn execute(&self, request: &HttpRequest) -> impl Future<Output = HttpResult> + Send;
}
