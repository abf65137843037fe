//! Shrinking a violating case to a minimal one: delta debugging over its
//! ingredients, one at a time (a case has at most a handful). An ingredient goes when
//! the case without it still breaks the same invariant; the result is 1-minimal:
//! removing any one remaining ingredient makes the violation go away.

use super::case::Case;
use super::invariants::Violation;
use super::play::{play, Checked, Target};

/// The most runs one shrink may make.
pub const MAX_SHRINK_RUNS: usize = 64;

/// A case shrunk, with the violation and the run it gave.
pub struct Shrunk {
    /// The minimal case.
    pub case: Case,
    /// Its violation of the invariant.
    pub violation: Violation,
    /// Its run.
    pub checked: Checked,
    /// Runs the shrink made.
    pub runs: usize,
}

/// Shrinks `case`, whose run `checked` broke `violation.invariant`.
pub async fn shrink(case: Case, violation: Violation, checked: Checked, target: &Target) -> Shrunk {
    let invariant = violation.invariant;
    let mut best = Shrunk { case, violation, checked, runs: 0 };
    let mut index = 0;
    while index < best.case.ingredients.len() && best.runs < MAX_SHRINK_RUNS {
        let candidate = best.case.without(index);
        best.runs += 1;
        let still = match play(&candidate, target).await {
            Ok(checked) => checked
                .violations
                .iter()
                .find(|v| v.invariant == invariant)
                .cloned()
                .map(|violation| (violation, checked)),
            Err(_) => None,
        };
        match still {
            Some((violation, checked)) => {
                best.case = candidate;
                best.violation = violation;
                best.checked = checked;
            }
            None => index += 1,
        }
    }
    best
}
