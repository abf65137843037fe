//! The existing device (B): bootstraps a signed-in device with keys, then runs
//! MSC3906 as the approving side (docs/protocol.md §1.1, §1.5 steps 16–19) and serves the
//! new device's secret requests (§6.3).
//!
//! One file per phase of the protocol:
//! * [`channel`]: the rendezvous, the QR code, the secure channel and the reading of
//!   A's messages (C1–C4, step 3, M4, M7);
//! * [`approve`]: the login-token support check, the offer, the user's choice and
//!   the token (steps 4–12);
//! * [`verify`]: A's device on the homeserver, the cross-signature and M8
//!   (steps 16–19);
//! * [`secrets`]: serving A's secret requests (§6.3), while reading the rendezvous
//!   for A's last message.

mod approve;
mod channel;
mod secrets;
mod verify;

use std::collections::{BTreeSet, VecDeque};

use protocol::device_keys::DeviceKeys;
use protocol::qr_login::Message;

use super::bootstrap::{BootStep, Bootstrap, Bootstrapped};
use super::{ExistingDeviceConfig, Flow, Session};
use crate::events::{Decision, DeviceEvent, Outcome};
use crate::io::{Command, HttpResult, Step};
use crate::olm::secrets::SecretName;
use crate::role::Role;
use approve::TokenEndpoint;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Reply {
    name: SecretName,
    request_id: String,
    device_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Boot,
    Creating,
    AwaitScan,
    PuttingKey,
    AwaitKey,
    AwaitStep3,
    Capabilities,
    Versions,
    SendingProtocols,
    AwaitProtocol { skipped_progress: bool },
    AwaitApproval,
    GetToken { with_auth: bool },
    SendingApproved,
    AwaitSuccess,
    QueryDevice { device_id: String, device_key: String, since: u64 },
    SignatureUpload { device_id: String },
    SendingVerified,
    Serving,
    ReadingRendezvous,
    Claiming,
    SendingSecret,
    Ended,
}

/// The existing device B as a [`Role`].
pub struct ExistingDevice {
    config: ExistingDeviceConfig,
    flow: Flow,
    state: State,
    boot: Bootstrap,
    me: Option<Bootstrapped>,
    caps: (bool, bool, bool),
    token_endpoint: TokenEndpoint,
    new_device: Option<DeviceKeys>,
    verified: BTreeSet<String>,
    since: Option<String>,
    queue: VecDeque<Reply>,
    quiet_since: u64,
    /// Whether B still reads the rendezvous while it serves secrets (until it is
    /// gone or unreadable).
    rendezvous_open: bool,
    last_step: Step,
}

impl std::fmt::Debug for ExistingDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExistingDevice").field("state", &self.state).finish()
    }
}

impl ExistingDevice {
    /// A B for `config`.
    pub fn new(config: ExistingDeviceConfig) -> Self {
        let mut flow = Flow::new(config.seed, config.dialect.into(), config.poll_ms);
        flow.silent_security_abort = config.knobs.silent_security_abort;
        flow.mangle = config.knobs.mangle_message;
        Self {
            boot: Bootstrap::new(&config),
            config,
            flow,
            state: State::Boot,
            me: None,
            caps: (false, false, false),
            token_endpoint: TokenEndpoint::Stable,
            new_device: None,
            verified: BTreeSet::new(),
            since: None,
            queue: VecDeque::new(),
            quiet_since: 0,
            rendezvous_open: true,
            last_step: Step::Done,
        }
    }

    fn session(&self) -> Option<&Session> {
        self.me.as_ref().map(|m| &m.session)
    }

    fn dispatch_http(&mut self, now: u64, result: HttpResult) -> Step {
        if self.flow.in_tail() {
            return self.flow.tail_next();
        }
        match self.state.clone() {
            State::Boot => match self.boot.on_http(result, &mut self.flow.rng) {
                BootStep::Http(request) => Step::Http(request),
                BootStep::Done(me) => {
                    self.me = Some(*me);
                    self.after_boot()
                }
                BootStep::Failed(reason) => self.flow.fail(reason),
            },
            State::Creating => self.on_created(now, result),
            State::PuttingKey => self.on_key_sent(now, result),
            State::AwaitKey | State::AwaitStep3 | State::AwaitProtocol { .. } | State::AwaitSuccess => {
                self.on_channel(now, result)
            }
            State::Capabilities => self.on_capabilities(result),
            State::Versions => self.on_versions(result),
            State::SendingProtocols => {
                if let Some(step) = self.flow.after_send(result) {
                    return step;
                }
                let waiting = State::AwaitProtocol { skipped_progress: false };
                self.wait_channel(now, waiting, "the protocol choice")
            }
            State::GetToken { with_auth } => self.on_token(result, with_auth),
            State::SendingApproved => {
                if let Some(step) = self.flow.after_send(result) {
                    return step;
                }
                self.wait_channel(now, State::AwaitSuccess, "the new device's login")
            }
            State::QueryDevice { device_id, device_key, since } => {
                self.on_device_query(now, result, device_id, device_key, since)
            }
            State::SignatureUpload { device_id } => self.on_signature_uploaded(result, device_id),
            State::SendingVerified => self.on_verified_sent(now, result),
            State::Serving => self.on_synced(now, result),
            State::ReadingRendezvous => self.on_served_poll(result),
            State::Claiming => self.on_claimed(now, result),
            State::SendingSecret => self.on_secret_sent(now, result),
            State::AwaitScan | State::AwaitApproval | State::Ended => self.last_step.clone(),
        }
    }

    fn dispatch_wake(&mut self, now: u64) -> Step {
        if std::mem::take(&mut self.flow.sleep_then_poll) {
            return self.flow.poll(now, "the new device");
        }
        match self.state.clone() {
            State::QueryDevice { .. } => self.query_step(),
            State::Serving => self.serving_poll(),
            _ => self.last_step.clone(),
        }
    }

    fn dispatch_command(&mut self, command: Command) -> Step {
        match (self.state.clone(), command) {
            (_, Command::Cancel) if self.state != State::Boot => self.flow.end_with(None, Outcome::Cancelled),
            (State::AwaitScan, Command::ScanQrCode(text)) => self.scan(&text),
            (State::AwaitApproval, Command::Approve) => self.approve(),
            (State::AwaitApproval, Command::Decline) => {
                self.flow.decide(Decision::UserChose { approved: false });
                self.flow.end_with(Some(Message::Declined), Outcome::Declined)
            }
            _ => self.last_step.clone(),
        }
    }

    fn guard(&mut self, now: u64, step: impl FnOnce(&mut Self) -> Step) -> Step {
        if self.flow.done {
            return Step::Done;
        }
        let step = match self.flow.spend_step() {
            Some(end) => end,
            None => step(self),
        };
        let _ = now;
        if self.flow.done {
            self.state = State::Ended;
        }
        self.last_step = step.clone();
        step
    }
}

impl Role for ExistingDevice {
    fn start(&mut self, now_ms: u64) -> Step {
        self.guard(now_ms, |me| Step::Http(me.boot.start()))
    }

    fn on_http(&mut self, now_ms: u64, result: HttpResult) -> Step {
        self.guard(now_ms, |me| me.dispatch_http(now_ms, result))
    }

    fn on_wake(&mut self, now_ms: u64) -> Step {
        self.guard(now_ms, |me| me.dispatch_wake(now_ms))
    }

    fn on_command(&mut self, now_ms: u64, command: Command) -> Step {
        self.guard(now_ms, |me| me.dispatch_command(command))
    }

    fn take_events(&mut self) -> Vec<DeviceEvent> {
        self.flow.take_events()
    }
}
