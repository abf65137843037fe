//! Olm-encrypted to-device events: sending (B, docs/protocol.md §6.3) and receiving with the
//! checks of §6.2 rules 1 and 2.

use protocol::{
    device_keys::DeviceKeys,
    key_id::KeyId,
    keys::{Curve25519PublicKey, Ed25519PublicKey},
    signing,
};
use serde_json::{json, Value};
use vodozemac::olm::{OlmMessage, PreKeyMessage, SessionConfig};

use super::{DeviceCrypto, OlmError, OLM_ALGORITHM, SIGNED_CURVE25519};

/// The device a to-device message is encrypted for, with the keys the sender
/// trusts for it (from `/keys/query`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientDevice {
    /// The recipient's user ID.
    pub user_id: String,
    /// The recipient's device ID.
    pub device_id: String,
    /// The device's Ed25519 key: signs its one-time keys, goes into `recipient_keys`.
    pub ed25519: Ed25519PublicKey,
    /// The device's Curve25519 identity key: the Olm session's peer key.
    pub curve25519: Curve25519PublicKey,
}

impl RecipientDevice {
    /// The recipient described by a parsed `device_keys` object.
    pub fn from_device_keys(keys: &DeviceKeys) -> Self {
        Self {
            user_id: keys.user_id.clone(),
            device_id: keys.device_id.clone(),
            ed25519: keys.ed25519,
            curve25519: keys.curve25519,
        }
    }
}

/// A to-device event that decrypted and passed the payload checks of rule 2
/// that need no key query.
#[derive(Debug, Clone, PartialEq)]
pub struct DecryptedEvent {
    /// The event's `sender` (equal to the payload's).
    pub sender: String,
    /// The Olm `sender_key`: the Curve25519 key of the sending device.
    pub sender_key: Curve25519PublicKey,
    /// The payload's `keys.ed25519`, as the sender claims it (check it with
    /// [`check_sender_keys`]).
    pub sender_ed25519: Ed25519PublicKey,
    /// The Olm message type: 0 (pre-key) or 1 (normal).
    pub message_type: u8,
    /// The payload's `type`.
    pub event_type: String,
    /// The payload's `content`.
    pub content: Value,
    /// The whole decrypted payload.
    pub plaintext: Value,
}

/// Rule 2's key-query check: the payload's `keys.ed25519` must be
/// `expected_sender_ed25519`, the Ed25519 key that `/keys/query` gives for the
/// device owning `sender_key`; then [`check_sender_device_keys`].
pub fn check_sender_keys(
    event: &DecryptedEvent,
    expected_sender_ed25519: &Ed25519PublicKey,
) -> Result<(), OlmError> {
    if event.sender_ed25519 != *expected_sender_ed25519 {
        return Err(OlmError::SenderKeyMismatch {
            expected: *expected_sender_ed25519,
            found: event.sender_ed25519,
        });
    }
    check_sender_device_keys(event)
}

/// Rule 2's `sender_device_keys` checks, when the payload carries them: its
/// `user_id` is the sender, its Curve25519 key is `sender_key`, its Ed25519
/// key is `keys.ed25519`, and its self-signature is valid.
pub fn check_sender_device_keys(event: &DecryptedEvent) -> Result<(), OlmError> {
    let Some(value) = event.plaintext.get("sender_device_keys") else {
        return Ok(());
    };
    let keys = DeviceKeys::parse(value)?;
    if keys.user_id != event.sender {
        return Err(OlmError::SenderDeviceKeys(format!(
            "user_id {:?} is not the sender {:?}",
            keys.user_id, event.sender
        )));
    }
    if keys.curve25519 != event.sender_key {
        return Err(OlmError::SenderDeviceKeys(format!(
            "curve25519 key {} is not sender_key {}",
            keys.curve25519, event.sender_key
        )));
    }
    if keys.ed25519 != event.sender_ed25519 {
        return Err(OlmError::SenderDeviceKeys(format!(
            "ed25519 key {} is not keys.ed25519 {}",
            keys.ed25519, event.sender_ed25519
        )));
    }
    keys.verify_self_signature()?;
    Ok(())
}

fn vodozemac_curve(key: &Curve25519PublicKey) -> vodozemac::Curve25519PublicKey {
    vodozemac::Curve25519PublicKey::from_bytes(*key.as_bytes())
}

impl DeviceCrypto {
    /// The Olm plaintext of §6.1 for `recipient`: `{"type", "content", "sender",
    /// "recipient", "recipient_keys": {"ed25519"}, "keys": {"ed25519"}}`.
    pub fn plaintext_payload(&self, recipient: &RecipientDevice, event_type: &str, content: Value) -> Value {
        json!({
            "type": event_type,
            "content": content,
            "sender": self.user_id,
            "recipient": recipient.user_id,
            "recipient_keys": { "ed25519": recipient.ed25519.to_base64() },
            "keys": { "ed25519": self.ed25519_key().to_base64() },
        })
    }

    /// Encrypts `event_type`/`content` for `recipient` and returns the
    /// `m.room.encrypted` to-device content (§6.1).
    ///
    /// With `claimed` (the recipient's entry of a `/keys/claim` answer,
    /// `{"signed_curve25519:<id>": {"key", "signatures"}}`), the key's
    /// signature by the recipient's Ed25519 key is checked and a new outbound
    /// session is created; without, the newest existing session is used.
    pub fn encrypt_to_device(
        &mut self,
        recipient: &RecipientDevice,
        claimed: Option<&Value>,
        event_type: &str,
        content: Value,
    ) -> Result<Value, OlmError> {
        let plaintext = self.plaintext_payload(recipient, event_type, content);
        self.encrypt_payload(recipient, claimed, &plaintext)
    }

    /// Like [`DeviceCrypto::encrypt_to_device`], but encrypts `plaintext`
    /// verbatim (for misbehaving senders whose payload lies).
    pub fn encrypt_payload(
        &mut self,
        recipient: &RecipientDevice,
        claimed: Option<&Value>,
        plaintext: &Value,
    ) -> Result<Value, OlmError> {
        if let Some(claimed) = claimed {
            self.session_from_claim(recipient, claimed)?;
        }
        let session = self
            .sessions
            .get_mut(&recipient.curve25519)
            .and_then(|sessions| sessions.last_mut())
            .ok_or(OlmError::NoSession(recipient.curve25519))?;
        let text = serde_json::to_string(plaintext).map_err(|e| OlmError::Encryption(e.to_string()))?;
        let message = session.encrypt(text.as_bytes()).map_err(|e| OlmError::Encryption(e.to_string()))?;
        let (message_type, body) = message.to_parts();
        Ok(json!({
            "algorithm": OLM_ALGORITHM,
            "sender_key": self.curve25519_key().to_base64(),
            "ciphertext": {
                recipient.curve25519.to_base64(): {
                    "type": message_type,
                    "body": protocol::base64::encode(body),
                },
            },
        }))
    }

    /// §6.3: checks the claimed one-time key and opens an outbound session with it.
    fn session_from_claim(&mut self, recipient: &RecipientDevice, claimed: &Value) -> Result<(), OlmError> {
        let bad = |reason: &str| OlmError::BadClaimedKey(reason.to_owned());
        let object = claimed.as_object().ok_or_else(|| bad("not an object"))?;
        let prefix = format!("{SIGNED_CURVE25519}:");
        let key_object = object
            .iter()
            .find_map(|(id, value)| id.starts_with(&prefix).then_some(value))
            .ok_or_else(|| bad("no signed_curve25519 key"))?;
        let key = key_object.get("key").and_then(Value::as_str).ok_or_else(|| bad("`key` missing"))?;
        let key = Curve25519PublicKey::from_base64(key).map_err(|e| bad(&format!("`key`: {e}")))?;
        signing::verify_json(
            key_object,
            &recipient.user_id,
            &KeyId::ed25519_device(&recipient.device_id),
            &recipient.ed25519,
        )
        .map_err(OlmError::BadOneTimeKeySignature)?;
        let session = self
            .account
            .create_outbound_session(
                SessionConfig::version_1(),
                vodozemac_curve(&recipient.curve25519),
                vodozemac_curve(&key),
            )
            .map_err(|e| OlmError::SessionCreation(e.to_string()))?;
        self.sessions.entry(recipient.curve25519).or_default().push(session);
        Ok(())
    }

    /// Decrypts a to-device `m.room.encrypted` content from `sender_user`
    /// (the event's `sender`) and applies §6.2 rule 1 and the checks of rule
    /// 2 that need no key query: `sender`, `recipient`, `recipient_keys`.
    ///
    /// A pre-key message (type 0) goes to the existing session it belongs to,
    /// or creates an inbound session from one of our one-time keys; a normal
    /// message (type 1) is tried on every session with `sender_key`.
    pub fn decrypt_to_device(
        &mut self,
        sender_user: &str,
        content: &Value,
    ) -> Result<DecryptedEvent, OlmError> {
        let malformed = |reason: &str| OlmError::MalformedContent(reason.to_owned());
        let algorithm = content.get("algorithm").and_then(Value::as_str);
        if algorithm != Some(OLM_ALGORITHM) {
            return Err(OlmError::NotOlm(algorithm.map(str::to_owned)));
        }
        let sender_key = content
            .get("sender_key")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("sender_key missing or not a string"))?;
        let sender_key = Curve25519PublicKey::from_base64(sender_key)
            .map_err(|e| malformed(&format!("sender_key: {e}")))?;
        let ciphertext = content
            .get("ciphertext")
            .and_then(Value::as_object)
            .ok_or_else(|| malformed("ciphertext missing or not an object"))?;
        let ours = ciphertext.get(&self.curve25519_key().to_base64()).ok_or(OlmError::NoCiphertextForUs)?;
        let message_type = match ours.get("type") {
            None => return Err(malformed("the ciphertext entry has no type")),
            Some(Value::Number(n)) if n.as_u64() == Some(0) => 0,
            Some(Value::Number(n)) if n.as_u64() == Some(1) => 1,
            Some(other) => return Err(OlmError::UnknownMessageType(other.to_string())),
        };
        let body = ours
            .get("body")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("the ciphertext entry has no string body"))?;
        let body = protocol::base64::decode(body)
            .map_err(|e| OlmError::Decryption(format!("body is not base64: {e}")))?;
        let message = OlmMessage::from_parts(usize::from(message_type), &body)
            .map_err(|e| OlmError::Decryption(format!("undecodable Olm message: {e}")))?;
        let plaintext = match &message {
            OlmMessage::PreKey(pre_key) => self.decrypt_pre_key(&sender_key, pre_key)?,
            OlmMessage::Normal(_) => self.decrypt_normal(&sender_key, &message)?,
        };
        self.check_payload(sender_user, sender_key, message_type, &plaintext)
    }

    fn decrypt_pre_key(
        &mut self,
        sender_key: &Curve25519PublicKey,
        pre_key: &PreKeyMessage,
    ) -> Result<Vec<u8>, OlmError> {
        let session_id = pre_key.session_id();
        let existing = self
            .sessions
            .get_mut(sender_key)
            .and_then(|sessions| sessions.iter_mut().find(|s| s.session_id() == session_id));
        if let Some(session) = existing {
            return session
                .decrypt(&OlmMessage::PreKey(pre_key.clone()))
                .map_err(|e| OlmError::Decryption(e.to_string()));
        }
        let created = self
            .account
            .create_inbound_session(SessionConfig::version_1(), vodozemac_curve(sender_key), pre_key)
            .map_err(|e| OlmError::Decryption(e.to_string()))?;
        // Only a message that decrypted leaves a session behind.
        self.sessions.entry(*sender_key).or_default().push(created.session);
        Ok(created.plaintext)
    }

    fn decrypt_normal(
        &mut self,
        sender_key: &Curve25519PublicKey,
        message: &OlmMessage,
    ) -> Result<Vec<u8>, OlmError> {
        let sessions = self.sessions.get_mut(sender_key).filter(|s| !s.is_empty()).ok_or_else(|| {
            OlmError::Decryption("no Olm session with the sender key for a normal message".to_owned())
        })?;
        let mut last_error = String::new();
        for session in sessions.iter_mut().rev() {
            match session.decrypt(message) {
                Ok(plaintext) => return Ok(plaintext),
                Err(e) => last_error = e.to_string(),
            }
        }
        Err(OlmError::Decryption(format!("no session with the sender key decrypts it: {last_error}")))
    }

    fn check_payload(
        &self,
        sender_user: &str,
        sender_key: Curve25519PublicKey,
        message_type: u8,
        plaintext: &[u8],
    ) -> Result<DecryptedEvent, OlmError> {
        let bad = |reason: &str| OlmError::BadPayload(reason.to_owned());
        let payload: Value = serde_json::from_slice(plaintext).map_err(|_| bad("not JSON"))?;
        if !payload.is_object() {
            return Err(bad("not a JSON object"));
        }
        let string = |pointer: &str| payload.pointer(pointer).and_then(Value::as_str);
        let sender = string("/sender").ok_or_else(|| bad("sender missing or not a string"))?;
        if sender != sender_user {
            return Err(OlmError::SenderMismatch {
                expected: sender_user.to_owned(),
                found: sender.to_owned(),
            });
        }
        let recipient = string("/recipient").ok_or_else(|| bad("recipient missing or not a string"))?;
        if recipient != self.user_id {
            return Err(OlmError::RecipientMismatch {
                expected: self.user_id.clone(),
                found: recipient.to_owned(),
            });
        }
        let recipient_key = string("/recipient_keys/ed25519")
            .ok_or_else(|| bad("recipient_keys.ed25519 missing or not a string"))?;
        if Ed25519PublicKey::from_base64(recipient_key).ok() != Some(self.ed25519_key()) {
            return Err(OlmError::RecipientKeyMismatch {
                expected: self.ed25519_key(),
                found: recipient_key.to_owned(),
            });
        }
        let sender_ed25519 =
            string("/keys/ed25519").ok_or_else(|| bad("keys.ed25519 missing or not a string"))?;
        let sender_ed25519 = Ed25519PublicKey::from_base64(sender_ed25519)
            .map_err(|e| OlmError::BadPayload(format!("keys.ed25519: {e}")))?;
        let event_type = string("/type").ok_or_else(|| bad("type missing or not a string"))?.to_owned();
        let content = payload
            .get("content")
            .filter(|c| c.is_object())
            .cloned()
            .ok_or_else(|| bad("content missing or not an object"))?;
        Ok(DecryptedEvent {
            sender: sender.to_owned(),
            sender_key,
            sender_ed25519,
            message_type,
            event_type,
            content,
            plaintext: payload.clone(),
        })
    }
}
