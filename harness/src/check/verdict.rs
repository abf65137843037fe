//! Verdicts of a scenario run.

use serde::Serialize;

/// The verdict of one scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
pub enum Verdict {
    /// Every expectation held.
    Pass,
    /// Every MUST held, but a SHOULD did not.
    NonStrict,
    /// The implementation says it does not implement this role or feature.
    Unimplemented,
    /// The scenario does not apply, or an expectations file skips it.
    Skipped,
    /// A MUST failed, a role did not finish in time, or the run broke.
    Fail,
}

impl Verdict {
    /// Every verdict, in report order.
    pub const ALL: [Verdict; 5] =
        [Verdict::Pass, Verdict::NonStrict, Verdict::Unimplemented, Verdict::Skipped, Verdict::Fail];

    /// The upper-case label used in reports.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::NonStrict => "NON-STRICT",
            Verdict::Unimplemented => "UNIMPLEMENTED",
            Verdict::Skipped => "SKIPPED",
            Verdict::Fail => "FAIL",
        }
    }

    /// Whether the run as a whole may still succeed with this verdict.
    pub fn is_success(self) -> bool {
        !matches!(self, Verdict::Fail)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}
