//! Sign in with QR code (MSC3906 over MSC3886/MSC3903 with an MSC3882 login token):
//! the new device A ([`NewDevice`]) and the existing device B ([`ExistingDevice`]) as
//! sans-I/O [`crate::Role`]s.
//!
//! Either device can show the code; the other scans it. Every wait is bounded by a
//! deadline on the driver's clock, every poll sleeps `poll_ms`, `/sync` uses
//! `timeout=0`, and all randomness comes from the configured seed (Olm keys aside).

pub mod bootstrap;
pub mod checks;
pub mod config;
pub mod existing_device;
pub mod link;
pub mod mangle;
pub mod new_device;
mod rendezvous;

use std::collections::VecDeque;

use protocol::qr_login::{Dialect, Message, QrCode};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::Value;

pub use config::{
    DialectName, ExistingDeviceConfig, ExistingDeviceKnobs, ExistingDeviceSetup, NewDeviceConfig,
    NewDeviceKnobs, NewDeviceSetup,
};
pub use existing_device::ExistingDevice;
pub use new_device::NewDevice;

use crate::events::{Abort, Decision, DeviceEvent, Outcome};
use crate::io::{HttpRequest, HttpResult, Step};
use link::{Link, Polled};

/// The four secrets A asks for (step 23).
pub const SECRET_NAMES: [&str; 4] = [
    "m.cross_signing.master",
    "m.cross_signing.self_signing",
    "m.cross_signing.user_signing",
    "m.megolm_backup.v1",
];

pub use crate::olm::secrets::BACKUP_ALGORITHM;

/// An authenticated session on a homeserver: builds Client-Server requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Base URL (no trailing slash).
    pub base: String,
    /// Access token.
    pub access_token: String,
    /// Own user ID.
    pub user_id: String,
    /// Own device ID.
    pub device_id: String,
}

impl Session {
    /// `GET base+path` with the token.
    pub fn get(&self, path: &str) -> HttpRequest {
        HttpRequest::new("GET", format!("{}{path}", self.base)).bearer(&self.access_token)
    }

    /// `method base+path` with a JSON body and the token.
    pub fn send(&self, method: &str, path: &str, body: &Value) -> HttpRequest {
        HttpRequest::json(method, format!("{}{path}", self.base), body).bearer(&self.access_token)
    }

    /// `POST /keys/query` for the own user.
    pub fn query_own_keys(&self) -> HttpRequest {
        self.send(
            "POST",
            "/_matrix/client/v3/keys/query",
            &serde_json::json!({"device_keys": {&self.user_id: []}}),
        )
    }

    /// `GET /sync?timeout=0` from `since`.
    pub fn sync(&self, since: Option<&str>) -> HttpRequest {
        match since {
            Some(since) => self
                .get(&format!("/_matrix/client/v3/sync?timeout=0&since={}", crate::api::path_segment(since))),
            None => self.get("/_matrix/client/v3/sync?timeout=0"),
        }
    }
}

/// The outcome of a failed check: the ending named by the abort.
pub fn outcome_for(reason: &Abort) -> Outcome {
    match reason {
        Abort::RendezvousGone => Outcome::Expired,
        other if other.is_security_error() || matches!(other, Abort::DeviceNotVisible { .. }) => {
            Outcome::SecurityError { reason: other.clone() }
        }
        other => Outcome::Error { reason: other.clone() },
    }
}

/// What a poll of the channel gave the role.
#[derive(Debug)]
pub(crate) enum Polling {
    /// Perform this step (a sleep before the next poll, or the end).
    Step(Step),
    /// The generator received the scanner's key.
    Key,
    /// A message arrived (already reported and parsed).
    Message(Message),
}

/// How many steps a role may take before it gives up (a guard against loops).
const STEP_BUDGET: u32 = 20_000;

/// State and helpers both roles share: events, randomness, the channel, the endings.
pub(crate) struct Flow {
    pub events: Vec<DeviceEvent>,
    pub rng: ChaCha20Rng,
    pub link: Option<Link>,
    pub dialect: Dialect,
    pub poll_ms: u64,
    pub deadline: u64,
    pub send_twice: bool,
    /// The message still to be written a second time (knob `send-messages-twice`).
    repeat: Option<Value>,
    tail: Option<(VecDeque<HttpRequest>, Outcome)>,
    pub done: bool,
    pub sleep_then_poll: bool,
    /// The code this device scanned (as scanner), for the intent check.
    pub qr: Option<QrCode>,
    /// Steps taken so far, against the step budget ([`Flow::spend_step`]).
    steps: u32,
    /// After a failed security check, send nothing on the channel (knob
    /// `silent-security-abort`).
    pub silent_security_abort: bool,
    /// One message to send broken (knob `mangle-message`).
    pub mangle: Option<mangle::MangleMessage>,
    /// Channel messages sent so far (for `mangle-message`).
    sent: u32,
    /// The last message sent (for `mangle-message` = `replay-previous`).
    last_sent: Option<Value>,
}

impl Flow {
    pub fn new(seed: u64, dialect: Dialect, poll_ms: u64) -> Self {
        Self {
            events: Vec::new(),
            rng: ChaCha20Rng::seed_from_u64(seed),
            link: None,
            dialect,
            poll_ms: poll_ms.max(1),
            deadline: u64::MAX,
            send_twice: false,
            repeat: None,
            tail: None,
            done: false,
            sleep_then_poll: false,
            qr: None,
            steps: 0,
            silent_security_abort: false,
            mangle: None,
            sent: 0,
            last_sent: None,
        }
    }

    pub fn decide(&mut self, decision: Decision) {
        self.events.push(DeviceEvent::Decision(decision));
    }

    pub fn finish(&mut self, outcome: Outcome) -> Step {
        if !self.done {
            self.events.push(DeviceEvent::Finished(outcome));
            self.done = true;
        }
        Step::Done
    }

    /// An encrypted channel message, reported as sent.
    pub fn send(&mut self, message: &Message) -> Result<HttpRequest, Abort> {
        let mut value = message.to_json(self.dialect);
        let mangle = self.mangle.filter(|m| m.message == self.sent);
        self.sent += 1;
        let original = value.clone();
        if let Some(mangle) = &mangle {
            mangle.plaintext(&mut value, self.last_sent.as_ref());
        }
        self.last_sent = Some(original);
        let link = self.link.as_mut().ok_or_else(|| Abort::Channel { reason: "no channel".into() })?;
        if let Some(mangle) = mangle.filter(|m| m.how.breaks_envelope()) {
            link.mangle_next_envelope(mangle);
        }
        let request = link.send_request(&value, &mut self.rng)?;
        let repeat = mangle.is_some_and(|m| m.how == mangle::Mangling::Repeat);
        if self.send_twice || repeat {
            self.repeat = Some(value.clone());
        }
        self.events.push(DeviceEvent::ChannelSent { message: value, encrypted: true });
        Ok(request)
    }

    /// Sends `message`, or ends with the abort's outcome when that fails.
    pub fn send_step(&mut self, message: &Message) -> Step {
        match self.send(message) {
            Ok(request) => Step::Http(request),
            Err(reason) => self.fail(reason),
        }
    }

    /// Reads the answer to a channel write. `Some(step)`: perform it first (the
    /// repeat of the knob `send-messages-twice`, or the end on failure).
    ///
    /// The repeat is encrypted only now, after the first write's answer, so that it
    /// carries that write's ETag in `If-Match`: the knob writes the same message twice
    /// in a row and nothing else (built earlier, the repeat would carry a stale
    /// `If-Match` and fail with 412 against the device's own first write).
    pub fn after_send(&mut self, result: HttpResult) -> Option<Step> {
        let outcome = self.link.as_mut().map(|l| l.on_sent(result));
        match outcome {
            Some(Ok(())) => {
                let value = self.repeat.take()?;
                let link = self.link.as_mut()?;
                match link.send_request(&value, &mut self.rng) {
                    Ok(request) => {
                        self.events.push(DeviceEvent::ChannelSent { message: value, encrypted: true });
                        Some(Step::Http(request))
                    }
                    Err(reason) => Some(self.fail(reason)),
                }
            }
            Some(Err(reason)) => Some(self.fail(reason)),
            None => Some(self.fail(Abort::Channel { reason: "no channel".into() })),
        }
    }

    /// Ends after a failure that sends nothing further.
    pub fn fail(&mut self, reason: Abort) -> Step {
        self.finish(outcome_for(&reason))
    }

    /// Ends after the homeserver failed `request` (or it could not be built).
    pub fn hs_fail(&mut self, request: &str, detail: impl ToString) -> Step {
        self.fail(Abort::Homeserver { request: request.to_owned(), detail: detail.to_string() })
    }

    /// Ends after a failed security check: the dialect's security-error message,
    /// outcome `SecurityError` (docs/protocol.md §1.6).
    pub fn security_abort(&mut self, reason: Abort) -> Step {
        self.decide(Decision::Aborted { reason: reason.clone() });
        let outcome = Outcome::SecurityError { reason };
        let message = (!self.silent_security_abort).then_some(Message::SecurityError);
        self.end_with(message, outcome)
    }

    /// Ends with a last message, or else with a `DELETE` of the rendezvous.
    ///
    /// Never both: the rendezvous holds one payload (docs/protocol.md §1.7), so a
    /// `DELETE` right after the last message would destroy it before the peer reads it,
    /// and the peer would end `Expired` instead of with the ending the message names.
    /// The last message stays in the slot; the peer deletes the rendezvous once it has
    /// read it ([`Flow::terminal`]), and otherwise the rendezvous expires.
    pub fn end_with(&mut self, message: Option<Message>, outcome: Outcome) -> Step {
        self.send_twice = false;
        let mut queue = VecDeque::new();
        match message {
            Some(message) => {
                if let Ok(request) = self.send(&message) {
                    queue.push_back(request);
                }
            }
            None => {
                if let Some(request) = self.link.as_ref().and_then(Link::delete_request) {
                    queue.push_back(request);
                }
            }
        }
        self.tail = Some((queue, outcome));
        self.tail_next()
    }

    /// Whether the role is in its ending sequence (then feed answers to [`Flow::tail_next`]).
    pub fn in_tail(&self) -> bool {
        self.tail.is_some()
    }

    pub fn tail_next(&mut self) -> Step {
        let Some((queue, outcome)) = self.tail.as_mut() else { return Step::Done };
        match queue.pop_front() {
            Some(request) => Step::Http(request),
            None => {
                let outcome = outcome.clone();
                self.tail = None;
                self.finish(outcome)
            }
        }
    }

    /// A poll of the rendezvous, or the end when the wait is over.
    pub fn poll(&mut self, now: u64, what: &str) -> Step {
        if now >= self.deadline {
            return self.fail(Abort::Timeout { what: what.to_owned() });
        }
        match self.link.as_ref().and_then(Link::poll_request) {
            Some(request) => Step::Http(request),
            None => self.fail(Abort::Channel { reason: "no rendezvous".into() }),
        }
    }

    /// Reads a poll answer: nothing new (sleep), the scanner's key, or a message.
    pub fn on_poll(&mut self, result: HttpResult) -> Polling {
        let polled = match self.link.as_mut() {
            Some(link) => link.on_polled(result),
            None => Err(Abort::Channel { reason: "no rendezvous".into() }),
        };
        match polled {
            Ok(Polled::Nothing) => {
                self.sleep_then_poll = true;
                Polling::Step(Step::Sleep { ms: self.poll_ms })
            }
            Ok(Polled::KeyReceived) => Polling::Key,
            Ok(Polled::Message(value)) => {
                self.events.push(DeviceEvent::ChannelReceived { message: value.clone(), encrypted: true });
                match Message::parse(&value, self.dialect) {
                    Ok(message) => Polling::Message(message),
                    Err(e) => Polling::Step(self.fail(Abort::MalformedMessage { reason: e.to_string() })),
                }
            }
            Err(reason) => Polling::Step(self.fail(reason)),
        }
    }

    /// Reads the answer to a poll made on the side of the role's main work (B reading
    /// the rendezvous while it serves secrets): `Ok(Some(message))` for a message
    /// (reported as received), `Ok(None)` for nothing new or a message that does not
    /// parse, `Err` when the rendezvous cannot be read any more. Unlike
    /// [`Flow::on_poll`], it never ends the role.
    pub fn on_side_poll(&mut self, result: HttpResult) -> Result<Option<Message>, Abort> {
        let link = self.link.as_mut().ok_or_else(|| Abort::Channel { reason: "no rendezvous".into() })?;
        match link.on_polled(result)? {
            Polled::Nothing | Polled::KeyReceived => Ok(None),
            Polled::Message(value) => {
                self.events.push(DeviceEvent::ChannelReceived { message: value.clone(), encrypted: true });
                Ok(Message::parse(&value, self.dialect).ok())
            }
        }
    }

    /// The endings every wait shares: a received terminal message ends the role, and
    /// as the last reader of the rendezvous it deletes it.
    pub fn terminal(&mut self, message: &Message) -> Option<Step> {
        let outcome = match message {
            Message::SecurityError => Outcome::SecurityError { reason: Abort::PeerSecurityError },
            Message::Cancelled => Outcome::Cancelled,
            Message::Declined => Outcome::Declined,
            Message::Unsupported => Outcome::Unsupported,
            Message::IncompatibleIntent { .. } => Outcome::IncompatibleIntent,
            _ => return None,
        };
        Some(self.end_with(None, outcome))
    }

    /// Ends on a message the state does not allow.
    pub fn unexpected(&mut self, expected: &str, got: &Message) -> Step {
        self.fail(Abort::UnexpectedMessage { expected: expected.to_owned(), got: got.kind().to_owned() })
    }

    /// Counts one step against the step budget. `Some(step)`: perform it instead
    /// (the end, once the budget is spent).
    pub fn spend_step(&mut self) -> Option<Step> {
        self.steps += 1;
        if self.steps > STEP_BUDGET {
            return Some(self.fail(Abort::Timeout { what: format!("the flow within {STEP_BUDGET} steps") }));
        }
        None
    }

    pub fn take_events(&mut self) -> Vec<DeviceEvent> {
        std::mem::take(&mut self.events)
    }
}
