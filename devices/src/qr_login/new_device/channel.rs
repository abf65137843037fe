//! A's rendezvous phase (docs/protocol.md §1.1 C1–C4, M1, M3/M4, §1.7 step 3): the QR
//! code A shows or scans, the secure channel, the intent check and the protocol
//! choice, and the reading of every later channel message.

use protocol::qr_login::{is_login_token_protocol, Intent, Message, PROTOCOL_LOGIN_TOKEN};

/// The protocol A chooses with the knob `choose-unoffered-protocol`: one no device
/// offers.
const UNOFFERED_PROTOCOL: &str = "org.example.not_offered";

use super::{NewDevice, State};
use crate::events::{Decision, Outcome};
use crate::io::{HttpResult, Step};
use crate::qr_login::link::Link;
use crate::qr_login::{NewDeviceKnobs, Polling};

impl NewDevice {
    /// A as generator: C1, the create request.
    pub(super) fn create(&mut self) -> Step {
        let knobs = &self.config.knobs;
        let request = self.flow.create_rendezvous(&self.config.homeserver, |link| adjust_link(knobs, link));
        self.state = State::Creating;
        Step::Http(request)
    }

    /// C1 answered: show the QR code and wait for the scanner's key.
    pub(super) fn on_created(&mut self, now: u64, result: HttpResult) -> Step {
        let intent = self.config.knobs.qr_intent.unwrap_or(Intent::LoginStart);
        if let Err(step) = self.flow.show_code(&self.config.homeserver, result, intent) {
            return step;
        }
        self.wait_channel(now, State::AwaitKey, "the scanner's key")
    }

    /// A as scanner: join the rendezvous of the scanned code and write the key (C3).
    pub(super) fn scan(&mut self, text: &str) -> Step {
        let knobs = &self.config.knobs;
        match self.flow.join(text, |link| adjust_link(knobs, link)) {
            Ok(step) => {
                self.state = State::PuttingKey;
                step
            }
            Err(step) => step,
        }
    }

    /// C3 answered: the channel is up; wait for B's offer.
    pub(super) fn on_key_sent(&mut self, now: u64, result: HttpResult) -> Step {
        if let Err(step) = self.flow.key_sent(result) {
            return step;
        }
        self.wait_channel(now, State::AwaitOffer { first: true }, "the existing device's offer")
    }

    pub(super) fn wait_channel(&mut self, now: u64, state: State, what: &str) -> Step {
        self.state = state;
        self.flow.wait(now, self.config.timeout_ms, what)
    }

    pub(super) fn send(&mut self, state: State, message: &Message) -> Step {
        self.state = state;
        self.flow.send_step(message)
    }

    pub(super) fn on_offer(&mut self, first: bool, message: &Message) -> Step {
        if first && !self.config.shows_code {
            // A as scanner checks the intent once the channel is up (Element Android).
            let compatible =
                self.flow.qr.as_ref().is_some_and(|q| q.intent.is_compatible_with(Intent::LoginStart));
            self.flow.decide(Decision::CheckedIntents { compatible });
            if !compatible {
                let m1 = Message::IncompatibleIntent { intent: Intent::LoginStart };
                return self.flow.end_with(Some(m1), Outcome::IncompatibleIntent);
            }
        }
        if let Some(step) = self.flow.terminal(message) {
            return step;
        }
        let Message::Protocols { protocols } = message else {
            return self.flow.unexpected("protocols", message);
        };
        if self.config.knobs.cancel {
            return self.flow.end_with(Some(Message::Cancelled), Outcome::Cancelled);
        }
        if !protocols.iter().any(|p| is_login_token_protocol(p)) {
            return self.flow.end_with(Some(Message::Unsupported), Outcome::Unsupported);
        }
        let protocol = if self.config.knobs.choose_unoffered_protocol {
            UNOFFERED_PROTOCOL.to_owned()
        } else {
            PROTOCOL_LOGIN_TOKEN.to_owned()
        };
        self.send(State::SendingProtocol, &Message::Protocol { protocol })
    }

    pub(super) fn on_channel(&mut self, now: u64, result: HttpResult) -> Step {
        let message = match self.flow.on_poll(result) {
            Polling::Step(step) => return step,
            Polling::Key => {
                self.flow.show_check_code();
                return self.send(State::SendingStep3, &Message::Progress);
            }
            Polling::Message(message) => message,
        };
        match self.state.clone() {
            State::AwaitOffer { first } => self.on_offer(first, &message),
            State::AwaitApproved => match &message {
                Message::Approved { login_token, homeserver } => self.login(login_token, homeserver),
                other => match self.flow.terminal(other) {
                    Some(step) => step,
                    None => self.flow.unexpected("approved", other),
                },
            },
            State::AwaitVerified => match &message {
                Message::Verified { verifying_device_id, verifying_device_key, master_key } => {
                    let (id, key, mk) =
                        (verifying_device_id.clone(), verifying_device_key.clone(), master_key.clone());
                    self.on_verified(now, &id, &key, mk.as_deref())
                }
                other => match self.flow.terminal(other) {
                    Some(step) => step,
                    None => self.flow.unexpected("verified", other),
                },
            },
            _ => self.flow.unexpected("nothing", &message),
        }
    }
}

/// The link as A's knobs make it: Element Android's IVs, a tampered first message.
fn adjust_link(knobs: &NewDeviceKnobs, link: Link) -> Link {
    let mut link = if knobs.android { link.with_android_ivs() } else { link };
    if knobs.tamper_envelope {
        link.tamper_next_message();
    }
    link
}
