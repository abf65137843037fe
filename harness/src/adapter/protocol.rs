//! The messages of adapter protocol 1 (`docs/adapter-protocol.md`): commands the
//! runner writes to the adapter's stdin and events the adapter prints on stdout, one
//! JSON object per line.

use serde::{Deserialize, Serialize};

/// The protocol version this runner speaks (`CONFORMANCE_PROTOCOL_VERSION`).
pub const PROTOCOL_VERSION: u32 = 1;

/// The exit status by which an adapter says it does not implement the role.
pub const EXIT_UNIMPLEMENTED: i32 = 89;

/// Longest event line the runner accepts, in bytes.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// A command from the runner to the adapter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum AdapterCommand {
    /// Prepare the device for the flow; the fields depend on the role.
    Setup(Setup),
    /// Start the flow by showing a QR code (a `qr_code` event answers).
    ShowQr {
        /// `v1` or `v2`.
        dialect: String,
    },
    /// Start the flow by scanning this QR code (its JSON text).
    ScanQr {
        /// The QR code's JSON text.
        payload: String,
    },
    /// The user approves the login after comparing the check codes.
    Approve,
    /// The user declines the login.
    Decline,
    /// Register the account given in `setup` (registrar only).
    Register {
        /// The token for `m.login.registration_token`, when the server needs one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        registration_token: Option<String>,
    },
    /// The run is over: exit now.
    Stop,
}

/// The `setup` command's fields; which ones are present depends on the role.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// Existing device and registrar: the account's localpart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Existing device and registrar: the account's password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Existing device: the device ID to log in as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// Existing device: bootstrap cross-signing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_signing: Option<bool>,
    /// Existing device: create a key backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<bool>,
    /// New device: set up end-to-end encryption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2ee: Option<bool>,
    /// Registrar: the server name in user IDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// A and B: how long the scenario has the device wait for the other side (B:
    /// for A's device to appear, step 16; A: for the peer), in milliseconds, when it
    /// sets one. An adapter may keep its client's own timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
}

/// An event from the adapter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AdapterEvent {
    /// The adapter is up (the first line it prints).
    Ready {
        /// `name version` of the implementation under test.
        implementation: String,
    },
    /// The device shows this QR code.
    QrCode {
        /// The QR code's JSON text.
        payload: String,
    },
    /// The device shows this check code.
    CheckCode {
        /// `NNNN-NNNN-NNNN` (or whatever the device displays).
        code: String,
    },
    /// The flow ended for this device.
    Outcome {
        /// One of the outcome names of `docs/adapter-protocol.md`.
        outcome: String,
        /// Free text.
        #[serde(default)]
        detail: String,
        /// The failed check, as an abort name (e.g. `master_key_mismatch`), if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// `rejected`: the HTTP status.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        /// `rejected`: the errcode.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        errcode: Option<String>,
    },
    /// A decision the device took (informational; free text or a JSON object).
    Decision {
        /// The decision.
        decision: serde_json::Value,
    },
    /// The implementation does not support this role or step.
    Unimplemented {
        /// Why.
        #[serde(default)]
        detail: String,
    },
}

/// An event line that is not a valid event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed adapter line `{line}`: {reason}")]
pub struct MalformedLine {
    /// The line (cut to 200 characters).
    pub line: String,
    /// What is wrong with it.
    pub reason: String,
}

impl AdapterEvent {
    /// Parses one stdout line.
    pub fn parse(line: &str) -> Result<Self, MalformedLine> {
        let shown: String = line.chars().take(200).collect();
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| MalformedLine { line: shown.clone(), reason: format!("not JSON: {e}") })?;
        if !value.is_object() {
            return Err(MalformedLine { line: shown, reason: "not a JSON object".into() });
        }
        serde_json::from_value(value).map_err(|e| MalformedLine { line: shown, reason: e.to_string() })
    }

    /// The one-line JSON form.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl AdapterCommand {
    /// The one-line JSON form.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses one stdin line (for adapters written in Rust, such as `conformance device`).
    pub fn parse(line: &str) -> Result<Self, MalformedLine> {
        serde_json::from_str(line)
            .map_err(|e| MalformedLine { line: line.chars().take(200).collect(), reason: e.to_string() })
    }
}
