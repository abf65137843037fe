//! A user's three cross-signing key pairs.

use rand::{CryptoRng, RngCore};
use serde_json::{json, Value};

use super::{CrossSigningKey, KeyUsage};
use crate::{
    key_id::KeyId,
    keys::{Ed25519Keypair, Ed25519PublicKey},
    signing::{self, SignJsonError},
};

/// The master, self-signing and user-signing key pairs of one user.
#[derive(Debug, Clone)]
pub struct CrossSigningKeys {
    /// The master key pair.
    pub master: Ed25519Keypair,
    /// The self-signing key pair (signs the user's devices).
    pub self_signing: Ed25519Keypair,
    /// The user-signing key pair (signs other users' master keys).
    pub user_signing: Ed25519Keypair,
}

impl CrossSigningKeys {
    /// Generates three fresh key pairs.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        Self {
            master: Ed25519Keypair::generate(rng),
            self_signing: Ed25519Keypair::generate(rng),
            user_signing: Ed25519Keypair::generate(rng),
        }
    }

    /// Builds the key pairs from their 32-byte seeds.
    pub fn from_seeds(master: &[u8; 32], self_signing: &[u8; 32], user_signing: &[u8; 32]) -> Self {
        Self {
            master: Ed25519Keypair::from_seed(master),
            self_signing: Ed25519Keypair::from_seed(self_signing),
            user_signing: Ed25519Keypair::from_seed(user_signing),
        }
    }

    /// The key pair for `usage`.
    pub fn keypair(&self, usage: KeyUsage) -> &Ed25519Keypair {
        match usage {
            KeyUsage::Master => &self.master,
            KeyUsage::SelfSigning => &self.self_signing,
            KeyUsage::UserSigning => &self.user_signing,
        }
    }

    /// The public key for `usage`.
    pub fn public_key(&self, usage: KeyUsage) -> Ed25519PublicKey {
        self.keypair(usage).public_key()
    }

    /// The key ID for `usage`, `ed25519:<b64 public key>`.
    pub fn key_id(&self, usage: KeyUsage) -> KeyId {
        KeyId::ed25519_cross_signing(&self.public_key(usage))
    }

    /// The key object for `usage`: the master key unsigned, the other two
    /// signed by the master key under `user_id`.
    pub fn key_json(&self, user_id: &str, usage: KeyUsage) -> Value {
        let master_id = self.key_id(KeyUsage::Master);
        let signer = match usage {
            KeyUsage::Master => None,
            _ => Some((&master_id, &self.master)),
        };
        CrossSigningKey::signed_json(user_id, usage, &self.public_key(usage), signer)
    }

    /// The body of `POST /keys/device_signing/upload`: `master_key`,
    /// `self_signing_key` and `user_signing_key`, the last two signed by the
    /// master key.
    pub fn device_signing_body(&self, user_id: &str) -> Value {
        json!({
            "master_key": self.key_json(user_id, KeyUsage::Master),
            "self_signing_key": self.key_json(user_id, KeyUsage::SelfSigning),
            "user_signing_key": self.key_json(user_id, KeyUsage::UserSigning),
        })
    }

    /// Adds the self-signing key's signature to one of `user_id`'s
    /// `device_keys` objects.
    pub fn sign_device(&self, user_id: &str, device_keys: &mut Value) -> Result<(), SignJsonError> {
        let id = self.key_id(KeyUsage::SelfSigning);
        signing::sign_json(device_keys, user_id, &id, &self.self_signing)
    }

    /// Adds the user-signing key's signature (as `user_id`) to another
    /// user's master key object.
    pub fn sign_user(&self, user_id: &str, other_master: &mut Value) -> Result<(), SignJsonError> {
        let id = self.key_id(KeyUsage::UserSigning);
        signing::sign_json(other_master, user_id, &id, &self.user_signing)
    }
}
