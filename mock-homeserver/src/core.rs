//! The dispatcher: the [`Homeserver`] owns the state, matches each request to its
//! route, runs the generic checks and the handler, and journals the exchange. No I/O;
//! drive it with [`Homeserver::handle`].
//!
//! Imports flow one way: this module uses the endpoints, which use the request
//! context (`context.rs`) and the state (`state.rs`); none of those uses this one.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::Notify;

use crate::context::Ctx;
use crate::cors::CORS_HEADERS;
use crate::dispatch::dispatch;
use crate::endpoints::rendezvous;
use crate::fault::ActiveFault;
use crate::journal::{Journal, Method, Record, StoredBody, ROLE_HEADER};
use crate::request::{Body, Request, Response};
use crate::state::State;
use crate::{Clock, Fault, JournalEntry, JournalLimit, MatrixError, Profile, SystemClock};

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

/// An answer as the HTTP shell sends it: the response without the CORS headers
/// (the shell adds them without allocating), its body already serialised (the same
/// bytes the journal keeps), and the `X-Max-Bytes` value a rendezvous path carries.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The response; its JSON body is still a value, for in-process callers.
    pub response: Response,
    /// The body's bytes on the wire.
    pub wire_body: Bytes,
    /// `X-Max-Bytes`, to add after the CORS headers.
    pub x_max_bytes: Option<String>,
}

/// What [`Homeserver::answer`] produced.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The answer, journaled.
    Answered(Answer),
    /// `/sync` may wait this long; nothing was journaled.
    WouldBlock(u64),
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
    /// Its own lock, so that reading the journal never holds up request handling
    /// (a request takes it after the state lock, only to append).
    journal: Mutex<Journal>,
    /// The journal's `max_body_bytes`, readable without its lock.
    body_cap: AtomicUsize,
    clock: Arc<dyn Clock>,
    changed: Arc<Notify>,
    base_url: RwLock<Arc<str>>,
}

impl Homeserver {
    /// A server with this profile, its randomness seeded with `seed`, on the wall clock.
    /// It keeps every journal entry ([`Homeserver::set_journal_limit`] bounds it).
    pub fn new(profile: Profile, seed: u64) -> Self {
        Self::with_clock(profile, seed, Arc::new(SystemClock::new()))
    }

    /// A server with a clock the caller controls.
    pub fn with_clock(profile: Profile, seed: u64, clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Mutex::new(State::new(profile, seed)),
            journal: Mutex::new(Journal::new(JournalLimit::UNLIMITED)),
            body_cap: AtomicUsize::new(0),
            clock,
            changed: Arc::new(Notify::new()),
            base_url: RwLock::new(Arc::from("http://localhost")),
        }
    }

    /// Sets the base URL clients reach the server at; used for absolute `Location`s and
    /// for the `homeserver` field clients may compare.
    pub fn set_base_url(&self, url: &str) {
        *self.base_url.write().unwrap_or_else(|e| e.into_inner()) = Arc::from(url.trim_end_matches('/'));
    }

    /// The base URL.
    pub fn base_url(&self) -> String {
        self.shared_base_url().to_string()
    }

    fn shared_base_url(&self) -> Arc<str> {
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

    fn lock_journal(&self) -> MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(|e| e.into_inner())
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
        match self.answer(req, allow_wait) {
            Outcome::WouldBlock(timeout_ms) => Handled::WouldBlock { timeout_ms },
            Outcome::Answered(Answer { mut response, x_max_bytes, .. }) => {
                for (name, value) in CORS_HEADERS {
                    if response.header(name).is_none() {
                        response = response.with_header(name, value);
                    }
                }
                if let Some(max_bytes) = x_max_bytes {
                    response = response.with_header("x-max-bytes", max_bytes);
                }
                Handled::Response(response)
            }
        }
    }

    /// Handles one request and journals it: what [`Homeserver::handle_request`] does,
    /// in the form the HTTP shell sends.
    pub(crate) fn answer(&self, req: &Request, allow_wait: bool) -> Outcome {
        let now_ms = self.clock.now_ms();
        let base_url = self.shared_base_url();
        let mut state = self.lock();
        let mut ctx = Ctx {
            state: &mut state,
            req,
            params: Vec::new(),
            caller: None,
            now_ms,
            origin_unix_ms: self.clock.origin_unix_ms(),
            allow_wait,
            base_url,
            fired: Vec::new(),
            would_block: None,
        };
        let result = dispatch(&mut ctx);
        if let Some(timeout_ms) = ctx.would_block {
            return Outcome::WouldBlock(timeout_ms);
        }
        let response = result.unwrap_or_else(Response::from);
        let caller = ctx.caller.take();
        let faults = std::mem::take(&mut ctx.fired);
        if let Some(caller) = &caller {
            state.seen(caller, now_ms);
        }
        let x_max_bytes = rendezvous::max_bytes_header(&state.profile, &req.path, &response);
        let (wire_body, stored) = match &response.body {
            Body::Empty => (Bytes::new(), StoredBody::Empty),
            Body::Json(value) => {
                let bytes = serialize(value);
                (bytes.clone(), StoredBody::Json(bytes))
            }
            Body::Bytes { content_type, data } => {
                let bytes = Bytes::copy_from_slice(data);
                (bytes.clone(), StoredBody::Raw { bytes, content_type: Some(content_type.as_str().into()) })
            }
        };
        let body_cap = self.body_cap.load(Ordering::Relaxed);
        let record = Record {
            seq: 0,
            elapsed_ms: now_ms,
            method: Method::of(&req.method),
            path: req.path.as_str().into(),
            query: (!req.query.is_empty()).then(|| req.query.as_str().into()),
            request: StoredBody::request(&req.body, req.header("content-type"), body_cap),
            status: response.status,
            response: stored.capped(body_cap),
            caller,
            role: req.header(ROLE_HEADER).map(Box::from),
            faults,
        };
        self.lock_journal().push(record);
        if std::mem::take(&mut state.wake) {
            self.changed.notify_waiters();
        }
        Outcome::Answered(Answer { response, wire_body, x_max_bytes })
    }

    /// A copy of the journal so far, bodies parsed.
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.journal_page(0, 0)
    }

    /// The journal entries after sequence number `after_seq`.
    pub fn journal_since(&self, after_seq: u64) -> Vec<JournalEntry> {
        self.journal_page(after_seq, 0)
    }

    /// At most `limit` journal entries after sequence number `after_seq`, oldest
    /// first (`limit == 0`: all of them). The journal lock is held only to take
    /// references to the records; the bodies are parsed after it is released.
    pub fn journal_page(&self, after_seq: u64, limit: usize) -> Vec<JournalEntry> {
        let records = self.journal_records(after_seq, limit);
        records.iter().map(|record| record.to_entry()).collect()
    }

    /// The stored records after `after_seq`, shared (for the HTTP shell's streaming).
    pub(crate) fn journal_records(&self, after_seq: u64, limit: usize) -> Vec<Arc<Record>> {
        self.lock_journal().page(after_seq, limit)
    }

    /// Bounds the journal from now on (dropping the oldest entries at once if they
    /// exceed the new limit). The default keeps everything.
    pub fn set_journal_limit(&self, limit: JournalLimit) {
        let mut journal = self.lock_journal();
        self.body_cap.store(limit.max_body_bytes, Ordering::Relaxed);
        journal.set_limit(limit);
    }

    /// The journal's limit.
    pub fn journal_limit(&self) -> JournalLimit {
        self.lock_journal().limit()
    }

    /// How many entries the journal holds.
    pub fn journal_len(&self) -> usize {
        self.lock_journal().len()
    }

    /// The sequence number of the last entry ever journaled (0 before the first), even
    /// if it was dropped since.
    pub fn journal_last_seq(&self) -> u64 {
        self.lock_journal().last_seq()
    }

    /// How many entries were dropped to stay within the journal limit (since the
    /// start or the last [`Homeserver::clear_journal`]).
    pub fn journal_dropped(&self) -> u64 {
        self.lock_journal().dropped()
    }

    /// The estimated memory the journal's entries take, in bytes.
    pub fn journal_bytes(&self) -> usize {
        self.lock_journal().bytes()
    }

    /// Empties the journal and resets the dropped count; sequence numbers continue
    /// from where they were. Returns how many entries were removed.
    pub fn clear_journal(&self) -> usize {
        self.lock_journal().clear()
    }

    /// The faults in force, in the order they were added.
    pub fn faults(&self) -> Vec<Fault> {
        self.lock().faults.iter().map(|active| active.fault.clone()).collect()
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

/// A JSON value's bytes in an allocation of exactly their size: serialised into a
/// buffer this thread keeps (no growth by doubling for every answer), then copied.
fn serialize(value: &Value) -> Bytes {
    thread_local! {
        static BUFFER: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(16 * 1024));
    }
    BUFFER.with(|buffer| {
        let mut buffer = buffer.borrow_mut();
        buffer.clear();
        // Serialising a `Value` into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut *buffer, value);
        let bytes = Bytes::copy_from_slice(&buffer);
        if buffer.capacity() > 1 << 20 {
            *buffer = Vec::with_capacity(16 * 1024); // do not keep a rare huge answer's buffer
        }
        bytes
    })
}

fn unreachable_would_block() -> Response {
    // `handle_request(.., false)` never asks to wait; answer sanely if it ever did.
    MatrixError::new(500, "M_UNKNOWN", "internal: sync asked to wait").into()
}
