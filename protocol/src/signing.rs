//! Signing and verifying JSON objects (spec appendix "Signing JSON", docs/protocol.md §7.6).
//!
//! The signed bytes are the canonical JSON of the object without its
//! top-level `signatures` and `unsigned` members. Signatures live at
//! `signatures[<entity>][<key id>]` as unpadded base64.

use serde_json::{Map, Value};

use crate::{
    canonical_json::{self, CanonicalJsonError},
    key_id::KeyId,
    keys::{Ed25519Keypair, Ed25519PublicKey, Ed25519Signature, KeyError},
};

/// Why a JSON object could not be signed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SignJsonError {
    /// The value is not a JSON object.
    #[error("only JSON objects can be signed")]
    NotAnObject,
    /// The object contains something canonical JSON cannot represent.
    #[error("the object is not canonical JSON: {0}")]
    NotCanonical(CanonicalJsonError),
    /// `signatures`, or `signatures[<entity>]`, exists but is not an object.
    #[error("the existing `signatures` member is not a map of objects")]
    MalformedSignatures,
}

/// Why a signature on a JSON object did not verify.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VerifyJsonError {
    /// The value is not a JSON object.
    #[error("the signed value is not a JSON object")]
    NotAnObject,
    /// There is no `signatures` object.
    #[error("the object has no `signatures` object")]
    NoSignatures,
    /// There is no signature by `key_id` for `entity`.
    #[error("no signature by {key_id} for {entity}")]
    NoSignatureFor {
        /// The entity (user ID or server name) looked up.
        entity: String,
        /// The key ID looked up.
        key_id: String,
    },
    /// The signature is not a string of valid base64.
    #[error("the signature is not a base64 string")]
    SignatureNotBase64,
    /// The signature decoded to this many bytes instead of 64.
    #[error("the signature has {0} bytes, expected 64")]
    SignatureWrongLength(usize),
    /// The signature does not verify (or the public key is not a valid point).
    #[error("the signature is invalid")]
    Invalid,
    /// The object cannot be canonicalised.
    #[error("the object is not canonical JSON: {0}")]
    NotCanonical(CanonicalJsonError),
}

/// The signature `key` makes over `value`'s signing input.
pub fn signature_for(value: &Value, key: &Ed25519Keypair) -> Result<Ed25519Signature, SignJsonError> {
    if !value.is_object() {
        return Err(SignJsonError::NotAnObject);
    }
    let input = canonical_json::signing_input(value).map_err(SignJsonError::NotCanonical)?;
    Ok(key.sign(input.as_bytes()))
}

/// Signs `value` and stores the signature at `signatures[entity][key_id]`,
/// keeping other signatures and `unsigned`.
pub fn sign_json(
    value: &mut Value,
    entity: &str,
    key_id: &KeyId,
    key: &Ed25519Keypair,
) -> Result<(), SignJsonError> {
    let signature = signature_for(value, key)?;
    insert_signature(value, entity, key_id, &signature)
}

/// Stores a signature made elsewhere (for example by an Olm account) at
/// `signatures[entity][key_id]`, keeping the other signatures.
pub fn insert_signature(
    value: &mut Value,
    entity: &str,
    key_id: &KeyId,
    signature: &Ed25519Signature,
) -> Result<(), SignJsonError> {
    let object = value.as_object_mut().ok_or(SignJsonError::NotAnObject)?;
    let signatures = object
        .entry("signatures")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or(SignJsonError::MalformedSignatures)?;
    let by_entity = signatures
        .entry(entity)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or(SignJsonError::MalformedSignatures)?;
    by_entity.insert(key_id.to_string(), Value::String(signature.to_base64()));
    Ok(())
}

/// Verifies the signature at `signatures[entity][key_id]` with `public_key`.
///
/// Checks, in order: object, `signatures` present, entry present, base64,
/// length, canonical form, then the Ed25519 signature (`verify_strict`).
pub fn verify_json(
    value: &Value,
    entity: &str,
    key_id: &KeyId,
    public_key: &Ed25519PublicKey,
) -> Result<(), VerifyJsonError> {
    let object = value.as_object().ok_or(VerifyJsonError::NotAnObject)?;
    let signatures =
        object.get("signatures").and_then(Value::as_object).ok_or(VerifyJsonError::NoSignatures)?;
    let key_id_string = key_id.to_string();
    let signature = signatures
        .get(entity)
        .and_then(Value::as_object)
        .and_then(|by_entity| by_entity.get(&key_id_string))
        .ok_or_else(|| VerifyJsonError::NoSignatureFor {
            entity: entity.to_owned(),
            key_id: key_id_string,
        })?;
    let signature = signature.as_str().ok_or(VerifyJsonError::SignatureNotBase64)?;
    let signature = Ed25519Signature::from_base64(signature).map_err(|e| match e {
        KeyError::NotBase64(_) => VerifyJsonError::SignatureNotBase64,
        KeyError::WrongLength { found, .. } => VerifyJsonError::SignatureWrongLength(found),
    })?;
    let input = canonical_json::signing_input(value).map_err(VerifyJsonError::NotCanonical)?;
    public_key.verify(input.as_bytes(), &signature).map_err(|_| VerifyJsonError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keypair() -> Ed25519Keypair {
        Ed25519Keypair::from_seed(&[3; 32])
    }

    #[test]
    fn sign_keeps_other_signatures_and_unsigned() {
        let kp = keypair();
        let id = KeyId::ed25519_device("DEV");
        let mut v = json!({"a": 1, "unsigned": {"age": 5}, "signatures": {"@u:hs": {"ed25519:OTHER": "x"}}});
        sign_json(&mut v, "@u:hs", &id, &kp).unwrap();
        assert_eq!(v["unsigned"], json!({"age": 5}));
        assert_eq!(v["signatures"]["@u:hs"]["ed25519:OTHER"], "x");
        let expected = kp.sign(br#"{"a":1}"#).to_base64();
        assert_eq!(v["signatures"]["@u:hs"]["ed25519:DEV"], expected);
        assert_eq!(verify_json(&v, "@u:hs", &id, &kp.public_key()), Ok(()));
        // Changing `unsigned` does not matter; changing content does.
        v["unsigned"] = json!({"age": 6});
        assert_eq!(verify_json(&v, "@u:hs", &id, &kp.public_key()), Ok(()));
        v["a"] = json!(2);
        assert_eq!(verify_json(&v, "@u:hs", &id, &kp.public_key()), Err(VerifyJsonError::Invalid));
    }

    #[test]
    fn sign_errors() {
        let kp = keypair();
        let id = KeyId::ed25519_device("DEV");
        assert_eq!(sign_json(&mut json!([]), "e", &id, &kp), Err(SignJsonError::NotAnObject));
        assert_eq!(
            sign_json(&mut json!({"x": 1.5}), "e", &id, &kp),
            Err(SignJsonError::NotCanonical(CanonicalJsonError::Float(1.5)))
        );
        assert_eq!(
            sign_json(&mut json!({"signatures": {"e": 1}}), "e", &id, &kp),
            Err(SignJsonError::MalformedSignatures)
        );
    }

    #[test]
    fn verify_errors_in_order() {
        let kp = keypair();
        let pk = kp.public_key();
        let id = KeyId::ed25519_device("DEV");
        let v = |sig: Value| json!({"a": 1, "signatures": {"e": {"ed25519:DEV": sig}}});
        assert_eq!(verify_json(&json!(1), "e", &id, &pk), Err(VerifyJsonError::NotAnObject));
        assert_eq!(verify_json(&json!({}), "e", &id, &pk), Err(VerifyJsonError::NoSignatures));
        assert_eq!(
            verify_json(&v(json!("x")), "f", &id, &pk),
            Err(VerifyJsonError::NoSignatureFor { entity: "f".into(), key_id: "ed25519:DEV".into() })
        );
        assert_eq!(verify_json(&v(json!(1)), "e", &id, &pk), Err(VerifyJsonError::SignatureNotBase64));
        assert_eq!(verify_json(&v(json!("!!")), "e", &id, &pk), Err(VerifyJsonError::SignatureNotBase64));
        assert_eq!(
            verify_json(&v(json!("AAAA")), "e", &id, &pk),
            Err(VerifyJsonError::SignatureWrongLength(3))
        );
        let good = kp.sign(br#"{"a":1}"#).to_base64();
        assert_eq!(verify_json(&v(json!(good)), "e", &id, &pk), Ok(()));
        let mut float = v(json!(good));
        float["b"] = json!(0.5);
        assert_eq!(
            verify_json(&float, "e", &id, &pk),
            Err(VerifyJsonError::NotCanonical(CanonicalJsonError::Float(0.5)))
        );
        let other = Ed25519Keypair::from_seed(&[4; 32]).public_key();
        assert_eq!(verify_json(&v(json!(good)), "e", &id, &other), Err(VerifyJsonError::Invalid));
    }
}
