//! Cross-signing keys (docs/protocol.md §7.4) and the checks of
//! `POST /keys/device_signing/upload`.
//!
//! A cross-signing key object is
//! `{"user_id", "usage": [..], "keys": {"ed25519:<pub>": "<pub>"}, "signatures"?}`.
//! The free functions [`check_shape`], [`public_key`] and [`verify_signed_by`]
//! let a server reproduce the validation table of §7.4 row by row.

mod keys;

pub use keys::CrossSigningKeys;

use std::fmt;

use serde_json::{json, Map, Value};

use crate::{
    key_id::{KeyId, ED25519},
    keys::{Ed25519Keypair, Ed25519PublicKey, KeyError},
    signing::{self, VerifyJsonError},
};

/// The usage of a cross-signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyUsage {
    /// The master key (`master`).
    Master,
    /// The self-signing key (`self_signing`), which signs the user's devices.
    SelfSigning,
    /// The user-signing key (`user_signing`), which signs other users' master keys.
    UserSigning,
}

impl KeyUsage {
    /// All three usages, master first.
    pub const ALL: [KeyUsage; 3] = [KeyUsage::Master, KeyUsage::SelfSigning, KeyUsage::UserSigning];

    /// The string in `usage`: `master`, `self_signing` or `user_signing`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyUsage::Master => "master",
            KeyUsage::SelfSigning => "self_signing",
            KeyUsage::UserSigning => "user_signing",
        }
    }

    /// The secret-storage name of the private key, e.g. `m.cross_signing.master`.
    pub fn secret_name(self) -> &'static str {
        match self {
            KeyUsage::Master => "m.cross_signing.master",
            KeyUsage::SelfSigning => "m.cross_signing.self_signing",
            KeyUsage::UserSigning => "m.cross_signing.user_signing",
        }
    }

    /// The body field of `/keys/device_signing/upload`, e.g. `master_key`.
    pub fn upload_field(self) -> &'static str {
        match self {
            KeyUsage::Master => "master_key",
            KeyUsage::SelfSigning => "self_signing_key",
            KeyUsage::UserSigning => "user_signing_key",
        }
    }

    /// The usage named by `s` (`master`, `self_signing`, `user_signing`).
    pub fn parse(s: &str) -> Option<KeyUsage> {
        KeyUsage::ALL.into_iter().find(|u| u.as_str() == s)
    }
}

impl fmt::Display for KeyUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a cross-signing key object is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrossSigningKeyError {
    /// The value is not a JSON object.
    #[error("the cross-signing key is not an object")]
    NotAnObject,
    /// A required field (`user_id`, `usage` or `keys`) is absent.
    #[error("the cross-signing key lacks `{0}`")]
    MissingField(&'static str),
    /// A field has the wrong JSON type (`user_id` not a string, `keys` not an
    /// object, `usage` with a non-string element).
    #[error("the cross-signing key field `{0}` has the wrong type")]
    WrongType(&'static str),
    /// `user_id` is not the expected user.
    #[error("the cross-signing key belongs to {found:?}, expected {expected:?}")]
    WrongUserId {
        /// The expected user ID.
        expected: String,
        /// The user ID in the object.
        found: String,
    },
    /// `usage` is not an array (Synapse accepts a string; the harness does not).
    #[error("`usage` is not an array")]
    UsageNotArray,
    /// `usage` does not contain the required usage.
    #[error("`usage` does not contain {0:?}")]
    MissingUsage(KeyUsage),
    /// `keys` has this many entries instead of exactly one.
    #[error("`keys` has {0} entries, expected exactly one")]
    KeyCount(usize),
    /// The key ID does not start with `ed25519:`.
    #[error("key ID {0:?} is not an ed25519 key ID")]
    KeyIdNotEd25519(String),
    /// The key value is not a base64 string.
    #[error("the public key is not base64")]
    KeyNotBase64,
    /// The key value decodes to this many bytes instead of 32.
    #[error("the public key has {0} bytes, expected 32")]
    KeyWrongLength(usize),
}

/// A parsed cross-signing key. `raw` is the original JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossSigningKey {
    /// `user_id`.
    pub user_id: String,
    /// `usage`.
    pub usage: Vec<String>,
    /// The single key ID in `keys` (`ed25519:<...>`).
    pub key_id: KeyId,
    /// The decoded public key.
    pub public_key: Ed25519PublicKey,
    /// The object as received.
    pub raw: Value,
}

fn as_object(value: &Value) -> Result<&Map<String, Value>, CrossSigningKeyError> {
    value.as_object().ok_or(CrossSigningKeyError::NotAnObject)
}

fn keys_map(object: &Map<String, Value>) -> Result<&Map<String, Value>, CrossSigningKeyError> {
    match object.get("keys") {
        None => Err(CrossSigningKeyError::MissingField("keys")),
        Some(Value::Object(keys)) => Ok(keys),
        Some(_) => Err(CrossSigningKeyError::WrongType("keys")),
    }
}

fn user_id(object: &Map<String, Value>) -> Result<&str, CrossSigningKeyError> {
    match object.get("user_id") {
        None => Err(CrossSigningKeyError::MissingField("user_id")),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(CrossSigningKeyError::WrongType("user_id")),
    }
}

fn usage_array(object: &Map<String, Value>) -> Result<&Vec<Value>, CrossSigningKeyError> {
    match object.get("usage") {
        None => Err(CrossSigningKeyError::MissingField("usage")),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(CrossSigningKeyError::UsageNotArray),
    }
}

/// Rows a/d/f of §7.4, in Synapse's order: `user_id` equals `expected_user`,
/// `usage` is an array containing `usage`, and `keys` has exactly one entry.
pub fn check_shape(value: &Value, expected_user: &str, usage: KeyUsage) -> Result<(), CrossSigningKeyError> {
    let object = as_object(value)?;
    let found = user_id(object)?;
    if found != expected_user {
        return Err(CrossSigningKeyError::WrongUserId {
            expected: expected_user.to_owned(),
            found: found.to_owned(),
        });
    }
    if !usage_array(object)?.iter().any(|u| u.as_str() == Some(usage.as_str())) {
        return Err(CrossSigningKeyError::MissingUsage(usage));
    }
    let keys = keys_map(object)?;
    if keys.len() != 1 {
        return Err(CrossSigningKeyError::KeyCount(keys.len()));
    }
    Ok(())
}

/// Rows c/h of §7.4: the single key ID must start with `ed25519:` and its value
/// must be base64 of 32 bytes. The returned key ID's name is taken verbatim
/// (Synapse never checks that it equals the value).
pub fn public_key(value: &Value) -> Result<(KeyId, Ed25519PublicKey), CrossSigningKeyError> {
    let keys = keys_map(as_object(value)?)?;
    let mut entries = keys.iter();
    let (id, key) = match (entries.next(), keys.len()) {
        (Some(entry), 1) => entry,
        _ => return Err(CrossSigningKeyError::KeyCount(keys.len())),
    };
    let name =
        id.strip_prefix("ed25519:").ok_or_else(|| CrossSigningKeyError::KeyIdNotEd25519(id.clone()))?;
    let key = key.as_str().ok_or(CrossSigningKeyError::KeyNotBase64)?;
    let key = Ed25519PublicKey::from_base64(key).map_err(|e| match e {
        KeyError::NotBase64(_) => CrossSigningKeyError::KeyNotBase64,
        KeyError::WrongLength { found, .. } => CrossSigningKeyError::KeyWrongLength(found),
    })?;
    Ok((KeyId::new(ED25519, name), key))
}

/// Rows e/g of §7.4: the signature at
/// `signatures[user_id]["ed25519:<master key-ID suffix>"]` verifies with
/// `master`. Pass the master's key ID as found in its `keys` map.
pub fn verify_signed_by(
    value: &Value,
    user_id: &str,
    master_key_id: &KeyId,
    master: &Ed25519PublicKey,
) -> Result<(), VerifyJsonError> {
    signing::verify_json(value, user_id, master_key_id, master)
}

impl CrossSigningKey {
    /// Structural checks without an expected user or usage: an object with a
    /// string `user_id`, `usage` an array of strings, and exactly one
    /// decodable `ed25519:` key. Signatures are not checked.
    pub fn parse(value: &Value) -> Result<Self, CrossSigningKeyError> {
        let object = as_object(value)?;
        let user_id = user_id(object)?.to_owned();
        let usage = usage_array(object)?
            .iter()
            .map(|u| u.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or(CrossSigningKeyError::WrongType("usage"))?;
        let (key_id, public_key) = public_key(value)?;
        Ok(CrossSigningKey { user_id, usage, key_id, public_key, raw: value.clone() })
    }

    /// Whether `usage` contains `usage`.
    pub fn has_usage(&self, usage: KeyUsage) -> bool {
        self.usage.iter().any(|u| u == usage.as_str())
    }

    /// Builds `{"user_id", "usage": [usage], "keys": {"ed25519:<pub>": "<pub>"}}`,
    /// signed under `user_id` by `signer` when given.
    pub fn signed_json(
        user_id: &str,
        usage: KeyUsage,
        key: &Ed25519PublicKey,
        signer: Option<(&KeyId, &Ed25519Keypair)>,
    ) -> Value {
        let mut value = json!({
            "user_id": user_id,
            "usage": [usage.as_str()],
            "keys": { KeyId::ed25519_cross_signing(key).to_string(): key.to_base64() },
        });
        if let Some((key_id, keypair)) = signer {
            signing::sign_json(&mut value, user_id, key_id, keypair)
                .expect("an object of strings is always signable");
        }
        value
    }
}

#[cfg(test)]
mod tests;
