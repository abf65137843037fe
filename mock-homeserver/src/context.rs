//! The request context: everything a handler sees of one request. The dispatcher
//! (`Homeserver` in `core.rs`) builds one per request and hands it to the endpoint's handler.

use std::sync::Arc;

use crate::request::{Caller, Request};
use crate::state::State;
use crate::{Fault, MatrixError};

/// Everything a handler sees of one request.
pub(crate) struct Ctx<'a> {
    pub state: &'a mut State,
    pub req: &'a Request,
    /// The path parameters of the matched route, in order, percent-decoded.
    pub params: Vec<String>,
    pub caller: Option<Caller>,
    pub now_ms: u64,
    /// The clock's origin as Unix milliseconds, for dates in headers.
    pub origin_unix_ms: u64,
    /// `/sync` may answer `Handled::WouldBlock` instead of an empty response.
    pub allow_wait: bool,
    /// The base URL clients reach this server at (for absolute `Location`s).
    pub base_url: Arc<str>,
    /// Faults that fired during this request.
    pub fired: Vec<String>,
    /// Set by `/sync` to ask the shell to wait.
    pub would_block: Option<u64>,
}

impl Ctx<'_> {
    /// The caller; handlers of authenticated routes can rely on it.
    pub fn caller(&self) -> Result<Caller, MatrixError> {
        self.caller.clone().ok_or_else(MatrixError::missing_token)
    }

    /// The i-th path parameter.
    pub fn param(&self, i: usize) -> &str {
        self.params.get(i).map(String::as_str).unwrap_or("")
    }

    /// Records that a fault changed this answer.
    pub fn fire(&mut self, fault: &Fault) {
        self.fired.push(fault.describe());
    }
}
