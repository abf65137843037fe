//! The security checks of steps 16, 17, 20 and 21a (docs/protocol.md §1.5) as pure
//! functions over `/keys/query` answers. Each returns the precise [`Abort`].

use protocol::cross_signing::{CrossSigningKey, KeyUsage};
use protocol::device_keys::DeviceKeys;
use protocol::keys::Ed25519PublicKey;
use serde_json::Value;

use crate::events::Abort;

/// The raw `device_keys[user][device]` entry of a `/keys/query` answer, if listed.
pub fn listed_device<'a>(query: &'a Value, user_id: &str, device_id: &str) -> Option<&'a Value> {
    query.get("device_keys")?.get(user_id)?.get(device_id)
}

/// Step 16 validity: a listed device whose `user_id`/`device_id` match the map keys
/// and whose self-signature verifies. `Ok(None)` when the device is not listed.
pub fn visible_device(query: &Value, user_id: &str, device_id: &str) -> Result<Option<DeviceKeys>, Abort> {
    let Some(raw) = listed_device(query, user_id, device_id) else { return Ok(None) };
    let invalid = |reason: String| Abort::InvalidDeviceKeys { device_id: device_id.to_owned(), reason };
    let keys = DeviceKeys::parse(raw).map_err(|e| invalid(e.to_string()))?;
    keys.check_identity(user_id, device_id).map_err(|e| invalid(e.to_string()))?;
    keys.verify_self_signature().map_err(|e| invalid(e.to_string()))?;
    Ok(Some(keys))
}

fn ed25519_text<'a>(raw: &'a Value, device_id: &str) -> &'a str {
    raw.get("keys").and_then(|k| k.get(format!("ed25519:{device_id}"))).and_then(Value::as_str).unwrap_or("")
}

/// Step 17 (B): the homeserver's `keys["ed25519:<device_id>"]` equals `device_key`
/// byte for byte. `keys` is the device as found valid by [`visible_device`].
pub fn check_new_device_key(keys: &DeviceKeys, device_key: &str) -> Result<(), Abort> {
    let found = ed25519_text(&keys.raw, &keys.device_id);
    if found != device_key {
        return Err(Abort::DeviceKeyMismatch {
            device_id: keys.device_id.clone(),
            expected: device_key.to_owned(),
            found: found.to_owned(),
        });
    }
    Ok(())
}

/// Step 20 (A): the homeserver lists `verifying_device_id`, validly self-signed, and
/// its Ed25519 key equals `verifying_device_key`.
pub fn check_verifying_device(
    query: &Value,
    user_id: &str,
    verifying_device_id: &str,
    verifying_device_key: &str,
) -> Result<DeviceKeys, Abort> {
    let keys = visible_device(query, user_id, verifying_device_id)?
        .ok_or_else(|| Abort::VerifyingDeviceUnknown { device_id: verifying_device_id.to_owned() })?;
    let found = ed25519_text(&keys.raw, verifying_device_id);
    if found != verifying_device_key {
        return Err(Abort::VerifyingDeviceKeyMismatch {
            device_id: verifying_device_id.to_owned(),
            expected: verifying_device_key.to_owned(),
            found: found.to_owned(),
        });
    }
    Ok(keys)
}

/// The homeserver's cross-signing key of `usage` for `user_id`, structurally valid.
pub fn published_key(
    query: &Value,
    user_id: &str,
    usage: KeyUsage,
) -> Result<Option<CrossSigningKey>, Abort> {
    let field = match usage {
        KeyUsage::Master => "master_keys",
        KeyUsage::SelfSigning => "self_signing_keys",
        KeyUsage::UserSigning => "user_signing_keys",
    };
    let Some(raw) = query.get(field).and_then(|m| m.get(user_id)) else { return Ok(None) };
    let key = CrossSigningKey::parse(raw)
        .map_err(|e| Abort::InvalidCrossSigningKey { reason: format!("{usage} key: {e}") })?;
    if key.user_id != user_id || !key.has_usage(usage) {
        return Err(Abort::InvalidCrossSigningKey {
            reason: format!("{usage} key has the wrong user or usage"),
        });
    }
    Ok(Some(key))
}

/// Step 21a (A): the homeserver's master key exists (strict, D7) and equals `claimed`.
pub fn check_master_key(query: &Value, user_id: &str, claimed: &str) -> Result<CrossSigningKey, Abort> {
    let master =
        published_key(query, user_id, KeyUsage::Master)?.ok_or(Abort::MasterKeyMissingOnHomeserver)?;
    let found = master.public_key.to_base64();
    let claimed_matches =
        Ed25519PublicKey::from_base64(claimed).map(|k| k == master.public_key).unwrap_or(false);
    if !claimed_matches {
        return Err(Abort::MasterKeyMismatch { expected: claimed.to_owned(), found });
    }
    Ok(master)
}

/// The homeserver's `usage` key (self-signing or user-signing) must be signed by
/// `master`; returns its public key, or `None` when the homeserver has none.
pub fn check_signed_by_master(
    query: &Value,
    user_id: &str,
    usage: KeyUsage,
    master: &CrossSigningKey,
) -> Result<Option<Ed25519PublicKey>, Abort> {
    let Some(key) = published_key(query, user_id, usage)? else { return Ok(None) };
    protocol::cross_signing::verify_signed_by(&key.raw, user_id, &master.key_id, &master.public_key)
        .map_err(|e| Abort::InvalidCrossSigningKey {
            reason: format!("{usage} key not signed by the master key: {e}"),
        })?;
    Ok(Some(key.public_key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::cross_signing::CrossSigningKeys;
    use protocol::keys::{Curve25519PublicKey, Ed25519Keypair};
    use serde_json::json;

    fn answer(device: Value, keys: &CrossSigningKeys) -> Value {
        json!({
            "device_keys": {"@u:hs": {"D": device}},
            "master_keys": {"@u:hs": keys.key_json("@u:hs", KeyUsage::Master)},
            "self_signing_keys": {"@u:hs": keys.key_json("@u:hs", KeyUsage::SelfSigning)},
        })
    }

    #[test]
    fn each_check_names_what_failed() {
        let device_key = Ed25519Keypair::from_seed(&[2; 32]);
        let device = DeviceKeys::signed_json(
            "@u:hs",
            "D",
            &["x"],
            &device_key,
            &Curve25519PublicKey::from_bytes([3; 32]),
        );
        let cs = CrossSigningKeys::from_seeds(&[4; 32], &[5; 32], &[6; 32]);
        let q = answer(device.clone(), &cs);
        let key_b64 = device_key.public_key().to_base64();

        let keys = visible_device(&q, "@u:hs", "D").unwrap().unwrap();
        assert_eq!(check_new_device_key(&keys, &key_b64), Ok(()));
        assert!(matches!(check_new_device_key(&keys, "AAAA"), Err(Abort::DeviceKeyMismatch { .. })));
        assert_eq!(visible_device(&q, "@u:hs", "E"), Ok(None));
        assert!(check_verifying_device(&q, "@u:hs", "D", &key_b64).is_ok());
        assert!(matches!(
            check_verifying_device(&q, "@u:hs", "E", &key_b64),
            Err(Abort::VerifyingDeviceUnknown { .. })
        ));
        assert!(matches!(
            check_verifying_device(&q, "@u:hs", "D", "AAAA"),
            Err(Abort::VerifyingDeviceKeyMismatch { .. })
        ));

        let master_b64 = cs.public_key(KeyUsage::Master).to_base64();
        let master = check_master_key(&q, "@u:hs", &master_b64).unwrap();
        assert!(matches!(check_master_key(&q, "@u:hs", "AAAA"), Err(Abort::MasterKeyMismatch { .. })));
        let no_master = json!({"device_keys": {}});
        assert_eq!(
            check_master_key(&no_master, "@u:hs", &master_b64).unwrap_err(),
            Abort::MasterKeyMissingOnHomeserver
        );
        assert!(check_signed_by_master(&q, "@u:hs", KeyUsage::SelfSigning, &master).unwrap().is_some());
        let other = CrossSigningKeys::from_seeds(&[7; 32], &[5; 32], &[6; 32]);
        let forged = answer(device.clone(), &other);
        assert!(matches!(
            check_signed_by_master(&forged, "@u:hs", KeyUsage::SelfSigning, &master),
            Err(Abort::InvalidCrossSigningKey { .. })
        ));

        let mut bad_sig = device;
        bad_sig["algorithms"] = json!(["y"]);
        let q = answer(bad_sig, &cs);
        assert!(matches!(visible_device(&q, "@u:hs", "D"), Err(Abort::InvalidDeviceKeys { .. })));
    }
}
