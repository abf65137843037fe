//! The new device (A): signs in with the login token B provides, sets up its Olm
//! identity, checks B and the master key (steps 20–22, in that order), then requests
//! and validates the secrets (step 23, docs/protocol.md §6.2).
//!
//! One file per phase of the protocol:
//! * [`channel`]: the rendezvous, the QR code, the secure channel and the messages
//!   before the login (C1–C4, M1, M3/M4, step 3);
//! * [`login`]: the token login, the device keys upload and M7 (steps 13–15);
//! * [`verify`]: the own keys query, M8 and steps 20–22;
//! * [`secrets`]: step 23 and the acceptance rules of §6.2.

mod channel;
mod login;
mod secrets;
mod verify;

use std::collections::{BTreeMap, VecDeque};

use protocol::keys::Ed25519PublicKey;
use protocol::qr_login::Message;
use serde_json::Value;

use super::{Flow, NewDeviceConfig, Session};
use crate::events::{DeviceEvent, Outcome};
use crate::io::{Command, HttpRequest, HttpResult, Step};
use crate::olm::secrets::SecretName;
use crate::olm::DeviceCrypto;
use crate::role::Role;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    AwaitScan,
    Creating,
    PuttingKey,
    AwaitKey,
    SendingStep3,
    AwaitOffer { first: bool },
    SendingProtocol,
    AwaitApproved,
    LoggingIn,
    Uploading,
    SendingSuccess { e2ee: bool },
    EarlyRequests,
    QueryOwn,
    AwaitVerified,
    BackupVersion,
    Outbox,
    Syncing,
    Ended,
}

/// The new device A as a [`Role`].
pub struct NewDevice {
    config: NewDeviceConfig,
    flow: Flow,
    state: State,
    session: Option<Session>,
    olm: Option<DeviceCrypto>,
    own_keys: Value,
    verifying_device: Option<String>,
    trusted: BTreeMap<SecretName, Ed25519PublicKey>,
    backup_public: Option<String>,
    outstanding: BTreeMap<String, SecretName>,
    secrets: BTreeMap<String, String>,
    outbox: VecDeque<HttpRequest>,
    since: Option<String>,
    last_step: Step,
}

impl std::fmt::Debug for NewDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewDevice").field("state", &self.state).finish()
    }
}

impl NewDevice {
    /// An A for `config`.
    pub fn new(config: NewDeviceConfig) -> Self {
        let mut flow = Flow::new(config.seed, config.dialect.into(), config.poll_ms);
        flow.send_twice = config.knobs.send_messages_twice;
        flow.silent_security_abort = config.knobs.silent_security_abort;
        flow.mangle = config.knobs.mangle_message;
        Self {
            config,
            flow,
            state: State::AwaitScan,
            session: None,
            olm: None,
            own_keys: Value::Null,
            verifying_device: None,
            trusted: BTreeMap::new(),
            backup_public: None,
            outstanding: BTreeMap::new(),
            secrets: BTreeMap::new(),
            outbox: VecDeque::new(),
            since: None,
            last_step: Step::Done,
        }
    }

    /// The secrets accepted so far (name → b64 value).
    pub fn secrets(&self) -> &BTreeMap<String, String> {
        &self.secrets
    }

    fn dispatch_http(&mut self, now: u64, result: HttpResult) -> Step {
        if self.flow.in_tail() {
            return self.flow.tail_next();
        }
        match self.state.clone() {
            State::Creating => self.on_created(now, result),
            State::PuttingKey => self.on_key_sent(now, result),
            State::SendingStep3 => {
                if let Some(step) = self.flow.after_send(result) {
                    return step;
                }
                self.wait_channel(now, State::AwaitOffer { first: true }, "the existing device's offer")
            }
            State::SendingProtocol => {
                if let Some(step) = self.flow.after_send(result) {
                    return step;
                }
                self.wait_channel(now, State::AwaitApproved, "the login token")
            }
            State::AwaitKey | State::AwaitOffer { .. } | State::AwaitApproved | State::AwaitVerified => {
                self.on_channel(now, result)
            }
            State::LoggingIn => self.on_logged_in(result),
            State::Uploading => self.on_uploaded(result),
            State::SendingSuccess { e2ee } => self.on_success_sent(result, e2ee),
            State::EarlyRequests => self.on_early_request_sent(result),
            State::QueryOwn => self.on_own_keys(now, result),
            State::BackupVersion => self.on_backup_version(now, result),
            State::Outbox => self.on_outbox_sent(now, result),
            State::Syncing => self.on_sync(now, result),
            State::AwaitScan | State::Ended => self.last_step.clone(),
        }
    }

    fn dispatch_wake(&mut self, now: u64) -> Step {
        if std::mem::take(&mut self.flow.sleep_then_poll) {
            return self.flow.poll(now, "the existing device");
        }
        match self.state {
            State::Syncing => self.next_outbox(now),
            _ => self.last_step.clone(),
        }
    }

    fn dispatch_command(&mut self, command: Command) -> Step {
        match (&self.state, command) {
            (State::AwaitScan, Command::ScanQrCode(text)) => self.scan(&text),
            (State::AwaitScan, Command::Cancel) => self.flow.finish(Outcome::Cancelled),
            (_, Command::Cancel) => self.flow.end_with(Some(Message::Cancelled), Outcome::Cancelled),
            _ => self.last_step.clone(),
        }
    }

    fn guard(&mut self, step: impl FnOnce(&mut Self) -> Step) -> Step {
        if self.flow.done {
            return Step::Done;
        }
        let step = match self.flow.spend_step() {
            Some(end) => end,
            None => step(self),
        };
        if self.flow.done {
            self.state = State::Ended;
        }
        self.last_step = step.clone();
        step
    }
}

impl Role for NewDevice {
    fn start(&mut self, _now_ms: u64) -> Step {
        self.guard(|me| {
            if me.config.shows_code {
                me.create()
            } else {
                me.state = State::AwaitScan;
                Step::AwaitCommand
            }
        })
    }

    fn on_http(&mut self, now_ms: u64, result: HttpResult) -> Step {
        self.guard(|me| me.dispatch_http(now_ms, result))
    }

    fn on_wake(&mut self, now_ms: u64) -> Step {
        self.guard(|me| me.dispatch_wake(now_ms))
    }

    fn on_command(&mut self, _now_ms: u64, command: Command) -> Step {
        self.guard(|me| me.dispatch_command(command))
    }

    fn take_events(&mut self) -> Vec<DeviceEvent> {
        self.flow.take_events()
    }
}
