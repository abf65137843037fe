//! The vocabulary between a role's state machine and whatever performs its I/O.
//!
//! A role never touches a socket or a clock. It answers every input with the next
//! [`Step`]: an HTTP request to perform, a pause, a wait for the user, or the end.

use serde_json::Value;

/// One HTTP request a role wants performed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Upper-case method.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
}

impl HttpRequest {
    /// A request without body.
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        Self { method: method.to_ascii_uppercase(), url: url.into(), headers: Vec::new(), body: None }
    }

    /// A request with a JSON body and `Content-Type: application/json`.
    pub fn json(method: &str, url: impl Into<String>, body: &Value) -> Self {
        let mut request = Self::new(method, url).header("content-type", "application/json");
        request.body = Some(serde_json::to_vec(body).unwrap_or_default());
        request
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// Adds `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json_body(&self) -> Option<Value> {
        self.body.as_deref().and_then(|b| serde_json::from_slice(b).ok())
    }
}

/// The answer to an [`HttpRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A response with a JSON body (for tests and adapters).
    pub fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json_body(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// The request could not be performed at all (connection refused, timeout, bad URL).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("transport error: {0}")]
pub struct TransportError(pub String);

/// What performing a request produced.
pub type HttpResult = Result<HttpResponse, TransportError>;

/// What a role wants next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Perform this request and feed the result to [`crate::Role::on_http`].
    Http(HttpRequest),
    /// Call [`crate::Role::on_wake`] after this many milliseconds.
    Sleep {
        /// The pause.
        ms: u64,
    },
    /// Wait for the user: call [`crate::Role::on_command`] with a [`Command`].
    AwaitCommand,
    /// The role has ended; the outcome is also among its events.
    Done,
}

/// Something the user (or the runner acting as the user) does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Scan this QR code (its JSON text).
    ScanQrCode(String),
    /// Approve the login after comparing the check codes.
    Approve,
    /// Decline the login.
    Decline,
    /// Cancel the flow.
    Cancel,
}
