//! The transcript of one run: HTTP exchanges, secure-channel messages, device
//! decisions and endings, merged in one order, each with its one-line form.
//!
//! The one-line forms are the grammar scenario files use for expectations:
//!
//! ```text
//! B -> HS: POST /keys/signatures/upload 200
//! B -> A: m.login.finish outcome=verified
//! A: marked B verified
//! A: finished verified
//! ```

use serde::Serialize;
use serde_json::Value;

use devices::{Abort, Decision, Outcome};
use mock_homeserver::{JournalBody, JournalEntry};

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// An HTTP exchange with the homeserver (from its journal).
    Http {
        /// The role that made the request (`A`, `B`, `R`), or `?` when unknown.
        actor: String,
        /// Method.
        method: String,
        /// Path as sent.
        path: String,
        /// Query, if any.
        query: Option<String>,
        /// Status of the answer.
        status: u16,
        /// Request body.
        request: JournalBody,
        /// Response body.
        response: JournalBody,
        /// Faults that fired.
        faults: Vec<String>,
    },
    /// A message on the rendezvous, as the sending or receiving device saw it.
    Channel {
        /// Sender role.
        from: String,
        /// Receiver role.
        to: String,
        /// The plaintext message.
        message: Value,
        /// Whether it travelled encrypted.
        encrypted: bool,
        /// Which side recorded it: `sent` or `received`.
        seen_by: String,
    },
    /// Something a device displayed (QR code, check code).
    Shows {
        /// The role.
        actor: String,
        /// `QR code` or `check code`.
        what: String,
        /// The displayed value.
        value: String,
    },
    /// A decision a device took.
    Decision {
        /// The role.
        actor: String,
        /// The decision.
        decision: Decision,
    },
    /// A role ended.
    Finished {
        /// The role.
        actor: String,
        /// Its outcome.
        outcome: Outcome,
    },
    /// Something the runner did or noticed (a user action, a deadline).
    Note {
        /// The role concerned, or `runner`.
        actor: String,
        /// What happened.
        text: String,
    },
}

/// One transcript entry with its position and the virtual time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TranscriptEntry {
    /// Position from 1.
    pub seq: usize,
    /// Virtual milliseconds since the start of the run.
    pub at_ms: u64,
    /// What happened.
    pub entry: Entry,
}

/// Maps device IDs to role names so that decisions read `marked B verified`.
pub trait DeviceNames {
    /// The role name of a device, or the device ID itself when unknown.
    fn name_of(&self, device_id: &str) -> String;
}

impl DeviceNames for Vec<(String, String)> {
    fn name_of(&self, device_id: &str) -> String {
        self.iter()
            .find(|(id, _)| id == device_id)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| device_id.to_owned())
    }
}

/// The path as written in scenario files: the `/_matrix/client/<version>` prefix
/// dropped (`/keys/query`), the rendezvous kept recognisable (`/rendezvous/<id>`).
pub fn short_path(path: &str) -> String {
    for prefix in
        ["/_matrix/client/unstable/org.matrix.msc3886", "/_matrix/client/unstable/org.matrix.msc3882"]
    {
        if let Some(rest) = path.strip_prefix(prefix) {
            return if prefix.ends_with("msc3882") {
                format!("/unstable/msc3882{rest}")
            } else {
                rest.to_owned()
            };
        }
    }
    for prefix in ["/_matrix/client/v3", "/_matrix/client/v1", "/_matrix/client/r0", "/_matrix/client"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            return rest.to_owned();
        }
    }
    path.to_owned()
}

/// Message fields shown in a channel line: the ones the protocol fixes.
const CHANNEL_FIELDS: [&str; 6] = ["outcome", "reason", "intent", "protocol", "protocols", "algorithm"];

/// The one-line form of a channel message: its type and its fixed fields.
pub fn channel_summary(message: &Value) -> String {
    let mut line = match message.get("type").and_then(Value::as_str) {
        Some(t) => t.to_owned(),
        None if message.get("key").is_some() => "key".to_owned(),
        None if message.get("algorithm").is_some() => "algorithm".to_owned(),
        None => "?".to_owned(),
    };
    for field in CHANNEL_FIELDS {
        if let Some(value) = message.get(field) {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Array(items) => {
                    items.iter().map(|i| i.as_str().unwrap_or("?").to_owned()).collect::<Vec<_>>().join(",")
                }
                other => other.to_string(),
            };
            if field != "algorithm" || line != "algorithm" {
                line.push_str(&format!(" {field}={text}"));
            }
        }
    }
    line
}

/// The words of a decision, with device IDs replaced by role names.
pub fn decision_line(decision: &Decision, names: &dyn DeviceNames) -> String {
    let yes_no = |b: &bool| if *b { "yes" } else { "no" };
    match decision {
        Decision::CheckedLoginTokenSupport { supported } => {
            format!("checked login token support: {}", yes_no(supported))
        }
        Decision::CheckedIntents { compatible } => {
            format!("checked intents: {}", if *compatible { "compatible" } else { "incompatible" })
        }
        Decision::UserChose { approved } => {
            (if *approved { "user approved" } else { "user declined" }).to_owned()
        }
        Decision::LoggedIn { .. } => "logged in".to_owned(),
        Decision::UploadedDeviceKeys { .. } => "uploaded device keys".to_owned(),
        Decision::CheckedDeviceKey { device_id, matched } => format!(
            "checked {}'s device key: {}",
            names.name_of(device_id),
            if *matched { "matched" } else { "mismatch" }
        ),
        Decision::CheckedMasterKey { matched } => {
            format!("checked master key: {}", if *matched { "matched" } else { "mismatch" })
        }
        Decision::TrustedMasterKey { .. } => "trusted master key".to_owned(),
        Decision::MarkedVerified { device_id } => format!("marked {} verified", names.name_of(device_id)),
        Decision::CrossSigned { device_id } => format!("cross-signed {}", names.name_of(device_id)),
        Decision::CrossSigningRejected { device_id, detail } => {
            format!("cross-signature of {} rejected: {detail}", names.name_of(device_id))
        }
        Decision::RequestedSecret { name } => format!("requested secret {name}"),
        Decision::SharedSecret { name, device_id } => {
            format!("shared secret {name} with {}", names.name_of(device_id))
        }
        Decision::RefusedSecretRequest { name, device_id, reason } => {
            format!("refused secret request {name} from {}: {reason}", names.name_of(device_id))
        }
        Decision::AcceptedSecret { name } => format!("accepted secret {name}"),
        Decision::IgnoredSecret { name, reason } => format!("ignored secret {name}: {reason}"),
        Decision::CheckedMsc2912Support { supported } => {
            format!("checked msc2912 support: {}", yes_no(supported))
        }
        Decision::SentDeviceSigning { field } => format!("sent device_signing as {field}"),
        Decision::CheckedOwnKeys { matched } => {
            format!("checked own keys: {}", if *matched { "matched" } else { "missing or different" })
        }
        Decision::ReuploadedKeys { with_password } => {
            format!("re-uploaded keys {}", if *with_password { "with password" } else { "without uia" })
        }
        Decision::SignedOwnDevice { .. } => "signed own device".to_owned(),
        Decision::ServerAcceptedInvalidKeys { knob } => format!("server accepted invalid keys: {knob}"),
        Decision::Aborted { reason } => format!("aborted: {}", abort_kind(reason)),
    }
}

/// The snake-case name of an abort's variant, e.g. `device_key_mismatch`.
pub fn abort_kind(abort: &Abort) -> String {
    serde_json::to_value(abort)
        .ok()
        .and_then(|v| v.get("abort").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The one-line form of an outcome: `verified`, or `security_error (device_key_mismatch)`.
pub fn outcome_line(outcome: &Outcome) -> String {
    match outcome {
        Outcome::SecurityError { reason } | Outcome::Error { reason } => {
            format!("{} ({})", outcome.name(), abort_kind(reason))
        }
        Outcome::Rejected { status, errcode } => format!("rejected ({status} {errcode})"),
        other => other.name().to_owned(),
    }
}

impl Entry {
    /// An HTTP exchange from the homeserver's journal, made by `actor`.
    pub fn http(actor: &str, entry: JournalEntry) -> Entry {
        Entry::Http {
            actor: actor.to_owned(),
            method: entry.method,
            path: entry.path,
            query: entry.query,
            status: entry.status,
            request: entry.request,
            response: entry.response,
            faults: entry.faults,
        }
    }

    /// The one-line form, as scenario files write events.
    pub fn line(&self, names: &dyn DeviceNames) -> String {
        match self {
            Entry::Http { actor, method, path, status, .. } => {
                format!("{actor} -> HS: {method} {} {status}", short_path(path))
            }
            Entry::Channel { from, to, message, .. } => {
                format!("{from} -> {to}: {}", channel_summary(message))
            }
            Entry::Shows { actor, what, .. } => format!("{actor}: shows {what}"),
            Entry::Decision { actor, decision } => format!("{actor}: {}", decision_line(decision, names)),
            Entry::Finished { actor, outcome } => format!("{actor}: finished {}", outcome_line(outcome)),
            Entry::Note { actor, text } => format!("{actor}: note: {text}"),
        }
    }

    /// The role the entry belongs to (the sender for channel messages).
    pub fn actor(&self) -> &str {
        match self {
            Entry::Http { actor, .. }
            | Entry::Shows { actor, .. }
            | Entry::Decision { actor, .. }
            | Entry::Finished { actor, .. }
            | Entry::Note { actor, .. } => actor,
            Entry::Channel { from, .. } => from,
        }
    }
}
