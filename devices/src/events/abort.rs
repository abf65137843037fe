//! Why a device aborted ([`Abort`]), and the names of the checks ([`AbortKind`]).

use serde::{Deserialize, Serialize};

/// Why a device aborted: each variant names exactly the check or rule that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "abort", rename_all = "snake_case")]
pub enum Abort {
    /// Step 17: the homeserver's key for the new device differs from `device_key`.
    #[error("device key mismatch for {device_id}: peer said {expected}, homeserver has {found}")]
    DeviceKeyMismatch {
        /// The device.
        device_id: String,
        /// What the peer claimed.
        expected: String,
        /// What the homeserver serves.
        found: String,
    },
    /// Step 16: the new device never appeared on the homeserver within the wait.
    #[error("device {device_id} did not appear on the homeserver within {waited_ms} ms")]
    DeviceNotVisible {
        /// The device.
        device_id: String,
        /// How long we waited.
        waited_ms: u64,
    },
    /// The device keys on the homeserver are malformed or not validly self-signed.
    #[error("device keys of {device_id} are invalid: {reason}")]
    InvalidDeviceKeys {
        /// The device.
        device_id: String,
        /// What was wrong.
        reason: String,
    },
    /// Step 20: `verifying_device_key` differs from the homeserver's.
    #[error("verifying device key mismatch for {device_id}: peer said {expected}, homeserver has {found}")]
    VerifyingDeviceKeyMismatch {
        /// The device.
        device_id: String,
        /// What the peer claimed.
        expected: String,
        /// What the homeserver serves.
        found: String,
    },
    /// Step 20: the homeserver does not list `verifying_device_id`.
    #[error("verifying device {device_id} is unknown to the homeserver")]
    VerifyingDeviceUnknown {
        /// The device.
        device_id: String,
    },
    /// Step 21a: `master_key` differs from the homeserver's master key.
    #[error("master key mismatch: peer said {expected}, homeserver has {found}")]
    MasterKeyMismatch {
        /// What the peer claimed.
        expected: String,
        /// What the homeserver serves.
        found: String,
    },
    /// Step 21a: the homeserver has no master key for the user (strict default, D7).
    #[error("the homeserver has no master key for the user")]
    MasterKeyMissingOnHomeserver,
    /// A cross-signing key on the homeserver is malformed or not signed by the master key.
    #[error("invalid cross-signing key on the homeserver: {reason}")]
    InvalidCrossSigningKey {
        /// What was wrong.
        reason: String,
    },
    /// The peer sent a message that does not fit the protocol state.
    #[error("unexpected message: expected {expected}, got {got}")]
    UnexpectedMessage {
        /// What the state allowed.
        expected: String,
        /// What arrived.
        got: String,
    },
    /// The peer sent something that is not a valid message.
    #[error("malformed message: {reason}")]
    MalformedMessage {
        /// What was wrong.
        reason: String,
    },
    /// The secure channel failed (decryption, envelope, key exchange).
    #[error("secure channel failure: {reason}")]
    Channel {
        /// What failed.
        reason: String,
    },
    /// The peer reported a security error.
    #[error("the peer reported a security error")]
    PeerSecurityError,
    /// The rendezvous session is gone (404 or expiry).
    #[error("rendezvous expired or deleted")]
    RendezvousGone,
    /// A wait ran out.
    #[error("timed out waiting for {what}")]
    Timeout {
        /// What we waited for.
        what: String,
    },
    /// Registrar: the homeserver accepted (on `/register`: stored) a key set that the
    /// knob `knob` made invalid, which a conforming server must refuse (a finding).
    #[error("the homeserver accepted a key set made invalid by `{knob}` on {request}")]
    ServerAcceptedInvalidKeys {
        /// The knob that made the set invalid (kebab-case name).
        knob: String,
        /// `METHOD path` of the request that was accepted.
        request: String,
    },
    /// The homeserver answered a request with an error or nonsense.
    #[error("homeserver error on {request}: {detail}")]
    Homeserver {
        /// `METHOD path`.
        request: String,
        /// Status and errcode, or what was malformed.
        detail: String,
    },
}

impl Abort {
    /// Whether this abort is a security error (a failed check of steps 16–21a).
    pub fn is_security_error(&self) -> bool {
        self.kind().is_security_error()
    }

    /// The name of the check or rule that failed, without its details.
    pub fn kind(&self) -> AbortKind {
        match self {
            Abort::DeviceKeyMismatch { .. } => AbortKind::DeviceKeyMismatch,
            Abort::DeviceNotVisible { .. } => AbortKind::DeviceNotVisible,
            Abort::InvalidDeviceKeys { .. } => AbortKind::InvalidDeviceKeys,
            Abort::VerifyingDeviceKeyMismatch { .. } => AbortKind::VerifyingDeviceKeyMismatch,
            Abort::VerifyingDeviceUnknown { .. } => AbortKind::VerifyingDeviceUnknown,
            Abort::MasterKeyMismatch { .. } => AbortKind::MasterKeyMismatch,
            Abort::MasterKeyMissingOnHomeserver => AbortKind::MasterKeyMissingOnHomeserver,
            Abort::InvalidCrossSigningKey { .. } => AbortKind::InvalidCrossSigningKey,
            Abort::UnexpectedMessage { .. } => AbortKind::UnexpectedMessage,
            Abort::MalformedMessage { .. } => AbortKind::MalformedMessage,
            Abort::Channel { .. } => AbortKind::Channel,
            Abort::PeerSecurityError => AbortKind::PeerSecurityError,
            Abort::RendezvousGone => AbortKind::RendezvousGone,
            Abort::Timeout { .. } => AbortKind::Timeout,
            Abort::ServerAcceptedInvalidKeys { .. } => AbortKind::ServerAcceptedInvalidKeys,
            Abort::Homeserver { .. } => AbortKind::Homeserver,
        }
    }
}

/// The name of an [`Abort`] without its details: what scenario files, transcripts
/// and the adapter protocol's `reason` call it (`master_key_mismatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbortKind {
    /// [`Abort::DeviceKeyMismatch`].
    DeviceKeyMismatch,
    /// [`Abort::DeviceNotVisible`].
    DeviceNotVisible,
    /// [`Abort::InvalidDeviceKeys`].
    InvalidDeviceKeys,
    /// [`Abort::VerifyingDeviceKeyMismatch`].
    VerifyingDeviceKeyMismatch,
    /// [`Abort::VerifyingDeviceUnknown`].
    VerifyingDeviceUnknown,
    /// [`Abort::MasterKeyMismatch`].
    MasterKeyMismatch,
    /// [`Abort::MasterKeyMissingOnHomeserver`].
    MasterKeyMissingOnHomeserver,
    /// [`Abort::InvalidCrossSigningKey`].
    InvalidCrossSigningKey,
    /// [`Abort::UnexpectedMessage`].
    UnexpectedMessage,
    /// [`Abort::MalformedMessage`].
    MalformedMessage,
    /// [`Abort::Channel`].
    Channel,
    /// [`Abort::PeerSecurityError`].
    PeerSecurityError,
    /// [`Abort::RendezvousGone`].
    RendezvousGone,
    /// [`Abort::Timeout`].
    Timeout,
    /// [`Abort::ServerAcceptedInvalidKeys`].
    ServerAcceptedInvalidKeys,
    /// [`Abort::Homeserver`].
    Homeserver,
}

impl AbortKind {
    /// Every abort name, in the order of the enum.
    pub const ALL: [AbortKind; 16] = [
        AbortKind::DeviceKeyMismatch,
        AbortKind::DeviceNotVisible,
        AbortKind::InvalidDeviceKeys,
        AbortKind::VerifyingDeviceKeyMismatch,
        AbortKind::VerifyingDeviceUnknown,
        AbortKind::MasterKeyMismatch,
        AbortKind::MasterKeyMissingOnHomeserver,
        AbortKind::InvalidCrossSigningKey,
        AbortKind::UnexpectedMessage,
        AbortKind::MalformedMessage,
        AbortKind::Channel,
        AbortKind::PeerSecurityError,
        AbortKind::RendezvousGone,
        AbortKind::Timeout,
        AbortKind::ServerAcceptedInvalidKeys,
        AbortKind::Homeserver,
    ];

    /// The snake-case name, e.g. `master_key_mismatch`.
    pub fn name(self) -> &'static str {
        match self {
            AbortKind::DeviceKeyMismatch => "device_key_mismatch",
            AbortKind::DeviceNotVisible => "device_not_visible",
            AbortKind::InvalidDeviceKeys => "invalid_device_keys",
            AbortKind::VerifyingDeviceKeyMismatch => "verifying_device_key_mismatch",
            AbortKind::VerifyingDeviceUnknown => "verifying_device_unknown",
            AbortKind::MasterKeyMismatch => "master_key_mismatch",
            AbortKind::MasterKeyMissingOnHomeserver => "master_key_missing_on_homeserver",
            AbortKind::InvalidCrossSigningKey => "invalid_cross_signing_key",
            AbortKind::UnexpectedMessage => "unexpected_message",
            AbortKind::MalformedMessage => "malformed_message",
            AbortKind::Channel => "channel",
            AbortKind::PeerSecurityError => "peer_security_error",
            AbortKind::RendezvousGone => "rendezvous_gone",
            AbortKind::Timeout => "timeout",
            AbortKind::ServerAcceptedInvalidKeys => "server_accepted_invalid_keys",
            AbortKind::Homeserver => "homeserver",
        }
    }

    /// The kind named `name`, if there is one.
    pub fn parse(name: &str) -> Option<AbortKind> {
        AbortKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether aborts of this kind are security errors (a failed check of MSC3906
    /// steps 16–21a, or the peer reporting one).
    pub fn is_security_error(self) -> bool {
        matches!(
            self,
            AbortKind::DeviceKeyMismatch
                | AbortKind::InvalidDeviceKeys
                | AbortKind::VerifyingDeviceKeyMismatch
                | AbortKind::VerifyingDeviceUnknown
                | AbortKind::MasterKeyMismatch
                | AbortKind::MasterKeyMissingOnHomeserver
                | AbortKind::InvalidCrossSigningKey
                | AbortKind::PeerSecurityError
        )
    }
}

impl std::fmt::Display for AbortKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_named_as_serde_tags_its_abort() {
        let text = || "x".to_owned();
        let one_of_each = [
            Abort::DeviceKeyMismatch { device_id: text(), expected: text(), found: text() },
            Abort::DeviceNotVisible { device_id: text(), waited_ms: 1 },
            Abort::InvalidDeviceKeys { device_id: text(), reason: text() },
            Abort::VerifyingDeviceKeyMismatch { device_id: text(), expected: text(), found: text() },
            Abort::VerifyingDeviceUnknown { device_id: text() },
            Abort::MasterKeyMismatch { expected: text(), found: text() },
            Abort::MasterKeyMissingOnHomeserver,
            Abort::InvalidCrossSigningKey { reason: text() },
            Abort::UnexpectedMessage { expected: text(), got: text() },
            Abort::MalformedMessage { reason: text() },
            Abort::Channel { reason: text() },
            Abort::PeerSecurityError,
            Abort::RendezvousGone,
            Abort::Timeout { what: text() },
            Abort::ServerAcceptedInvalidKeys { knob: text(), request: text() },
            Abort::Homeserver { request: text(), detail: text() },
        ];
        let kinds: Vec<AbortKind> = one_of_each.iter().map(Abort::kind).collect();
        assert_eq!(kinds, AbortKind::ALL, "one abort of each kind, in order");
        for abort in &one_of_each {
            let tag = serde_json::to_value(abort).unwrap()["abort"].as_str().unwrap().to_owned();
            assert_eq!(tag, abort.kind().name());
            assert_eq!(serde_json::to_value(abort.kind()).unwrap(), serde_json::json!(tag));
            assert_eq!(AbortKind::parse(&tag), Some(abort.kind()));
        }
    }
}
