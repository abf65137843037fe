//! What a role reports: the messages it exchanged, the decisions it took, and how it
//! ended. The runner asserts on these as well as on the wire traffic.

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

/// A decision a device took, in the words of the protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Step 4: whether the homeserver offers the login token.
    CheckedLoginTokenSupport {
        /// Supported or not.
        supported: bool,
    },
    /// Whether the two intents fit (one `login.start`, one `login.reciprocate`).
    CheckedIntents {
        /// Compatible or not.
        compatible: bool,
    },
    /// The user approved or declined on the existing device.
    UserChose {
        /// True for approve.
        approved: bool,
    },
    /// The new device logged in with the token.
    LoggedIn {
        /// The new device's ID.
        device_id: String,
    },
    /// Device keys (and one-time keys) uploaded.
    UploadedDeviceKeys {
        /// The device.
        device_id: String,
    },
    /// Step 17 / 20: a device key compared with the homeserver's copy.
    CheckedDeviceKey {
        /// The device checked.
        device_id: String,
        /// Whether it matched.
        matched: bool,
    },
    /// Step 21a: the master key compared with the homeserver's.
    CheckedMasterKey {
        /// Whether it matched.
        matched: bool,
    },
    /// Step 21b: the master key is trusted.
    TrustedMasterKey {
        /// The key (b64).
        master_key: String,
    },
    /// Step 18a / 22: a device is marked verified locally.
    MarkedVerified {
        /// The device.
        device_id: String,
    },
    /// Step 18b: the device was cross-signed and the signature uploaded.
    CrossSigned {
        /// The device.
        device_id: String,
    },
    /// Step 18b failed: the homeserver did not accept the cross-signature upload
    /// (A's device stays locally verified; the flow goes on with step 19).
    CrossSigningRejected {
        /// The device.
        device_id: String,
        /// The homeserver's answer (its `failures` entry, or the error).
        detail: String,
    },
    /// Step 23: a secret was requested.
    RequestedSecret {
        /// Secret name.
        name: String,
    },
    /// The existing device shared a secret.
    SharedSecret {
        /// Secret name.
        name: String,
        /// The device it went to.
        device_id: String,
    },
    /// The existing device refused a secret request.
    RefusedSecretRequest {
        /// Secret name (or `?`).
        name: String,
        /// Requesting device.
        device_id: String,
        /// Why.
        reason: String,
    },
    /// The new device accepted and stored a secret.
    AcceptedSecret {
        /// Secret name.
        name: String,
    },
    /// The new device dropped an `m.secret.send` (unsolicited, unencrypted, wrong value, ...).
    IgnoredSecret {
        /// Secret name if known, or `?`.
        name: String,
        /// Why.
        reason: String,
    },
    /// Registrar: whether `/versions` advertises `org.matrix.msc2912`.
    CheckedMsc2912Support {
        /// Advertised or not.
        supported: bool,
    },
    /// Registrar: `device_signing` was sent in `/register` under this field name.
    SentDeviceSigning {
        /// `device_signing` or `org.matrix.msc2912.device_signing`.
        field: String,
    },
    /// Registrar: after registering, the homeserver's keys were compared with ours.
    CheckedOwnKeys {
        /// Whether all three matched.
        matched: bool,
    },
    /// Registrar: uploaded the keys through `/keys/device_signing/upload`.
    ReuploadedKeys {
        /// Whether UIA with the password was needed.
        with_password: bool,
    },
    /// Registrar: the device was signed with the self-signing key.
    SignedOwnDevice {
        /// The device.
        device_id: String,
    },
    /// Registrar: the server accepted a key set that it must reject (a finding).
    ServerAcceptedInvalidKeys {
        /// Which knob made the set invalid.
        knob: String,
    },
    /// The flow was aborted.
    Aborted {
        /// Why.
        reason: Abort,
    },
}

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
        matches!(
            self,
            Abort::DeviceKeyMismatch { .. }
                | Abort::InvalidDeviceKeys { .. }
                | Abort::VerifyingDeviceKeyMismatch { .. }
                | Abort::VerifyingDeviceUnknown { .. }
                | Abort::MasterKeyMismatch { .. }
                | Abort::MasterKeyMissingOnHomeserver
                | Abort::InvalidCrossSigningKey { .. }
                | Abort::PeerSecurityError
        )
    }
}

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
    /// The short name used by scenario files and the adapter protocol.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Verified => "verified",
            Outcome::Success => "success",
            Outcome::SecurityError { .. } => "security_error",
            Outcome::Declined => "declined",
            Outcome::Cancelled => "cancelled",
            Outcome::Unsupported => "unsupported",
            Outcome::IncompatibleIntent => "incompatible_intent",
            Outcome::Expired => "expired",
            Outcome::Rejected { .. } => "rejected",
            Outcome::Error { .. } => "error",
        }
    }
}
