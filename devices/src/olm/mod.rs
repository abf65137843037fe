//! Olm for the simulated devices (docs/protocol.md §6, §7.1, §7.3), sans-I/O.
//!
//! * [`DeviceCrypto`] is the Olm identity of one simulated device: its signed
//!   `device_keys` and one-time keys for `/keys/upload`, and its Olm sessions.
//! * Secret sending (B, the sharer, §6.3): [`DeviceCrypto::encrypt_to_device`]
//!   checks a claimed one-time key, opens (or reuses) an outbound session and
//!   builds the `m.room.encrypted` to-device content.
//! * Receiving (A, §6.2 rules 1 and 2): [`DeviceCrypto::decrypt_to_device`] and
//!   [`check_sender_keys`].
//! * [`secrets`]: the secret names and encodings of §6.4, the checks of rule 8,
//!   and the `m.secret.request` / `m.secret.send` contents.
//!
//! Olm itself is vodozemac 0.11; its keys draw their own randomness.

mod account;
mod secret_send;
pub mod secrets;

pub use account::DeviceCrypto;
pub use secret_send::{check_sender_device_keys, check_sender_keys, DecryptedEvent, RecipientDevice};

use protocol::{
    device_keys::DeviceKeysError,
    keys::{Curve25519PublicKey, Ed25519PublicKey},
    signing::VerifyJsonError,
};
use serde_json::{json, Value};

/// The Olm algorithm name, in `algorithms` and in `m.room.encrypted` contents.
pub const OLM_ALGORITHM: &str = "m.olm.v1.curve25519-aes-sha2";
/// The Megolm algorithm name, advertised in `algorithms`.
pub const MEGOLM_ALGORITHM: &str = "m.megolm.v1.aes-sha2";
/// The algorithm of one-time and fallback keys, `signed_curve25519`.
pub const SIGNED_CURVE25519: &str = "signed_curve25519";
/// The event type of Olm-encrypted to-device events.
pub const ENCRYPTED_EVENT_TYPE: &str = "m.room.encrypted";

/// Why an Olm operation failed. Each variant names one rule of §6.2 / §6.3.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OlmError {
    /// Rule 1: the content is not an object with `algorithm`
    /// `m.olm.v1.curve25519-aes-sha2` (the found algorithm, if any).
    #[error("not an Olm event (algorithm {0:?})")]
    NotOlm(Option<String>),
    /// Rule 1: a required member of the encrypted content is missing or
    /// malformed (`sender_key`, `ciphertext`, `type`, `body`).
    #[error("malformed m.room.encrypted content: {0}")]
    MalformedContent(String),
    /// Rule 1: `ciphertext` has no entry for our Curve25519 key.
    #[error("no ciphertext for our Curve25519 key")]
    NoCiphertextForUs,
    /// Rule 1: the Olm message `type` is neither 0 nor 1.
    #[error("unknown Olm message type {0}")]
    UnknownMessageType(String),
    /// Rule 1: the Olm message does not decode or decrypt, or no session
    /// decrypts it.
    #[error("Olm decryption failed: {0}")]
    Decryption(String),
    /// The decrypted plaintext is not the JSON object §6.1 describes.
    #[error("bad decrypted payload: {0}")]
    BadPayload(String),
    /// Rule 2: the payload's `sender` is not the event's sender.
    #[error("payload sender {found:?} is not the event sender {expected:?}")]
    SenderMismatch {
        /// The event's `sender`.
        expected: String,
        /// The payload's `sender`.
        found: String,
    },
    /// Rule 2: the payload's `recipient` is not our user.
    #[error("payload recipient {found:?} is not us ({expected:?})")]
    RecipientMismatch {
        /// Our user ID.
        expected: String,
        /// The payload's `recipient`.
        found: String,
    },
    /// Rule 2: `recipient_keys.ed25519` is not our Ed25519 key.
    #[error("payload recipient_keys.ed25519 {found} is not our key {expected}")]
    RecipientKeyMismatch {
        /// Our Ed25519 key.
        expected: Ed25519PublicKey,
        /// The payload's `recipient_keys.ed25519`.
        found: String,
    },
    /// Rule 2: `keys.ed25519` is not the Ed25519 key of the device that owns
    /// `sender_key` according to `/keys/query`.
    #[error("payload keys.ed25519 {found} is not the sender device's key {expected}")]
    SenderKeyMismatch {
        /// The Ed25519 key `/keys/query` gives for the sending device.
        expected: Ed25519PublicKey,
        /// The payload's `keys.ed25519`.
        found: Ed25519PublicKey,
    },
    /// Rule 2: `sender_device_keys` is present but does not fit.
    #[error("bad sender_device_keys: {0}")]
    SenderDeviceKeys(String),
    /// §6.3: the claimed one-time key object is malformed.
    #[error("bad claimed one-time key: {0}")]
    BadClaimedKey(String),
    /// §6.3: the claimed one-time key is not signed by the device's Ed25519 key.
    #[error("claimed one-time key signature: {0}")]
    BadOneTimeKeySignature(VerifyJsonError),
    /// Sending needs a session with this Curve25519 key, and there is none
    /// (claim a one-time key first).
    #[error("no Olm session with {0:?}")]
    NoSession(Curve25519PublicKey),
    /// vodozemac refused to create an outbound session (e.g. a
    /// non-contributory one-time key).
    #[error("cannot create an Olm session: {0}")]
    SessionCreation(String),
    /// Encryption failed, or the plaintext is not encodable.
    #[error("Olm encryption failed: {0}")]
    Encryption(String),
}

impl From<DeviceKeysError> for OlmError {
    fn from(error: DeviceKeysError) -> Self {
        OlmError::SenderDeviceKeys(error.to_string())
    }
}

/// The body of `PUT /sendToDevice/{type}/{txn}` carrying one message:
/// `{"messages":{"<user>":{"<device or *>":<content>}}}`.
pub fn to_device_body(user_id: &str, device_id: &str, content: Value) -> Value {
    json!({ "messages": { user_id: { device_id: content } } })
}
