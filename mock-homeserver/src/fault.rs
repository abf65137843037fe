//! Faults: ways to make the server lie or misbehave on purpose, as data.
//!
//! A fault is added at start ([`crate::Builder::fault`]) or at any time
//! ([`crate::MockHomeserver::add_fault`]). Every time a fault changes an answer, the
//! journal entry of that exchange names it in [`crate::JournalEntry::faults`].
//!
//! ```
//! use mock_homeserver::{Fault, FaultField};
//! let fault: Fault = serde_json::from_value(serde_json::json!({
//!     "kind": "tamper-device-key",
//!     "user_id": "@alice:test",
//!     "device_id": "NEWDEVICE",
//!     "field": "ed25519"
//! })).unwrap();
//! assert!(matches!(fault, Fault::TamperDeviceKey { field: FaultField::Ed25519, .. }));
//! ```
//!
//! A fault about what one client is answered or sends can be aimed at that client
//! with `seen_by`, a [`Caller`] (the user and device an access token belongs to): it
//! then affects, and counts, only the requests made with that caller's access token.
//! A request without a valid token is nobody's, so an aimed fault never applies to it.
//!
//! ```
//! use mock_homeserver::{Caller, Fault};
//! let fault: Fault = serde_json::from_value(serde_json::json!({
//!     "kind": "hide-device",
//!     "user_id": "@alice:test",
//!     "device_id": "NEWDEVICE",
//!     "seen_by": { "user_id": "@alice:test", "device_id": "OLDDEVICE" }
//! })).unwrap();
//! let old = Caller { user_id: "@alice:test".into(), device_id: "OLDDEVICE".into() };
//! let new = Caller { user_id: "@alice:test".into(), device_id: "NEWDEVICE".into() };
//! assert!(fault.applies_to(Some(&old)));
//! assert!(!fault.applies_to(Some(&new)) && !fault.applies_to(None));
//! ```

use serde::{Deserialize, Serialize};

use crate::request::Caller;

/// Which part of a key object a tampering fault replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultField {
    /// The Ed25519 public key (device key `ed25519:<id>`, or the cross-signing key itself).
    Ed25519,
    /// The Curve25519 key of a device.
    Curve25519,
    /// Every signature on the object (each is replaced by a valid-looking wrong one).
    Signature,
}

/// Which cross-signing key of a user a fault targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CrossSigningKeyKind {
    /// The master key.
    Master,
    /// The self-signing key.
    SelfSigning,
    /// The user-signing key.
    UserSigning,
}

/// One fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Fault {
    /// In `/keys/query` answers, replace a field of one device's keys.
    TamperDeviceKey {
        /// Owner of the device.
        user_id: String,
        /// The device.
        device_id: String,
        /// What to replace.
        field: FaultField,
        /// The replacement (b64); a fixed, valid-looking wrong value when absent.
        #[serde(default)]
        value: Option<String>,
        /// Only requests made with this caller's access token are affected and
        /// counted; every request when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seen_by: Option<Caller>,
    },
    /// In `/keys/query` answers, replace a field of one user's cross-signing key.
    TamperCrossSigningKey {
        /// Owner of the key.
        user_id: String,
        /// Which key.
        key: CrossSigningKeyKind,
        /// What to replace (`ed25519` for the key itself, or `signature`).
        field: FaultField,
        /// The replacement (b64); a fixed, valid-looking wrong value when absent.
        #[serde(default)]
        value: Option<String>,
        /// Only requests made with this caller's access token are affected and
        /// counted; every request when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seen_by: Option<Caller>,
    },
    /// Leave one device out of the next `queries` `/keys/query` answers that would list it.
    HideDevice {
        /// Owner of the device.
        user_id: String,
        /// The device.
        device_id: String,
        /// How many answers to hide it from; `None` means always.
        #[serde(default)]
        queries: Option<u32>,
        /// Only requests made with this caller's access token are affected and
        /// counted; every request when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seen_by: Option<Caller>,
    },
    /// Accept but never deliver to-device messages of this type.
    DropToDevice {
        /// The event type, e.g. `m.secret.request`.
        event_type: String,
        /// Only requests made with this caller's access token (the sender's) are
        /// affected and counted; every sender's when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seen_by: Option<Caller>,
    },
    /// Deliver to-device messages of this type only after a delay.
    DelayToDevice {
        /// The event type.
        event_type: String,
        /// The delay, by the server's clock.
        delay_ms: u64,
        /// Only requests made with this caller's access token (the sender's) are
        /// affected and counted; every sender's when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seen_by: Option<Caller>,
    },
    /// Deliver every to-device message of this type twice (as a retrying server
    /// might).
    DuplicateToDevice {
        /// The event type.
        event_type: String,
    },
    /// Answer matching requests `200 {}` without handling them: the write is lost
    /// although the client is told it succeeded.
    LoseWrite {
        /// The method to match (`None`: any).
        #[serde(default)]
        method: Option<String>,
        /// The path to match: exact, or a prefix when it ends in `*`.
        path: String,
        /// How many requests to lose; `None` means all.
        #[serde(default)]
        times: Option<u32>,
    },
    /// Expire every rendezvous session after this many rendezvous requests. The
    /// fault waits for a live session: with 0 it expires the first one on the next
    /// request after its creation.
    ExpireRendezvous {
        /// Requests to the rendezvous before expiry.
        #[serde(default)]
        after_requests: u32,
        /// When set, only writes count (`POST` and `PUT`), and `after_requests` is
        /// not used. Writes follow the protocol's turns, so unlike a count of all
        /// requests this does not depend on how often each client polls: the
        /// request after the last counted write, whoever makes it, finds the
        /// rendezvous gone.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after_writes: Option<u32>,
    },
    /// Answer matching requests with a Matrix error instead of handling them.
    RespondWithError {
        /// The method to match (`None`: any).
        #[serde(default)]
        method: Option<String>,
        /// The path to match: exact, or a prefix when it ends in `*`.
        path: String,
        /// HTTP status.
        status: u16,
        /// The `errcode`.
        errcode: String,
        /// The `error` text.
        #[serde(default = "default_error_text")]
        error: String,
        /// How many requests to answer so; `None` means all.
        #[serde(default)]
        times: Option<u32>,
        /// Only requests made with this caller's access token are affected and
        /// counted; every request when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seen_by: Option<Caller>,
    },
}

fn default_error_text() -> String {
    "Injected by the harness".to_owned()
}

impl Fault {
    /// Whether the fault can change anything: `Err` names what makes it a no-op
    /// (e.g. a cross-signing key has no Curve25519 key to tamper with). Scenario
    /// loaders call it so that such a fault is an error, not a silent pass.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Fault::TamperCrossSigningKey { field: FaultField::Curve25519, .. } => {
                Err("a cross-signing key has no curve25519 key: tamper `ed25519` or `signature`".to_owned())
            }
            _ => Ok(()),
        }
    }

    /// A short description for the journal; an aimed fault ends in `seen by USER/DEVICE`.
    pub fn describe(&self) -> String {
        let what = match self {
            Fault::TamperDeviceKey { user_id, device_id, field, .. } => {
                format!("tamper-device-key {user_id}/{device_id} {field:?}")
            }
            Fault::TamperCrossSigningKey { user_id, key, field, .. } => {
                format!("tamper-cross-signing-key {user_id} {key:?} {field:?}")
            }
            Fault::HideDevice { user_id, device_id, .. } => format!("hide-device {user_id}/{device_id}"),
            Fault::DropToDevice { event_type, .. } => format!("drop-to-device {event_type}"),
            Fault::DelayToDevice { event_type, delay_ms, .. } => {
                format!("delay-to-device {event_type} {delay_ms}ms")
            }
            Fault::DuplicateToDevice { event_type } => format!("duplicate-to-device {event_type}"),
            Fault::LoseWrite { method, path, .. } => {
                format!("lose-write {} {path}", method.as_deref().unwrap_or("*"))
            }
            Fault::ExpireRendezvous { after_writes: Some(writes), .. } => {
                format!("expire-rendezvous after {writes} writes")
            }
            Fault::ExpireRendezvous { after_requests, after_writes: None } => {
                format!("expire-rendezvous after {after_requests} requests")
            }
            Fault::RespondWithError { method, path, status, errcode, .. } => format!(
                "respond-with-error {} {path} -> {status} {errcode}",
                method.as_deref().unwrap_or("*")
            ),
        };
        match self.seen_by() {
            Some(caller) => format!("{what} seen by {}/{}", caller.user_id, caller.device_id),
            None => what,
        }
    }

    /// The caller the fault is aimed at, if it is aimed (`seen_by`).
    pub fn seen_by(&self) -> Option<&Caller> {
        match self {
            Fault::TamperDeviceKey { seen_by, .. }
            | Fault::TamperCrossSigningKey { seen_by, .. }
            | Fault::HideDevice { seen_by, .. }
            | Fault::DropToDevice { seen_by, .. }
            | Fault::DelayToDevice { seen_by, .. }
            | Fault::RespondWithError { seen_by, .. } => seen_by.as_ref(),
            Fault::ExpireRendezvous { .. } | Fault::DuplicateToDevice { .. } | Fault::LoseWrite { .. } => {
                None
            }
        }
    }

    /// The `seen_by` slot of a fault that can be aimed at a caller; `None` for one
    /// that cannot (the rendezvous has no callers: it takes no access token).
    pub fn seen_by_mut(&mut self) -> Option<&mut Option<Caller>> {
        match self {
            Fault::TamperDeviceKey { seen_by, .. }
            | Fault::TamperCrossSigningKey { seen_by, .. }
            | Fault::HideDevice { seen_by, .. }
            | Fault::DropToDevice { seen_by, .. }
            | Fault::DelayToDevice { seen_by, .. }
            | Fault::RespondWithError { seen_by, .. } => Some(seen_by),
            Fault::ExpireRendezvous { .. } | Fault::DuplicateToDevice { .. } | Fault::LoseWrite { .. } => {
                None
            }
        }
    }

    /// Whether the fault applies to a request of `caller` (`None`: a request without
    /// a valid access token). An unaimed fault applies to every request; an aimed one
    /// only to its caller's.
    pub fn applies_to(&self, caller: Option<&Caller>) -> bool {
        self.seen_by().is_none_or(|aimed| caller == Some(aimed))
    }

    /// For [`Fault::RespondWithError`] and [`Fault::LoseWrite`]: whether it matches
    /// this method and path.
    pub(crate) fn matches_request(&self, req_method: &str, req_path: &str) -> bool {
        match self {
            Fault::RespondWithError { method, path, .. } | Fault::LoseWrite { method, path, .. } => {
                let method_ok = method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(req_method));
                let path_ok = match path.strip_suffix('*') {
                    Some(prefix) => req_path.starts_with(prefix),
                    None => req_path == path,
                };
                method_ok && path_ok
            }
            _ => false,
        }
    }
}

/// A fault with its remaining budget, as the server keeps it.
#[derive(Debug, Clone)]
pub(crate) struct ActiveFault {
    pub fault: Fault,
    /// Remaining uses; `None` is unlimited.
    pub remaining: Option<u32>,
    /// Requests seen, for faults that count (expire-rendezvous).
    pub seen: u32,
}

impl ActiveFault {
    pub fn new(fault: Fault) -> Self {
        let remaining = match &fault {
            Fault::HideDevice { queries, .. } => *queries,
            Fault::RespondWithError { times, .. } | Fault::LoseWrite { times, .. } => *times,
            _ => None,
        };
        Self { fault, remaining, seen: 0 }
    }

    /// Consumes one use; false when the budget is spent.
    pub fn take(&mut self) -> bool {
        match &mut self.remaining {
            Some(0) => false,
            Some(n) => {
                *n -= 1;
                true
            }
            None => true,
        }
    }
}
