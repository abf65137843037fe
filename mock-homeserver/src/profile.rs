//! Server profiles: named sets of behaviours, chosen at start.
//!
//! Profiles are data, so a scenario file can name one and override single switches:
//!
//! ```
//! use mock_homeserver::Profile;
//! let profile = Profile::named("msc2912")
//!     .unwrap()
//!     .with_overrides(&serde_json::json!({"login_token": {"stable": false}}))
//!     .unwrap();
//! assert!(!profile.login_token.stable);
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How the server treats the MSC2912 `device_signing` field of `/register`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Msc2912Support {
    /// The field is ignored under either name (every real server today).
    Ignored,
    /// Both `device_signing` and `org.matrix.msc2912.device_signing` are accepted.
    Both,
    /// Only `org.matrix.msc2912.device_signing` is accepted; the stable name is ignored.
    UnstableOnly,
}

/// Which forms of the MSC3882 login token the server offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginTokenSupport {
    /// `POST /_matrix/client/v1/login/get_token` and the `m.get_login_token` capability.
    pub stable: bool,
    /// `POST .../unstable/org.matrix.msc3882/login/get_token` and its capability.
    pub r1: bool,
    /// `POST .../unstable/org.matrix.msc3882/login/token` (`expires_in` in seconds)
    /// and the `org.matrix.msc3882` flag in `/versions`.
    pub r0: bool,
    /// Lifetime of a token in milliseconds.
    pub lifetime_ms: u64,
}

impl Default for LoginTokenSupport {
    fn default() -> Self {
        Self { stable: true, r1: false, r0: false, lifetime_ms: 120_000 }
    }
}

/// The form of the `Location` header of a new rendezvous session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RendezvousLocation {
    /// An absolute URL, which every deployed client resolves to the same place.
    Absolute,
    /// The bare session ID, as RHRS sends it (a relative-path reference).
    BareId,
}

/// Behaviour of the MSC3886 rendezvous (docs/protocol.md §3.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RendezvousProfile {
    /// Whether the rendezvous endpoints are served and advertised (`org.matrix.msc3886`).
    pub enabled: bool,
    /// Reject a `PUT` without `If-Match` (strict 2023 text) instead of accepting it.
    pub require_if_match: bool,
    /// A fresh ETag on every write instead of a hash of the content.
    pub unique_etags: bool,
    /// Lifetime of a session in milliseconds.
    pub ttl_ms: u64,
    /// Extend the expiry on every `PUT`.
    pub extend_on_put: bool,
    /// The largest payload accepted, announced in `X-Max-Bytes`.
    pub max_bytes: usize,
    /// The form of `Location`.
    pub location: RendezvousLocation,
}

impl Default for RendezvousProfile {
    fn default() -> Self {
        Self {
            enabled: true,
            require_if_match: false,
            unique_etags: false,
            ttl_ms: 60_000,
            extend_on_put: false,
            max_bytes: 4096,
            location: RendezvousLocation::Absolute,
        }
    }
}

/// A named, switchable set of server behaviours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// The profile's name, for reports.
    pub name: String,
    /// The server name in user IDs (`@alice:<server_name>`).
    pub server_name: String,
    /// How `device_signing` in `/register` is treated.
    pub msc2912: Msc2912Support,
    /// Whether `/versions` advertises `org.matrix.msc2912`.
    pub advertise_msc2912: bool,
    /// MSC3967: the first `/keys/device_signing/upload` needs no UIA. When false the
    /// server demands `m.login.password` even for the first upload (pre-MSC3967).
    pub msc3967: bool,
    /// Login token forms offered.
    pub login_token: LoginTokenSupport,
    /// Rendezvous behaviour.
    pub rendezvous: RendezvousProfile,
    /// Whether `/register` is open.
    pub registration_enabled: bool,
    /// A registration token that `/register` demands (`m.login.registration_token`).
    pub registration_token: Option<String>,
    /// Reproduce Synapse's acceptance of an undecodable user-signing key.
    pub synapse_quirks: bool,
    /// Largest request body accepted outside the rendezvous, in bytes.
    pub max_body_bytes: usize,
    /// Largest `timeout` honoured by `/sync`, in milliseconds.
    pub max_sync_timeout_ms: u64,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            name: "default".to_owned(),
            server_name: "test".to_owned(),
            msc2912: Msc2912Support::Ignored,
            advertise_msc2912: false,
            msc3967: true,
            login_token: LoginTokenSupport::default(),
            rendezvous: RendezvousProfile::default(),
            registration_enabled: true,
            registration_token: None,
            synapse_quirks: false,
            max_body_bytes: 65_536,
            max_sync_timeout_ms: 30_000,
        }
    }
}

/// Why a profile could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// No profile has this name.
    #[error("unknown server profile `{0}` (known: default, msc2912, msc2912-unstable, legacy)")]
    Unknown(String),
    /// The overrides do not fit the profile's fields.
    #[error("invalid profile override: {0}")]
    InvalidOverride(String),
}

impl Profile {
    /// The names of the built-in profiles.
    pub const NAMES: [&'static str; 4] = ["default", "msc2912", "msc2912-unstable", "legacy"];

    /// Current spec behaviour: MSC3967, stable login token, MSC3886, MSC2912 ignored.
    pub fn default_profile() -> Self {
        Self::default()
    }

    /// Advertises `org.matrix.msc2912` and accepts both field names.
    pub fn msc2912() -> Self {
        Self {
            name: "msc2912".to_owned(),
            msc2912: Msc2912Support::Both,
            advertise_msc2912: true,
            ..Self::default()
        }
    }

    /// Advertises the flag and accepts only `org.matrix.msc2912.device_signing`.
    pub fn msc2912_unstable() -> Self {
        Self {
            name: "msc2912-unstable".to_owned(),
            msc2912: Msc2912Support::UnstableOnly,
            advertise_msc2912: true,
            ..Self::default()
        }
    }

    /// A pre-MSC3967 server: no MSC2912, password UIA for every cross-signing upload,
    /// login token only in the r0 unstable form.
    pub fn legacy() -> Self {
        Self {
            name: "legacy".to_owned(),
            msc3967: false,
            login_token: LoginTokenSupport { stable: false, r1: false, r0: true, ..Default::default() },
            ..Self::default()
        }
    }

    /// A built-in profile by name.
    pub fn named(name: &str) -> Result<Self, ProfileError> {
        match name {
            "default" => Ok(Self::default_profile()),
            "msc2912" => Ok(Self::msc2912()),
            "msc2912-unstable" => Ok(Self::msc2912_unstable()),
            "legacy" => Ok(Self::legacy()),
            other => Err(ProfileError::Unknown(other.to_owned())),
        }
    }

    /// This profile with some fields replaced: `overrides` is a JSON object shaped
    /// like the profile, merged recursively. Unknown fields are an error.
    pub fn with_overrides(&self, overrides: &Value) -> Result<Self, ProfileError> {
        let mut base =
            serde_json::to_value(self).map_err(|e| ProfileError::InvalidOverride(e.to_string()))?;
        merge(&mut base, overrides);
        serde_json::from_value(base).map_err(|e| ProfileError::InvalidOverride(e.to_string()))
    }
}

fn merge(base: &mut Value, overrides: &Value) {
    match (base, overrides) {
        (Value::Object(base), Value::Object(overrides)) => {
            for (key, value) in overrides {
                match base.get_mut(key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (slot, value) => *slot = value.clone(),
    }
}
