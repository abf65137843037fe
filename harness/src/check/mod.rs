//! Checking what a run did: the transcript and its one-line grammar, event patterns,
//! expectations, verdicts, and the normalised snapshot.
//!
//! Nothing here runs anything: a transcript goes in, failures and a snapshot come out.

pub mod expect;
pub mod normalize;
pub mod pattern;
pub mod served;
pub mod transcript;
pub mod verdict;
