//! Checking what the homeserver's `/keys/query` shows for the registrar's own user,
//! with the protocol crate's verification functions.

use serde_json::Value;

use protocol::{
    cross_signing::{check_shape, verify_signed_by, CrossSigningKey, CrossSigningKeys, KeyUsage},
    device_keys::DeviceKeys,
    key_id::KeyId,
    keys::Ed25519PublicKey,
    signing,
};

use crate::events::Abort;

/// The registrar's own entries in a `/keys/query` answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct OwnKeys {
    /// `master_keys[user_id]`.
    pub master: Option<Value>,
    /// `self_signing_keys[user_id]`.
    pub self_signing: Option<Value>,
    /// `user_signing_keys[user_id]`.
    pub user_signing: Option<Value>,
    /// `device_keys[user_id][device_id]`.
    pub device: Option<Value>,
}

impl OwnKeys {
    /// Reads the entries; an absent map or entry is `None`.
    pub fn from_query(answer: &Value, user_id: &str, device_id: Option<&str>) -> Self {
        let entry =
            |map: &str| answer.get(map).and_then(|m| m.get(user_id)).filter(|v| !v.is_null()).cloned();
        let device = device_id.and_then(|d| {
            answer.get("device_keys").and_then(|m| m.get(user_id)).and_then(|m| m.get(d)).cloned()
        });
        Self {
            master: entry("master_keys"),
            self_signing: entry("self_signing_keys"),
            user_signing: entry("user_signing_keys"),
            device,
        }
    }

    /// Whether the server holds any cross-signing key for the user.
    pub fn any_cross_signing(&self) -> bool {
        self.master.is_some() || self.self_signing.is_some() || self.user_signing.is_some()
    }

    fn key(&self, usage: KeyUsage) -> Option<&Value> {
        match usage {
            KeyUsage::Master => self.master.as_ref(),
            KeyUsage::SelfSigning => self.self_signing.as_ref(),
            KeyUsage::UserSigning => self.user_signing.as_ref(),
        }
    }
}

fn invalid(reason: String) -> Abort {
    Abort::InvalidCrossSigningKey { reason }
}

/// The three cross-signing keys are on the server, belong to `user_id`, carry our
/// public keys, and the self-signing and user-signing keys verify under the master.
pub(super) fn cross_signing(server: &OwnKeys, keys: &CrossSigningKeys, user_id: &str) -> Result<(), Abort> {
    let master = server.master.as_ref().ok_or(Abort::MasterKeyMissingOnHomeserver)?;
    check_shape(master, user_id, KeyUsage::Master).map_err(|e| invalid(format!("master key: {e}")))?;
    let master = CrossSigningKey::parse(master).map_err(|e| invalid(format!("master key: {e}")))?;
    let ours = keys.public_key(KeyUsage::Master);
    if master.public_key != ours {
        return Err(Abort::MasterKeyMismatch {
            expected: ours.to_base64(),
            found: master.public_key.to_base64(),
        });
    }
    for usage in [KeyUsage::SelfSigning, KeyUsage::UserSigning] {
        let value = server.key(usage).ok_or_else(|| invalid(format!("no {usage} key on the homeserver")))?;
        check_shape(value, user_id, usage).map_err(|e| invalid(format!("{usage} key: {e}")))?;
        let parsed = CrossSigningKey::parse(value).map_err(|e| invalid(format!("{usage} key: {e}")))?;
        let ours = keys.public_key(usage);
        if parsed.public_key != ours {
            return Err(invalid(format!(
                "{usage} key differs: ours {}, homeserver's {}",
                ours.to_base64(),
                parsed.public_key.to_base64()
            )));
        }
        verify_signed_by(value, user_id, &master.key_id, &master.public_key)
            .map_err(|e| invalid(format!("{usage} key not signed by the master key: {e}")))?;
    }
    Ok(())
}

/// The device is listed with our keys, is validly self-signed, is signed by the
/// self-signing key, and has signed the master key.
pub(super) fn own_device(
    server: &OwnKeys,
    keys: &CrossSigningKeys,
    user_id: &str,
    device_id: &str,
    device_key: &Ed25519PublicKey,
) -> Result<(), Abort> {
    let bad = |reason: String| Abort::InvalidDeviceKeys { device_id: device_id.to_owned(), reason };
    let value = server.device.as_ref().ok_or_else(|| bad("not listed in /keys/query".to_owned()))?;
    let device = DeviceKeys::parse(value).map_err(|e| bad(e.to_string()))?;
    device.check_identity(user_id, device_id).map_err(|e| bad(e.to_string()))?;
    device.verify_self_signature().map_err(|e| bad(e.to_string()))?;
    if device.ed25519 != *device_key {
        return Err(bad(format!(
            "ed25519 key differs: ours {}, homeserver's {}",
            device_key.to_base64(),
            device.ed25519.to_base64()
        )));
    }
    let ssk_id = keys.key_id(KeyUsage::SelfSigning);
    signing::verify_json(value, user_id, &ssk_id, &keys.public_key(KeyUsage::SelfSigning))
        .map_err(|e| bad(format!("not signed by the self-signing key: {e}")))?;
    let master = server.master.as_ref().ok_or(Abort::MasterKeyMissingOnHomeserver)?;
    signing::verify_json(master, user_id, &KeyId::ed25519_device(device_id), device_key)
        .map_err(|e| invalid(format!("master key not signed by device {device_id}: {e}")))?;
    Ok(())
}
