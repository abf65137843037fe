//! The MSC3903 v2 secure channel (docs/protocol.md §4), sans-IO.
//!
//! * [`EphemeralKeyPair`]: the X25519 pair each side generates once.
//! * [`SecureChannel`]: X25519 + HKDF-SHA256 key agreement, the check code
//!   and AES-256-GCM with the `{iv, ciphertext}` envelope.
//! * [`InitiatorCreateBody`] / [`RecipientKeyBody`]: the cleartext
//!   rendezvous bodies C1 and C3.
//!
//! Randomness always comes from a caller-supplied RNG so that runs seeded
//! with a ChaCha RNG are reproducible.

mod channel;
mod check_code;
mod error;
mod keys;
mod payloads;

pub use channel::{hkdf_info, ChannelRole, IvLength, SecureChannel};
pub use check_code::CheckCode;
pub use error::{ChannelError, EnvelopeDefect, KeyBodyError};
pub use keys::EphemeralKeyPair;
pub use payloads::{InitiatorCreateBody, RecipientKeyBody};

/// The base64 engine of docs/protocol.md's conventions: standard alphabet,
/// unpadded on output, padding optional and trailing bits tolerated on input.
pub(crate) const B64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);
