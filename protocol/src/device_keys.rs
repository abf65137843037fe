//! A typed view of a `device_keys` object (`/keys/upload`, `/keys/query`).

use serde_json::{json, Map, Value};

use crate::{
    key_id::KeyId,
    keys::{Curve25519PublicKey, Ed25519Keypair, Ed25519PublicKey, KeyError},
    signing::{self, VerifyJsonError},
};

/// Why a `device_keys` object is rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeviceKeysError {
    /// The value is not a JSON object.
    #[error("device_keys is not an object")]
    NotAnObject,
    /// A required field is absent.
    #[error("device_keys lacks `{0}`")]
    MissingField(&'static str),
    /// A field has the wrong JSON type.
    #[error("device_keys field `{0}` has the wrong type")]
    WrongType(&'static str),
    /// `user_id` is not the expected one.
    #[error("device_keys user_id is {found:?}, expected {expected:?}")]
    UserIdMismatch {
        /// The expected user ID.
        expected: String,
        /// The user ID in the object.
        found: String,
    },
    /// `device_id` is not the expected one.
    #[error("device_keys device_id is {found:?}, expected {expected:?}")]
    DeviceIdMismatch {
        /// The expected device ID.
        expected: String,
        /// The device ID in the object.
        found: String,
    },
    /// `keys` lacks this key ID.
    #[error("device_keys.keys lacks {0}")]
    MissingKey(String),
    /// `keys` has an entry other than `ed25519:<device_id>` and
    /// `curve25519:<device_id>`.
    #[error("device_keys.keys has the unexpected entry {0}")]
    UnexpectedKey(String),
    /// A key value is not a string.
    #[error("device_keys.keys[{0}] is not a string")]
    KeyNotString(String),
    /// A key value does not decode.
    #[error("device_keys.keys[{key_id}] is not a valid key: {source}")]
    BadKey {
        /// The key ID whose value is bad.
        key_id: String,
        /// Why it does not decode.
        source: KeyError,
    },
    /// The self-signature by `ed25519:<device_id>` does not verify.
    #[error("device self-signature: {0}")]
    SelfSignature(VerifyJsonError),
}

/// A parsed `device_keys` object. `raw` is the original JSON, signatures
/// and `unsigned` included.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceKeys {
    /// `user_id`.
    pub user_id: String,
    /// `device_id`.
    pub device_id: String,
    /// `algorithms`.
    pub algorithms: Vec<String>,
    /// The value of `keys["ed25519:<device_id>"]`.
    pub ed25519: Ed25519PublicKey,
    /// The value of `keys["curve25519:<device_id>"]`.
    pub curve25519: Curve25519PublicKey,
    /// The object as received.
    pub raw: Value,
}

fn string_field(object: &Map<String, Value>, name: &'static str) -> Result<String, DeviceKeysError> {
    match object.get(name) {
        None => Err(DeviceKeysError::MissingField(name)),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(DeviceKeysError::WrongType(name)),
    }
}

impl DeviceKeys {
    /// Checks the shape: an object with string `user_id` and `device_id`,
    /// `algorithms` an array of strings, `keys` with exactly
    /// `ed25519:<device_id>` and `curve25519:<device_id>` (both decodable,
    /// 32 bytes), and a `signatures` object. Does not verify signatures.
    pub fn parse(value: &Value) -> Result<DeviceKeys, DeviceKeysError> {
        let object = value.as_object().ok_or(DeviceKeysError::NotAnObject)?;
        let user_id = string_field(object, "user_id")?;
        let device_id = string_field(object, "device_id")?;
        let algorithms = match object.get("algorithms") {
            None => return Err(DeviceKeysError::MissingField("algorithms")),
            Some(Value::Array(items)) => items
                .iter()
                .map(|a| a.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or(DeviceKeysError::WrongType("algorithms"))?,
            Some(_) => return Err(DeviceKeysError::WrongType("algorithms")),
        };
        let keys = match object.get("keys") {
            None => return Err(DeviceKeysError::MissingField("keys")),
            Some(Value::Object(keys)) => keys,
            Some(_) => return Err(DeviceKeysError::WrongType("keys")),
        };
        let ed_id = KeyId::ed25519_device(&device_id).to_string();
        let curve_id = KeyId::curve25519_device(&device_id).to_string();
        if let Some(extra) = keys.keys().find(|k| **k != ed_id && **k != curve_id) {
            return Err(DeviceKeysError::UnexpectedKey(extra.clone()));
        }
        let ed25519 = key_value(keys, &ed_id, Ed25519PublicKey::from_base64)?;
        let curve25519 = key_value(keys, &curve_id, Curve25519PublicKey::from_base64)?;
        match object.get("signatures") {
            None => return Err(DeviceKeysError::MissingField("signatures")),
            Some(Value::Object(_)) => {}
            Some(_) => return Err(DeviceKeysError::WrongType("signatures")),
        }
        Ok(DeviceKeys { user_id, device_id, algorithms, ed25519, curve25519, raw: value.clone() })
    }

    /// The ID of the device's signing key, `ed25519:<device_id>`.
    pub fn ed25519_key_id(&self) -> KeyId {
        KeyId::ed25519_device(&self.device_id)
    }

    /// Verifies the self-signature `signatures[user_id]["ed25519:<device_id>"]`
    /// with the object's own Ed25519 key.
    pub fn verify_self_signature(&self) -> Result<(), DeviceKeysError> {
        signing::verify_json(&self.raw, &self.user_id, &self.ed25519_key_id(), &self.ed25519)
            .map_err(DeviceKeysError::SelfSignature)
    }

    /// Checks that the object belongs to `user_id`/`device_id` (for example
    /// the keys under which it was listed in a `/keys/query` response).
    pub fn check_identity(&self, user_id: &str, device_id: &str) -> Result<(), DeviceKeysError> {
        if self.user_id != user_id {
            return Err(DeviceKeysError::UserIdMismatch {
                expected: user_id.to_owned(),
                found: self.user_id.clone(),
            });
        }
        if self.device_id != device_id {
            return Err(DeviceKeysError::DeviceIdMismatch {
                expected: device_id.to_owned(),
                found: self.device_id.clone(),
            });
        }
        Ok(())
    }

    /// Builds a `device_keys` object self-signed by `ed25519`.
    pub fn signed_json(
        user_id: &str,
        device_id: &str,
        algorithms: &[&str],
        ed25519: &Ed25519Keypair,
        curve25519: &Curve25519PublicKey,
    ) -> Value {
        let ed_id = KeyId::ed25519_device(device_id);
        let mut value = json!({
            "user_id": user_id,
            "device_id": device_id,
            "algorithms": algorithms,
            "keys": {
                ed_id.to_string(): ed25519.public_key().to_base64(),
                KeyId::curve25519_device(device_id).to_string(): curve25519.to_base64(),
            },
        });
        signing::sign_json(&mut value, user_id, &ed_id, ed25519)
            .expect("an object of strings is always signable");
        value
    }
}

fn key_value<K>(
    keys: &Map<String, Value>,
    key_id: &str,
    decode: impl Fn(&str) -> Result<K, KeyError>,
) -> Result<K, DeviceKeysError> {
    let value = keys.get(key_id).ok_or_else(|| DeviceKeysError::MissingKey(key_id.to_owned()))?;
    let s = value.as_str().ok_or_else(|| DeviceKeysError::KeyNotString(key_id.to_owned()))?;
    decode(s).map_err(|source| DeviceKeysError::BadKey { key_id: key_id.to_owned(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALGS: &[&str] = &["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"];

    fn sample() -> (Ed25519Keypair, Value) {
        let kp = Ed25519Keypair::from_seed(&[9; 32]);
        let curve = Curve25519PublicKey::from_bytes([5; 32]);
        let v = DeviceKeys::signed_json("@u:hs", "DEV", ALGS, &kp, &curve);
        (kp, v)
    }

    #[test]
    fn builder_round_trip() {
        let (kp, v) = sample();
        let dk = DeviceKeys::parse(&v).unwrap();
        assert_eq!(dk.user_id, "@u:hs");
        assert_eq!(dk.device_id, "DEV");
        assert_eq!(dk.algorithms, ALGS);
        assert_eq!(dk.ed25519, kp.public_key());
        assert_eq!(dk.curve25519, Curve25519PublicKey::from_bytes([5; 32]));
        assert_eq!(dk.verify_self_signature(), Ok(()));
        assert_eq!(dk.check_identity("@u:hs", "DEV"), Ok(()));
        assert!(matches!(dk.check_identity("@v:hs", "DEV"), Err(DeviceKeysError::UserIdMismatch { .. })));
        assert_eq!(
            dk.check_identity("@u:hs", "OTHER"),
            Err(DeviceKeysError::DeviceIdMismatch { expected: "OTHER".into(), found: "DEV".into() })
        );
    }

    #[test]
    fn shape_errors() {
        let (_, v) = sample();
        let with = |f: &dyn Fn(&mut Value)| {
            let mut v = v.clone();
            f(&mut v);
            DeviceKeys::parse(&v).unwrap_err()
        };
        use DeviceKeysError as E;
        assert_eq!(DeviceKeys::parse(&json!([])).unwrap_err(), E::NotAnObject);
        assert_eq!(
            with(&|v| {
                v.as_object_mut().unwrap().remove("user_id");
            }),
            E::MissingField("user_id")
        );
        assert_eq!(with(&|v| v["device_id"] = json!(1)), E::WrongType("device_id"));
        assert_eq!(with(&|v| v["algorithms"] = json!([1])), E::WrongType("algorithms"));
        assert_eq!(
            with(&|v| {
                v.as_object_mut().unwrap().remove("signatures");
            }),
            E::MissingField("signatures")
        );
        assert_eq!(with(&|v| v["keys"]["ed25519:X"] = json!("a")), E::UnexpectedKey("ed25519:X".into()));
        assert_eq!(
            with(&|v| {
                v["keys"].as_object_mut().unwrap().remove("curve25519:DEV");
            }),
            E::MissingKey("curve25519:DEV".into())
        );
        assert_eq!(
            with(&|v| v["keys"]["ed25519:DEV"] = json!("AAAA")),
            E::BadKey {
                key_id: "ed25519:DEV".into(),
                source: KeyError::WrongLength { expected: 32, found: 3 }
            }
        );
    }

    #[test]
    fn self_signature_failures() {
        let (_, mut v) = sample();
        v["algorithms"] = json!(["m.megolm.v1.aes-sha2"]);
        let dk = DeviceKeys::parse(&v).unwrap();
        assert_eq!(dk.verify_self_signature(), Err(DeviceKeysError::SelfSignature(VerifyJsonError::Invalid)));
        v["signatures"] = json!({});
        let dk = DeviceKeys::parse(&v).unwrap();
        assert!(matches!(
            dk.verify_self_signature(),
            Err(DeviceKeysError::SelfSignature(VerifyJsonError::NoSignatureFor { .. }))
        ));
    }
}
