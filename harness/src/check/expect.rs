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
    /// A role ends with one of these outcomes (and, where given, its reason).
    Outcome {
        /// Role.
        role: RoleKind,
        /// The endings that are right, each an outcome and the rest as written, e.g.
        /// `(master_key_mismatch)`.
        expected: Vec<(OutcomeKind, Option<String>)>,
    },
    /// These events occur in this order (others may come between).
    Order(Vec<(String, Pattern)>),
    /// This event never occurs.
    Never(String, Pattern),
    /// This event occurs between `min` and `max` times.
    Count {
        /// Pattern text.
        text: String,
        /// Parsed pattern.
        pattern: Pattern,
        /// The fewest times.
        min: usize,
        /// The most times, if bounded.
        max: Option<usize>,
    },
    /// Once the `anchor` events have occurred in order, each `then` event occurs,
    /// and never before: `then` events are not ordered among themselves.
    After {
        /// The events that must have happened first, in order.
        anchor: Vec<(String, Pattern)>,
        /// The events that follow.
        then: Vec<(String, Pattern)>,
    },
}

/// The text of one expected ending: `verified`, `security_error (device_key_mismatch)`.
pub fn ending_text(outcome: OutcomeKind, detail: &Option<String>) -> String {
    match detail {
        Some(detail) => format!("{outcome} {detail}"),
        None => outcome.name().to_owned(),
    }
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
        Expectation::Outcome { role, expected } => {
            let actual = transcript.iter().rev().find_map(|e| match &e.entry {
                Entry::Finished { actor, ending } if actor == role => Some(ending),
                _ => None,
            });
            let ok = actual.is_some_and(|ending| {
                expected.iter().any(|(outcome, detail)| {
                    ending.outcome == *outcome
                        && detail
                            .as_ref()
                            .is_none_or(|_| glob(&ending_text(*outcome, detail), &ending.line()))
                })
            });
            let expected: Vec<String> = expected.iter().map(|(o, d)| ending_text(*o, d)).collect();
            let expected = expected.join("` or `");
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
        Expectation::Count { text, pattern, min, max } => {
            let hits: Vec<usize> = hits_of(pattern, transcript, names);
            let bound = match (*min, *max) {
                (min, Some(max)) if min == max => format!("exactly {min}"),
                (0, Some(max)) => format!("at most {max}"),
                (min, None) => format!("at least {min}"),
                (min, Some(max)) => format!("between {min} and {max}"),
            };
            let within = hits.len() >= *min && max.is_none_or(|max| hits.len() <= max);
            (!within).then(|| Failure {
                expectation: format!("count `{text}`"),
                message: format!(
                    "expected `{text}` {bound} time(s), found {} (at #{})",
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
        Expectation::After { anchor, then } => check_after(anchor, then, level, transcript, names),
    }
}

/// Where an ordered chain of patterns completes: the index of the entry that matched
/// its last pattern, or the index of the first pattern that never matched.
fn chain_end(
    chain: &[(String, Pattern)],
    transcript: &[TranscriptEntry],
    names: &dyn DeviceNames,
) -> Result<usize, usize> {
    let mut position = 0usize;
    let mut last = 0usize;
    for (i, (_, pattern)) in chain.iter().enumerate() {
        match transcript[position..].iter().position(|e| pattern.matches(&e.entry, names)) {
            Some(offset) => {
                last = position + offset;
                position = last + 1;
            }
            None => return Err(i),
        }
    }
    Ok(last)
}

/// The positions in `transcript` of every entry `pattern` matches.
fn hits_of(pattern: &Pattern, transcript: &[TranscriptEntry], names: &dyn DeviceNames) -> Vec<usize> {
    transcript.iter().enumerate().filter(|(_, e)| pattern.matches(&e.entry, names)).map(|(i, _)| i).collect()
}

fn check_after(
    anchor: &[(String, Pattern)],
    then: &[(String, Pattern)],
    level: Level,
    transcript: &[TranscriptEntry],
    names: &dyn DeviceNames,
) -> Option<Failure> {
    let anchor_text = anchor.iter().map(|(t, _)| format!("`{t}`")).collect::<Vec<_>>().join(", then ");
    let expectation = format!("after {anchor_text}");
    let at = match chain_end(anchor, transcript, names) {
        Ok(at) => at,
        Err(missing) => {
            return Some(Failure {
                expectation,
                message: format!("`{}` never occurred (in that order)", anchor[missing].0),
                context: excerpt(transcript, names, transcript.len().saturating_sub(12), 12),
                level,
            })
        }
    };
    for (text, pattern) in then {
        let hits: Vec<usize> = hits_of(pattern, transcript, names);
        if let Some(early) = hits.iter().find(|i| **i <= at) {
            return Some(Failure {
                expectation,
                message: format!(
                    "`{text}` occurred at #{}, before {anchor_text} (which completed at #{})",
                    transcript[*early].seq, transcript[at].seq
                ),
                context: excerpt(transcript, names, early.saturating_sub(3), 8),
                level,
            });
        }
        if hits.is_empty() {
            return Some(Failure {
                expectation,
                message: format!("`{text}` never occurred after {anchor_text} (#{})", transcript[at].seq),
                context: excerpt(transcript, names, at.saturating_sub(2), 14),
                level,
            });
        }
    }
    None
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
