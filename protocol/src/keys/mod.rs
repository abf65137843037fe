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

/// Defines a public type for `$len` raw bytes (a key or a signature) whose text form
/// is unpadded base64: `LENGTH`, `from_bytes`, `from_base64` (padded input is
/// accepted), `to_base64`, `as_bytes`, a `Debug` that shows the base64, and
/// `Display`, `FromStr` and serde as the base64 string.
macro_rules! base64_bytes_type {
    ($(#[$meta:meta])* $name:ident, $len:literal, $what:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; $len]);

        impl $name {
            #[doc = concat!("The length of a ", $what, " in bytes.")]
            pub const LENGTH: usize = $len;

            #[doc = concat!("Wraps ", stringify!($len), " raw bytes.")]
            pub fn from_bytes(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }

            #[doc = concat!("Decodes an unpadded (or padded) base64 ", $what, " of exactly ", stringify!($len), " bytes.")]
            pub fn from_base64(s: &str) -> Result<Self, $crate::keys::KeyError> {
                Ok(Self($crate::base64::decode_array(s)?))
            }

            /// The unpadded base64 form.
            pub fn to_base64(&self) -> String {
                $crate::base64::encode(self.0)
            }

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.to_base64())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.to_base64())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::keys::KeyError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::from_base64(s)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.to_base64())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::from_base64(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use base64_bytes_type;
