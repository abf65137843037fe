//! Checking a transcript against a scenario's expectations, with failures that
//! explain themselves.

use devices::{OutcomeKind, RoleKind};

use super::pattern::{glob, Pattern};
use super::transcript::{Actor, DeviceNames, Entry, TranscriptEntry};

/// How strongly an expectation is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// A MUST of the protocol: failing it fails the scenario.
    Must,
    /// A SHOULD: failing it makes the verdict NON-STRICT.
    Should,
}

/// One expectation of a scenario, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// A role ends with this outcome (and, when given, this reason).
    Outcome {
        /// Role.
        role: RoleKind,
        /// The expected outcome.
        outcome: OutcomeKind,
        /// The rest of the expected ending as written, e.g. `(master_key_mismatch)`.
        detail: Option<String>,
    },
    /// These events occur in this order (others may come between).
    Order(Vec<(String, Pattern)>),
    /// This event never occurs.
    Never(String, Pattern),
    /// This event occurs exactly `times` times.
    Count {
        /// Pattern text.
        text: String,
        /// Parsed pattern.
        pattern: Pattern,
        /// Expected count.
        times: usize,
    },
}

/// A failed expectation and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// Which expectation (e.g. `order[3]`, `never "B -> HS: POST /keys/signatures/upload"`).
    pub expectation: String,
    /// What was expected and what happened.
    pub message: String,
    /// Transcript lines around the place it should have matched.
    pub context: Vec<String>,
    /// MUST or SHOULD.
    pub level: Level,
}

impl Failure {
    /// A failed MUST named `expectation`.
    pub fn must(expectation: &str, message: String, context: Vec<String>) -> Self {
        Failure { expectation: expectation.to_owned(), message, context, level: Level::Must }
    }
}

/// Lines of the transcript from `from` (0-based) for `len` entries, numbered.
pub fn excerpt(
    transcript: &[TranscriptEntry],
    names: &dyn DeviceNames,
    from: usize,
    len: usize,
) -> Vec<String> {
    transcript.iter().skip(from).take(len).map(|e| format!("{:>4}  {}", e.seq, e.entry.line(names))).collect()
}

/// Checks one expectation.
pub fn check(
    expectation: &Expectation,
    level: Level,
    transcript: &[TranscriptEntry],
    names: &dyn DeviceNames,
) -> Option<Failure> {
    match expectation {
        Expectation::Outcome { role, outcome, detail } => {
            let expected = match detail {
                Some(detail) => format!("{outcome} {detail}"),
                None => outcome.name().to_owned(),
            };
            let actual = transcript.iter().rev().find_map(|e| match &e.entry {
                Entry::Finished { actor, ending } if actor == role => Some(ending),
                _ => None,
            });
            let ok = actual.is_some_and(|ending| {
                ending.outcome == *outcome && detail.as_ref().is_none_or(|_| glob(&expected, &ending.line()))
            });
            (!ok).then(|| Failure {
                expectation: format!("outcome of {role}"),
                message: format!(
                    "expected {role} to finish `{expected}`, but it {}",
                    actual
                        .map(|a| format!("finished `{}`", a.line()))
                        .unwrap_or_else(|| "never finished".to_owned())
                ),
                context: last_lines_of(transcript, names, *role, 12),
                level,
            })
        }
        Expectation::Order(steps) => {
            let mut position = 0usize;
            for (i, (text, pattern)) in steps.iter().enumerate() {
                match transcript[position..].iter().position(|e| pattern.matches(&e.entry, names)) {
                    Some(offset) => position += offset + 1,
                    None => {
                        let anywhere = transcript.iter().position(|e| pattern.matches(&e.entry, names));
                        let message = match anywhere {
                            Some(at) => format!(
                                "order[{i}] `{text}` occurs only at #{} — before order[{}] `{}` matched at #{}",
                                transcript[at].seq,
                                i.saturating_sub(1),
                                steps.get(i.wrapping_sub(1)).map(|s| s.0.as_str()).unwrap_or("start"),
                                transcript.get(position.saturating_sub(1)).map(|e| e.seq).unwrap_or(0),
                            ),
                            None => format!("order[{i}] `{text}` never occurred"),
                        };
                        return Some(Failure {
                            expectation: format!("order[{i}]"),
                            message,
                            context: excerpt(transcript, names, position.saturating_sub(3), 14),
                            level,
                        });
                    }
                }
            }
            None
        }
        Expectation::Never(text, pattern) => {
            transcript.iter().position(|e| pattern.matches(&e.entry, names)).map(|at| Failure {
                expectation: format!("never `{text}`"),
                message: format!("`{text}` must never occur, but it did at #{}", transcript[at].seq),
                context: excerpt(transcript, names, at.saturating_sub(5), 11),
                level,
            })
        }
        Expectation::Count { text, pattern, times } => {
            let hits: Vec<usize> = transcript
                .iter()
                .enumerate()
                .filter(|(_, e)| pattern.matches(&e.entry, names))
                .map(|(i, _)| i)
                .collect();
            (hits.len() != *times).then(|| Failure {
                expectation: format!("count `{text}`"),
                message: format!(
                    "expected `{text}` exactly {times} time(s), found {} (at #{})",
                    hits.len(),
                    hits.iter().map(|i| transcript[*i].seq.to_string()).collect::<Vec<_>>().join(", #")
                ),
                context: hits
                    .first()
                    .map(|i| excerpt(transcript, names, i.saturating_sub(3), 8))
                    .unwrap_or_default(),
                level,
            })
        }
    }
}

fn last_lines_of(
    transcript: &[TranscriptEntry],
    names: &dyn DeviceNames,
    role: RoleKind,
    n: usize,
) -> Vec<String> {
    let mine: Vec<&TranscriptEntry> =
        transcript.iter().filter(|e| e.entry.actor() == Actor::Role(role)).collect();
    mine.iter().rev().take(n).rev().map(|e| format!("{:>4}  {}", e.seq, e.entry.line(names))).collect()
}
