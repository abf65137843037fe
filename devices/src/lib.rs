//! Simulated Matrix clients for the conformance harness: the new device (A) and the
//! existing device (B) of sign-in with QR code (MSC3906), the registrar of MSC2912,
//! the MSC3886 rendezvous transport and the MSC3903 secure channel.
//!
//! # Design
//!
//! Every role is a sans-I/O state machine implementing [`Role`]: it consumes inputs
//! (an HTTP answer, the end of a pause, a user command) and answers with the next
//! [`Step`] (perform this request, pause, wait for the user, done). Along the way it
//! reports [`DeviceEvent`]s: the channel messages it sent and received (decrypted),
//! every decision it took ([`Decision`]), and how it ended ([`Outcome`]).
//!
//! Two drivers perform the steps:
//! * [`shell::run`], a thin async shell over reqwest in real time, for running a
//!   simulated device against any homeserver (and behind the adapter protocol);
//! * the conformance runner's deterministic driver, which interleaves several roles
//!   with a virtual clock so that a scenario gives the same transcript every time.
//!
//! Devices reach a homeserver only over HTTP, so they work against any homeserver.

pub mod api;
pub mod engine;
pub mod events;
pub mod io;
pub mod olm;
pub mod qr_login;
pub mod registrar;
pub mod rendezvous;
pub mod retry;
pub mod role;
pub mod secure_channel;
pub mod shell;

pub use events::{Abort, AbortKind, Decision, DeviceEvent, Outcome, OutcomeKind};
pub use io::{Command, HttpRequest, HttpResponse, HttpResult, Step, TransportError};
pub use role::{Role, RoleKind};
