//! Secret sharing contents and values (docs/protocol.md §6.1, §6.4, rule 8 of §6.2).
//!
//! * [`SecretName`]: the four secret names and their wire strings.
//! * Encodings: cross-signing secrets are the b64 of the 32-byte Ed25519 seed,
//!   the backup secret the b64 of the 32-byte Curve25519 private key. Simulated
//!   devices send unpadded ([`encode_ed25519_seed`], [`BackupKey::to_secret`])
//!   and accept padded or unpadded ([`check_cross_signing_secret`],
//!   [`check_backup_secret`]).
//! * Contents: `m.secret.request` ([`request_content`], [`cancellation_content`],
//!   [`parse_secret_request`]) and `m.secret.send` ([`secret_send_content`],
//!   [`parse_secret_send`]).

use std::fmt;

use protocol::{
    cross_signing::KeyUsage,
    key_id::KeyId,
    keys::{Curve25519PublicKey, Ed25519Keypair, Ed25519PublicKey},
    signing,
};
use rand::{CryptoRng, RngCore};
use serde_json::{json, Map, Value};
use x25519_dalek::{PublicKey, StaticSecret};

use super::DeviceCrypto;

/// The key backup algorithm whose private key is `m.megolm_backup.v1`.
pub const BACKUP_ALGORITHM: &str = "m.megolm_backup.v1.curve25519-aes-sha2";

/// A secret that devices share (§6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretName {
    /// `m.cross_signing.master`.
    CrossSigningMaster,
    /// `m.cross_signing.self_signing`.
    CrossSigningSelfSigning,
    /// `m.cross_signing.user_signing`.
    CrossSigningUserSigning,
    /// `m.megolm_backup.v1`.
    MegolmBackupV1,
}

impl SecretName {
    /// The four names, in the order devices request them.
    pub const ALL: [SecretName; 4] = [
        SecretName::CrossSigningMaster,
        SecretName::CrossSigningSelfSigning,
        SecretName::CrossSigningUserSigning,
        SecretName::MegolmBackupV1,
    ];

    /// The wire string, e.g. `m.cross_signing.master`.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretName::CrossSigningMaster => "m.cross_signing.master",
            SecretName::CrossSigningSelfSigning => "m.cross_signing.self_signing",
            SecretName::CrossSigningUserSigning => "m.cross_signing.user_signing",
            SecretName::MegolmBackupV1 => "m.megolm_backup.v1",
        }
    }

    /// The name with this wire string.
    pub fn parse(s: &str) -> Option<SecretName> {
        SecretName::ALL.into_iter().find(|n| n.as_str() == s)
    }

    /// The cross-signing key whose seed this secret is, if it is one.
    pub fn key_usage(self) -> Option<KeyUsage> {
        match self {
            SecretName::CrossSigningMaster => Some(KeyUsage::Master),
            SecretName::CrossSigningSelfSigning => Some(KeyUsage::SelfSigning),
            SecretName::CrossSigningUserSigning => Some(KeyUsage::UserSigning),
            SecretName::MegolmBackupV1 => None,
        }
    }

    /// The secret holding the seed of a cross-signing key.
    pub fn for_usage(usage: KeyUsage) -> SecretName {
        match usage {
            KeyUsage::Master => SecretName::CrossSigningMaster,
            KeyUsage::SelfSigning => SecretName::CrossSigningSelfSigning,
            KeyUsage::UserSigning => SecretName::CrossSigningUserSigning,
        }
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a received secret is not consistent with the published key (rule 8).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The secret is not base64.
    #[error("the secret is not base64")]
    NotBase64,
    /// The secret decodes to this many bytes instead of 32.
    #[error("the secret has {0} bytes, expected 32")]
    WrongLength(usize),
    /// The published public key (e.g. `auth_data.public_key`) does not decode.
    #[error("the published public key is not a 32-byte base64 key")]
    BadPublishedKey,
    /// The secret derives another public key than the published one.
    #[error("the secret derives {derived}, but {published} is published")]
    PublicKeyMismatch {
        /// The published public key.
        published: String,
        /// The public key the secret derives.
        derived: String,
    },
}

fn decode_secret(secret_b64: &str) -> Result<[u8; 32], SecretError> {
    let bytes = protocol::base64::decode(secret_b64).map_err(|_| SecretError::NotBase64)?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| SecretError::WrongLength(bytes.len()))
}

/// The secret value of a cross-signing key: its 32-byte seed in unpadded b64.
pub fn encode_ed25519_seed(seed: &[u8; 32]) -> String {
    protocol::base64::encode(seed)
}

/// Rule 8 for a cross-signing secret: it decodes (padded or not) to a
/// 32-byte Ed25519 seed whose public key is `published`.
pub fn check_cross_signing_secret(secret_b64: &str, published: &Ed25519PublicKey) -> Result<(), SecretError> {
    let derived = Ed25519Keypair::from_seed(&decode_secret(secret_b64)?).public_key();
    if derived != *published {
        return Err(SecretError::PublicKeyMismatch {
            published: published.to_base64(),
            derived: derived.to_base64(),
        });
    }
    Ok(())
}

/// Rule 8 for `m.megolm_backup.v1`: the secret decodes (padded or not) to a
/// 32-byte Curve25519 private key whose public key is the backup's
/// `auth_data.public_key`.
pub fn check_backup_secret(secret_b64: &str, auth_data_public_key_b64: &str) -> Result<(), SecretError> {
    let published = Curve25519PublicKey::from_base64(auth_data_public_key_b64)
        .map_err(|_| SecretError::BadPublishedKey)?;
    let derived = BackupKey::from_bytes(decode_secret(secret_b64)?).public_key();
    if derived != published {
        return Err(SecretError::PublicKeyMismatch {
            published: published.to_base64(),
            derived: derived.to_base64(),
        });
    }
    Ok(())
}

/// The private key of a `m.megolm_backup.v1.curve25519-aes-sha2` key backup.
///
/// `Debug` shows only the public key.
#[derive(Clone)]
pub struct BackupKey {
    secret: StaticSecret,
}

impl fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackupKey").field("public_key", &self.public_key()).finish_non_exhaustive()
    }
}

impl BackupKey {
    /// A fresh key from the caller's RNG.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        Self { secret: StaticSecret::random_from_rng(rng) }
    }

    /// The key with these 32 private bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self { secret: StaticSecret::from(bytes) }
    }

    /// The key encoded in a received secret (padded or unpadded b64).
    pub fn from_secret(secret_b64: &str) -> Result<Self, SecretError> {
        Ok(Self::from_bytes(decode_secret(secret_b64)?))
    }

    /// The secret value: the 32 private bytes in unpadded b64.
    pub fn to_secret(&self) -> String {
        protocol::base64::encode(self.secret.to_bytes())
    }

    /// The Curve25519 public key.
    pub fn public_key(&self) -> Curve25519PublicKey {
        Curve25519PublicKey::from_bytes(PublicKey::from(&self.secret).to_bytes())
    }

    /// The public key in unpadded b64, as in `auth_data.public_key`.
    pub fn public_key_b64(&self) -> String {
        self.public_key().to_base64()
    }

    /// The backup's `auth_data`, `{"public_key", "signatures"}`, signed by the
    /// master key of `user_id` (under `ed25519:<master public key>`) and/or by
    /// a device of that user (under `ed25519:<device id>`).
    pub fn auth_data(
        &self,
        user_id: &str,
        master: Option<&Ed25519Keypair>,
        device: Option<&DeviceCrypto>,
    ) -> Value {
        let mut auth_data = json!({ "public_key": self.public_key_b64(), "signatures": {} });
        if let Some(master) = master {
            let key_id = KeyId::ed25519_cross_signing(&master.public_key());
            // An object of strings always canonicalises.
            let _ = signing::sign_json(&mut auth_data, user_id, &key_id, master);
        }
        if let Some(device) = device {
            let _ = device.sign_json(&mut auth_data);
        }
        auth_data
    }

    /// The body of `POST /room_keys/version` for this key and `auth_data`.
    pub fn version_body(auth_data: Value) -> Value {
        json!({ "algorithm": BACKUP_ALGORITHM, "auth_data": auth_data })
    }
}

/// The `action` of an `m.secret.request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretAction {
    /// `request`.
    Request,
    /// `request_cancellation`.
    RequestCancellation,
}

impl SecretAction {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretAction::Request => "request",
            SecretAction::RequestCancellation => "request_cancellation",
        }
    }
}

/// A parsed `m.secret.request` content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRequest {
    /// `action`.
    pub action: SecretAction,
    /// `name`: present for `request` (any string; see [`SecretRequest::secret_name`]).
    pub name: Option<String>,
    /// `requesting_device_id`.
    pub requesting_device_id: String,
    /// `request_id`.
    pub request_id: String,
}

impl SecretRequest {
    /// The requested secret, if `name` is one of the four known names.
    pub fn secret_name(&self) -> Option<SecretName> {
        self.name.as_deref().and_then(SecretName::parse)
    }
}

/// A parsed `m.secret.send` content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSend {
    /// `request_id`.
    pub request_id: String,
    /// `secret`.
    pub secret: String,
}

/// Why a secret request or send content is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    /// The content is not a JSON object.
    #[error("the content is not an object")]
    NotAnObject,
    /// A required field is absent.
    #[error("the content lacks `{0}`")]
    MissingField(&'static str),
    /// A field is not a string.
    #[error("`{0}` is not a string")]
    NotAString(&'static str),
    /// `action` is neither `request` nor `request_cancellation`.
    #[error("unknown action {0:?}")]
    UnknownAction(String),
}

fn string_field(object: &Map<String, Value>, name: &'static str) -> Result<String, ContentError> {
    match object.get(name) {
        None => Err(ContentError::MissingField(name)),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ContentError::NotAString(name)),
    }
}

/// The content of an `m.secret.request` asking for `name`.
pub fn request_content(name: SecretName, requesting_device_id: &str, request_id: &str) -> Value {
    json!({
        "name": name.as_str(),
        "action": SecretAction::Request.as_str(),
        "requesting_device_id": requesting_device_id,
        "request_id": request_id,
    })
}

/// The content of an `m.secret.request` cancelling `request_id`.
pub fn cancellation_content(requesting_device_id: &str, request_id: &str) -> Value {
    json!({
        "action": SecretAction::RequestCancellation.as_str(),
        "requesting_device_id": requesting_device_id,
        "request_id": request_id,
    })
}

/// Parses an `m.secret.request` content (§6.1): `action`,
/// `requesting_device_id` and `request_id` are required strings, and `name`
/// is too when `action` is `request`. Other fields (`org.matrix.msgid`) are
/// ignored.
pub fn parse_secret_request(content: &Value) -> Result<SecretRequest, ContentError> {
    let object = content.as_object().ok_or(ContentError::NotAnObject)?;
    let action = match string_field(object, "action")?.as_str() {
        "request" => SecretAction::Request,
        "request_cancellation" => SecretAction::RequestCancellation,
        other => return Err(ContentError::UnknownAction(other.to_owned())),
    };
    let requesting_device_id = string_field(object, "requesting_device_id")?;
    let request_id = string_field(object, "request_id")?;
    let name = match action {
        SecretAction::Request => Some(string_field(object, "name")?),
        SecretAction::RequestCancellation => None,
    };
    Ok(SecretRequest { action, name, requesting_device_id, request_id })
}

/// The content of an `m.secret.send`: `{"request_id", "secret"}`.
pub fn secret_send_content(request_id: &str, secret: &str) -> Value {
    json!({ "request_id": request_id, "secret": secret })
}

/// Parses an `m.secret.send` content (rule 3: `request_id` and `secret` are strings).
pub fn parse_secret_send(content: &Value) -> Result<SecretSend, ContentError> {
    let object = content.as_object().ok_or(ContentError::NotAnObject)?;
    Ok(SecretSend {
        request_id: string_field(object, "request_id")?,
        secret: string_field(object, "secret")?,
    })
}
