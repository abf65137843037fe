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

use devices::{AbortKind, Decision, Outcome, OutcomeKind, RoleKind};
use mock_homeserver::{JournalBody, JournalEntry};

/// Who an entry is about: a role, the runner itself, or a caller nobody marked in a
/// run where every role is simulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Actor {
    /// A role of the run.
    Role(RoleKind),
    /// The runner (the simulated user's choices on an external device, deadlines).
    Runner,
    /// A request no role made (no mark, and no external role to own it).
    Unknown,
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Role(role) => f.write_str(role.letter()),
            Actor::Runner => f.write_str("runner"),
            Actor::Unknown => f.write_str("?"),
        }
    }
}

impl From<RoleKind> for Actor {
    fn from(role: RoleKind) -> Self {
        Actor::Role(role)
    }
}

/// What a device displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Display {
    /// The QR code (its JSON text).
    QrCode,
    /// The check code `NNNN-NNNN-NNNN`.
    CheckCode,
}

impl Display {
    /// `QR code` or `check code`, as scenario files write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Display::QrCode => "QR code",
            Display::CheckCode => "check code",
        }
    }

    /// The display named `text`.
    pub fn parse(text: &str) -> Option<Display> {
        [Display::QrCode, Display::CheckCode].into_iter().find(|d| d.as_str() == text)
    }
}

/// Which end of the channel recorded a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeenBy {
    /// The sender (a simulated device).
    Sent,
    /// The receiver (a simulated device whose peer is external).
    Received,
}

/// How a role ended, as far as the runner knows: the outcome's name always, the
/// failed check and the refusal when the role said them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ending {
    /// The outcome.
    pub outcome: OutcomeKind,
    /// For `security_error` and `error`: the check that failed, when known.
    pub reason: Option<AbortKind>,
    /// For `rejected`: the status and errcode, when known.
    pub rejected: Option<(u16, String)>,
    /// Free text for people (the abort's description, an adapter's `detail`).
    pub detail: Option<String>,
}

impl From<&Outcome> for Ending {
    fn from(outcome: &Outcome) -> Self {
        Ending {
            outcome: outcome.kind(),
            reason: outcome.reason().map(devices::Abort::kind),
            rejected: match outcome {
                Outcome::Rejected { status, errcode } => Some((*status, errcode.clone())),
                _ => None,
            },
            detail: outcome.reason().map(ToString::to_string),
        }
    }
}

impl Ending {
    /// The one-line form: `verified`, `security_error (device_key_mismatch)`,
    /// `rejected (400 M_INVALID_SIGNATURE)`; a reason nobody gave is left out.
    pub fn line(&self) -> String {
        match (&self.reason, &self.rejected) {
            (Some(reason), _) => format!("{} ({reason})", self.outcome),
            (None, Some((status, errcode))) => format!("{} ({status} {errcode})", self.outcome),
            (None, None) => self.outcome.name().to_owned(),
        }
    }
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// An HTTP exchange with the homeserver (from its journal).
    Http {
        /// The role that made the request.
        actor: Actor,
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
        /// Sender.
        from: RoleKind,
        /// Receiver.
        to: RoleKind,
        /// The plaintext message.
        message: Value,
        /// Whether it travelled encrypted.
        encrypted: bool,
        /// Which side recorded it.
        seen_by: SeenBy,
    },
    /// Something a device displayed.
    Shows {
        /// The role.
        actor: RoleKind,
        /// What.
        what: Display,
        /// The displayed value.
        value: String,
    },
    /// A decision a simulated device took.
    Decision {
        /// The role.
        actor: RoleKind,
        /// The decision.
        decision: Decision,
    },
    /// A role ended.
    Finished {
        /// The role.
        actor: RoleKind,
        /// How.
        ending: Ending,
    },
    /// Something the runner did or noticed, or an external role's remark.
    Note {
        /// Who.
        actor: Actor,
        /// What.
        text: String,
    },
}

/// One transcript entry with its position and time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TranscriptEntry {
    /// Position from 1.
    pub seq: usize,
    /// Milliseconds since the start of the run, by the homeserver's clock (virtual in
    /// a deterministic run).
    pub at_ms: u64,
    /// What happened.
    pub entry: Entry,
}

/// Maps device IDs to role names so that decisions read `marked B verified`.
pub trait DeviceNames {
    /// The role name of a device, or the device ID itself when unknown.
    fn name_of(&self, device_id: &str) -> String;
}

/// Device IDs paired with the roles that own them.
pub type Names = Vec<(String, RoleKind)>;

impl DeviceNames for Names {
    fn name_of(&self, device_id: &str) -> String {
        self.iter()
            .find(|(id, _)| id == device_id)
            .map(|(_, role)| role.letter().to_owned())
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
    decision.phrase(&|device_id| names.name_of(device_id))
}

impl Entry {
    /// An HTTP exchange from the homeserver's journal, made by `actor`.
    pub fn http(actor: Actor, entry: JournalEntry) -> Entry {
        Entry::Http {
            actor,
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
            Entry::Shows { actor, what, .. } => format!("{actor}: shows {}", what.as_str()),
            Entry::Decision { actor, decision } => format!("{actor}: {}", decision_line(decision, names)),
            Entry::Finished { actor, ending } => format!("{actor}: finished {}", ending.line()),
            Entry::Note { actor, text } => format!("{actor}: note: {text}"),
        }
    }

    /// Who the entry is about (the sender for channel messages).
    pub fn actor(&self) -> Actor {
        match self {
            Entry::Http { actor, .. } | Entry::Note { actor, .. } => *actor,
            Entry::Shows { actor, .. } | Entry::Decision { actor, .. } | Entry::Finished { actor, .. } => {
                Actor::Role(*actor)
            }
            Entry::Channel { from, .. } => Actor::Role(*from),
        }
    }
}
