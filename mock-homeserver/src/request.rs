//! Requests and responses as the core sees them: plain data, no HTTP library types.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::MatrixError;

/// One HTTP request, as plain data.
///
/// ```
/// use mock_homeserver::Request;
/// let req = Request::post("/_matrix/client/v3/keys/query", &serde_json::json!({"device_keys": {}}))
///     .with_token("syt_abc");
/// assert_eq!(req.header("authorization"), Some("Bearer syt_abc"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The HTTP method, upper case.
    pub method: String,
    /// The path, percent-encoded as it arrived, without the query.
    pub path: String,
    /// The raw query string without `?`, empty when there is none.
    pub query: String,
    /// Header names in lower case, with their values.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
}

impl Request {
    /// A request with the given method and path (the path may carry a `?query`).
    pub fn new(method: &str, path_and_query: &str) -> Self {
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path.to_owned(), query.to_owned()),
            None => (path_and_query.to_owned(), String::new()),
        };
        Self { method: method.to_ascii_uppercase(), path, query, headers: Vec::new(), body: Vec::new() }
    }

    /// A `GET` request.
    pub fn get(path_and_query: &str) -> Self {
        Self::new("GET", path_and_query)
    }

    /// A `POST` request with a JSON body.
    pub fn post(path_and_query: &str, body: &Value) -> Self {
        Self::new("POST", path_and_query).json(body)
    }

    /// A `PUT` request with a JSON body.
    pub fn put(path_and_query: &str, body: &Value) -> Self {
        Self::new("PUT", path_and_query).json(body)
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    pub fn json(mut self, body: &Value) -> Self {
        self.body = serde_json::to_vec(body).unwrap_or_default();
        self.with_header("content-type", "application/json")
    }

    /// Adds a header (the name is lower-cased).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// Adds `Authorization: Bearer <token>`.
    pub fn with_token(self, token: &str) -> Self {
        self.with_header("authorization", &format!("Bearer {token}"))
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The first value of a query parameter, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The access token from `Authorization: Bearer` or the `access_token` query parameter.
    pub fn access_token(&self) -> Option<String> {
        if let Some(value) = self.header("authorization") {
            return value.strip_prefix("Bearer ").map(|t| t.trim().to_owned());
        }
        self.query_param("access_token")
    }

    /// The body parsed as JSON, with the spec's errors for a body that is not JSON.
    pub fn json_body(&self) -> Result<Value, MatrixError> {
        if self.body.is_empty() {
            return Err(MatrixError::not_json());
        }
        serde_json::from_slice(&self.body).map_err(|_| MatrixError::not_json())
    }

    /// The body parsed as a JSON object (`M_NOT_JSON`, or `M_BAD_JSON` for a non-object).
    pub fn json_object(&self) -> Result<serde_json::Map<String, Value>, MatrixError> {
        match self.json_body()? {
            Value::Object(map) => Ok(map),
            _ => Err(MatrixError::bad_json("Content must be a JSON object.")),
        }
    }
}

/// A response body.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// No body at all.
    Empty,
    /// A JSON body (`Content-Type: application/json`).
    Json(Value),
    /// Raw bytes with their content type (rendezvous payloads).
    Bytes {
        /// The `Content-Type` to send.
        content_type: String,
        /// The bytes.
        data: Vec<u8>,
    },
}

/// One HTTP response, as plain data.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// Extra headers (names in lower case). `Content-Type` follows from the body.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Body,
}

impl Response {
    /// A JSON response with the given status.
    pub fn json(status: u16, value: Value) -> Self {
        Self { status, headers: Vec::new(), body: Body::Json(value) }
    }

    /// `200` with a JSON body.
    pub fn ok(value: Value) -> Self {
        Self::json(200, value)
    }

    /// A response without a body.
    pub fn empty(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: Body::Empty }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The JSON body, if the body is JSON.
    pub fn json_body(&self) -> Option<&Value> {
        match &self.body {
            Body::Json(value) => Some(value),
            _ => None,
        }
    }

    /// The response as it goes on the wire: status, headers (`Content-Type` from the
    /// body first, then the extra headers, each name once, lower case) and the body's
    /// bytes. The HTTP shell sends exactly this, and an in-process caller that
    /// bypasses HTTP sees exactly this, so both paths answer alike.
    pub fn into_wire(self) -> WireResponse {
        let (content_type, body) = match self.body {
            Body::Empty => (None, Vec::new()),
            Body::Json(value) => {
                (Some("application/json".to_owned()), serde_json::to_vec(&value).unwrap_or_default())
            }
            Body::Bytes { content_type, data } => (Some(content_type), data),
        };
        let mut headers: Vec<(String, String)> = Vec::with_capacity(self.headers.len() + 1);
        if let Some(content_type) = content_type {
            headers.push(("content-type".to_owned(), content_type));
        }
        for (name, value) in self.headers {
            let name = name.to_ascii_lowercase();
            if !headers.iter().any(|(n, _)| *n == name) {
                headers.push((name, value));
            }
        }
        WireResponse { status: self.status, headers, body }
    }
}

/// A [`Response`] in the form it takes on the wire ([`Response::into_wire`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireResponse {
    /// The HTTP status.
    pub status: u16,
    /// Headers, names in lower case, each name once.
    pub headers: Vec<(String, String)>,
    /// The body's bytes.
    pub body: Vec<u8>,
}

impl From<MatrixError> for Response {
    fn from(error: MatrixError) -> Self {
        Response::json(error.status, error.body())
    }
}

/// Who made a request: the user and device an access token belongs to. Also the
/// target of a fault aimed at one client (`seen_by`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Caller {
    /// The full user ID.
    pub user_id: String,
    /// The device ID.
    pub device_id: String,
}
