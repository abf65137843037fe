//! Curve25519 public keys.

use super::base64_bytes_type;

base64_bytes_type!(
    /// A Curve25519 (X25519) public key: 32 bytes.
    ///
    /// No point validation is done; any 32 bytes are accepted.
    Curve25519PublicKey,
    32,
    "key"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyError;

    #[test]
    fn round_trip_and_errors() {
        let key = Curve25519PublicKey::from_bytes([7; 32]);
        let b64 = key.to_base64();
        assert_eq!(Curve25519PublicKey::from_base64(&b64).unwrap(), key);
        assert_eq!(serde_json::to_value(key).unwrap(), serde_json::Value::String(b64.clone()));
        let back: Curve25519PublicKey = serde_json::from_value(serde_json::Value::String(b64)).unwrap();
        assert_eq!(back, key);
        assert_eq!(
            Curve25519PublicKey::from_base64("curve25519+key"),
            Err(KeyError::WrongLength { expected: 32, found: 10 })
        );
        assert!(matches!(Curve25519PublicKey::from_base64("not base64!"), Err(KeyError::NotBase64(_))));
    }
}
