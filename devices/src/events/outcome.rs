//! How a role ended ([`Outcome`]), and the outcome names ([`OutcomeKind`]).

use serde::{Deserialize, Serialize};

use super::Abort;

/// How a role ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Sign-in completed with E2EE trust set up (A: B verified and secrets received;
    /// B: A verified and `verified` sent).
    Verified,
    /// Sign-in (or registration) completed without E2EE verification.
    Success,
    /// A security check failed.
    SecurityError {
        /// The failed check.
        reason: Abort,
    },
    /// The user declined on the existing device.
    Declined,
    /// The new device cancelled.
    Cancelled,
    /// The homeserver or the peer does not support the protocol.
    Unsupported,
    /// Both devices had the same intent.
    IncompatibleIntent,
    /// The rendezvous expired or was deleted before the flow finished.
    Expired,
    /// The homeserver refused an operation with a Matrix error (registrar).
    Rejected {
        /// HTTP status.
        status: u16,
        /// The errcode.
        errcode: String,
    },
    /// Any other failure.
    Error {
        /// What went wrong.
        reason: Abort,
    },
}

impl Outcome {
    /// The outcome's kind, without its details.
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::Verified => OutcomeKind::Verified,
            Outcome::Success => OutcomeKind::Success,
            Outcome::SecurityError { .. } => OutcomeKind::SecurityError,
            Outcome::Declined => OutcomeKind::Declined,
            Outcome::Cancelled => OutcomeKind::Cancelled,
            Outcome::Unsupported => OutcomeKind::Unsupported,
            Outcome::IncompatibleIntent => OutcomeKind::IncompatibleIntent,
            Outcome::Expired => OutcomeKind::Expired,
            Outcome::Rejected { .. } => OutcomeKind::Rejected,
            Outcome::Error { .. } => OutcomeKind::Error,
        }
    }

    /// The short name used by scenario files and the adapter protocol.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The failed check of a `security_error` or `error`.
    pub fn reason(&self) -> Option<&Abort> {
        match self {
            Outcome::SecurityError { reason } | Outcome::Error { reason } => Some(reason),
            _ => None,
        }
    }
}

/// The name of an [`Outcome`] without its details: what scenario files, transcripts
/// and the adapter protocol's `outcome` call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// [`Outcome::Verified`].
    Verified,
    /// [`Outcome::Success`].
    Success,
    /// [`Outcome::SecurityError`].
    SecurityError,
    /// [`Outcome::Declined`].
    Declined,
    /// [`Outcome::Cancelled`].
    Cancelled,
    /// [`Outcome::Unsupported`].
    Unsupported,
    /// [`Outcome::IncompatibleIntent`].
    IncompatibleIntent,
    /// [`Outcome::Expired`].
    Expired,
    /// [`Outcome::Rejected`].
    Rejected,
    /// [`Outcome::Error`].
    Error,
}

impl OutcomeKind {
    /// Every outcome name, in the order of the enum.
    pub const ALL: [OutcomeKind; 10] = [
        OutcomeKind::Verified,
        OutcomeKind::Success,
        OutcomeKind::SecurityError,
        OutcomeKind::Declined,
        OutcomeKind::Cancelled,
        OutcomeKind::Unsupported,
        OutcomeKind::IncompatibleIntent,
        OutcomeKind::Expired,
        OutcomeKind::Rejected,
        OutcomeKind::Error,
    ];

    /// The snake-case name, e.g. `security_error`.
    pub fn name(self) -> &'static str {
        match self {
            OutcomeKind::Verified => "verified",
            OutcomeKind::Success => "success",
            OutcomeKind::SecurityError => "security_error",
            OutcomeKind::Declined => "declined",
            OutcomeKind::Cancelled => "cancelled",
            OutcomeKind::Unsupported => "unsupported",
            OutcomeKind::IncompatibleIntent => "incompatible_intent",
            OutcomeKind::Expired => "expired",
            OutcomeKind::Rejected => "rejected",
            OutcomeKind::Error => "error",
        }
    }

    /// The kind named `name`, if there is one.
    pub fn parse(name: &str) -> Option<OutcomeKind> {
        OutcomeKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl std::fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_named_as_serde_tags_its_outcome() {
        let abort = || Abort::PeerSecurityError;
        let one_of_each = [
            Outcome::Verified,
            Outcome::Success,
            Outcome::SecurityError { reason: abort() },
            Outcome::Declined,
            Outcome::Cancelled,
            Outcome::Unsupported,
            Outcome::IncompatibleIntent,
            Outcome::Expired,
            Outcome::Rejected { status: 400, errcode: "M_X".into() },
            Outcome::Error { reason: abort() },
        ];
        let kinds: Vec<OutcomeKind> = one_of_each.iter().map(Outcome::kind).collect();
        assert_eq!(kinds, OutcomeKind::ALL, "one outcome of each kind, in order");
        for outcome in &one_of_each {
            let tag = serde_json::to_value(outcome).unwrap()["outcome"].as_str().unwrap().to_owned();
            assert_eq!(tag, outcome.name());
            assert_eq!(OutcomeKind::parse(&tag), Some(outcome.kind()));
        }
    }
}
