//! The conformance runner for Matrix E2EE onboarding: scenario files, a deterministic
//! driver, ordering assertions, snapshots, reports and the `conformance` CLI.
//!
//! A scenario file (TOML, see `docs/scenario-format.md`) names a flow, the server
//! profile and faults, each role's setup and misbehaviour knobs, and what must happen.
//! [`runner::run`] plays it with a fresh [`mock_homeserver::MockHomeserver`] and the
//! simulated devices of the `devices` crate, driven by [`driver::Driver`] on a virtual
//! clock, then checks every expectation ([`expect`]) and normalises the transcript
//! into a snapshot ([`normalize`]). Reports: JSON ([`suite`]), JUnit XML ([`junit`]),
//! Mermaid sequence diagrams ([`mermaid`]) and full transcripts ([`artifacts`]); an
//! implementation's known gaps live in an expectations file ([`expectations`]).

pub mod adapter;
pub mod artifacts;
pub mod driver;
pub mod expect;
pub mod expectations;
pub mod junit;
pub mod mermaid;
pub mod normalize;
pub mod pattern;
pub mod qr_text;
pub mod realtime;
pub mod roles;
pub mod runner;
pub mod scenario;
pub mod serve;
pub mod suite;
pub mod transcript;
pub mod verdict;
