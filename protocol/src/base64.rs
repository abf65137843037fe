//! Unpadded standard base64, as used throughout the Matrix protocol.
//!
//! Encoding always produces the standard alphabet without `=` padding. Decoding
//! is lenient: it accepts padded and unpadded input, and non-zero trailing bits
//! (the spec's published seed `...XA1` needs this).

use base64::{
    alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
    Engine as _,
};

/// The engine: standard alphabet, no padding on encode, padding optional and
/// trailing bits allowed on decode.
const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Why a base64 string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Base64Error {
    /// The string is not valid base64.
    #[error("invalid base64: {0}")]
    Invalid(#[from] base64::DecodeError),
    /// The string decoded, but to the wrong number of bytes.
    #[error("base64 decoded to {found} bytes, expected {expected}")]
    WrongLength {
        /// The number of bytes required.
        expected: usize,
        /// The number of bytes decoded.
        found: usize,
    },
}

/// Encodes bytes as standard base64 without padding.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    ENGINE.encode(bytes)
}

/// Decodes standard base64, padded or not, allowing non-zero trailing bits.
pub fn decode(s: &str) -> Result<Vec<u8>, Base64Error> {
    Ok(ENGINE.decode(s)?)
}

/// Decodes standard base64 into exactly `N` bytes.
pub fn decode_array<const N: usize>(s: &str) -> Result<[u8; N], Base64Error> {
    let bytes = decode(s)?;
    <[u8; N]>::try_from(bytes.as_slice())
        .map_err(|_| Base64Error::WrongLength { expected: N, found: bytes.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_HEX: &str = "6090c103d5e7af6b15a970fd563ed75549e6159719ae5c3c31dee4316fb75c0d";

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn decodes_spec_seed_with_trailing_bits() {
        let published = decode("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1").unwrap();
        let canonical = decode("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0").unwrap();
        assert_eq!(hex(&published), SEED_HEX);
        assert_eq!(published, canonical);
        assert_eq!(encode(&published), "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0");
    }

    #[test]
    fn padded_and_unpadded() {
        assert_eq!(decode("YQ==").unwrap(), b"a");
        assert_eq!(decode("YQ").unwrap(), b"a");
        assert_eq!(decode("YWI=").unwrap(), b"ab");
        assert_eq!(decode("YWI").unwrap(), b"ab");
        assert_eq!(decode("YWJj").unwrap(), b"abc");
        assert_eq!(decode("").unwrap(), b"");
        assert_eq!(encode(b"a"), "YQ");
        assert_eq!(encode(b"ab"), "YWI");
        assert_eq!(encode([0xfb, 0xff]), "+/8");
    }

    #[test]
    fn rejects_invalid() {
        assert!(matches!(decode("Y*=="), Err(Base64Error::Invalid(_))));
        assert!(matches!(decode("-_8"), Err(Base64Error::Invalid(_))));
        assert!(matches!(decode("Y"), Err(Base64Error::Invalid(_))));
    }

    #[test]
    fn decode_array_checks_length() {
        assert_eq!(decode_array::<2>("YWI").unwrap(), *b"ab");
        assert_eq!(decode_array::<32>("YWI"), Err(Base64Error::WrongLength { expected: 32, found: 2 }));
    }
}
