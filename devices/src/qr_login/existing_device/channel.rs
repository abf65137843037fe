//! B's rendezvous phase (protocol.md §1.1 C1–C4, §1.7 step 3): the QR code B shows
//! or scans, the secure channel, and the reading of A's messages (M4, M7).

use protocol::qr_login::{is_login_token_protocol, Dialect, Intent, Message, NameStrictness, QrCode};

use super::{ExistingDevice, State};
use crate::events::{Abort, Decision, DeviceEvent, Outcome};
use crate::io::{HttpResult, Step};
use crate::qr_login::link::Link;
use crate::qr_login::Polling;

impl ExistingDevice {
    pub(super) fn wait_channel(&mut self, now: u64, state: State, what: &str) -> Step {
        self.state = state;
        self.flow.deadline = now.saturating_add(self.config.timeout_ms);
        self.flow.poll(now, what)
    }

    pub(super) fn send(&mut self, state: State, message: &Message) -> Step {
        self.state = state;
        self.flow.send_step(message)
    }

    pub(super) fn after_boot(&mut self) -> Step {
        if self.config.shows_code {
            let link = Link::generator(&mut self.flow.rng);
            let request = link.create_request(&self.config.homeserver);
            self.flow.link = Some(link);
            self.state = State::Creating;
            Step::Http(request)
        } else {
            self.state = State::AwaitScan;
            Step::AwaitCommand
        }
    }

    /// C1 answered: show the QR code and wait for the scanner's key.
    pub(super) fn on_created(&mut self, now: u64, result: HttpResult) -> Step {
        let created = match self.flow.link.as_mut() {
            Some(link) => link.on_created(&self.config.homeserver, result),
            None => Err(Abort::RendezvousGone),
        };
        if let Err(reason) = created {
            return self.flow.fail(reason);
        }
        let intent = self
            .config
            .knobs
            .qr_intent
            .as_deref()
            .and_then(Intent::from_wire)
            .unwrap_or(Intent::LoginReciprocate);
        let mut qr = self.flow.link.as_ref().map(|l| l.qr_code(intent));
        if self.flow.dialect == Dialect::V2 {
            qr = qr.map(QrCode::with_v2_flow);
        }
        if let Some(qr) = qr {
            self.flow.events.push(DeviceEvent::ShowsQrCode { payload: qr.to_json_string() });
        }
        self.wait_channel(now, State::AwaitKey, "the scanner's key")
    }

    /// B as scanner (MSC-only pairing): join the rendezvous and write the key (C3).
    pub(super) fn scan(&mut self, text: &str) -> Step {
        match QrCode::parse(text, NameStrictness::AcceptStable) {
            Ok(qr) => {
                self.flow.dialect = qr.dialect();
                let link = Link::scanner(&qr, &mut self.flow.rng);
                let request = link.key_request();
                self.flow.link = Some(link);
                self.qr = Some(qr);
                self.state = State::PuttingKey;
                match request {
                    Some(request) => Step::Http(request),
                    None => self.flow.fail(Abort::RendezvousGone),
                }
            }
            Err(e) => self.flow.fail(Abort::MalformedMessage { reason: format!("QR code: {e}") }),
        }
    }

    /// C3 answered: the channel is up; wait for A's step 3.
    pub(super) fn on_key_sent(&mut self, now: u64, result: HttpResult) -> Step {
        let sent = match self.flow.link.as_mut() {
            Some(link) => link.on_key_sent(result),
            None => Err(Abort::RendezvousGone),
        };
        if let Err(reason) = sent {
            return self.flow.fail(reason);
        }
        self.show_check_code();
        self.wait_channel(now, State::AwaitStep3, "the new device's first message")
    }

    pub(super) fn show_check_code(&mut self) {
        if let Some(code) = self.flow.link.as_ref().and_then(|l| l.check_code()) {
            self.flow.events.push(DeviceEvent::ShowsCheckCode { code });
        }
    }

    pub(super) fn on_channel(&mut self, now: u64, result: HttpResult) -> Step {
        let message = match self.flow.on_poll(result) {
            Polling::Step(step) => return step,
            Polling::Key => {
                self.show_check_code();
                return self.support_check();
            }
            Polling::Message(message) => message,
        };
        if let Some(step) = self.flow.terminal(&message) {
            return step;
        }
        match (self.state.clone(), &message) {
            (State::AwaitStep3, Message::Progress) => {
                let intent = self.qr.as_ref().map(|q| q.intent);
                let compatible = intent.is_some_and(|i| i.is_compatible_with(Intent::LoginReciprocate));
                self.flow.decide(Decision::CheckedIntents { compatible });
                if !compatible {
                    let m1 = Message::IncompatibleIntent { intent: Intent::LoginReciprocate };
                    return self.flow.end_with(Some(m1), Outcome::IncompatibleIntent);
                }
                self.support_check()
            }
            (State::AwaitProtocol { skipped_progress: false }, Message::Progress) => {
                // D4: skip a single empty progress while waiting for the choice.
                self.state = State::AwaitProtocol { skipped_progress: true };
                self.flow.sleep_then_poll = true;
                Step::Sleep { ms: self.flow.poll_ms }
            }
            (State::AwaitProtocol { .. }, Message::Protocol { protocol }) => {
                if !is_login_token_protocol(protocol) {
                    return self.flow.end_with(Some(Message::Unsupported), Outcome::Unsupported);
                }
                self.state = State::AwaitApproval;
                let _ = now;
                Step::AwaitCommand
            }
            (State::AwaitSuccess, Message::Success { device: None }) => self.flow.finish(Outcome::Success),
            (State::AwaitSuccess, Message::Success { device: Some(device) }) => {
                if self.me.as_ref().is_some_and(|m| m.olm.is_none()) {
                    return self.flow.finish(Outcome::Success);
                }
                self.state = State::QueryDevice {
                    device_id: device.device_id.clone(),
                    device_key: device.device_key.clone(),
                    since: now,
                };
                self.query_step()
            }
            (state, other) => {
                let expected = match state {
                    State::AwaitStep3 => "progress",
                    State::AwaitProtocol { .. } => "protocol",
                    State::AwaitSuccess => "success",
                    _ => "nothing",
                };
                self.flow.unexpected(expected, other)
            }
        }
    }
}
