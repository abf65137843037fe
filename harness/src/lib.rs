//! The conformance runner for Matrix E2EE onboarding: scenario files, a deterministic
//! driver, ordering assertions, snapshots, reports and the `conformance` CLI.

pub mod driver;
pub mod expect;
pub mod normalize;
pub mod pattern;
pub mod scenario;
pub mod transcript;
