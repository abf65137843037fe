//! Building the simulated devices of a scenario from its role tables.
//!
//! Each role's configuration is assembled as JSON — what the run fixes (homeserver,
//! account, seed, device ID), then the scenario's `setup` table, then its `knobs`
//! table under `knobs` — and deserialised into the device's own configuration type,
//! which rejects unknown fields. A misspelt setup key or knob therefore fails with
//! the file and the line of its table, when the scenario loads ([`check`]).

use serde_json::{json, Map, Value};

use devices::qr_login::config::{ExistingDeviceConfig, NewDeviceConfig};
use devices::qr_login::{ExistingDevice, NewDevice};
use devices::registrar::{Registrar, RegistrarConfig};
use devices::retry::RetryOn429;

use crate::driver::Participant;
use crate::runner::{ACCOUNT_LOCALPART, ACCOUNT_PASSWORD};
use crate::scenario::{RoleKind, RoleSpec, Scenario};

/// What every role needs to know about the run.
#[derive(Debug, Clone)]
pub struct Context {
    /// Base URL of the homeserver.
    pub homeserver: String,
    /// The server name in user IDs.
    pub server_name: String,
    /// Localpart of the account the existing device signs in to.
    pub username: String,
    /// Its password.
    pub password: String,
    /// The pause between two polls of the QR-login devices (`poll-ms`), when the run
    /// sets one: real-time runs shorten it; the virtual clock does not need to.
    pub poll_ms: Option<u64>,
}

impl Context {
    /// Creates the scenario's account (`alice`, with its password) on `homeserver`,
    /// reached at `base_url`, and returns the context every role of the run shares.
    pub fn with_account(
        homeserver: &mock_homeserver::Homeserver,
        base_url: &str,
        server_name: &str,
        poll_ms: Option<u64>,
    ) -> Self {
        homeserver.create_account(ACCOUNT_LOCALPART, ACCOUNT_PASSWORD);
        Self {
            homeserver: base_url.to_owned(),
            server_name: server_name.to_owned(),
            username: ACCOUNT_LOCALPART.to_owned(),
            password: ACCOUNT_PASSWORD.to_owned(),
            poll_ms,
        }
    }
}

/// The device ID each role uses, so transcripts and faults can name it.
pub fn device_id_of(role: &str) -> &'static str {
    match role {
        "A" => "NEWDEVICE",
        "B" => "OLDDEVICE",
        _ => "REGDEVICE",
    }
}

/// The localpart the registrar registers.
pub const REGISTRAR_USERNAME: &str = "rita";

/// The `setup` keys of the registrar (as its configuration names them; a scenario
/// may write `-` for `_`): the rest of its configuration is the run's to set.
pub const REGISTRAR_SETUP: &[&str] = &[
    "registration_token",
    "inhibit_login",
    "field_name",
    "send_keys",
    "initial_device_display_name",
    "max_requests",
    "max_uia_rounds",
];

/// A role table that does not make a valid configuration: what is wrong, and the
/// line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleError {
    /// 1-based line of the `setup` or `knobs` table (or of the role).
    pub line: usize,
    /// What is wrong, starting with the role.
    pub message: String,
}

impl RoleError {
    /// The error with the file in front, as `file:line: message`.
    pub fn in_file(&self, scenario: &Scenario) -> String {
        format!("{}:{}: {}", scenario.path.display(), self.line, self.message)
    }
}

/// Merges the scenario's `setup` and `knobs` tables into a base configuration:
/// `setup` keys at the top level (`nested_setup = false`, only [`REGISTRAR_SETUP`])
/// or under `setup`.
fn assemble(base: Value, spec: &RoleSpec, nested_setup: bool) -> Result<Value, RoleError> {
    let mut config = match base {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let error = |line, message: String| RoleError { line, message: format!("role {}: {message}", spec.name) };
    if let Some(setup) = &spec.setup {
        let Value::Object(setup) =
            serde_json::to_value(setup).map_err(|e| error(spec.setup_line, e.to_string()))?
        else {
            return Err(error(spec.setup_line, "setup must be a table".into()));
        };
        if nested_setup {
            config.insert("setup".to_owned(), Value::Object(setup));
        } else {
            for (key, value) in setup {
                let field = key.replace('-', "_");
                if !REGISTRAR_SETUP.contains(&field.as_str()) {
                    let known: Vec<String> = REGISTRAR_SETUP.iter().map(|k| k.replace('_', "-")).collect();
                    return Err(error(
                        spec.setup_line,
                        format!("unknown setup key `{key}` (known: {})", known.join(", ")),
                    ));
                }
                config.insert(field, value);
            }
        }
    }
    if let Some(knobs) = &spec.knobs {
        let knobs = serde_json::to_value(knobs).map_err(|e| error(spec.knobs_line, e.to_string()))?;
        if !knobs.is_object() {
            return Err(error(spec.knobs_line, "knobs must be a table".into()));
        }
        config.insert("knobs".to_owned(), knobs);
    }
    Ok(Value::Object(config))
}

/// Deserialises an assembled configuration, naming the table on error.
fn parse<T: serde::de::DeserializeOwned>(config: Value, spec: &RoleSpec) -> Result<T, RoleError> {
    serde_json::from_value(config).map_err(|e| {
        let line = if e.to_string().contains("knob") || spec.setup.is_none() {
            spec.knobs_line
        } else {
            spec.setup_line
        };
        RoleError { line, message: format!("role {}: {e}", spec.name) }
    })
}

/// One role's device configuration.
#[derive(Debug, Clone)]
pub enum RoleConfig {
    /// The new device A.
    NewDevice(Box<NewDeviceConfig>),
    /// The existing device B.
    ExistingDevice(Box<ExistingDeviceConfig>),
    /// The registrar R.
    Registrar(Box<RegistrarConfig>),
}

/// The configuration of one role's simulated device: what the run fixes, then the
/// role's `setup` and `knobs`.
pub fn configure(spec: &RoleSpec, scenario: &Scenario, context: &Context) -> Result<RoleConfig, RoleError> {
    let seed = scenario.seed.wrapping_mul(31).wrapping_add(spec.name.as_bytes()[0] as u64);
    match spec.kind {
        RoleKind::Registrar => {
            let base = json!({
                "homeserver": context.homeserver,
                "server_name": context.server_name,
                "username": REGISTRAR_USERNAME,
                "password": "registrar password",
                "seed": seed,
                "device_id": device_id_of(&spec.name),
                "deadline_ms": spec.wait_ms.unwrap_or(scenario.deadline_ms),
            });
            Ok(RoleConfig::Registrar(Box::new(parse(assemble(base, spec, false)?, spec)?)))
        }
        RoleKind::ExistingDevice => {
            let mut base = json!({
                "homeserver": context.homeserver,
                "username": context.username,
                "password": context.password,
                "device-id": device_id_of(&spec.name),
                "dialect": scenario.dialect,
                "shows-code": scenario.shows_code == spec.name,
                "seed": seed,
                "timeout-ms": scenario.deadline_ms,
            });
            if let Some(wait) = spec.wait_ms {
                base["device-wait-ms"] = json!(wait);
            }
            if let Some(poll) = context.poll_ms {
                base["poll-ms"] = json!(poll);
            }
            Ok(RoleConfig::ExistingDevice(Box::new(parse(assemble(base, spec, true)?, spec)?)))
        }
        RoleKind::NewDevice => {
            let mut base = json!({
                "homeserver": context.homeserver,
                "device-id": device_id_of(&spec.name),
                "dialect": scenario.dialect,
                "shows-code": scenario.shows_code == spec.name,
                "seed": seed,
                "timeout-ms": spec.wait_ms.unwrap_or(scenario.deadline_ms),
            });
            if let Some(poll) = context.poll_ms {
                base["poll-ms"] = json!(poll);
            }
            Ok(RoleConfig::NewDevice(Box::new(parse(assemble(base, spec, true)?, spec)?)))
        }
    }
}

/// Whether a role's `setup` and `knobs` make a valid configuration, without a run:
/// the scenario loader's check, so that a misspelt knob fails at load.
pub fn check(spec: &RoleSpec, scenario: &Scenario) -> Result<(), RoleError> {
    let context = Context {
        homeserver: "http://homeserver.invalid".into(),
        server_name: "test".into(),
        username: ACCOUNT_LOCALPART.into(),
        password: ACCOUNT_PASSWORD.into(),
        poll_ms: None,
    };
    configure(spec, scenario, &context).map(|_| ())
}

/// Builds the simulated device for one role of a scenario.
pub fn build_role(spec: &RoleSpec, scenario: &Scenario, context: &Context) -> Result<Participant, String> {
    let config = configure(spec, scenario, context).map_err(|e| e.in_file(scenario))?;
    let (role, peer): (Box<dyn devices::Role>, _) = match config {
        RoleConfig::Registrar(config) => (Box::new(RetryOn429::new(Registrar::new(*config))), None),
        RoleConfig::ExistingDevice(config) => {
            (Box::new(RetryOn429::new(ExistingDevice::new(*config))), Some("A".to_owned()))
        }
        RoleConfig::NewDevice(config) => {
            (Box::new(RetryOn429::new(NewDevice::new(*config))), Some("B".to_owned()))
        }
    };
    Ok(Participant { name: spec.name.clone(), role, peer })
}

/// Device IDs paired with the role names that own them (`("NEWDEVICE", "A")`).
pub type DeviceRoles = Vec<(String, String)>;

/// The participants of a scenario and the device IDs of each role.
pub fn build(scenario: &Scenario, context: &Context) -> Result<(Vec<Participant>, DeviceRoles), String> {
    let mut participants = Vec::new();
    let mut names = Vec::new();
    for spec in &scenario.roles {
        participants.push(build_role(spec, scenario, context)?);
        names.push((device_id_of(&spec.name).to_owned(), spec.name.clone()));
    }
    Ok((participants, names))
}
