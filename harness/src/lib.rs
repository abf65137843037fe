//! The conformance runner for Matrix E2EE onboarding: scenario files, the run engine,
//! expectations, snapshots, reports, the adapter protocol and the `conformance` CLI.
//!
//! The crate is layered; each folder uses only the ones above it in this list:
//!
//! * [`check`]: the transcript and its grammar, patterns, expectations, verdicts and
//!   snapshots (no I/O);
//! * [`scenario`]: scenario files, loaded strictly into types;
//! * [`adapter`]: adapter protocol 1 and the adapter as a child process;
//! * [`run`]: one setup, one recorder, one ending, on the `devices` crate's engine, in
//!   process on a virtual clock or in real time with an external client;
//! * [`external`]: the reference adapter (`conformance device`) and `conformance
//!   serve` for a client a person drives;
//! * [`report`]: JSON, JUnit, Mermaid, transcripts, expectations files;
//! * [`fuzz`]: `conformance fuzz`, generated cases checked against invariants, on the
//!   run engine.

pub mod adapter;
pub mod check;
pub mod external;
pub mod fuzz;
pub mod report;
pub mod run;
pub mod scenario;
