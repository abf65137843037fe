//! The journal as its readers see it: one entry per exchange, bodies parsed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::request::Caller;

pub use protocol::ROLE_HEADER;

/// A request or response body as the journal records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum JournalBody {
    /// There was no body.
    Empty,
    /// A JSON body.
    Json(Value),
    /// A body that is not JSON, described rather than copied.
    Note {
        /// What the body was, e.g. `"17 bytes of application/octet-stream, not JSON"`.
        note: String,
    },
}

impl JournalBody {
    /// Describes raw bytes: JSON when they parse, a note otherwise.
    pub fn from_bytes(bytes: &[u8], content_type: Option<&str>) -> Self {
        if bytes.is_empty() {
            return JournalBody::Empty;
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(value) => JournalBody::Json(value),
            Err(_) => JournalBody::Note {
                note: format!(
                    "{} bytes of {}, not JSON",
                    bytes.len(),
                    content_type.unwrap_or("unknown content type")
                ),
            },
        }
    }

    /// The JSON value, if the body was JSON.
    pub fn json(&self) -> Option<&Value> {
        match self {
            JournalBody::Json(value) => Some(value),
            _ => None,
        }
    }
}

/// One request and the answer the server gave to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Position in arrival order, from 1.
    pub seq: u64,
    /// Milliseconds since the server started, by the server's clock.
    pub elapsed_ms: u64,
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// The request body.
    pub request: JournalBody,
    /// The HTTP status of the answer.
    pub status: u16,
    /// The response body.
    pub response: JournalBody,
    /// The user and device of the access token, or `None` for an anonymous request.
    pub caller: Option<Caller>,
    /// The simulated role that made the request, from its [`ROLE_HEADER`] header:
    /// the harness marks the requests of its own simulated devices, so a request
    /// without the mark is an external client's. `None` when unmarked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The faults that fired while this request was handled, described.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<String>,
}
