//! How `conformance device` runs: its options, partly from the adapter protocol's
//! environment.

use std::time::Duration;

use serde_json::Value;

use devices::RoleKind;

/// How `conformance device` runs.
#[derive(Debug, Clone)]
pub struct DeviceOptions {
    /// The role to play.
    pub kind: RoleKind,
    /// The role's misbehaviour knobs (kebab-case JSON object), if any.
    pub knobs: Option<Value>,
    /// Base URL of the homeserver (`CONFORMANCE_HOMESERVER`).
    pub homeserver: String,
    /// The whole run's bound.
    pub deadline: Duration,
    /// The pause between two polls (`CONFORMANCE_POLL_MS`); `None` keeps the
    /// devices' default of one second.
    pub poll_ms: Option<u64>,
    /// Random delays before each request (`--jitter-ms`), to shake the order of its
    /// requests against the runner's simulated peer.
    pub jitter: Option<devices::engine::real_time::Jitter>,
}

/// Reads `CONFORMANCE_POLL_MS` from the environment: `None` when it is unset, an
/// error when it is set but not a positive number of milliseconds.
pub fn poll_ms_from_env() -> Result<Option<u64>, String> {
    match std::env::var("CONFORMANCE_POLL_MS") {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(e) => Err(format!("CONFORMANCE_POLL_MS: {e}")),
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(ms) if ms > 0 => Ok(Some(ms)),
            _ => Err(format!("CONFORMANCE_POLL_MS must be a positive number of milliseconds, not `{text}`")),
        },
    }
}
