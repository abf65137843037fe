//! Building the simulated devices of a scenario from its role tables.

use crate::driver::Participant;
use crate::scenario::Scenario;

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

/// The participants of a scenario and the device IDs of each role.
pub fn build(
    scenario: &Scenario,
    context: &Context,
) -> Result<(Vec<Participant>, Vec<(String, String)>), String> {
    let _ = context;
    Err(format!("{}: the simulated devices for this flow are not built yet", scenario.path.display()))
}
