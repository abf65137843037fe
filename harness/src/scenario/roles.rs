//! A scenario's roles: each role's setup and knobs, parsed into the device's own types
//! when the file loads, and the simulated device built from them for a run.
//!
//! A misspelt setup key or knob fails with the file and the line of its table, when
//! the scenario loads: the device types reject unknown fields.

use serde::de::DeserializeOwned;
use serde_json::Value;

use devices::qr_login::{
    DialectName, ExistingDevice, ExistingDeviceConfig, ExistingDeviceKnobs, ExistingDeviceSetup, NewDevice,
    NewDeviceConfig, NewDeviceKnobs, NewDeviceSetup,
};
use devices::registrar::{Registrar, RegistrarConfig, RegistrarKnobs, RegistrarSetup};
use devices::retry::RetryOn429;
use devices::{Role, RoleKind};

/// A role's setup (what it has before the flow) and knobs (how it misbehaves on
/// purpose, all off by default), in the device's own types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleConfig {
    /// A.
    NewDevice {
        /// Setup.
        setup: NewDeviceSetup,
        /// Knobs.
        knobs: NewDeviceKnobs,
    },
    /// B.
    ExistingDevice {
        /// Setup.
        setup: ExistingDeviceSetup,
        /// Knobs.
        knobs: ExistingDeviceKnobs,
    },
    /// R.
    Registrar {
        /// How it registers.
        setup: RegistrarSetup,
        /// Knobs.
        knobs: RegistrarKnobs,
    },
}

/// One role of a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSpec {
    /// Which role.
    pub kind: RoleKind,
    /// The role's bounded wait, if set (B: for A's device to appear, step 16; A and R:
    /// for the whole flow).
    pub wait_ms: Option<u64>,
    /// Its setup and knobs.
    pub config: RoleConfig,
    /// The setup keys the scenario wrote (kebab-case), in file order.
    pub setup_keys: Vec<String>,
    /// The knobs the scenario wrote (kebab-case), in file order.
    pub knob_names: Vec<String>,
}

/// A role table that does not make a valid configuration: what is wrong, and the
/// line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleError {
    /// 1-based line of the `setup` or `knobs` table.
    pub line: usize,
    /// What is wrong, starting with the role.
    pub message: String,
}

/// The raw tables of one role and their lines, as the loader read them.
pub(crate) struct RawTables<'t> {
    pub kind: RoleKind,
    pub wait_ms: Option<u64>,
    pub setup: Option<&'t toml::Value>,
    pub setup_line: usize,
    pub knobs: Option<&'t toml::Value>,
    pub knobs_line: usize,
}

/// A table as JSON, and the keys it has. The registrar's setup keys are fields of
/// its configuration, which scenario files may write with `_` or `-`; every other
/// key is kebab-case only.
fn table(
    value: Option<&toml::Value>,
    what: &str,
    role: RoleKind,
    line: usize,
) -> Result<(Value, Vec<String>), RoleError> {
    let error = |message: String| RoleError { line, message: format!("role {role}: {message}") };
    let Some(value) = value else { return Ok((Value::Object(Default::default()), Vec::new())) };
    let Value::Object(map) = serde_json::to_value(value).map_err(|e| error(e.to_string()))? else {
        return Err(error(format!("{what} must be a table")));
    };
    let kebab = role == RoleKind::Registrar && what == "setup";
    let map: serde_json::Map<String, Value> =
        map.into_iter().map(|(k, v)| (if kebab { k.replace('_', "-") } else { k }, v)).collect();
    let keys = map.keys().cloned().collect();
    Ok((Value::Object(map), keys))
}

fn parse<T: DeserializeOwned>(value: Value, what: &str, role: RoleKind, line: usize) -> Result<T, RoleError> {
    serde_json::from_value(value).map_err(|e| {
        let name = if what == "setup" { "setup key" } else { "knob" };
        let text = e.to_string().replace("unknown field", &format!("unknown {name}"));
        RoleError { line, message: format!("role {role}: {what}: {text}") }
    })
}

impl RoleSpec {
    /// Parses a role's tables into the device's types.
    pub(crate) fn parse(raw: RawTables<'_>) -> Result<Self, RoleError> {
        let kind = raw.kind;
        let (setup, setup_keys) = table(raw.setup, "setup", kind, raw.setup_line)?;
        let (knobs, knob_names) = table(raw.knobs, "knobs", kind, raw.knobs_line)?;
        let (s, k) = (raw.setup_line, raw.knobs_line);
        let config = match kind {
            RoleKind::NewDevice => RoleConfig::NewDevice {
                setup: parse(setup, "setup", kind, s)?,
                knobs: parse(knobs, "knobs", kind, k)?,
            },
            RoleKind::ExistingDevice => RoleConfig::ExistingDevice {
                setup: parse(setup, "setup", kind, s)?,
                knobs: parse(knobs, "knobs", kind, k)?,
            },
            RoleKind::Registrar => RoleConfig::Registrar {
                setup: parse(setup, "setup", kind, s)?,
                knobs: parse(knobs, "knobs", kind, k)?,
            },
        };
        Ok(RoleSpec { kind, wait_ms: raw.wait_ms, config, setup_keys, knob_names })
    }

    /// Whether the role misbehaves on purpose.
    pub fn has_knobs(&self) -> bool {
        !self.knob_names.is_empty()
    }
}

/// The pace of a real-time run with a poll interval below a real client's second:
/// our devices poll that often, and the timers whose expiry is the point of a
/// scenario shrink in proportion, never below a floor a real client can keep up
/// with, so that no single scenario dominates a run and each keeps its meaning.
///
/// | timer | real-time value |
/// |---|---|
/// | a role's `wait_ms` (B's step-16 wait, A's wait for secrets) | × P/1000, at least [`Pace::WAIT_FLOOR_MS`] |
/// | how long our existing device keeps serving secrets after the last request | × P/1000, at least [`Pace::QUIET_FLOOR_MS`] |
/// | the rendezvous lifetime | × P/1000, at least [`Pace::TTL_FLOOR_MS`], counted from the last write |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    poll_ms: u64,
}

impl Pace {
    /// The shortest a scaled `wait_ms` gets.
    pub const WAIT_FLOOR_MS: u64 = 2_000;
    /// The shortest a scaled quiet period of our existing device gets.
    pub const QUIET_FLOOR_MS: u64 = 2_000;
    /// The shortest a scaled rendezvous lifetime gets. Between reading B's login
    /// token and writing its next message, a new device logs in, starts its crypto and
    /// uploads its keys: matrix-js-sdk's took 4.3 s with two scenarios at once and
    /// four busy processes on 2 cores, and a floor of 5 s expired under it on a more
    /// loaded machine. 10 s keeps a margin over that and the whole reference-adapter
    /// suite under 15 s.
    pub const TTL_FLOOR_MS: u64 = 10_000;
    /// Our devices' own pause between polls, the pace a real client keeps.
    pub const REAL_POLL_MS: u64 = 1_000;

    /// The pace of a run polling every `poll_ms`; `None` at a real client's pace or
    /// slower (nothing is shortened).
    pub fn of(poll_ms: Option<u64>) -> Option<Pace> {
        poll_ms.filter(|ms| *ms > 0 && *ms < Self::REAL_POLL_MS).map(|poll_ms| Pace { poll_ms })
    }

    /// The pause between two polls.
    pub fn poll_ms(self) -> u64 {
        self.poll_ms
    }

    fn scaled(self, ms: u64, floor: u64) -> u64 {
        (ms.saturating_mul(self.poll_ms) / Self::REAL_POLL_MS).max(floor).min(ms)
    }

    /// A role's `wait_ms`.
    pub fn wait_ms(self, ms: u64) -> u64 {
        self.scaled(ms, Self::WAIT_FLOOR_MS)
    }

    /// Our existing device's quiet period.
    pub fn quiet_ms(self, ms: u64) -> u64 {
        self.scaled(ms, Self::QUIET_FLOOR_MS)
    }

    /// The rendezvous of `profile`: a shorter lifetime, extended on every write.
    pub fn rendezvous(self, profile: &mut mock_homeserver::Profile) {
        profile.rendezvous.ttl_ms = self.scaled(profile.rendezvous.ttl_ms, Self::TTL_FLOOR_MS);
        profile.rendezvous.extend_on_put = true;
    }
}

/// What every simulated role of one run needs to know about it.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// Base URL of the homeserver.
    pub homeserver: String,
    /// The server name in user IDs.
    pub server_name: String,
    /// The scenario's seed.
    pub seed: u64,
    /// The scenario's deadline, in milliseconds.
    pub deadline_ms: u64,
    /// The dialect of the device that shows the QR code.
    pub dialect: DialectName,
    /// The device that shows the QR code.
    pub shows_code: RoleKind,
    /// The pause between two polls, when the run sets one (real time); the devices'
    /// own pace otherwise.
    pub poll_ms: Option<u64>,
    /// Whether the scenario's timers are shortened to the pace of `poll_ms` (real-time
    /// runs with a client under test; not for a person, who needs their time).
    pub pace: Option<Pace>,
}

impl RunContext {
    /// A role's `wait_ms`, at the run's pace.
    pub fn wait_ms(&self, ms: u64) -> u64 {
        self.pace.map_or(ms, |pace| pace.wait_ms(ms))
    }
}

/// The localpart of the account the existing device signs in to.
pub const ACCOUNT_LOCALPART: &str = "alice";
/// Its password.
pub const ACCOUNT_PASSWORD: &str = "correct horse battery staple";
/// The localpart the registrar registers.
pub const REGISTRAR_USERNAME: &str = "rita";
/// Its password.
pub const REGISTRAR_PASSWORD: &str = "registrar password";

/// The device ID a simulated role asks for, so transcripts and faults can name it.
pub fn device_id_of(role: RoleKind) -> &'static str {
    match role {
        RoleKind::NewDevice => "NEWDEVICE",
        RoleKind::ExistingDevice => "OLDDEVICE",
        RoleKind::Registrar => "REGDEVICE",
    }
}

/// The seed of one role's randomness, from the scenario's.
fn role_seed(seed: u64, role: RoleKind) -> u64 {
    seed.wrapping_mul(31).wrapping_add(role.letter().as_bytes()[0] as u64)
}

/// The simulated device of one role, configured for a run.
pub fn build(spec: &RoleSpec, context: &RunContext) -> Box<dyn Role> {
    let seed = role_seed(context.seed, spec.kind);
    let shows_code = context.shows_code == spec.kind;
    match &spec.config {
        RoleConfig::Registrar { setup, knobs } => {
            let mut config =
                RegistrarConfig::new(&context.homeserver, REGISTRAR_USERNAME, REGISTRAR_PASSWORD, seed);
            config.server_name = context.server_name.clone();
            config.device_id = Some(device_id_of(spec.kind).to_owned());
            config.deadline_ms = spec.wait_ms.map_or(context.deadline_ms, |wait| context.wait_ms(wait));
            config.knobs = knobs.clone();
            setup.apply(&mut config);
            Box::new(RetryOn429::new(Registrar::new(config)))
        }
        RoleConfig::ExistingDevice { setup, knobs } => {
            let mut config = ExistingDeviceConfig::new(
                &context.homeserver,
                ACCOUNT_LOCALPART,
                ACCOUNT_PASSWORD,
                device_id_of(spec.kind),
            );
            config.dialect = context.dialect;
            config.shows_code = shows_code;
            config.seed = seed;
            config.timeout_ms = context.deadline_ms;
            if let Some(wait) = spec.wait_ms {
                config.device_wait_ms = context.wait_ms(wait);
            }
            if let Some(poll) = context.poll_ms {
                config.poll_ms = poll;
            }
            if let Some(pace) = context.pace {
                config.quiet_ms = pace.quiet_ms(config.quiet_ms);
            }
            config.setup = setup.clone();
            config.knobs = knobs.clone();
            Box::new(RetryOn429::new(ExistingDevice::new(config)))
        }
        RoleConfig::NewDevice { setup, knobs } => {
            let mut config = NewDeviceConfig::new(device_id_of(spec.kind));
            config.homeserver = context.homeserver.clone();
            config.dialect = context.dialect;
            config.shows_code = shows_code;
            config.seed = seed;
            config.timeout_ms = spec.wait_ms.map_or(context.deadline_ms, |wait| context.wait_ms(wait));
            if let Some(poll) = context.poll_ms {
                config.poll_ms = poll;
            }
            config.setup = setup.clone();
            config.knobs = knobs.clone();
            Box::new(RetryOn429::new(NewDevice::new(config)))
        }
    }
}
