//! External clients under test, through adapter protocol 1
//! (`docs/adapter-protocol.md`): the runner owns the test, the client is wrapped in a
//! small adapter program that speaks JSON lines on stdin and stdout, as in BoGo's
//! shim for TLS stacks.
//!
//! * [`protocol`]: the commands and events, and how an outcome is read;
//! * [`process`]: the adapter as a child process with bounded waits;
//! * [`run`]: one scenario with one role played by the external client
//!   ([`run::run_external`]), and which scenarios apply to it;
//! * [`device`]: `conformance device`, our own simulated device behind the protocol.

pub mod device;
mod device_qr;
pub mod process;
pub mod protocol;
pub mod run;

pub use run::{run_external, ExternalClient};
