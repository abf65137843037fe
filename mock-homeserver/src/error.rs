//! The Matrix error format: every non-2xx answer of the server is one of these.

use serde_json::{json, Map, Value};

/// A Matrix error: an HTTP status with `{"errcode": ..., "error": ...}` and, for
/// some errors, extra fields (UIA state, `retry_after_ms`).
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixError {
    /// HTTP status code.
    pub status: u16,
    /// The `errcode`, such as `M_FORBIDDEN`.
    pub errcode: String,
    /// The human-readable `error`.
    pub error: String,
    /// Extra top-level fields merged into the body.
    pub extra: Map<String, Value>,
}

impl MatrixError {
    /// An error with the given status, errcode and message.
    pub fn new(status: u16, errcode: &str, error: impl Into<String>) -> Self {
        Self { status, errcode: errcode.to_owned(), error: error.into(), extra: Map::new() }
    }

    /// Adds an extra top-level field to the body.
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_owned(), value);
        self
    }

    /// 400 `M_BAD_JSON`.
    pub fn bad_json(error: impl Into<String>) -> Self {
        Self::new(400, "M_BAD_JSON", error)
    }

    /// 400 `M_NOT_JSON` with Synapse's message.
    pub fn not_json() -> Self {
        Self::new(400, "M_NOT_JSON", "Content not JSON.")
    }

    /// 400 `M_MISSING_PARAM`.
    pub fn missing_param(error: impl Into<String>) -> Self {
        Self::new(400, "M_MISSING_PARAM", error)
    }

    /// 400 `M_INVALID_PARAM`.
    pub fn invalid_param(error: impl Into<String>) -> Self {
        Self::new(400, "M_INVALID_PARAM", error)
    }

    /// 403 `M_FORBIDDEN`.
    pub fn forbidden(error: impl Into<String>) -> Self {
        Self::new(403, "M_FORBIDDEN", error)
    }

    /// 404 `M_NOT_FOUND`.
    pub fn not_found(error: impl Into<String>) -> Self {
        Self::new(404, "M_NOT_FOUND", error)
    }

    /// 404 `M_UNRECOGNIZED` for an endpoint the server does not know.
    pub fn unrecognized() -> Self {
        Self::new(404, "M_UNRECOGNIZED", "Unrecognized request")
    }

    /// 405 `M_UNRECOGNIZED` for a known path with the wrong method.
    pub fn method_not_allowed() -> Self {
        Self::new(405, "M_UNRECOGNIZED", "Unrecognized request")
    }

    /// 401 `M_MISSING_TOKEN`.
    pub fn missing_token() -> Self {
        Self::new(401, "M_MISSING_TOKEN", "Missing access token")
    }

    /// 401 `M_UNKNOWN_TOKEN`.
    pub fn unknown_token() -> Self {
        Self::new(401, "M_UNKNOWN_TOKEN", "Unknown access token").with("soft_logout", Value::Bool(false))
    }

    /// 413 `M_TOO_LARGE`.
    pub fn too_large(error: impl Into<String>) -> Self {
        Self::new(413, "M_TOO_LARGE", error)
    }

    /// The JSON body of the error. An empty `errcode` leaves out `errcode` and `error`
    /// (a bare UIA challenge, which carries `flows` and `session` instead).
    pub fn body(&self) -> Value {
        let mut body = self.extra.clone();
        if !self.errcode.is_empty() {
            body.insert("errcode".to_owned(), json!(self.errcode));
            body.insert("error".to_owned(), json!(self.error));
        }
        Value::Object(body)
    }
}

impl std::fmt::Display for MatrixError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.errcode, self.error)
    }
}

impl std::error::Error for MatrixError {}
