//! B's approval phase (docs/protocol.md §1.1 steps 4–12, §5): the login-token support
//! check, the protocol offer, the user's choice and the MSC3882 token with UIA.

use protocol::qr_login::{Message, PROTOCOL_LOGIN_TOKEN};
use serde_json::{json, Value};

use super::{ExistingDevice, State};
use crate::api::{json_object, str_field};
use crate::events::{Decision, Outcome};
use crate::io::{HttpRequest, HttpResult, Step};
use crate::qr_login::bootstrap::password_auth;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenEndpoint {
    Stable,
    R1,
    R0,
}

impl TokenEndpoint {
    pub(super) fn path(self) -> &'static str {
        match self {
            TokenEndpoint::Stable => "/_matrix/client/v1/login/get_token",
            TokenEndpoint::R1 => "/_matrix/client/unstable/org.matrix.msc3882/login/get_token",
            TokenEndpoint::R0 => "/_matrix/client/unstable/org.matrix.msc3882/login/token",
        }
    }
}

impl ExistingDevice {
    pub(super) fn support_check(&mut self) -> Step {
        self.state = State::Capabilities;
        match self.session() {
            Some(s) => Step::Http(s.get("/_matrix/client/v3/capabilities")),
            None => self.flow.hs_fail("capabilities", "no session"),
        }
    }

    /// `/capabilities` answered: then `/versions` (step 4).
    pub(super) fn on_capabilities(&mut self, result: HttpResult) -> Step {
        let body = json_object(result).unwrap_or(Value::Null);
        let enabled = |name: &str| {
            body.pointer(&format!("/capabilities/{name}/enabled")).and_then(Value::as_bool) == Some(true)
        };
        self.caps = (enabled("m.get_login_token"), enabled("org.matrix.msc3882.get_login_token"), false);
        self.state = State::Versions;
        let base = self.config.homeserver.trim_end_matches('/').to_owned();
        Step::Http(HttpRequest::new("GET", format!("{base}/_matrix/client/versions")))
    }

    /// `/versions` answered: M2 (unsupported) or M3 (the offer).
    pub(super) fn on_versions(&mut self, result: HttpResult) -> Step {
        let body = json_object(result).unwrap_or(Value::Null);
        self.caps.2 =
            body.pointer("/unstable_features/org.matrix.msc3882").and_then(Value::as_bool) == Some(true);
        let (stable, r1, r0) = self.caps;
        let supported = stable || r1 || r0;
        self.flow.decide(Decision::CheckedLoginTokenSupport { supported });
        if !supported {
            return self.flow.end_with(Some(Message::Unsupported), Outcome::Unsupported);
        }
        self.token_endpoint = if stable {
            TokenEndpoint::Stable
        } else if r1 {
            TokenEndpoint::R1
        } else {
            TokenEndpoint::R0
        };
        let offer = Message::Protocols { protocols: vec![PROTOCOL_LOGIN_TOKEN.to_owned()] };
        self.send(State::SendingProtocols, &offer)
    }

    /// The user approved (steps 8–9): ask for the token (step 11).
    pub(super) fn approve(&mut self) -> Step {
        self.flow.decide(Decision::UserChose { approved: true });
        self.state = State::GetToken { with_auth: false };
        match self.get_token_request(None) {
            Some(request) => Step::Http(request),
            None => self.flow.hs_fail("get_token", "no session"),
        }
    }

    pub(super) fn get_token_request(&mut self, uia_session: Option<String>) -> Option<HttpRequest> {
        let session = self.session()?;
        let mut body = json!({});
        if uia_session.is_some() {
            body["auth"] = password_auth(&self.config.username, &self.config.password, uia_session);
        }
        Some(session.send("POST", self.token_endpoint.path(), &body))
    }

    /// The token endpoint answered: M6, or one UIA round with the password.
    pub(super) fn on_token(&mut self, result: HttpResult, with_auth: bool) -> Step {
        match json_object(result) {
            Ok(body) => {
                let Ok(token) = str_field(&body, "login_token") else {
                    return self.flow.hs_fail("get_token", "no login_token");
                };
                let homeserver = self.config.homeserver.trim_end_matches('/').to_owned();
                self.send(State::SendingApproved, &Message::Approved { login_token: token, homeserver })
            }
            Err(e) if e.is_uia_challenge() && !with_auth => {
                self.state = State::GetToken { with_auth: true };
                match self.get_token_request(e.uia_session()) {
                    Some(request) => Step::Http(request),
                    None => self.flow.hs_fail("get_token", "no session"),
                }
            }
            Err(e) => self.flow.hs_fail(self.token_endpoint.path(), e),
        }
    }
}
