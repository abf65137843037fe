//! Errors of the secure channel and of its cleartext bodies.

/// What is wrong with an encrypted envelope's structure (before any
/// cryptography runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeDefect {
    /// The body is not a JSON object.
    #[error("not a JSON object")]
    NotAnObject,
    /// The `iv` field is absent.
    #[error("missing `iv`")]
    MissingIv,
    /// The `ciphertext` field is absent.
    #[error("missing `ciphertext`")]
    MissingCiphertext,
    /// `iv` is not a string.
    #[error("`iv` is not a string")]
    IvNotString,
    /// `ciphertext` is not a string.
    #[error("`ciphertext` is not a string")]
    CiphertextNotString,
    /// `iv` is not base64.
    #[error("`iv` is not base64")]
    IvNotBase64,
    /// `ciphertext` is not base64.
    #[error("`ciphertext` is not base64")]
    CiphertextNotBase64,
    /// `ciphertext` is shorter than the 16-byte GCM tag.
    #[error("`ciphertext` is shorter than the 16-byte GCM tag")]
    CiphertextTooShort,
}

/// Every way the channel can fail (docs/protocol.md §4, §1.6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// The envelope is not `{"iv":b64,"ciphertext":b64}`.
    #[error("malformed envelope: {0}")]
    MalformedEnvelope(EnvelopeDefect),
    /// The IV is neither 16 nor 32 bytes long (D2).
    #[error("IV of {0} bytes; only 16 or 32 are accepted")]
    BadIvLength(usize),
    /// The GCM tag did not verify: wrong key or tampered message (an abort).
    #[error("decryption failed: GCM authentication tag mismatch")]
    DecryptionFailed,
    /// The decrypted plaintext is not UTF-8 JSON.
    #[error("decrypted plaintext is not JSON")]
    PlaintextNotJson,
    /// The algorithm is not an MSC3903 v2 name.
    #[error("unsupported channel algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The peer's public key is a low-order point: the shared secret would
    /// be all zeros and known to anybody.
    #[error("peer public key is a low-order point (non-contributory key exchange)")]
    NonContributoryKey,
    /// AES-GCM refused to encrypt (plaintext beyond the GCM length limit).
    #[error("encryption failed: plaintext too long for AES-GCM")]
    EncryptionFailed,
}

/// Why a cleartext rendezvous body (C1 or C3) is rejected (§4.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyBodyError {
    /// The body is not a JSON object.
    #[error("rendezvous body is not a JSON object")]
    NotAnObject,
    /// `algorithm` is absent or not a string.
    #[error("rendezvous body lacks a string `algorithm`")]
    MissingAlgorithm,
    /// `algorithm` is neither the stable nor the unstable v2 name.
    #[error("unsupported channel algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// `key` is absent (C3 only).
    #[error("rendezvous body lacks `key`")]
    MissingKey,
    /// `key` is not a string.
    #[error("`key` is not a string")]
    KeyNotString,
    /// `key` is not base64.
    #[error("`key` is not base64")]
    KeyNotBase64,
    /// `key` does not decode to 32 bytes.
    #[error("`key` has {0} bytes, expected 32")]
    KeyLength(usize),
}
