//! A's login phase (docs/protocol.md §1.1 steps 13–15): the token login, the device keys
//! and one-time keys upload (then, with knob `request-secrets-early`, secret requests
//! of a device nobody has verified yet), and M7 (or M7′ without E2EE).

use protocol::qr_login::{LoginDevice, Message};
use rand::RngCore;
use serde_json::json;

use super::{NewDevice, State};
use crate::api::{json_object, str_field};
use crate::events::Decision;
use crate::io::{HttpRequest, HttpResult, Step};
use crate::olm::secrets::{request_content, SecretName};
use crate::olm::{to_device_body, DeviceCrypto};
use crate::qr_login::bootstrap::ONE_TIME_KEYS;
use crate::qr_login::Session;

impl NewDevice {
    pub(super) fn login(&mut self, login_token: &str, homeserver: &str) -> Step {
        let body = json!({"type": "m.login.token", "token": login_token, "device_id": self.config.device_id});
        self.config.homeserver = homeserver.trim_end_matches('/').to_owned();
        self.state = State::LoggingIn;
        Step::Http(HttpRequest::json(
            "POST",
            format!("{}/_matrix/client/v3/login", self.config.homeserver),
            &body,
        ))
    }

    pub(super) fn on_logged_in(&mut self, result: HttpResult) -> Step {
        let body = match json_object(result) {
            Ok(body) => body,
            Err(e) => return self.flow.hs_fail("POST /login", e),
        };
        let fields =
            (str_field(&body, "access_token"), str_field(&body, "user_id"), str_field(&body, "device_id"));
        let (Ok(access_token), Ok(user_id), Ok(device_id)) = fields else {
            return self.flow.hs_fail("POST /login", "answer lacks access_token, user_id or device_id");
        };
        self.flow.decide(Decision::LoggedIn { device_id: device_id.clone() });
        let session = Session { base: self.config.homeserver.clone(), access_token, user_id, device_id };
        self.session = Some(session.clone());
        if !self.config.setup.e2ee {
            return self.send(State::SendingSuccess { e2ee: false }, &Message::Success { device: None });
        }
        let mut olm = DeviceCrypto::new(&session.user_id, &session.device_id);
        if self.config.knobs.never_upload_keys {
            self.olm = Some(olm);
            return self.send_success();
        }
        let device_keys = if self.config.knobs.invalid_self_signature {
            olm.device_keys_json_signed_by_wrong_key()
        } else {
            olm.device_keys_json()
        };
        let body =
            json!({"device_keys": device_keys, "one_time_keys": olm.one_time_keys_json(ONE_TIME_KEYS)});
        self.olm = Some(olm);
        self.state = State::Uploading;
        Step::Http(session.send("POST", "/_matrix/client/v3/keys/upload", &body))
    }

    /// The keys are on the homeserver: step 15.
    pub(super) fn on_uploaded(&mut self, result: HttpResult) -> Step {
        if let Err(e) = json_object(result) {
            return self.flow.hs_fail("POST /keys/upload", e);
        }
        if let Some(olm) = self.olm.as_mut() {
            olm.mark_published();
        }
        let id = self.session.as_ref().map(|s| s.device_id.clone()).unwrap_or_default();
        self.flow.decide(Decision::UploadedDeviceKeys { device_id: id });
        if self.config.knobs.request_secrets_early {
            self.queue_early_requests();
        }
        self.next_early_request()
    }

    /// Knob `request-secrets-early`: A asks every device of the user for the four
    /// secrets before M7, so before B can have verified it (B learns A's device from
    /// M7): the premise holds by causality, whatever the pace of B.
    fn queue_early_requests(&mut self) {
        let Some(session) = self.session.clone() else { return };
        for name in SecretName::ALL {
            let request_id = format!("early-{}", self.flow.rng.next_u64());
            let content = request_content(name, &session.device_id, &request_id);
            let body = to_device_body(&session.user_id, "*", content);
            let txn = format!("e{}", self.flow.rng.next_u64());
            self.outbox.push_back(session.send(
                "PUT",
                &format!("/_matrix/client/v3/sendToDevice/m.secret.request/{txn}"),
                &body,
            ));
            self.flow.decide(Decision::RequestedSecret { name: name.as_str().to_owned() });
        }
    }

    /// The next early request, then M7.
    fn next_early_request(&mut self) -> Step {
        match self.outbox.pop_front() {
            Some(request) => {
                self.state = State::EarlyRequests;
                Step::Http(request)
            }
            None => self.send_success(),
        }
    }

    /// An early request was sent.
    pub(super) fn on_early_request_sent(&mut self, result: HttpResult) -> Step {
        if let Err(e) = json_object(result) {
            return self.flow.hs_fail("PUT /sendToDevice", e);
        }
        self.next_early_request()
    }

    pub(super) fn send_success(&mut self) -> Step {
        let (Some(olm), Some(session)) = (self.olm.as_ref(), self.session.as_ref()) else {
            return self.flow.hs_fail("login", "no session");
        };
        let mut device =
            LoginDevice { device_id: session.device_id.clone(), device_key: olm.ed25519_key().to_base64() };
        if self.config.knobs.lie_device_key {
            device.device_key = protocol::base64::encode([5u8; 32]);
        }
        if self.config.knobs.lie_device_id {
            device.device_id = format!("{}X", device.device_id);
        }
        self.send(State::SendingSuccess { e2ee: true }, &Message::Success { device: Some(device) })
    }
}
