//! Public keys, signatures and key pairs as types.
//!
//! Keys are decoded from unpadded base64 at the edges with `from_base64` and
//! written back with `to_base64`; the `Display` and serde forms are the same
//! base64 string.

mod curve25519;
mod ed25519;

pub use curve25519::Curve25519PublicKey;
pub use ed25519::{Ed25519Keypair, Ed25519PublicKey, Ed25519Signature};

use crate::base64::Base64Error;

/// Why a key or signature could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The string is not valid base64.
    #[error("key is not valid base64: {0}")]
    NotBase64(base64::DecodeError),
    /// The string decoded to the wrong number of bytes.
    #[error("key has {found} bytes, expected {expected}")]
    WrongLength {
        /// The number of bytes required.
        expected: usize,
        /// The number of bytes decoded.
        found: usize,
    },
}

impl From<Base64Error> for KeyError {
    fn from(error: Base64Error) -> Self {
        match error {
            Base64Error::Invalid(e) => KeyError::NotBase64(e),
            Base64Error::WrongLength { expected, found } => KeyError::WrongLength { expected, found },
        }
    }
}

/// Why an Ed25519 signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The 32 public-key bytes are not a valid (or are a weak) Ed25519 point.
    #[error("the public key is not a valid Ed25519 point")]
    InvalidPublicKey,
    /// The signature does not match the message under this key.
    #[error("the signature is invalid")]
    Invalid,
}

/// Implements `Display` and serde as the unpadded base64 form, given
/// `from_base64` and `to_base64`.
macro_rules! base64_string_impls {
    ($ty:ty) => {
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.to_base64())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::keys::KeyError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::from_base64(s)
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.to_base64())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::from_base64(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use base64_string_impls;
