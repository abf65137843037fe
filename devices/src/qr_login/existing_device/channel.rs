//! B's rendezvous phase (docs/protocol.md §1.1 C1–C4, §1.7 step 3): the QR code B shows
//! or scans, the secure channel, and the reading of A's messages (M4, M7).

use protocol::qr_login::{is_login_token_protocol, Intent, Message};

use super::{ExistingDevice, State};
use crate::events::{Decision, Outcome};
use crate::io::{HttpResult, Step};
use crate::qr_login::Polling;

impl ExistingDevice {
    pub(super) fn wait_channel(&mut self, now: u64, state: State, what: &str) -> Step {
        self.state = state;
        self.flow.wait(now, self.config.timeout_ms, what)
    }

    pub(super) fn send(&mut self, state: State, message: &Message) -> Step {
        self.state = state;
        self.flow.send_step(message)
    }

    pub(super) fn after_boot(&mut self) -> Step {
        if self.config.shows_code {
            let request = self.flow.create_rendezvous(&self.config.homeserver, |link| link);
            self.state = State::Creating;
            Step::Http(request)
        } else {
            self.state = State::AwaitScan;
            Step::AwaitCommand
        }
    }

    /// C1 answered: show the QR code and wait for the scanner's key.
    pub(super) fn on_created(&mut self, now: u64, result: HttpResult) -> Step {
        let intent = self.config.knobs.qr_intent.unwrap_or(Intent::LoginReciprocate);
        if let Err(step) = self.flow.show_code(&self.config.homeserver, result, intent) {
            return step;
        }
        self.wait_channel(now, State::AwaitKey, "the scanner's key")
    }

    /// B as scanner (MSC-only pairing): join the rendezvous and write the key (C3).
    pub(super) fn scan(&mut self, text: &str) -> Step {
        match self.flow.join(text, |link| link) {
            Ok(step) => {
                self.state = State::PuttingKey;
                step
            }
            Err(step) => step,
        }
    }

    /// C3 answered: the channel is up; wait for A's step 3.
    pub(super) fn on_key_sent(&mut self, now: u64, result: HttpResult) -> Step {
        if let Err(step) = self.flow.key_sent(result) {
            return step;
        }
        self.wait_channel(now, State::AwaitStep3, "the new device's first message")
    }

    pub(super) fn on_channel(&mut self, now: u64, result: HttpResult) -> Step {
        let message = match self.flow.on_poll(result) {
            Polling::Step(step) => return step,
            Polling::Key => {
                self.flow.show_check_code();
                return self.support_check();
            }
            Polling::Message(message) => message,
        };
        if let Some(step) = self.flow.terminal(&message) {
            return step;
        }
        match (self.state.clone(), &message) {
            (State::AwaitStep3, Message::Progress) => {
                let intent = self.flow.qr.as_ref().map(|q| q.intent);
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
