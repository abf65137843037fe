//! Building the simulated devices of a scenario from its role tables.

use crate::driver::Participant;
use crate::scenario::{RoleSpec, Scenario};

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
}

/// The device ID each QR-login role uses, so transcripts and faults can name it.
pub fn device_id_of(role: &str) -> &'static str {
    match role {
        "A" => "NEWDEVICE",
        "B" => "OLDDEVICE",
        _ => "REGDEVICE",
    }
}

/// Builds the simulated device for one role of a scenario.
pub fn build_role(spec: &RoleSpec, scenario: &Scenario, context: &Context) -> Result<Participant, String> {
    let _ = context;
    Err(format!(
        "{}:{}: the simulated device for role {} is not built yet",
        scenario.path.display(),
        spec.knobs_line,
        spec.name
    ))
}

/// The participants of a scenario and the device IDs of each role.
pub fn build(
    scenario: &Scenario,
    context: &Context,
) -> Result<(Vec<Participant>, Vec<(String, String)>), String> {
    let mut participants = Vec::new();
    let mut names = Vec::new();
    for spec in &scenario.roles {
        participants.push(build_role(spec, scenario, context)?);
        names.push((device_id_of(&spec.name).to_owned(), spec.name.clone()));
    }
    Ok((participants, names))
}
