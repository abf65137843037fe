//! Reading homeserver answers: the Matrix error format, and the odd answers a real
//! server (or a lying one) can give — a 5xx, a body that is not JSON, a missing field.

use serde_json::Value;

use crate::events::Abort;
use crate::io::HttpResult;

/// Why an answer could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The request never got an answer.
    #[error("transport: {0}")]
    Transport(String),
    /// The server answered with a Matrix error.
    #[error("{status} {errcode}: {error}")]
    Matrix {
        /// HTTP status.
        status: u16,
        /// `errcode`, or `?` when absent.
        errcode: String,
        /// `error`, possibly empty.
        error: String,
        /// The whole body (for UIA challenges and `retry_after_ms`).
        body: Value,
    },
    /// A success status with a body that is not a JSON object.
    #[error("{status} with a body that is not a JSON object")]
    NotJson {
        /// HTTP status.
        status: u16,
    },
    /// A required field is missing or has the wrong type.
    #[error("field `{field}` missing or not {expected}")]
    BadField {
        /// The field.
        field: String,
        /// The expected type.
        expected: &'static str,
    },
}

impl ApiError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Matrix { status, .. } | ApiError::NotJson { status } => Some(*status),
            _ => None,
        }
    }

    /// The errcode of a Matrix error.
    pub fn errcode(&self) -> Option<&str> {
        match self {
            ApiError::Matrix { errcode, .. } => Some(errcode),
            _ => None,
        }
    }

    /// Whether this is a UIA challenge (401 with `flows`).
    pub fn is_uia_challenge(&self) -> bool {
        matches!(self, ApiError::Matrix { status: 401, body, .. } if body.get("flows").is_some())
    }

    /// The UIA session of a challenge.
    pub fn uia_session(&self) -> Option<String> {
        match self {
            ApiError::Matrix { body, .. } => body.get("session").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        }
    }

    /// As an abort of the flow, naming the request.
    pub fn into_abort(self, request: &str) -> Abort {
        Abort::Homeserver { request: request.to_owned(), detail: self.to_string() }
    }
}

/// A 2xx answer with a JSON object body, or the reason it is not one.
pub fn json_object(result: HttpResult) -> Result<Value, ApiError> {
    let response = result.map_err(|e| ApiError::Transport(e.0))?;
    let body = response.json_body();
    if !(200..300).contains(&response.status) {
        let body = body.unwrap_or(Value::Null);
        return Err(ApiError::Matrix {
            status: response.status,
            errcode: body.get("errcode").and_then(Value::as_str).unwrap_or("?").to_owned(),
            error: body.get("error").and_then(Value::as_str).unwrap_or("").to_owned(),
            body,
        });
    }
    match body {
        Some(value @ Value::Object(_)) => Ok(value),
        _ => Err(ApiError::NotJson { status: response.status }),
    }
}

/// A string field of a JSON object.
pub fn str_field(value: &Value, field: &str) -> Result<String, ApiError> {
    value
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ApiError::BadField { field: field.to_owned(), expected: "a string" })
}

/// An object field of a JSON object.
pub fn object_field<'a>(value: &'a Value, field: &str) -> Result<&'a Value, ApiError> {
    value
        .get(field)
        .filter(|v| v.is_object())
        .ok_or_else(|| ApiError::BadField { field: field.to_owned(), expected: "an object" })
}

/// Percent-encodes one path segment (user IDs, device IDs, event types, txn IDs).
pub fn path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(byte as char),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}
