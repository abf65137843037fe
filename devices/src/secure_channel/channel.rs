//! Key agreement, key derivation and the encrypted envelope (§4.1–§4.4).

use std::fmt;

use aes_gcm::aead::consts::{U16, U32};
use aes_gcm::aead::generic_array::{ArrayLength, GenericArray};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::AesGcm;
use base64::Engine as _;
use hkdf::Hkdf;
use protocol::qr_login::is_v2_algorithm;
use rand::{CryptoRng, RngCore};
use serde_json::{Map, Value};
use sha2::Sha256;

use super::{ChannelError, CheckCode, EnvelopeDefect, EphemeralKeyPair, B64};

/// AES-GCM tag length in bytes.
const TAG_LEN: usize = 16;

/// Which side of the channel this is (docs/protocol.md §0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelRole {
    /// The generator: creates the rendezvous and shows the QR code.
    Initiator,
    /// The scanner: reads the QR code and PUTs its key.
    Recipient,
}

/// The IV length this side sends (D2). Receivers accept both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IvLength {
    /// 32 bytes, as js-sdk and Element iOS send (the default).
    #[default]
    Bytes32,
    /// 16 bytes, as Element Android sends (profile `android`).
    Bytes16,
}

impl IvLength {
    /// The length in bytes (32 or 16).
    pub fn byte_len(self) -> usize {
        match self {
            IvLength::Bytes32 => 32,
            IvLength::Bytes16 => 16,
        }
    }
}

/// The HKDF info string:
/// `ALG | b64(initiator public) | b64(recipient public)`, both keys
/// re-encoded unpadded from their raw bytes, initiator first (§4.2).
pub fn hkdf_info(algorithm: &str, initiator_public: &[u8; 32], recipient_public: &[u8; 32]) -> String {
    format!("{algorithm}|{}|{}", B64.encode(initiator_public), B64.encode(recipient_public))
}

/// An established MSC3903 v2 channel: the AES-256-GCM key both sides
/// derived, plus what the check code needs.
#[derive(Clone)]
pub struct SecureChannel {
    role: ChannelRole,
    algorithm: String,
    initiator_public: [u8; 32],
    recipient_public: [u8; 32],
    shared_secret: [u8; 32],
    key: [u8; 32],
    send_iv_length: IvLength,
}

impl SecureChannel {
    /// Runs the key agreement: X25519 with the peer's public key, then
    /// HKDF-SHA256 (empty salt, L = 32) with the info of [`hkdf_info`].
    ///
    /// `algorithm` must be the exact string of the QR code (D1): it goes
    /// into the info, so a peer using the other name derives another key.
    pub fn establish(
        role: ChannelRole,
        own: EphemeralKeyPair,
        peer_public: [u8; 32],
        algorithm: &str,
    ) -> Result<SecureChannel, ChannelError> {
        if !is_v2_algorithm(algorithm) {
            return Err(ChannelError::UnsupportedAlgorithm(algorithm.to_owned()));
        }
        let (shared_secret, contributory) = own.diffie_hellman(peer_public);
        if !contributory {
            return Err(ChannelError::NonContributoryKey);
        }
        let (initiator_public, recipient_public) = match role {
            ChannelRole::Initiator => (own.public_key(), peer_public),
            ChannelRole::Recipient => (peer_public, own.public_key()),
        };
        let mut channel = SecureChannel {
            role,
            algorithm: algorithm.to_owned(),
            initiator_public,
            recipient_public,
            shared_secret,
            key: [0; 32],
            send_iv_length: IvLength::default(),
        };
        channel.key = channel.expand();
        Ok(channel)
    }

    /// The same channel, sending IVs of `length` (profile `android`: 16).
    pub fn with_send_iv_length(mut self, length: IvLength) -> SecureChannel {
        self.send_iv_length = length;
        self
    }

    fn expand<const N: usize>(&self) -> [u8; N] {
        let hkdf = Hkdf::<Sha256>::new(None, &self.shared_secret);
        let mut okm = [0u8; N];
        // N is 5 or 32, far below HKDF-SHA256's limit of 255 * 32 bytes.
        hkdf.expand(self.info().as_bytes(), &mut okm).expect("HKDF output length within 255 * HashLen");
        okm
    }

    /// This side's role.
    pub fn role(&self) -> ChannelRole {
        self.role
    }

    /// The algorithm string used in the info.
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The HKDF info string of this channel.
    pub fn info(&self) -> String {
        hkdf_info(&self.algorithm, &self.initiator_public, &self.recipient_public)
    }

    /// The raw X25519 shared secret (for test vectors and journals).
    pub fn shared_secret(&self) -> [u8; 32] {
        self.shared_secret
    }

    /// The derived AES-256 key (for test vectors and journals).
    pub fn aes_key(&self) -> [u8; 32] {
        self.key
    }

    /// The check code (HKDF with L = 5, §4.4).
    pub fn check_code_value(&self) -> CheckCode {
        CheckCode::from_bytes(self.expand())
    }

    /// The rendered check code, e.g. `8378-2366-8809`.
    pub fn check_code(&self) -> String {
        self.check_code_value().to_string()
    }

    /// Encrypts the compact JSON of `message` under a fresh random IV of
    /// this side's IV length; returns the `{iv, ciphertext}` envelope.
    pub fn encrypt_json(
        &self,
        message: &Value,
        rng: &mut (impl CryptoRng + RngCore),
    ) -> Result<Value, ChannelError> {
        let mut iv = vec![0u8; self.send_iv_length.byte_len()];
        rng.fill_bytes(&mut iv);
        self.encrypt_json_with_iv(message, &iv)
    }

    /// Like [`SecureChannel::encrypt_json`] with a given IV (test vectors,
    /// fault injection). The IV must be 16 or 32 bytes.
    pub fn encrypt_json_with_iv(&self, message: &Value, iv: &[u8]) -> Result<Value, ChannelError> {
        self.encrypt_bytes_with_iv(message.to_string().as_bytes(), iv)
    }

    /// Encrypts exact plaintext bytes under `iv` (16 or 32 bytes).
    pub fn encrypt_bytes_with_iv(&self, plaintext: &[u8], iv: &[u8]) -> Result<Value, ChannelError> {
        let ciphertext = match iv.len() {
            32 => seal::<U32>(&self.key, iv, plaintext),
            16 => seal::<U16>(&self.key, iv, plaintext),
            other => return Err(ChannelError::BadIvLength(other)),
        }
        .map_err(|_| ChannelError::EncryptionFailed)?;
        let mut envelope = Map::new();
        envelope.insert("iv".into(), B64.encode(iv).into());
        envelope.insert("ciphertext".into(), B64.encode(ciphertext).into());
        Ok(Value::Object(envelope))
    }

    /// Checks and decrypts an envelope, returning the plaintext bytes.
    pub fn decrypt(&self, envelope: &Value) -> Result<Vec<u8>, ChannelError> {
        let malformed = ChannelError::MalformedEnvelope;
        let object = envelope.as_object().ok_or(malformed(EnvelopeDefect::NotAnObject))?;
        let iv = object
            .get("iv")
            .ok_or(malformed(EnvelopeDefect::MissingIv))?
            .as_str()
            .ok_or(malformed(EnvelopeDefect::IvNotString))?;
        let ciphertext = object
            .get("ciphertext")
            .ok_or(malformed(EnvelopeDefect::MissingCiphertext))?
            .as_str()
            .ok_or(malformed(EnvelopeDefect::CiphertextNotString))?;
        let iv = B64.decode(iv).map_err(|_| malformed(EnvelopeDefect::IvNotBase64))?;
        let ciphertext =
            B64.decode(ciphertext).map_err(|_| malformed(EnvelopeDefect::CiphertextNotBase64))?;
        if iv.len() != 16 && iv.len() != 32 {
            return Err(ChannelError::BadIvLength(iv.len()));
        }
        if ciphertext.len() < TAG_LEN {
            return Err(malformed(EnvelopeDefect::CiphertextTooShort));
        }
        match iv.len() {
            32 => open::<U32>(&self.key, &iv, &ciphertext),
            _ => open::<U16>(&self.key, &iv, &ciphertext),
        }
        .map_err(|_| ChannelError::DecryptionFailed)
    }

    /// Decrypts an envelope and parses the plaintext as JSON.
    pub fn decrypt_json(&self, envelope: &Value) -> Result<Value, ChannelError> {
        let plaintext = self.decrypt(envelope)?;
        serde_json::from_slice(&plaintext).map_err(|_| ChannelError::PlaintextNotJson)
    }
}

impl fmt::Debug for SecureChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecureChannel")
            .field("role", &self.role)
            .field("algorithm", &self.algorithm)
            .field("initiator_public", &B64.encode(self.initiator_public))
            .field("recipient_public", &B64.encode(self.recipient_public))
            .field("send_iv_length", &self.send_iv_length)
            .finish_non_exhaustive()
    }
}

/// AES-256-GCM with an IV of `N` bytes; the caller checked `iv.len() == N`.
fn seal<N: ArrayLength<u8>>(key: &[u8; 32], iv: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, aes_gcm::Error> {
    let cipher = AesGcm::<Aes256, N>::new(GenericArray::from_slice(key));
    cipher.encrypt(GenericArray::from_slice(iv), plaintext)
}

/// Inverse of [`seal`]; fails on a tag mismatch.
fn open<N: ArrayLength<u8>>(key: &[u8; 32], iv: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, aes_gcm::Error> {
    let cipher = AesGcm::<Aes256, N>::new(GenericArray::from_slice(key));
    cipher.decrypt(GenericArray::from_slice(iv), ciphertext)
}
