//! [`DeviceCrypto`]: the Olm account of one simulated device, its published
//! keys (docs/protocol.md §7.1) and its Olm sessions.

use std::collections::HashMap;

use protocol::{
    canonical_json,
    key_id::KeyId,
    keys::{Curve25519PublicKey, Ed25519Keypair, Ed25519PublicKey, Ed25519Signature},
    signing::{self, SignJsonError},
};
use serde_json::{json, Map, Value};
use vodozemac::olm::{Account, Session};

use super::{MEGOLM_ALGORITHM, OLM_ALGORITHM, SIGNED_CURVE25519};

/// The seed of the key that signs [`DeviceCrypto::device_keys_json_signed_by_wrong_key`]:
/// fixed, so that the misbehaviour is reproducible, and unrelated to any device.
const WRONG_KEY_SEED: [u8; 32] = [0xA5; 32];

/// The Olm identity of one simulated device: the vodozemac account (Ed25519
/// fingerprint key, Curve25519 identity key, one-time keys) and the Olm
/// sessions with other devices, keyed by their Curve25519 identity key.
pub struct DeviceCrypto {
    pub(super) user_id: String,
    pub(super) device_id: String,
    pub(super) account: Account,
    /// Sessions per peer Curve25519 key, oldest first; the last one is used to send.
    pub(super) sessions: HashMap<Curve25519PublicKey, Vec<Session>>,
}

impl std::fmt::Debug for DeviceCrypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCrypto")
            .field("user_id", &self.user_id)
            .field("device_id", &self.device_id)
            .field("ed25519", &self.ed25519_key())
            .field("curve25519", &self.curve25519_key())
            .field("sessions", &self.sessions.values().map(Vec::len).sum::<usize>())
            .finish_non_exhaustive()
    }
}

impl DeviceCrypto {
    /// A fresh Olm account for `device_id` of `user_id` (vodozemac draws the keys).
    pub fn new(user_id: &str, device_id: &str) -> Self {
        Self {
            user_id: user_id.to_owned(),
            device_id: device_id.to_owned(),
            account: Account::new(),
            sessions: HashMap::new(),
        }
    }

    /// The user ID.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The device ID.
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// The device's Ed25519 (fingerprint) key.
    pub fn ed25519_key(&self) -> Ed25519PublicKey {
        Ed25519PublicKey::from_bytes(*self.account.ed25519_key().as_bytes())
    }

    /// The device's Curve25519 (identity) key.
    pub fn curve25519_key(&self) -> Curve25519PublicKey {
        Curve25519PublicKey::from_bytes(self.account.curve25519_key().to_bytes())
    }

    /// The ID of the device's signing key, `ed25519:<device_id>`.
    pub fn ed25519_key_id(&self) -> KeyId {
        KeyId::ed25519_device(&self.device_id)
    }

    /// Signs raw bytes with the device's Ed25519 key.
    pub fn sign(&self, message: &[u8]) -> Ed25519Signature {
        Ed25519Signature::from_bytes(self.account.sign(message).to_bytes())
    }

    /// Signs a JSON object with the device key, storing the signature at
    /// `signatures[<user>]["ed25519:<device>"]` (keeps other signatures and
    /// `unsigned`). Use it for the device's signature on its own master key or
    /// on a backup's `auth_data`.
    pub fn sign_json(&self, value: &mut Value) -> Result<(), SignJsonError> {
        let input = canonical_json::signing_input(value).map_err(|e| match e {
            canonical_json::CanonicalJsonError::NotAnObject => SignJsonError::NotAnObject,
            other => SignJsonError::NotCanonical(other),
        })?;
        let signature = self.sign(input.as_bytes());
        signing::insert_signature(value, &self.user_id, &self.ed25519_key_id(), &signature)
    }

    fn unsigned_device_keys(&self) -> Value {
        json!({
            "user_id": self.user_id,
            "device_id": self.device_id,
            "algorithms": [OLM_ALGORITHM, MEGOLM_ALGORITHM],
            "keys": {
                KeyId::curve25519_device(&self.device_id).to_string(): self.curve25519_key().to_base64(),
                self.ed25519_key_id().to_string(): self.ed25519_key().to_base64(),
            },
        })
    }

    /// The `device_keys` object of `/keys/upload` (§7.1), self-signed under
    /// `ed25519:<device_id>`.
    pub fn device_keys_json(&self) -> Value {
        let mut value = self.unsigned_device_keys();
        // An object of strings always canonicalises.
        let _ = self.sign_json(&mut value);
        value
    }

    /// Misbehaviour: the `device_keys` object with a signature under
    /// `ed25519:<device_id>` made by a key other than the advertised one.
    pub fn device_keys_json_signed_by_wrong_key(&self) -> Value {
        let mut value = self.unsigned_device_keys();
        let wrong = Ed25519Keypair::from_seed(&WRONG_KEY_SEED);
        let _ = signing::sign_json(&mut value, &self.user_id, &self.ed25519_key_id(), &wrong);
        value
    }

    /// Generates `count` one-time keys and returns every unpublished one as the
    /// `one_time_keys` object of `/keys/upload`:
    /// `{"signed_curve25519:<id>": {"key", "signatures"}}`, each signed by the
    /// device. Call [`DeviceCrypto::mark_published`] once the upload succeeded.
    pub fn one_time_keys_json(&mut self, count: usize) -> Value {
        self.account.generate_one_time_keys(count);
        let mut keys = Map::new();
        let mut unpublished: Vec<_> = self.account.one_time_keys().into_iter().collect();
        unpublished.sort_by_key(|(id, _)| *id);
        for (key_id, key) in unpublished {
            let id = format!("{SIGNED_CURVE25519}:{}", key_id.to_base64());
            keys.insert(id, self.signed_key_object(&key.to_base64(), false));
        }
        Value::Object(keys)
    }

    /// Generates a new fallback key and returns the `fallback_keys` object of
    /// `/keys/upload`: `{"signed_curve25519:<id>": {"key", "fallback": true,
    /// "signatures"}}`.
    pub fn fallback_key_json(&mut self) -> Value {
        self.account.generate_fallback_key();
        let mut keys = Map::new();
        for (key_id, key) in self.account.fallback_key() {
            let id = format!("{SIGNED_CURVE25519}:{}", key_id.to_base64());
            keys.insert(id, self.signed_key_object(&key.to_base64(), true));
        }
        Value::Object(keys)
    }

    fn signed_key_object(&self, key_b64: &str, fallback: bool) -> Value {
        let mut object = json!({ "key": key_b64 });
        if fallback {
            object["fallback"] = Value::Bool(true);
        }
        let _ = self.sign_json(&mut object);
        object
    }

    /// Marks the one-time and fallback keys returned so far as published.
    pub fn mark_published(&mut self) {
        self.account.mark_keys_as_published();
    }

    /// Whether there is an Olm session with the device whose identity key is
    /// `curve25519` (otherwise the sender must claim a one-time key first).
    pub fn has_session_with(&self, curve25519: &Curve25519PublicKey) -> bool {
        self.sessions.get(curve25519).is_some_and(|s| !s.is_empty())
    }

    /// The number of Olm sessions with `curve25519`.
    pub fn session_count(&self, curve25519: &Curve25519PublicKey) -> usize {
        self.sessions.get(curve25519).map_or(0, Vec::len)
    }
}
