//! The harness API under `/_harness/`: the journal and the faults of a running server,
//! for test code in any language. Never journaled, never with CORS headers, and only
//! for its owner ([`HarnessAccess`]).
//!
//! | request | answer |
//! |---|---|
//! | `GET /_harness/journal?since=SEQ&limit=N` | `{"journal": [entry...], "dropped": N, "next_since": SEQ, "more": BOOL}`: the entries after `since` (default 0), at most `limit` (default: all), written as they are read |
//! | `DELETE /_harness/journal` | `{"cleared": N}`: the journal starts afresh (sequence numbers go on) |
//! | `GET /_harness/faults` | `{"faults": [fault...]}`: the faults in force |
//! | `POST /_harness/faults` | a fault, or a list of faults, as in scenario files; answers the faults in force |
//! | `DELETE /_harness/faults` | removes every fault; answers `{"faults": []}` |

use std::net::IpAddr;
use std::sync::Arc;

use hyper::header::{AUTHORIZATION, HOST, ORIGIN};
use hyper::HeaderMap;
use serde_json::{json, Value};

use super::body::{JournalStream, ResponseBody};
use super::config::HarnessAccess;
use super::reply::{self, HttpResponse};
use crate::core::Homeserver;
use crate::{Fault, MatrixError};

/// The prefix of every harness API path.
pub(crate) const PREFIX: &str = "/_harness/";

/// One request to the harness API, its body read.
pub(crate) struct HarnessRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Answers a request under [`PREFIX`].
pub(crate) fn serve(
    core: &Arc<Homeserver>,
    access: &HarnessAccess,
    req: &HarnessRequest<'_>,
) -> HttpResponse {
    if let Err(refusal) = authorise(access, req.headers) {
        return reply::error(&refusal);
    }
    let result = match (req.path, req.method) {
        ("/_harness/journal", "GET") => read_journal(core, req.query),
        ("/_harness/journal", "DELETE") => Ok(reply::json(200, &json!({ "cleared": core.clear_journal() }))),
        ("/_harness/faults", "GET") => Ok(faults_answer(core)),
        ("/_harness/faults", "POST") => add_faults(core, req.body),
        ("/_harness/faults", "DELETE") => {
            core.clear_faults();
            Ok(faults_answer(core))
        }
        ("/_harness/journal" | "/_harness/faults", _) => Err(MatrixError::method_not_allowed()),
        _ => Err(MatrixError::unrecognized()),
    };
    result.unwrap_or_else(|error| reply::error(&error))
}

/// Who may use the API: never a web page (a request with `Origin`); then per mode.
fn authorise(access: &HarnessAccess, headers: &HeaderMap) -> Result<(), MatrixError> {
    if headers.contains_key(ORIGIN) {
        return Err(MatrixError::forbidden(
            "The harness API does not serve web pages (the request has an Origin)",
        ));
    }
    match access {
        HarnessAccess::Closed => Err(MatrixError::unrecognized()),
        HarnessAccess::Token(token) => {
            let given = headers
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim);
            match given {
                None => Err(MatrixError::missing_token()),
                Some(given) if same(given.as_bytes(), token.as_bytes()) => Ok(()),
                Some(_) => Err(MatrixError::new(401, "M_UNKNOWN_TOKEN", "Not the harness token")),
            }
        }
        HarnessAccess::Open => {
            let host = headers.get(HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
            if is_literal_or_localhost(host) {
                Ok(())
            } else {
                Err(MatrixError::forbidden(format!(
                    "The open harness API answers only to an IP address or localhost, not `{host}`"
                )))
            }
        }
    }
}

/// Compares two secrets in time independent of where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether a `Host` names an IP address or `localhost` (a DNS name could be rebound
/// to this server by a web page).
fn is_literal_or_localhost(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                name
            } else {
                host
            }
        }),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok()
}

fn read_journal(core: &Arc<Homeserver>, query: &str) -> Result<HttpResponse, MatrixError> {
    let mut since = 0u64;
    let mut limit = 0usize;
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let invalid = || MatrixError::invalid_param(format!("`{name}` must be a non-negative integer"));
        match name.as_ref() {
            "since" => since = value.parse().map_err(|_| invalid())?,
            "limit" => limit = value.parse().map_err(|_| invalid())?,
            _ => {}
        }
    }
    let stream = JournalStream::new(core.clone(), since, limit);
    let mut out = hyper::Response::new(ResponseBody::Journal(Box::new(stream)));
    out.headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    Ok(out)
}

fn faults_answer(core: &Homeserver) -> HttpResponse {
    reply::json(200, &json!({ "faults": core.faults() }))
}

/// `POST /_harness/faults`: one fault object or a list; all are checked before any
/// is added.
fn add_faults(core: &Homeserver, body: &[u8]) -> Result<HttpResponse, MatrixError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| MatrixError::not_json())?;
    let faults: Vec<Fault> = match value {
        Value::Array(_) => serde_json::from_value(value),
        _ => serde_json::from_value(value).map(|fault| vec![fault]),
    }
    .map_err(|e| MatrixError::bad_json(format!("Not a fault: {e}")))?;
    for fault in &faults {
        fault.check().map_err(MatrixError::invalid_param)?;
    }
    for fault in faults {
        core.add_fault(fault);
    }
    Ok(faults_answer(core))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ip_literals_and_localhost_pass_the_open_host_check() {
        for host in
            ["127.0.0.1:8008", "127.0.0.1", "[::1]:8008", "localhost:8008", "LOCALHOST", "10.0.0.2:80"]
        {
            assert!(is_literal_or_localhost(host), "{host}");
        }
        for host in ["evil.example:8008", "evil.example", "", "127.0.0.1.nip.io:8008", "localhost.evil:1"] {
            assert!(!is_literal_or_localhost(host), "{host}");
        }
    }

    #[test]
    fn secrets_compare_by_value() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
    }
}
