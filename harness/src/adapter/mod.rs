//! Adapter protocol 1 (`docs/adapter-protocol.md`): the runner owns the test, the
//! client under test is wrapped in a small adapter program that speaks JSON lines on
//! stdin and stdout, as in BoGo's shim for TLS stacks.
//!
//! * [`protocol`]: the commands and events;
//! * [`command`]: the adapter's command line, checked before a run;
//! * [`process`]: the adapter as a child process with bounded waits, in a process
//!   group of its own.
//!
//! Running a scenario with an adapter is [`crate::run::external`]'s job; our own
//! simulated device behind the protocol is [`crate::external::device`].

pub mod command;
pub mod process;
pub mod protocol;
