//! Configurations of the two QR-login roles: who they are, their set-up and their
//! misbehaviour knobs. Every type deserialises from kebab-case JSON and rejects unknown
//! fields, so scenario files can name them.

use protocol::qr_login::{Dialect, Intent};
use serde::{Deserialize, Serialize};

pub use super::mangle::{MangleMessage, Mangling};

/// The MSC3906 message vocabulary, as scenario files name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DialectName {
    /// Deployed (`m.login.progress` / `m.login.finish`).
    #[default]
    V1,
    /// MSC head (one `type` per message); the QR code carries the v2 `flow`.
    V2,
}

impl From<DialectName> for Dialect {
    fn from(name: DialectName) -> Dialect {
        match name {
            DialectName::V1 => Dialect::V1,
            DialectName::V2 => Dialect::V2,
        }
    }
}

fn default_poll_ms() -> u64 {
    1_000
}
fn default_timeout_ms() -> u64 {
    60_000
}
fn default_device_wait_ms() -> u64 {
    10_000
}
fn default_quiet_ms() -> u64 {
    5_000
}
fn yes() -> bool {
    true
}

/// What the existing device has before the flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ExistingDeviceSetup {
    /// Cross-signing keys uploaded (and its own device signed).
    #[serde(default = "yes")]
    pub cross_signing: bool,
    /// A key backup version with a backup key.
    #[serde(default = "yes")]
    pub backup: bool,
    /// Whether the device does E2EE at all (Olm device keys).
    #[serde(default = "yes")]
    pub e2ee: bool,
}

impl Default for ExistingDeviceSetup {
    fn default() -> Self {
        Self { cross_signing: true, backup: true, e2ee: true }
    }
}

/// Misbehaviours of the existing device (B), each changing only what it names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct ExistingDeviceKnobs {
    /// M8 carries a `verifying_device_key` that is not B's key.
    pub lie_verifying_device_key: bool,
    /// M8 carries a `verifying_device_id` that is not B's ID.
    pub lie_verifying_device_id: bool,
    /// M8 carries a `master_key` that is not the user's master key (even when B has
    /// no cross-signing, so the homeserver has no master key at all).
    pub lie_master_key: bool,
    /// M8 omits `master_key` although B has cross-signing.
    pub omit_master_key: bool,
    /// Secrets are sent as plaintext `m.secret.send` to-device events.
    pub answer_secrets_unencrypted: bool,
    /// Secrets are sent encrypted but with a wrong value.
    pub answer_secrets_wrong_value: bool,
    /// After M8, B sends an encrypted `m.secret.send` that A never asked for.
    pub send_unsolicited_secret: bool,
    /// Harness self-test only: skip step 17 (compare A's device key).
    pub skip_device_key_check: bool,
    /// Step 18b signs A's device with a key that is not the self-signing key.
    pub sign_with_wrong_key: bool,
    /// M8 announces as `master_key` the user's self-signing public key: a genuine key
    /// of the user, but not the master key.
    pub announce_self_signing_key_as_master: bool,
    /// After a failed security check, B says nothing on the channel (as js-sdk does,
    /// docs/protocol.md D6) instead of sending `e2ee_security_error`.
    pub silent_security_abort: bool,
    /// The QR code B shows carries this intent instead of `login.reciprocate`
    /// (`login.start` makes the intents incompatible).
    pub qr_intent: Option<Intent>,
    /// One channel message B sends is broken on purpose.
    pub mangle_message: Option<MangleMessage>,
}

/// The existing device (B): a signed-in device that approves A's login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ExistingDeviceConfig {
    /// Client-Server base URL of B's homeserver (also sent in M6).
    pub homeserver: String,
    /// Localpart or user ID for the password login.
    pub username: String,
    /// The account password (login and UIA).
    pub password: String,
    /// The device ID B logs in as.
    pub device_id: String,
    /// The dialect B speaks (when B shows the code; a scanned code announces its own).
    #[serde(default)]
    pub dialect: DialectName,
    /// Whether B shows the QR code (deployed pairing) or scans A's.
    #[serde(default = "yes")]
    pub shows_code: bool,
    /// Seed of every random choice B makes.
    #[serde(default)]
    pub seed: u64,
    /// Step 16: how long to wait for A's device to appear.
    #[serde(default = "default_device_wait_ms")]
    pub device_wait_ms: u64,
    /// The pause between two polls (rendezvous, `/sync`, `/keys/query`).
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,
    /// Bound of every wait for the peer.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// After M8: end once no secret request arrived for this long.
    #[serde(default = "default_quiet_ms")]
    pub quiet_ms: u64,
    /// What B has before the flow.
    #[serde(default)]
    pub setup: ExistingDeviceSetup,
    /// Misbehaviours.
    #[serde(default)]
    pub knobs: ExistingDeviceKnobs,
}

impl ExistingDeviceConfig {
    /// A well-behaved B with default timings.
    pub fn new(homeserver: &str, username: &str, password: &str, device_id: &str) -> Self {
        Self {
            homeserver: homeserver.to_owned(),
            username: username.to_owned(),
            password: password.to_owned(),
            device_id: device_id.to_owned(),
            dialect: DialectName::V1,
            shows_code: true,
            seed: 0,
            device_wait_ms: default_device_wait_ms(),
            poll_ms: default_poll_ms(),
            timeout_ms: default_timeout_ms(),
            quiet_ms: default_quiet_ms(),
            setup: ExistingDeviceSetup::default(),
            knobs: ExistingDeviceKnobs::default(),
        }
    }
}

/// What the new device sets up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct NewDeviceSetup {
    /// Whether A sets up E2EE (device keys, M7 with `device_key`, secrets).
    #[serde(default = "yes")]
    pub e2ee: bool,
}

impl Default for NewDeviceSetup {
    fn default() -> Self {
        Self { e2ee: true }
    }
}

/// Misbehaviours of the new device (A), each changing only what it names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct NewDeviceKnobs {
    /// M7 carries a `device_key` that is not A's key.
    pub lie_device_key: bool,
    /// M7 carries a `device_id` that is not A's ID.
    pub lie_device_id: bool,
    /// A never uploads its device keys (it never shows up on the homeserver).
    pub never_upload_keys: bool,
    /// A's uploaded device keys carry a signature by the wrong key.
    pub invalid_self_signature: bool,
    /// A cancels after reading B's protocol offer.
    pub cancel: bool,
    /// Harness self-test only: skip step 20.
    pub skip_verifying_device_check: bool,
    /// Harness self-test only: skip step 21a.
    pub skip_master_key_check: bool,
    /// After a failed security check, A says nothing on the channel (as iOS does,
    /// docs/protocol.md D6) instead of sending `e2ee_security_error`.
    pub silent_security_abort: bool,
    /// M4 chooses a protocol B did not offer.
    pub choose_unoffered_protocol: bool,
    /// After uploading its keys and before M7 (so before B can have verified it), A asks
    /// every device of the user for the four secrets (an unverified device asking).
    pub request_secrets_early: bool,
    /// Every channel message is written twice.
    pub send_messages_twice: bool,
    /// One ciphertext bit of A's first encrypted message is flipped.
    pub tamper_envelope: bool,
    /// Element Android's 16-byte IVs.
    pub android: bool,
    /// The QR code A shows carries this intent instead of `login.start`.
    pub qr_intent: Option<Intent>,
    /// One channel message A sends is broken on purpose.
    pub mangle_message: Option<MangleMessage>,
}

/// The new device (A): not signed in; signs in through B.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct NewDeviceConfig {
    /// Base URL used only to create the rendezvous when A shows the code; the login
    /// uses the `homeserver` of M6.
    #[serde(default)]
    pub homeserver: String,
    /// The dialect A speaks when it shows the code (a scanned code announces its own).
    #[serde(default)]
    pub dialect: DialectName,
    /// Whether A shows the code (MSC-only pairing) or scans B's (deployed).
    #[serde(default)]
    pub shows_code: bool,
    /// The device ID requested at login.
    pub device_id: String,
    /// Seed of every random choice A makes (Olm keys aside).
    #[serde(default)]
    pub seed: u64,
    /// The pause between two polls.
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,
    /// Bound of every wait.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// What A sets up.
    #[serde(default)]
    pub setup: NewDeviceSetup,
    /// Misbehaviours.
    #[serde(default)]
    pub knobs: NewDeviceKnobs,
}

impl NewDeviceConfig {
    /// A well-behaved scanning A with default timings.
    pub fn new(device_id: &str) -> Self {
        Self {
            homeserver: String::new(),
            dialect: DialectName::V1,
            shows_code: false,
            device_id: device_id.to_owned(),
            seed: 0,
            poll_ms: default_poll_ms(),
            timeout_ms: default_timeout_ms(),
            setup: NewDeviceSetup::default(),
            knobs: NewDeviceKnobs::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_parse_and_unknown_knobs_are_rejected() {
        let b: ExistingDeviceConfig = serde_json::from_value(serde_json::json!({
            "homeserver": "http://hs", "username": "alice", "password": "pw", "device-id": "B",
            "dialect": "v2", "setup": {"backup": false}, "knobs": {"lie-master-key": true}
        }))
        .unwrap();
        assert!(b.knobs.lie_master_key && !b.setup.backup && b.setup.cross_signing);
        assert_eq!(b.poll_ms, 1_000);
        let bad = serde_json::from_value::<NewDeviceConfig>(serde_json::json!({
            "device-id": "A", "knobs": {"no-such-knob": true}
        }));
        assert!(bad.is_err());
    }
}
