//! The MSC2912 registrar: registers an account and sets up cross-signing for it.
//!
//! The flow (docs/protocol.md §8, §9):
//!
//! 1. `GET /_matrix/client/versions`: is `org.matrix.msc2912` advertised?
//!    ([`Decision::CheckedMsc2912Support`](crate::Decision::CheckedMsc2912Support))
//! 2. `POST /register` through UIA (`m.login.dummy`, and `m.login.registration_token`
//!    when configured and offered). When the keys are to be sent (by default: when the
//!    flag is advertised), every round carries the key set under the configured field
//!    name ([`Decision::SentDeviceSigning`](crate::Decision::SentDeviceSigning)).
//!    With `inhibit_login` the registrar then logs in with its password.
//! 3. `POST /keys/query` for itself: are the master, self-signing and user-signing keys
//!    there and equal to ours? ([`Decision::CheckedOwnKeys`](crate::Decision::CheckedOwnKeys))
//!    If not, the server ignored the field: upload them with
//!    `POST /keys/device_signing/upload`, completing `m.login.password` UIA if asked
//!    ([`Decision::ReuploadedKeys`](crate::Decision::ReuploadedKeys)), and query again.
//! 4. `POST /keys/upload` of the device keys, then `POST /keys/signatures/upload` with
//!    the device signed by the self-signing key and the master key signed by the device
//!    ([`Decision::SignedOwnDevice`](crate::Decision::SignedOwnDevice)).
//! 5. A final `POST /keys/query` verifies all of it with the protocol crate:
//!    [`Outcome::Success`](crate::Outcome::Success).
//!
//! Endings other than success:
//! * a 4xx Matrix error from `/register` or `/keys/device_signing/upload` (including a
//!   failed UIA stage): [`Outcome::Rejected`](crate::Outcome::Rejected) with its status
//!   and errcode;
//! * a key set made invalid by a knob that the server nevertheless stored (after
//!   `/register`) or accepted (`/keys/device_signing/upload`): the finding
//!   [`Decision::ServerAcceptedInvalidKeys`](crate::Decision::ServerAcceptedInvalidKeys)
//!   and [`Outcome::Error`](crate::Outcome::Error) with
//!   [`Abort::ServerAcceptedInvalidKeys`](crate::Abort::ServerAcceptedInvalidKeys).
//!   A server that *ignored* the field (no keys stored after `/register`) is not a
//!   finding: the registrar re-uploads the same invalid set, which must then fail;
//! * anything else (a 5xx, a body that is not JSON, a missing field, keys that do not
//!   verify, the request budget or deadline spent): [`Outcome::Error`](crate::Outcome::Error).

mod check;
mod knobs;
mod machine;
mod uia;

pub use knobs::{RegistrarKnob, RegistrarKnobs};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use protocol::{
    cross_signing::CrossSigningKeys,
    keys::{Curve25519PublicKey, Ed25519Keypair, Ed25519PublicKey},
};

use crate::events::DeviceEvent;

/// The body field name under which the key set goes into `/register`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FieldName {
    /// `org.matrix.msc2912.device_signing` (MSC2912 "Unstable prefix": the name to use
    /// until the MSC is in a released spec).
    #[default]
    Unstable,
    /// `device_signing`.
    Stable,
}

impl FieldName {
    /// The JSON field name.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldName::Unstable => "org.matrix.msc2912.device_signing",
            FieldName::Stable => "device_signing",
        }
    }
}

/// When the key set is put into `/register`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SendPolicy {
    /// Only when `/versions` advertises `org.matrix.msc2912`.
    #[default]
    IfAdvertised,
    /// Always (to see how a server without the flag treats the field).
    Always,
    /// Never (always through `/keys/device_signing/upload`).
    Never,
}

/// What a scenario may choose of how the registrar registers: the part of
/// [`RegistrarConfig`] that is not the run's (homeserver, account, seed, deadline).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct RegistrarSetup {
    /// [`RegistrarConfig::registration_token`].
    pub registration_token: Option<String>,
    /// [`RegistrarConfig::inhibit_login`].
    pub inhibit_login: Option<bool>,
    /// [`RegistrarConfig::field_name`].
    pub field_name: Option<FieldName>,
    /// [`RegistrarConfig::send_keys`].
    pub send_keys: Option<SendPolicy>,
    /// [`RegistrarConfig::initial_device_display_name`].
    pub initial_device_display_name: Option<String>,
    /// [`RegistrarConfig::max_requests`].
    pub max_requests: Option<u32>,
    /// [`RegistrarConfig::max_uia_rounds`].
    pub max_uia_rounds: Option<u32>,
}

impl RegistrarSetup {
    /// The setup keys, as scenario files write them.
    pub const KEYS: [&'static str; 7] = [
        "registration-token",
        "inhibit-login",
        "field-name",
        "send-keys",
        "initial-device-display-name",
        "max-requests",
        "max-uia-rounds",
    ];

    /// Applies what is set to `config`.
    pub fn apply(&self, config: &mut RegistrarConfig) {
        if let Some(token) = &self.registration_token {
            config.registration_token = Some(token.clone());
        }
        if let Some(inhibit) = self.inhibit_login {
            config.inhibit_login = inhibit;
        }
        if let Some(field) = self.field_name {
            config.field_name = field;
        }
        if let Some(send) = self.send_keys {
            config.send_keys = send;
        }
        if let Some(name) = &self.initial_device_display_name {
            config.initial_device_display_name = name.clone();
        }
        if let Some(max) = self.max_requests {
            config.max_requests = max;
        }
        if let Some(max) = self.max_uia_rounds {
            config.max_uia_rounds = max;
        }
    }
}

/// How a [`Registrar`] registers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrarConfig {
    /// Base URL of the homeserver, e.g. `http://127.0.0.1:8008`.
    pub homeserver: String,
    /// The server name in user IDs; the keys are made for
    /// `@<lowercased username>:<server_name>`.
    #[serde(default = "default_server_name")]
    pub server_name: String,
    /// The username to register.
    pub username: String,
    /// The password.
    pub password: String,
    /// Seed of every key the registrar makes.
    pub seed: u64,
    /// The device ID to ask for; the server picks one when absent.
    #[serde(default)]
    pub device_id: Option<String>,
    /// `initial_device_display_name`.
    #[serde(default = "default_display_name")]
    pub initial_device_display_name: String,
    /// The token for `m.login.registration_token`, when the server demands one.
    #[serde(default)]
    pub registration_token: Option<String>,
    /// Register with `inhibit_login: true`, then log in with the password.
    #[serde(default)]
    pub inhibit_login: bool,
    /// The field name for the keys in `/register` (the `stable-field-name` knob forces
    /// [`FieldName::Stable`]).
    #[serde(default)]
    pub field_name: FieldName,
    /// When the keys go into `/register`.
    #[serde(default)]
    pub send_keys: SendPolicy,
    /// Misbehaviours.
    #[serde(default)]
    pub knobs: RegistrarKnobs,
    /// The most requests the registrar makes before giving up.
    #[serde(default = "default_max_requests")]
    pub max_requests: u32,
    /// The most UIA rounds of one operation.
    #[serde(default = "default_max_uia_rounds")]
    pub max_uia_rounds: u32,
    /// The registrar gives up this many milliseconds after it started.
    #[serde(default = "default_deadline_ms")]
    pub deadline_ms: u64,
}

fn default_server_name() -> String {
    "test".to_owned()
}
fn default_display_name() -> String {
    "harness registrar".to_owned()
}
fn default_max_requests() -> u32 {
    32
}
fn default_max_uia_rounds() -> u32 {
    4
}
fn default_deadline_ms() -> u64 {
    120_000
}

impl RegistrarConfig {
    /// A configuration with every optional setting at its default.
    pub fn new(homeserver: &str, username: &str, password: &str, seed: u64) -> Self {
        Self {
            homeserver: homeserver.trim_end_matches('/').to_owned(),
            server_name: default_server_name(),
            username: username.to_owned(),
            password: password.to_owned(),
            seed,
            device_id: None,
            initial_device_display_name: default_display_name(),
            registration_token: None,
            inhibit_login: false,
            field_name: FieldName::default(),
            send_keys: SendPolicy::default(),
            knobs: RegistrarKnobs::default(),
            max_requests: default_max_requests(),
            max_uia_rounds: default_max_uia_rounds(),
            deadline_ms: default_deadline_ms(),
        }
    }

    /// The user ID the keys are made for: `@<lowercased username>:<server_name>`.
    pub fn expected_user_id(&self) -> String {
        format!("@{}:{}", self.username.to_lowercase(), self.server_name)
    }

    /// The field name actually used, after the `stable-field-name` knob.
    pub fn effective_field_name(&self) -> FieldName {
        if self.knobs.stable_field_name {
            FieldName::Stable
        } else {
            self.field_name
        }
    }
}

/// The registrar role: a sans-I/O state machine implementing [`crate::Role`].
#[derive(Debug)]
pub struct Registrar {
    config: RegistrarConfig,
    keys: CrossSigningKeys,
    device_key: Ed25519Keypair,
    device_curve25519: Curve25519PublicKey,
    extra_master_key: Ed25519PublicKey,
    state: machine::State,
    started_ms: u64,
    requests: u32,
    /// Whether `/versions` advertised the flag.
    advertised: bool,
    /// The field name the keys went under in `/register`, if they did.
    sent_field: Option<FieldName>,
    user_id: Option<String>,
    access_token: Option<String>,
    device_id: Option<String>,
    /// The device keys as uploaded (self-signed).
    device_keys: Option<Value>,
    events: Vec<DeviceEvent>,
}

impl Registrar {
    /// A registrar; every key comes from `config.seed`, in this order: master,
    /// self-signing, user-signing, device Ed25519, device Curve25519, and the extra
    /// master key of `two-keys-in-master`.
    pub fn new(config: RegistrarConfig) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(config.seed);
        let keys = CrossSigningKeys::generate(&mut rng);
        let device_key = Ed25519Keypair::generate(&mut rng);
        let secret = x25519_dalek::StaticSecret::random_from_rng(&mut rng);
        let device_curve25519 =
            Curve25519PublicKey::from_bytes(x25519_dalek::PublicKey::from(&secret).to_bytes());
        let extra_master_key = Ed25519Keypair::generate(&mut rng).public_key();
        Self {
            config,
            keys,
            device_key,
            device_curve25519,
            extra_master_key,
            state: machine::State::NotStarted,
            started_ms: 0,
            requests: 0,
            advertised: false,
            sent_field: None,
            user_id: None,
            access_token: None,
            device_id: None,
            device_keys: None,
            events: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    /// The cross-signing key pairs.
    pub fn cross_signing_keys(&self) -> &CrossSigningKeys {
        &self.keys
    }

    /// The device's Ed25519 key pair.
    pub fn device_key(&self) -> &Ed25519Keypair {
        &self.device_key
    }

    /// The device's Curve25519 public key.
    pub fn device_curve25519(&self) -> &Curve25519PublicKey {
        &self.device_curve25519
    }

    /// The key set as the registrar sends it (knobs applied) for `user_id`.
    pub fn device_signing_body(&self, user_id: &str) -> Value {
        self.config.knobs.device_signing_body(&self.keys, user_id, &self.extra_master_key)
    }

    /// The registered user ID, once known.
    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    /// The access token, once logged in.
    pub fn access_token(&self) -> Option<&str> {
        self.access_token.as_deref()
    }

    /// The device ID, once logged in.
    pub fn device_id(&self) -> Option<&str> {
        self.device_id.as_deref()
    }

    /// Requests made so far.
    pub fn requests_made(&self) -> u32 {
        self.requests
    }
}
