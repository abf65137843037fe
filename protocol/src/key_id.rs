//! Key identifiers of the form `<algorithm>:<key name>`.
//!
//! Device keys use `ed25519:<DEVICE_ID>` and `curve25519:<DEVICE_ID>`;
//! cross-signing keys use `ed25519:<b64 public key>`. Both share one
//! signature namespace (docs/protocol.md §7.7).

use std::{fmt, str::FromStr};

use crate::keys::Ed25519PublicKey;

/// The `ed25519` algorithm name.
pub const ED25519: &str = "ed25519";
/// The `curve25519` algorithm name.
pub const CURVE25519: &str = "curve25519";

/// A key identifier such as `ed25519:ABCDEF`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId {
    /// The algorithm, before the first colon (`ed25519`).
    pub algorithm: String,
    /// The key name, after the first colon (a device ID or a public key).
    pub key_name: String,
}

/// Why a string is not a key ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyIdError {
    /// There is no `:` separating algorithm and key name.
    #[error("key ID {0:?} has no colon")]
    MissingColon(String),
    /// The algorithm (before the colon) is empty.
    #[error("key ID {0:?} has an empty algorithm")]
    EmptyAlgorithm(String),
    /// The key name (after the colon) is empty.
    #[error("key ID {0:?} has an empty key name")]
    EmptyKeyName(String),
}

impl KeyId {
    /// Builds a key ID from its parts, without validation.
    pub fn new(algorithm: impl Into<String>, key_name: impl Into<String>) -> Self {
        Self { algorithm: algorithm.into(), key_name: key_name.into() }
    }

    /// `ed25519:<device_id>`.
    pub fn ed25519_device(device_id: &str) -> Self {
        Self::new(ED25519, device_id)
    }

    /// `curve25519:<device_id>`.
    pub fn curve25519_device(device_id: &str) -> Self {
        Self::new(CURVE25519, device_id)
    }

    /// `ed25519:<b64 public key>`, the ID of a cross-signing key.
    pub fn ed25519_cross_signing(public_key: &Ed25519PublicKey) -> Self {
        Self::new(ED25519, public_key.to_base64())
    }

    /// Whether the algorithm is `ed25519`.
    pub fn is_ed25519(&self) -> bool {
        self.algorithm == ED25519
    }
}

impl FromStr for KeyId {
    type Err = KeyIdError;

    /// Splits at the first colon; both parts must be non-empty.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (algorithm, key_name) =
            s.split_once(':').ok_or_else(|| KeyIdError::MissingColon(s.to_owned()))?;
        if algorithm.is_empty() {
            return Err(KeyIdError::EmptyAlgorithm(s.to_owned()));
        }
        if key_name.is_empty() {
            return Err(KeyIdError::EmptyKeyName(s.to_owned()));
        }
        Ok(Self::new(algorithm, key_name))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.key_name)
    }
}

impl serde::Serialize for KeyId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for KeyId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        let id: KeyId = "ed25519:ABC".parse().unwrap();
        assert_eq!(id, KeyId::ed25519_device("ABC"));
        assert!(id.is_ed25519());
        assert_eq!(id.to_string(), "ed25519:ABC");
        let id: KeyId = "signed_curve25519:AAAAAQ:x".parse().unwrap();
        assert_eq!(id.algorithm, "signed_curve25519");
        assert_eq!(id.key_name, "AAAAAQ:x");
        assert!(!id.is_ed25519());
        assert_eq!(KeyId::curve25519_device("XYZ").to_string(), "curve25519:XYZ");
    }

    #[test]
    fn parse_errors() {
        assert_eq!("ed25519".parse::<KeyId>(), Err(KeyIdError::MissingColon("ed25519".into())));
        assert_eq!(":ABC".parse::<KeyId>(), Err(KeyIdError::EmptyAlgorithm(":ABC".into())));
        assert_eq!("ed25519:".parse::<KeyId>(), Err(KeyIdError::EmptyKeyName("ed25519:".into())));
    }

    #[test]
    fn cross_signing_id() {
        let key = Ed25519PublicKey::from_base64("nqOvzeuGWT/sRx3h7+MHoInYj3Uk2LD/unI9kDYcHwk").unwrap();
        assert_eq!(
            KeyId::ed25519_cross_signing(&key).to_string(),
            "ed25519:nqOvzeuGWT/sRx3h7+MHoInYj3Uk2LD/unI9kDYcHwk"
        );
    }
}
