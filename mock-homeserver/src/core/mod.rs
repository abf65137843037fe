//! The core: state plus dispatch. No I/O; drive it with [`Homeserver::handle`].

mod request;
pub(crate) mod state;

use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use serde_json::Value;
use tokio::sync::Notify;

pub use request::{Body, Caller, Request, Response, WireResponse};
pub(crate) use state::State;

use crate::endpoints::{self, Auth, Route};
use crate::fault::ActiveFault;
use crate::{Clock, Fault, JournalBody, JournalEntry, MatrixError, Profile, SystemClock};

/// The CORS headers every answer carries (MSC3886 2023 text, docs/protocol.md §3.3).
pub(crate) const CORS_HEADERS: [(&str, &str); 4] = [
    ("access-control-allow-origin", "*"),
    ("access-control-allow-methods", "GET,PUT,POST,DELETE,OPTIONS"),
    ("access-control-allow-headers", "Authorization,Content-Type,If-Match,If-None-Match,X-Requested-With"),
    ("access-control-expose-headers", "ETag,Location,X-Max-Bytes"),
];

/// What one call of the core produced.
#[derive(Debug)]
pub enum Handled {
    /// The answer to send.
    Response(Response),
    /// `/sync` has nothing to deliver yet and may wait up to this many milliseconds;
    /// call again when [`Homeserver::changed`] fires or the time is up.
    WouldBlock {
        /// The `timeout` the client asked for, capped by the profile.
        timeout_ms: u64,
    },
}

/// Everything a handler sees of one request.
pub(crate) struct Ctx<'a> {
    pub state: &'a mut State,
    pub req: &'a Request,
    /// The path parameters of the matched route, in order, percent-decoded.
    pub params: Vec<String>,
    pub caller: Option<Caller>,
    pub now_ms: u64,
    /// `/sync` may answer [`Handled::WouldBlock`] instead of an empty response.
    pub allow_wait: bool,
    /// The base URL clients reach this server at (for absolute `Location`s).
    pub base_url: String,
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

/// The in-memory homeserver: state, handlers, journal and faults.
///
/// ```
/// use mock_homeserver::{Homeserver, Profile, Request};
/// let server = Homeserver::new(Profile::default(), 7);
/// let answer = server.handle(Request::get("/_matrix/client/versions"));
/// assert_eq!(answer.status, 200);
/// assert_eq!(server.journal().len(), 1);
/// ```
#[derive(Debug)]
pub struct Homeserver {
    state: Mutex<State>,
    clock: Arc<dyn Clock>,
    changed: Arc<Notify>,
    base_url: RwLock<String>,
}

impl Homeserver {
    /// A server with this profile, its randomness seeded with `seed`, on the wall clock.
    pub fn new(profile: Profile, seed: u64) -> Self {
        Self::with_clock(profile, seed, Arc::new(SystemClock::new()))
    }

    /// A server with a clock the caller controls.
    pub fn with_clock(profile: Profile, seed: u64, clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Mutex::new(State::new(profile, seed)),
            clock,
            changed: Arc::new(Notify::new()),
            base_url: RwLock::new("http://localhost".to_owned()),
        }
    }

    /// Sets the base URL clients reach the server at; used for absolute `Location`s and
    /// for the `homeserver` field clients may compare.
    pub fn set_base_url(&self, url: &str) {
        *self.base_url.write().unwrap_or_else(|e| e.into_inner()) = url.trim_end_matches('/').to_owned();
    }

    /// The base URL.
    pub fn base_url(&self) -> String {
        self.base_url.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The profile the server runs.
    pub fn profile(&self) -> Profile {
        self.lock().profile.clone()
    }

    /// Notified whenever something a long-polling `/sync` waits for may have arrived.
    pub fn changed(&self) -> Arc<Notify> {
        self.changed.clone()
    }

    /// The server's clock reading, in milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Handles one request to completion (a `/sync` answers at once, never waits).
    pub fn handle(&self, req: Request) -> Response {
        match self.handle_request(&req, false) {
            Handled::Response(response) => response,
            Handled::WouldBlock { .. } => unreachable_would_block(),
        }
    }

    /// Handles one request; when `allow_wait` is set, an empty `/sync` with a
    /// `timeout` answers [`Handled::WouldBlock`] and is not journaled.
    pub fn handle_request(&self, req: &Request, allow_wait: bool) -> Handled {
        let now_ms = self.clock.now_ms();
        let base_url = self.base_url();
        let mut state = self.lock();
        let mut ctx = Ctx {
            state: &mut state,
            req,
            params: Vec::new(),
            caller: None,
            now_ms,
            allow_wait,
            base_url,
            fired: Vec::new(),
            would_block: None,
        };
        let result = dispatch(&mut ctx);
        if let Some(timeout_ms) = ctx.would_block {
            return Handled::WouldBlock { timeout_ms };
        }
        let mut response = result.unwrap_or_else(Response::from);
        for (name, value) in CORS_HEADERS {
            if response.header(name).is_none() {
                response = response.with_header(name, value);
            }
        }
        let caller = ctx.caller.clone();
        let faults = std::mem::take(&mut ctx.fired);
        let state = &mut *state;
        let response = endpoints::rendezvous::decorate(&state.profile, &req.path, response);
        let entry = JournalEntry {
            seq: state.journal.len() as u64 + 1,
            elapsed_ms: now_ms,
            method: req.method.clone(),
            path: req.path.clone(),
            query: (!req.query.is_empty()).then(|| req.query.clone()),
            request: JournalBody::from_bytes(&req.body, req.header("content-type")),
            status: response.status,
            response: match &response.body {
                Body::Empty => JournalBody::Empty,
                Body::Json(value) => JournalBody::Json(value.clone()),
                Body::Bytes { content_type, data } => JournalBody::from_bytes(data, Some(content_type)),
            },
            caller,
            role: req.header(crate::journal::ROLE_HEADER).map(str::to_owned),
            faults,
        };
        state.journal.push(entry);
        if std::mem::take(&mut state.wake) {
            self.changed.notify_waiters();
        }
        Handled::Response(response)
    }

    /// A copy of the journal so far.
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.lock().journal.clone()
    }

    /// The journal entries after sequence number `after_seq`.
    pub fn journal_since(&self, after_seq: u64) -> Vec<JournalEntry> {
        self.lock().journal.iter().filter(|e| e.seq > after_seq).cloned().collect()
    }

    /// Adds a fault; it applies to every later request it matches.
    pub fn add_fault(&self, fault: Fault) {
        self.lock().faults.push(ActiveFault::new(fault));
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Expires every rendezvous session now: later requests to them get 404.
    pub fn expire_rendezvous_now(&self) {
        let now = self.clock.now_ms();
        for session in self.lock().rendezvous.values_mut() {
            session.expires_at_ms = now;
        }
    }

    /// Creates an account with a password, as an operator would. Returns its user ID,
    /// or `None` if the localpart is taken.
    pub fn create_account(&self, localpart: &str, password: &str) -> Option<String> {
        let mut state = self.lock();
        let user_id = state.user_id_for(localpart);
        state.create_user(&user_id, Some(password)).then_some(user_id)
    }

    /// Logs an existing account in on a new device without going through `/login`.
    /// Returns `(device_id, access_token)`, or `None` for an unknown user.
    pub fn login_account(&self, user_id: &str, device_id: Option<&str>) -> Option<(String, String)> {
        let mut state = self.lock();
        state.users.contains_key(user_id).then(|| state.login_device(user_id, device_id, None))
    }

    /// The stored cross-signing key of a user (`master`, `self_signing` or `user_signing`).
    pub fn cross_signing_key(&self, user_id: &str, usage: &str) -> Option<Value> {
        let state = self.lock();
        let user = state.users.get(user_id)?;
        match usage {
            "master" => user.master_key.clone(),
            "self_signing" => user.self_signing_key.clone(),
            "user_signing" => user.user_signing_key.clone(),
            _ => None,
        }
    }

    /// Signals that `user_id`'s device list changed, as `/keys/upload` does: every
    /// device of that user sees the user in `device_lists.changed` on its next `/sync`.
    #[doc(hidden)]
    pub fn mark_device_list_changed(&self, user_id: &str) {
        let mut state = self.lock();
        state.device_list_changed(user_id);
        if std::mem::take(&mut state.wake) {
            self.changed.notify_waiters();
        }
    }

    /// Stores (or with `None`, removes) a user's cross-signing key (`master`,
    /// `self_signing` or `user_signing`) exactly as given, without validation or a
    /// `device_lists` signal: for tests and scenario set-up. False for an unknown user
    /// or usage.
    #[doc(hidden)]
    pub fn set_cross_signing_key(&self, user_id: &str, usage: &str, value: Option<Value>) -> bool {
        let mut state = self.lock();
        let Some(user) = state.users.get_mut(user_id) else {
            return false;
        };
        let slot = match usage {
            "master" => &mut user.master_key,
            "self_signing" => &mut user.self_signing_key,
            "user_signing" => &mut user.user_signing_key,
            _ => return false,
        };
        *slot = value;
        true
    }

    /// The stored device keys of one device, with the cross-signing signatures merged
    /// in (all of them: no visibility filtering). For tests.
    #[doc(hidden)]
    pub fn device_keys(&self, user_id: &str, device_id: &str) -> Option<Value> {
        self.lock().users.get(user_id)?.devices.get(device_id)?.keys.clone()
    }

    /// Whether an account exists.
    pub fn account_exists(&self, user_id: &str) -> bool {
        self.lock().users.contains_key(user_id)
    }
}

fn unreachable_would_block() -> Response {
    // `handle_request(.., false)` never asks to wait; answer sanely if it ever did.
    MatrixError::new(500, "M_UNKNOWN", "internal: sync asked to wait").into()
}

/// Route matching, the generic checks, faults, then the handler.
fn dispatch(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let routes = endpoints::routes();
    let path = ctx.req.path.clone();
    let mut path_known = false;
    let mut matched: Option<(&Route, Vec<String>)> = None;
    for route in routes.iter() {
        if let Some(params) = route.match_path(&path) {
            path_known = true;
            if route.method == ctx.req.method {
                matched = Some((route, params));
                break;
            }
        }
    }
    if !path_known {
        return Err(MatrixError::unrecognized());
    }
    if ctx.req.method == "OPTIONS" {
        return Ok(Response::empty(204));
    }
    let Some((route, params)) = matched else {
        return Err(MatrixError::method_not_allowed());
    };
    ctx.params = params;
    if route.is_rendezvous {
        if !ctx.state.profile.rendezvous.enabled {
            return Err(MatrixError::unrecognized());
        }
    } else if ctx.req.body.len() > ctx.state.profile.max_body_bytes {
        return Err(MatrixError::too_large("Request body too large"));
    }
    match ctx.req.access_token() {
        Some(token) => match ctx.state.caller_for_token(&token) {
            Some(caller) => ctx.caller = Some(caller),
            None if route.auth != Auth::None => return Err(MatrixError::unknown_token()),
            None => {}
        },
        None if route.auth == Auth::Required => return Err(MatrixError::missing_token()),
        None => {}
    }
    injected_error(ctx)?;
    (route.handler)(ctx)
}

/// Applies a matching [`Fault::RespondWithError`].
fn injected_error(ctx: &mut Ctx<'_>) -> Result<(), MatrixError> {
    let (method, path) = (ctx.req.method.clone(), ctx.req.path.clone());
    for i in 0..ctx.state.faults.len() {
        if !ctx.state.faults[i].fault.matches_request(&method, &path) || !ctx.state.faults[i].take() {
            continue;
        }
        let fault = ctx.state.faults[i].fault.clone();
        ctx.fire(&fault);
        if let Fault::RespondWithError { status, errcode, error, .. } = fault {
            return Err(MatrixError::new(status, &errcode, error));
        }
    }
    Ok(())
}
