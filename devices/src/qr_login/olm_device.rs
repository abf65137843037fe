//! The Olm identity of a simulated device (vodozemac): signed device keys, one-time
//! keys, and to-device encryption (`m.olm.v1.curve25519-aes-sha2`, protocol.md §6.1).
//!
//! A narrow adapter kept local to the QR-login roles; vodozemac draws its own
//! randomness for the Olm keys, which the harness accepts.

use std::collections::HashMap;

use protocol::canonical_json::signing_input;
use protocol::keys::Ed25519Keypair;
use protocol::signing::sign_json;
use serde_json::{json, Map, Value};
use vodozemac::olm::{Account, OlmMessage, Session, SessionConfig};
use vodozemac::Curve25519PublicKey;

/// The Olm algorithm name.
pub const OLM_ALGORITHM: &str = "m.olm.v1.curve25519-aes-sha2";
/// The algorithms a device advertises.
pub const DEVICE_ALGORITHMS: [&str; 2] = [OLM_ALGORITHM, "m.megolm.v1.aes-sha2"];

/// A device's Olm account and sessions.
pub struct OlmDevice {
    account: Account,
    user_id: String,
    device_id: String,
    sessions: HashMap<String, Vec<Session>>,
}

impl std::fmt::Debug for OlmDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OlmDevice")
            .field("user_id", &self.user_id)
            .field("device_id", &self.device_id)
            .finish()
    }
}

impl OlmDevice {
    /// A fresh identity for `user_id`'s `device_id`.
    pub fn new(user_id: &str, device_id: &str) -> Self {
        Self {
            account: Account::new(),
            user_id: user_id.into(),
            device_id: device_id.into(),
            sessions: HashMap::new(),
        }
    }

    /// The Ed25519 identity key (b64).
    pub fn ed25519(&self) -> String {
        self.account.ed25519_key().to_base64()
    }

    /// The Curve25519 identity key (b64).
    pub fn curve25519(&self) -> String {
        self.account.curve25519_key().to_base64()
    }

    /// The device ID.
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// Adds this device's signature (`ed25519:<device_id>`) to a JSON object.
    pub fn sign(&self, value: &mut Value) {
        let Ok(input) = signing_input(value) else { return };
        let signature = self.account.sign(input.as_bytes()).to_base64();
        let Some(object) = value.as_object_mut() else { return };
        let signatures = object.entry("signatures").or_insert_with(|| json!({}));
        if !signatures.is_object() {
            *signatures = json!({});
        }
        let by_user =
            signatures.as_object_mut().map(|s| s.entry(self.user_id.clone()).or_insert_with(|| json!({})));
        if let Some(Value::Object(by_user)) = by_user {
            by_user.insert(format!("ed25519:{}", self.device_id), Value::String(signature));
        }
    }

    fn unsigned_device_keys(&self) -> Value {
        json!({
            "user_id": self.user_id,
            "device_id": self.device_id,
            "algorithms": DEVICE_ALGORITHMS,
            "keys": {
                format!("curve25519:{}", self.device_id): self.curve25519(),
                format!("ed25519:{}", self.device_id): self.ed25519(),
            },
        })
    }

    /// The `device_keys` object, self-signed.
    pub fn device_keys(&self) -> Value {
        let mut value = self.unsigned_device_keys();
        self.sign(&mut value);
        value
    }

    /// The `device_keys` object with a "self-signature" made by another key
    /// (misbehaviour: `invalid-self-signature`).
    pub fn device_keys_signed_by(&self, wrong: &Ed25519Keypair) -> Value {
        let mut value = self.unsigned_device_keys();
        let key_id = protocol::key_id::KeyId::ed25519_device(&self.device_id);
        let _ = sign_json(&mut value, &self.user_id, &key_id, wrong);
        value
    }

    /// Generates `count` one-time keys and returns them signed, as `/keys/upload` wants.
    pub fn one_time_keys(&mut self, count: usize) -> Value {
        self.account.generate_one_time_keys(count);
        let mut map = Map::new();
        for (id, key) in self.account.one_time_keys() {
            let mut value = json!({"key": key.to_base64()});
            self.sign(&mut value);
            map.insert(format!("signed_curve25519:{}", id.to_base64()), value);
        }
        self.account.mark_keys_as_published();
        Value::Object(map)
    }

    /// Whether an Olm session with this Curve25519 key exists.
    pub fn has_session(&self, their_curve25519: &str) -> bool {
        self.sessions.get(their_curve25519).is_some_and(|s| !s.is_empty())
    }

    /// Creates an outbound session from a claimed one-time key.
    pub fn create_outbound(&mut self, their_curve25519: &str, one_time_key: &str) -> Result<(), String> {
        let identity = Curve25519PublicKey::from_base64(their_curve25519).map_err(|e| e.to_string())?;
        let otk = Curve25519PublicKey::from_base64(one_time_key).map_err(|e| e.to_string())?;
        let session = self
            .account
            .create_outbound_session(SessionConfig::version_1(), identity, otk)
            .map_err(|e| e.to_string())?;
        self.sessions.entry(their_curve25519.to_owned()).or_default().insert(0, session);
        Ok(())
    }

    /// Encrypts a to-device event for a device; returns the `m.room.encrypted` content.
    pub fn encrypt(
        &mut self,
        recipient_user: &str,
        recipient_ed25519: &str,
        recipient_curve25519: &str,
        event_type: &str,
        content: &Value,
    ) -> Result<Value, String> {
        let plaintext = json!({
            "type": event_type,
            "content": content,
            "sender": self.user_id,
            "recipient": recipient_user,
            "recipient_keys": {"ed25519": recipient_ed25519},
            "keys": {"ed25519": self.ed25519()},
        });
        let session = self
            .sessions
            .get_mut(recipient_curve25519)
            .and_then(|s| s.first_mut())
            .ok_or_else(|| "no Olm session".to_owned())?;
        let message = session.encrypt(plaintext.to_string()).map_err(|e| e.to_string())?;
        let (message_type, body) = message.to_parts();
        Ok(json!({
            "algorithm": OLM_ALGORITHM,
            "sender_key": self.curve25519(),
            "ciphertext": {recipient_curve25519: {"type": message_type, "body": protocol::base64::encode(body)}},
        }))
    }

    /// Decrypts an `m.room.encrypted` to-device content addressed to this device.
    /// Returns the decrypted payload and the sender's Curve25519 key.
    pub fn decrypt(&mut self, content: &Value) -> Result<(Value, String), String> {
        if content.get("algorithm").and_then(Value::as_str) != Some(OLM_ALGORITHM) {
            return Err("not Olm".into());
        }
        let sender_key = content.get("sender_key").and_then(Value::as_str).ok_or("no sender_key")?.to_owned();
        let own = self.curve25519();
        let entry =
            content.get("ciphertext").and_then(|c| c.get(&own)).ok_or("no ciphertext for this device")?;
        let message_type = entry.get("type").and_then(Value::as_u64).ok_or("no message type")?;
        let body = entry.get("body").and_then(Value::as_str).ok_or("no body")?;
        let body = protocol::base64::decode(body).map_err(|e| e.to_string())?;
        let message = OlmMessage::from_parts(usize::try_from(message_type).unwrap_or(usize::MAX), &body)
            .map_err(|e| e.to_string())?;
        let sessions = self.sessions.entry(sender_key.clone()).or_default();
        for session in sessions.iter_mut() {
            if let Ok(plaintext) = session.decrypt(&message) {
                return Ok((parse_payload(&plaintext)?, sender_key));
            }
        }
        let OlmMessage::PreKey(prekey) = &message else {
            return Err("no session decrypts this message".into());
        };
        let identity = Curve25519PublicKey::from_base64(&sender_key).map_err(|e| e.to_string())?;
        let created = self
            .account
            .create_inbound_session(SessionConfig::version_1(), identity, prekey)
            .map_err(|e| e.to_string())?;
        self.sessions.entry(sender_key.clone()).or_default().insert(0, created.session);
        Ok((parse_payload(&created.plaintext)?, sender_key))
    }
}

fn parse_payload(plaintext: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(plaintext).map_err(|_| "decrypted payload is not JSON".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::device_keys::DeviceKeys;

    #[test]
    fn device_keys_verify_and_events_round_trip() {
        let alice = OlmDevice::new("@a:hs", "A");
        let parsed = DeviceKeys::parse(&alice.device_keys()).unwrap();
        parsed.verify_self_signature().unwrap();
        let wrong = Ed25519Keypair::from_seed(&[1; 32]);
        assert!(DeviceKeys::parse(&alice.device_keys_signed_by(&wrong))
            .unwrap()
            .verify_self_signature()
            .is_err());

        let mut a = alice;
        let mut b = OlmDevice::new("@a:hs", "B");
        let otks = a.one_time_keys(1);
        let otk = otks.as_object().unwrap().values().next().unwrap()["key"].as_str().unwrap().to_owned();
        b.create_outbound(&a.curve25519(), &otk).unwrap();
        let content = json!({"request_id": "r", "secret": "s"});
        let sent = b.encrypt("@a:hs", &a.ed25519(), &a.curve25519(), "m.secret.send", &content).unwrap();
        let (payload, sender) = a.decrypt(&sent).unwrap();
        assert_eq!(sender, b.curve25519());
        assert_eq!(payload["content"], content);
        assert_eq!(payload["keys"]["ed25519"], b.ed25519());
    }
}
