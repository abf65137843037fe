//! Ed25519 public keys, signatures and key pairs.

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use rand::{CryptoRng, RngCore};

use super::{base64_bytes_type, SignatureError};

base64_bytes_type!(
    /// An Ed25519 public key: 32 bytes.
    ///
    /// Any 32 bytes are accepted; whether they form a valid point is only checked
    /// by [`Ed25519PublicKey::verify`].
    Ed25519PublicKey,
    32,
    "key"
);

base64_bytes_type!(
    /// An Ed25519 signature: 64 bytes.
    Ed25519Signature,
    64,
    "signature"
);

impl Ed25519PublicKey {
    /// Verifies `signature` over `message` with `verify_strict` (rejects
    /// non-canonical signatures and weak keys).
    pub fn verify(&self, message: &[u8], signature: &Ed25519Signature) -> Result<(), SignatureError> {
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| SignatureError::InvalidPublicKey)?;
        let signature = ed25519_dalek::Signature::from_bytes(&signature.0);
        key.verify_strict(message, &signature).map_err(|_| SignatureError::Invalid)
    }
}

/// An Ed25519 key pair, built from a 32-byte seed.
///
/// `Debug` shows only the public key, never the seed.
#[derive(Clone)]
pub struct Ed25519Keypair {
    signing_key: SigningKey,
}

impl Ed25519Keypair {
    /// Builds the key pair for a 32-byte seed (the RFC 8032 private key).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self { signing_key: SigningKey::from_bytes(seed) }
    }

    /// Generates a fresh key pair from a cryptographic RNG.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        Self { signing_key: SigningKey::generate(rng) }
    }

    /// The 32-byte seed.
    pub fn seed(&self) -> [u8; 32] {
        self.signing_key.to_bytes()
    }

    /// The public key.
    pub fn public_key(&self) -> Ed25519PublicKey {
        Ed25519PublicKey(self.signing_key.verifying_key().to_bytes())
    }

    /// Signs `message` (deterministic, RFC 8032).
    pub fn sign(&self, message: &[u8]) -> Ed25519Signature {
        Ed25519Signature(self.signing_key.sign(message).to_bytes())
    }
}

impl std::fmt::Debug for Ed25519Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ed25519Keypair").field("public_key", &self.public_key()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyError;
    use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};

    const SEED: &str = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1";
    const PUBLIC: &str = "XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI";

    fn spec_keypair() -> Ed25519Keypair {
        Ed25519Keypair::from_seed(&crate::base64::decode_array(SEED).unwrap())
    }

    #[test]
    fn spec_public_key() {
        let kp = spec_keypair();
        assert_eq!(kp.public_key().to_base64(), PUBLIC);
        assert_eq!(kp.public_key().to_string(), PUBLIC);
        assert_eq!(Ed25519PublicKey::from_base64(PUBLIC).unwrap(), kp.public_key());
    }

    #[test]
    fn debug_hides_seed() {
        let kp = spec_keypair();
        let debug = format!("{kp:?}");
        assert!(debug.contains(PUBLIC), "{debug}");
        assert!(!debug.contains("YJDBA9Xnr2sVqXD9Vj7XVUnm"), "{debug}");
        assert!(!debug.contains("96, 144, 193"), "{debug}");
    }

    #[test]
    fn sign_verify_and_tamper() {
        let kp = Ed25519Keypair::generate(&mut ChaCha20Rng::seed_from_u64(1));
        assert_eq!(Ed25519Keypair::from_seed(&kp.seed()).public_key(), kp.public_key());
        let sig = kp.sign(b"hello");
        assert_eq!(kp.public_key().verify(b"hello", &sig), Ok(()));
        assert_eq!(kp.public_key().verify(b"hellp", &sig), Err(SignatureError::Invalid));
        let mut bytes = *sig.as_bytes();
        bytes[0] ^= 1;
        assert_eq!(
            kp.public_key().verify(b"hello", &Ed25519Signature::from_bytes(bytes)),
            Err(SignatureError::Invalid)
        );
        assert_eq!(Ed25519Signature::from_base64(&sig.to_base64()).unwrap(), sig);
        assert_eq!(
            Ed25519Signature::from_base64(PUBLIC),
            Err(KeyError::WrongLength { expected: 64, found: 32 })
        );
    }

    #[test]
    fn serde_is_base64_string() {
        let key = spec_keypair().public_key();
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(json, format!("\"{PUBLIC}\""));
        let back: Ed25519PublicKey = serde_json::from_str(&json).unwrap();
        assert_eq!(back, key);
        assert!(serde_json::from_str::<Ed25519PublicKey>("\"AAAA\"").is_err());
    }
}
