//! What a role reports: the messages it exchanged, the decisions it took, and how it
//! ended. The runner asserts on these as well as on the wire traffic.
//!
//! Each vocabulary is defined once, next to its enum: the outcome names
//! ([`OutcomeKind`]), the abort names ([`AbortKind`]) and the words of every decision
//! ([`Decision::TEMPLATES`], [`Decision::phrase`]). Scenario patterns, the adapter
//! protocol and the docs all take their names from here.

mod abort;
mod decision;
mod outcome;

pub use abort::{Abort, AbortKind};
pub use decision::{Decision, Slot};
pub use outcome::{Outcome, OutcomeKind};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One observable thing a role did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DeviceEvent {
    /// The device displays a QR code (its JSON text).
    ShowsQrCode {
        /// The QR code payload.
        payload: String,
    },
    /// The device displays the check code.
    ShowsCheckCode {
        /// `NNNN-NNNN-NNNN`.
        code: String,
    },
    /// A message the device sent on the rendezvous (the plaintext, for encrypted ones).
    ChannelSent {
        /// The message.
        message: Value,
        /// Whether it travelled encrypted.
        encrypted: bool,
    },
    /// A message the device received on the rendezvous (decrypted, as the device saw it).
    ChannelReceived {
        /// The message.
        message: Value,
        /// Whether it arrived encrypted.
        encrypted: bool,
    },
    /// A decision.
    Decision(Decision),
    /// The end of the role.
    Finished(Outcome),
}
