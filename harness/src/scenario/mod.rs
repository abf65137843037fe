//! Scenario files: TOML, one scenario per file, loaded strictly into types.
//!
//! Everything a scenario says is parsed once, when the file loads ([`load`]): the
//! server profile with its overrides, the faults, each role's setup and knobs
//! ([`roles`]), and the expectations. An unknown key, role, profile, fault, knob or
//! event pattern is an error that names the file and the line. See
//! `docs/scenario-format.md` for the format.

pub mod load;
pub mod roles;

use std::path::PathBuf;

use devices::qr_login::DialectName;
use devices::RoleKind;
use mock_homeserver::{Fault, Profile};

use crate::check::expect::{Expectation, Level};

pub use load::{discover, load_all, LoadError};
pub use roles::{RoleConfig, RoleSpec};

/// Which flow a scenario exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flow {
    /// Sign in with QR code (MSC3906).
    QrLogin,
    /// Registration with cross-signing keys (MSC2912).
    Register,
}

impl Flow {
    /// The name a scenario file gives it (`flow = "…"`).
    pub fn name(self) -> &'static str {
        match self {
            Flow::QrLogin => "qr-login",
            Flow::Register => "register",
        }
    }

    /// The roles a scenario of this flow has, all of them.
    pub fn roles(self) -> &'static [RoleKind] {
        match self {
            Flow::QrLogin => &[RoleKind::NewDevice, RoleKind::ExistingDevice],
            Flow::Register => &[RoleKind::Registrar],
        }
    }
}

/// A loaded scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file it came from.
    pub path: PathBuf,
    /// Name: the path below `scenarios/` without `.toml`, e.g. `qr-login/abort-b/wrong-device-key`.
    pub name: String,
    /// Title.
    pub title: String,
    /// Spec steps covered.
    pub steps: Vec<String>,
    /// Flow.
    pub flow: Flow,
    /// Dialect of the device that shows the QR code.
    pub dialect: DialectName,
    /// The device that shows the QR code.
    pub shows_code: RoleKind,
    /// Seed of all randomness.
    pub seed: u64,
    /// Overall deadline in milliseconds (virtual time in process, real time with an
    /// external client).
    pub deadline_ms: u64,
    /// The server profile's name, as written.
    pub profile_name: String,
    /// The server profile, with the scenario's overrides applied.
    pub profile: Profile,
    /// Faults active from the first request.
    pub faults: Vec<ScenarioFault>,
    /// Whether the simulated user approves (when the check codes match).
    pub approve: bool,
    /// The roles, in letter order.
    pub roles: Vec<RoleSpec>,
    /// Expectations with their level.
    pub expectations: Vec<(Expectation, Level)>,
}

/// A fault of a scenario. A fault on one device may name the device by its role
/// (`device = "A"`) rather than by its ID: a client under test gets its device ID from
/// the server, so the run aims the fault once it knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioFault {
    /// The fault (aimed at [`DEVICE_OF_ROLE`] when `device_of` is set).
    pub fault: Fault,
    /// The role whose device the fault is about, when the file named one.
    pub device_of: Option<RoleKind>,
}

/// The device ID a role-aimed fault carries until the run knows the role's device.
pub const DEVICE_OF_ROLE: &str = "(the device of a role)";

impl ScenarioFault {
    /// The fault, aimed at `device_id` when it names a role's device.
    pub fn aimed_at(&self, device_id: &str) -> Fault {
        let mut fault = self.fault.clone();
        if self.device_of.is_some() {
            match &mut fault {
                Fault::TamperDeviceKey { device_id: id, .. } | Fault::HideDevice { device_id: id, .. } => {
                    *id = device_id.to_owned()
                }
                _ => {}
            }
        }
        fault
    }
}

impl Scenario {
    /// The spec of `role`, if the scenario has it.
    pub fn role(&self, role: RoleKind) -> Option<&RoleSpec> {
        self.roles.iter().find(|r| r.kind == role)
    }
}

#[cfg(test)]
mod tests {
    use super::Flow;

    #[test]
    fn a_flow_s_name_is_the_one_a_scenario_file_writes() {
        for flow in [Flow::QrLogin, Flow::Register] {
            assert_eq!(serde_json::to_value(flow).unwrap(), flow.name());
        }
    }
}
