//! The ephemeral X25519 key pair of one side of the channel (docs/protocol.md §4.1).

use std::fmt;

use base64::Engine as _;
use rand::{CryptoRng, RngCore};
use x25519_dalek::{PublicKey, StaticSecret};

use super::B64;

/// An X25519 key pair generated for one sign-in and never reused.
///
/// It wraps a `StaticSecret` only so that test vectors can fix the private
/// key; the harness creates a fresh pair per rendezvous.
#[derive(Clone)]
pub struct EphemeralKeyPair {
    secret: StaticSecret,
    public: PublicKey,
}

impl EphemeralKeyPair {
    /// Generates a fresh pair from the caller's RNG.
    pub fn generate(rng: &mut (impl CryptoRng + RngCore)) -> EphemeralKeyPair {
        EphemeralKeyPair::from_secret(StaticSecret::random_from_rng(rng))
    }

    /// Rebuilds a pair from a 32-byte private key (test vectors).
    pub fn from_private_bytes(private: [u8; 32]) -> EphemeralKeyPair {
        EphemeralKeyPair::from_secret(StaticSecret::from(private))
    }

    fn from_secret(secret: StaticSecret) -> EphemeralKeyPair {
        let public = PublicKey::from(&secret);
        EphemeralKeyPair { secret, public }
    }

    /// The 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.public.to_bytes()
    }

    /// The public key as unpadded b64 (the QR `key` / C3 `key`).
    pub fn public_key_base64(&self) -> String {
        B64.encode(self.public.as_bytes())
    }

    /// `X25519(own private, peer public)`; the second value says whether
    /// the exchange was contributory (false for a low-order peer key).
    pub fn diffie_hellman(&self, peer_public: [u8; 32]) -> ([u8; 32], bool) {
        let shared = self.secret.diffie_hellman(&PublicKey::from(peer_public));
        (shared.to_bytes(), shared.was_contributory())
    }
}

impl fmt::Debug for EphemeralKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EphemeralKeyPair").field("public", &self.public_key_base64()).finish_non_exhaustive()
    }
}
