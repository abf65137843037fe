//! Misbehaviour knobs: each one changes exactly one thing the registrar sends (or, for
//! `skip-key-check`, one check it makes), so a scenario can ask how a server reacts.
//! Rows a–h are those of the validation table of docs/protocol.md §7.4.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use protocol::{
    cross_signing::{CrossSigningKeys, KeyUsage},
    key_id::KeyId,
    keys::{Ed25519PublicKey, Ed25519Signature},
};

/// One misbehaviour, by its scenario-file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegistrarKnob {
    /// The master key's signature on the self-signing key is corrupted (§7.4 row e).
    BadSelfSigningSignature,
    /// The master key's signature on the user-signing key is corrupted (§7.4 row g).
    BadUserSigningSignature,
    /// The master key's `usage` is `["self_signing"]` (§7.4 row a).
    MasterWrongUsage,
    /// The master key's `user_id` names another user (§7.4 row a).
    MasterWrongUserId,
    /// The master key's `keys` has a second entry (§7.4 row a).
    TwoKeysInMaster,
    /// `master_key` is left out of the key set (§7.4 row b).
    MissingMasterKey,
    /// The keys go under `device_signing` even to a server that only knows the
    /// unstable name.
    StableFieldName,
    /// The registrar skips its own post-registration `/keys/query` check (and so never
    /// repairs a server that dropped the keys). For tests of the harness itself.
    SkipKeyCheck,
}

impl RegistrarKnob {
    /// Every knob, in declaration order.
    pub const ALL: [RegistrarKnob; 8] = [
        RegistrarKnob::BadSelfSigningSignature,
        RegistrarKnob::BadUserSigningSignature,
        RegistrarKnob::MasterWrongUsage,
        RegistrarKnob::MasterWrongUserId,
        RegistrarKnob::TwoKeysInMaster,
        RegistrarKnob::MissingMasterKey,
        RegistrarKnob::StableFieldName,
        RegistrarKnob::SkipKeyCheck,
    ];

    /// The knobs that make the key set invalid: a conforming server must refuse it.
    pub const INVALIDATING: [RegistrarKnob; 6] = [
        RegistrarKnob::BadSelfSigningSignature,
        RegistrarKnob::BadUserSigningSignature,
        RegistrarKnob::MasterWrongUsage,
        RegistrarKnob::MasterWrongUserId,
        RegistrarKnob::TwoKeysInMaster,
        RegistrarKnob::MissingMasterKey,
    ];

    /// The kebab-case name used in scenario files, e.g. `bad-self-signing-signature`.
    pub fn name(self) -> &'static str {
        match self {
            RegistrarKnob::BadSelfSigningSignature => "bad-self-signing-signature",
            RegistrarKnob::BadUserSigningSignature => "bad-user-signing-signature",
            RegistrarKnob::MasterWrongUsage => "master-wrong-usage",
            RegistrarKnob::MasterWrongUserId => "master-wrong-user-id",
            RegistrarKnob::TwoKeysInMaster => "two-keys-in-master",
            RegistrarKnob::MissingMasterKey => "missing-master-key",
            RegistrarKnob::StableFieldName => "stable-field-name",
            RegistrarKnob::SkipKeyCheck => "skip-key-check",
        }
    }

    /// Whether the knob makes the key set invalid.
    pub fn makes_keys_invalid(self) -> bool {
        RegistrarKnob::INVALIDATING.contains(&self)
    }
}

/// The set of knobs a registrar runs with; all off by default.
///
/// In a scenario file: `{"bad-self-signing-signature": true}`; unknown names are an
/// error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct RegistrarKnobs {
    /// See [`RegistrarKnob::BadSelfSigningSignature`].
    pub bad_self_signing_signature: bool,
    /// See [`RegistrarKnob::BadUserSigningSignature`].
    pub bad_user_signing_signature: bool,
    /// See [`RegistrarKnob::MasterWrongUsage`].
    pub master_wrong_usage: bool,
    /// See [`RegistrarKnob::MasterWrongUserId`].
    pub master_wrong_user_id: bool,
    /// See [`RegistrarKnob::TwoKeysInMaster`].
    pub two_keys_in_master: bool,
    /// See [`RegistrarKnob::MissingMasterKey`].
    pub missing_master_key: bool,
    /// See [`RegistrarKnob::StableFieldName`].
    pub stable_field_name: bool,
    /// See [`RegistrarKnob::SkipKeyCheck`].
    pub skip_key_check: bool,
}

impl RegistrarKnobs {
    /// No knob set.
    pub fn none() -> Self {
        Self::default()
    }

    /// Exactly one knob set.
    pub fn only(knob: RegistrarKnob) -> Self {
        Self::none().with(knob)
    }

    /// This set with `knob` turned on.
    pub fn with(mut self, knob: RegistrarKnob) -> Self {
        *self.slot(knob) = true;
        self
    }

    /// Whether `knob` is on.
    pub fn is_set(&self, knob: RegistrarKnob) -> bool {
        match knob {
            RegistrarKnob::BadSelfSigningSignature => self.bad_self_signing_signature,
            RegistrarKnob::BadUserSigningSignature => self.bad_user_signing_signature,
            RegistrarKnob::MasterWrongUsage => self.master_wrong_usage,
            RegistrarKnob::MasterWrongUserId => self.master_wrong_user_id,
            RegistrarKnob::TwoKeysInMaster => self.two_keys_in_master,
            RegistrarKnob::MissingMasterKey => self.missing_master_key,
            RegistrarKnob::StableFieldName => self.stable_field_name,
            RegistrarKnob::SkipKeyCheck => self.skip_key_check,
        }
    }

    /// The knobs that are on, in declaration order.
    pub fn enabled(&self) -> Vec<RegistrarKnob> {
        RegistrarKnob::ALL.into_iter().filter(|k| self.is_set(*k)).collect()
    }

    /// The first knob that makes the key set invalid, if any.
    pub fn invalidating(&self) -> Option<RegistrarKnob> {
        RegistrarKnob::INVALIDATING.into_iter().find(|k| self.is_set(*k))
    }

    fn slot(&mut self, knob: RegistrarKnob) -> &mut bool {
        match knob {
            RegistrarKnob::BadSelfSigningSignature => &mut self.bad_self_signing_signature,
            RegistrarKnob::BadUserSigningSignature => &mut self.bad_user_signing_signature,
            RegistrarKnob::MasterWrongUsage => &mut self.master_wrong_usage,
            RegistrarKnob::MasterWrongUserId => &mut self.master_wrong_user_id,
            RegistrarKnob::TwoKeysInMaster => &mut self.two_keys_in_master,
            RegistrarKnob::MissingMasterKey => &mut self.missing_master_key,
            RegistrarKnob::StableFieldName => &mut self.stable_field_name,
            RegistrarKnob::SkipKeyCheck => &mut self.skip_key_check,
        }
    }

    /// The `/keys/device_signing/upload` body (and MSC2912 `device_signing` value) for
    /// `user_id`, with the key-set knobs applied. `extra_key` is the second master key
    /// of `two-keys-in-master`.
    pub fn device_signing_body(
        &self,
        keys: &CrossSigningKeys,
        user_id: &str,
        extra_key: &Ed25519PublicKey,
    ) -> Value {
        let mut body = keys.device_signing_body(user_id);
        let master_id = keys.key_id(KeyUsage::Master);
        if self.bad_self_signing_signature {
            corrupt_signature(&mut body["self_signing_key"], user_id, &master_id);
        }
        if self.bad_user_signing_signature {
            corrupt_signature(&mut body["user_signing_key"], user_id, &master_id);
        }
        if self.master_wrong_usage {
            body["master_key"]["usage"] = json!([KeyUsage::SelfSigning.as_str()]);
        }
        if self.master_wrong_user_id {
            body["master_key"]["user_id"] = json!(other_user(user_id));
        }
        if self.two_keys_in_master {
            let id = KeyId::ed25519_cross_signing(extra_key).to_string();
            if let Some(map) = body["master_key"]["keys"].as_object_mut() {
                map.insert(id, json!(extra_key.to_base64()));
            }
        }
        if self.missing_master_key {
            if let Some(map) = body.as_object_mut() {
                map.remove("master_key");
            }
        }
        body
    }
}

/// Flips one bit of the signature at `signatures[user_id][master_id]`: still 64
/// bytes of valid base64, but no longer a valid signature.
fn corrupt_signature(key: &mut Value, user_id: &str, master_id: &KeyId) {
    let slot = &mut key["signatures"][user_id][master_id.to_string()];
    if let Some(signature) = slot.as_str().and_then(|s| Ed25519Signature::from_base64(s).ok()) {
        let mut bytes = *signature.as_bytes();
        bytes[0] ^= 0x01;
        *slot = json!(Ed25519Signature::from_bytes(bytes).to_base64());
    }
}

/// `@<localpart>-other:<server>`: a well-formed user ID that is not `user_id`.
fn other_user(user_id: &str) -> String {
    match user_id.split_once(':') {
        Some((local, server)) => format!("{local}-other:{server}"),
        None => format!("{user_id}-other"),
    }
}
