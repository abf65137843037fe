//! Curve25519 public keys.

use super::{base64_string_impls, KeyError};

/// A Curve25519 (X25519) public key: 32 bytes.
///
/// No point validation is done; any 32 bytes are accepted.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Curve25519PublicKey([u8; 32]);

impl Curve25519PublicKey {
    /// The length of the key in bytes.
    pub const LENGTH: usize = 32;

    /// Wraps 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Decodes an unpadded (or padded) base64 key of exactly 32 bytes.
    pub fn from_base64(s: &str) -> Result<Self, KeyError> {
        Ok(Self(crate::base64::decode_array(s)?))
    }

    /// The unpadded base64 form.
    pub fn to_base64(&self) -> String {
        crate::base64::encode(self.0)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for Curve25519PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Curve25519PublicKey({})", self.to_base64())
    }
}

base64_string_impls!(Curve25519PublicKey);

#[cfg(test)]
mod tests {
    use super::*;

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
