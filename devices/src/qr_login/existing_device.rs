//! The existing device (B): bootstraps a signed-in device with keys, then runs
//! MSC3906 as the approving side (protocol.md §1.1, §1.5 steps 16–19) and serves the
//! new device's secret requests (§6.3).

use std::collections::{BTreeSet, VecDeque};

use protocol::cross_signing::{CrossSigningKeys, KeyUsage};
use protocol::device_keys::DeviceKeys;
use protocol::keys::Ed25519Keypair;
use protocol::qr_login::{
    is_login_token_protocol, Intent, Message, NameStrictness, QrCode, PROTOCOL_LOGIN_TOKEN,
};
use rand::RngCore;
use serde_json::{json, Value};

use super::bootstrap::{password_auth, BootStep, Bootstrap, Bootstrapped};
use super::checks;
use super::link::Link;
use super::{ExistingDeviceConfig, Flow, Polling, Session};
use crate::api::{json_object, str_field};
use crate::events::{Abort, Decision, DeviceEvent, Outcome};
use crate::io::{Command, HttpRequest, HttpResult, Step};
use crate::olm::secrets::{
    encode_ed25519_seed, parse_secret_request, secret_send_content, SecretAction, SecretName,
};
use crate::olm::{to_device_body, RecipientDevice, ENCRYPTED_EVENT_TYPE, SIGNED_CURVE25519};
use crate::role::Role;

const STEP_BUDGET: u32 = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenEndpoint {
    Stable,
    R1,
    R0,
}

impl TokenEndpoint {
    fn path(self) -> &'static str {
        match self {
            TokenEndpoint::Stable => "/_matrix/client/v1/login/get_token",
            TokenEndpoint::R1 => "/_matrix/client/unstable/org.matrix.msc3882/login/get_token",
            TokenEndpoint::R0 => "/_matrix/client/unstable/org.matrix.msc3882/login/token",
        }
    }
}

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
    qr: Option<QrCode>,
    caps: (bool, bool, bool),
    token_endpoint: TokenEndpoint,
    new_device: Option<DeviceKeys>,
    verified: BTreeSet<String>,
    since: Option<String>,
    queue: VecDeque<Reply>,
    quiet_since: u64,
    last_step: Step,
    budget: u32,
}

impl std::fmt::Debug for ExistingDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExistingDevice").field("state", &self.state).finish()
    }
}

impl ExistingDevice {
    /// A B for `config`.
    pub fn new(config: ExistingDeviceConfig) -> Self {
        let flow = Flow::new(config.seed, config.dialect.into(), config.poll_ms);
        Self {
            boot: Bootstrap::new(&config),
            config,
            flow,
            state: State::Boot,
            me: None,
            qr: None,
            caps: (false, false, false),
            token_endpoint: TokenEndpoint::Stable,
            new_device: None,
            verified: BTreeSet::new(),
            since: None,
            queue: VecDeque::new(),
            quiet_since: 0,
            last_step: Step::Done,
            budget: 0,
        }
    }

    fn session(&self) -> Option<&Session> {
        self.me.as_ref().map(|m| &m.session)
    }

    fn hs_fail(&mut self, request: &str, detail: impl ToString) -> Step {
        self.flow.fail(Abort::Homeserver { request: request.to_owned(), detail: detail.to_string() })
    }

    fn wait_channel(&mut self, now: u64, state: State, what: &str) -> Step {
        self.state = state;
        self.flow.deadline = now.saturating_add(self.config.timeout_ms);
        self.flow.poll(now, what)
    }

    fn send(&mut self, state: State, message: &Message) -> Step {
        self.state = state;
        self.flow.send_step(message)
    }

    fn after_boot(&mut self, now: u64) -> Step {
        if self.config.shows_code {
            let link = Link::generator(&mut self.flow.rng);
            let request = link.create_request(&self.config.homeserver);
            self.flow.link = Some(link);
            self.state = State::Creating;
            Step::Http(request)
        } else {
            let _ = now;
            self.state = State::AwaitScan;
            Step::AwaitCommand
        }
    }

    fn support_check(&mut self) -> Step {
        self.state = State::Capabilities;
        match self.session() {
            Some(s) => Step::Http(s.get("/_matrix/client/v3/capabilities")),
            None => self.hs_fail("capabilities", "no session"),
        }
    }

    fn get_token_request(&mut self, uia_session: Option<String>) -> Option<HttpRequest> {
        let session = self.session()?;
        let mut body = json!({});
        if uia_session.is_some() {
            body["auth"] = password_auth(&self.config.username, &self.config.password, uia_session);
        }
        Some(session.send("POST", self.token_endpoint.path(), &body))
    }

    fn query_step(&mut self) -> Step {
        match self.session() {
            Some(s) => Step::Http(s.query_own_keys()),
            None => self.hs_fail("keys/query", "no session"),
        }
    }

    /// Steps 16–17 on a `/keys/query` answer.
    fn on_device_query(
        &mut self,
        now: u64,
        result: HttpResult,
        device_id: String,
        device_key: String,
        since: u64,
    ) -> Step {
        let user = self.session().map(|s| s.user_id.clone()).unwrap_or_default();
        let body = match json_object(result) {
            Ok(body) => body,
            Err(e) => return self.hs_fail("POST /keys/query", e),
        };
        match checks::visible_device(&body, &user, &device_id) {
            Err(reason) => self.flow.security_abort(reason),
            Ok(None) => {
                let waited = now.saturating_sub(since);
                if waited >= self.config.device_wait_ms {
                    return self
                        .flow
                        .security_abort(Abort::DeviceNotVisible { device_id, waited_ms: waited });
                }
                self.state = State::QueryDevice { device_id, device_key, since };
                Step::Sleep { ms: self.flow.poll_ms }
            }
            Ok(Some(keys)) => {
                if !self.config.knobs.skip_device_key_check {
                    let checked = checks::check_new_device_key(&keys, &device_key);
                    self.flow.decide(Decision::CheckedDeviceKey {
                        device_id: device_id.clone(),
                        matched: checked.is_ok(),
                    });
                    if let Err(reason) = checked {
                        return self.flow.security_abort(reason);
                    }
                }
                self.flow.decide(Decision::MarkedVerified { device_id: device_id.clone() });
                self.verified.insert(device_id.clone());
                self.new_device = Some(keys);
                self.cross_sign(device_id)
            }
        }
    }

    /// Step 18b.
    fn cross_sign(&mut self, device_id: String) -> Step {
        let (Some(me), Some(keys)) = (self.me.as_ref(), self.new_device.as_ref()) else {
            return self.send_verified();
        };
        let Some(cs) = me.cross_signing.as_ref() else { return self.send_verified() };
        let mut object = keys.raw.clone();
        if let Some(o) = object.as_object_mut() {
            o.remove("unsigned");
        }
        let signer = if self.config.knobs.sign_with_wrong_key {
            let mut seed = [0u8; 32];
            self.flow.rng.fill_bytes(&mut seed);
            let wrong = Ed25519Keypair::from_seed(&seed);
            CrossSigningKeys {
                master: cs.master.clone(),
                self_signing: wrong,
                user_signing: cs.user_signing.clone(),
            }
        } else {
            cs.clone()
        };
        if signer.sign_device(&me.session.user_id, &mut object).is_err() {
            return self.hs_fail("signatures", "cannot sign device keys");
        }
        let body = json!({&me.session.user_id: {&device_id: object}});
        let request = me.session.send("POST", "/_matrix/client/v3/keys/signatures/upload", &body);
        self.state = State::SignatureUpload { device_id };
        Step::Http(request)
    }

    /// Step 19.
    fn send_verified(&mut self) -> Step {
        let Some(me) = self.me.as_ref() else { return self.hs_fail("verified", "no session") };
        let knobs = &self.config.knobs;
        let mut key = me.olm.as_ref().map(|o| o.ed25519_key().to_base64()).unwrap_or_default();
        if knobs.lie_verifying_device_key {
            key = protocol::base64::encode([7u8; 32]);
        }
        let mut id = me.session.device_id.clone();
        if knobs.lie_verifying_device_id {
            id = format!("{id}X");
        }
        let mut master_key = me.cross_signing.as_ref().map(|cs| cs.public_key(KeyUsage::Master).to_base64());
        if knobs.lie_master_key {
            master_key = Some(protocol::base64::encode([9u8; 32]));
        }
        if knobs.omit_master_key {
            master_key = None;
        }
        let message = Message::Verified { verifying_device_id: id, verifying_device_key: key, master_key };
        self.send(State::SendingVerified, &message)
    }

    fn secret_value(&mut self, name: SecretName) -> Option<String> {
        let me = self.me.as_ref()?;
        let value = match name.key_usage() {
            None => me.backup_key.as_ref()?.to_secret(),
            Some(usage) => encode_ed25519_seed(&me.cross_signing.as_ref()?.keypair(usage).seed()),
        };
        if self.config.knobs.answer_secrets_wrong_value {
            let mut wrong = [0u8; 32];
            self.flow.rng.fill_bytes(&mut wrong);
            return Some(encode_ed25519_seed(&wrong));
        }
        Some(value)
    }

    fn txn(&mut self) -> String {
        format!("b{}", self.flow.rng.next_u64())
    }

    /// Reads `/sync`: queues replies to secret requests of verified devices (§6.3).
    fn on_sync(&mut self, now: u64, body: &Value) {
        if let Some(next) = body.get("next_batch").and_then(Value::as_str) {
            self.since = Some(next.to_owned());
        }
        let Some(me) = self.me.as_ref() else { return };
        let (user, own_device) = (me.session.user_id.clone(), me.session.device_id.clone());
        let events = body.pointer("/to_device/events").and_then(Value::as_array).cloned().unwrap_or_default();
        for event in events {
            if event.get("type").and_then(Value::as_str) != Some("m.secret.request") {
                continue;
            }
            let content = event.get("content").cloned().unwrap_or(Value::Null);
            let request = match parse_secret_request(&content) {
                Ok(request) => request,
                Err(e) => {
                    let device = content.get("requesting_device_id").and_then(Value::as_str);
                    self.flow.decide(Decision::RefusedSecretRequest {
                        name: content.get("name").and_then(Value::as_str).unwrap_or("?").to_owned(),
                        device_id: device.unwrap_or("?").to_owned(),
                        reason: format!("malformed request: {e}"),
                    });
                    continue;
                }
            };
            let device = request.requesting_device_id.clone();
            if device == own_device {
                continue;
            }
            self.quiet_since = now;
            if request.action == SecretAction::RequestCancellation {
                self.queue.retain(|r| !(r.request_id == request.request_id && r.device_id == device));
                continue;
            }
            let refuse = |reason: &str| Decision::RefusedSecretRequest {
                name: request.name.clone().unwrap_or_else(|| "?".into()),
                device_id: device.clone(),
                reason: reason.to_owned(),
            };
            let sender = event.get("sender").and_then(Value::as_str).unwrap_or("");
            let name = request.secret_name();
            if sender != user {
                self.flow.decide(refuse("request from another user"));
            } else if !self.verified.contains(&device) {
                self.flow.decide(refuse("requesting device is not verified"));
            } else if let Some(name) = name.filter(|n| self.secret_value(*n).is_some()) {
                self.queue.push_back(Reply { name, request_id: request.request_id, device_id: device });
            } else {
                self.flow.decide(refuse("secret not held"));
            }
        }
    }

    /// The new device as an Olm recipient, if `device_id` is it.
    fn recipient(&self, device_id: &str) -> Option<RecipientDevice> {
        self.new_device.as_ref().filter(|d| d.device_id == device_id).map(RecipientDevice::from_device_keys)
    }

    /// Serves the next queued reply, or syncs again, or ends after the quiet period.
    fn serve(&mut self, now: u64) -> Step {
        let Some(reply) = self.queue.front().cloned() else {
            if now.saturating_sub(self.quiet_since) >= self.config.quiet_ms {
                return self.flow.finish(Outcome::Verified);
            }
            self.state = State::Serving;
            return Step::Sleep { ms: self.flow.poll_ms };
        };
        let Some(target) = self.recipient(&reply.device_id) else {
            self.queue.pop_front();
            return self.serve(now);
        };
        let Some(secret) = self.secret_value(reply.name) else {
            self.queue.pop_front();
            return self.serve(now);
        };
        let content = secret_send_content(&reply.request_id, &secret);
        let txn = self.txn();
        let Some(me) = self.me.as_mut() else { return self.hs_fail("sendToDevice", "no session") };
        let user = me.session.user_id.clone();
        if self.config.knobs.answer_secrets_unencrypted {
            let body = to_device_body(&user, &reply.device_id, content);
            self.state = State::SendingSecret;
            return Step::Http(me.session.send(
                "PUT",
                &format!("/_matrix/client/v3/sendToDevice/m.secret.send/{txn}"),
                &body,
            ));
        }
        let Some(olm) = me.olm.as_ref() else { return self.hs_fail("sendToDevice", "no Olm identity") };
        if !olm.has_session_with(&target.curve25519) {
            let body = json!({"one_time_keys": {&user: {&reply.device_id: SIGNED_CURVE25519}}});
            self.state = State::Claiming;
            return Step::Http(me.session.send("POST", "/_matrix/client/v3/keys/claim", &body));
        }
        self.send_encrypted(now, &reply, &target, None, content, &txn)
    }

    /// Encrypts the reply (opening a session with `claimed`, if given) and sends it.
    fn send_encrypted(
        &mut self,
        now: u64,
        reply: &Reply,
        target: &RecipientDevice,
        claimed: Option<&Value>,
        content: Value,
        txn: &str,
    ) -> Step {
        let Some(me) = self.me.as_mut() else { return self.hs_fail("sendToDevice", "no session") };
        let Some(olm) = me.olm.as_mut() else { return self.hs_fail("sendToDevice", "no Olm identity") };
        match olm.encrypt_to_device(target, claimed, "m.secret.send", content) {
            Ok(encrypted) => {
                let body = to_device_body(&me.session.user_id, &reply.device_id, encrypted);
                let path = format!("/_matrix/client/v3/sendToDevice/{ENCRYPTED_EVENT_TYPE}/{txn}");
                self.state = State::SendingSecret;
                Step::Http(me.session.send("PUT", &path, &body))
            }
            Err(e) => {
                self.queue.pop_front();
                self.flow.decide(Decision::RefusedSecretRequest {
                    name: reply.name.as_str().to_owned(),
                    device_id: reply.device_id.clone(),
                    reason: format!("cannot encrypt for the device: {e}"),
                });
                self.serve(now)
            }
        }
    }

    /// §6.3: the claimed one-time key opens the session (its signature by the
    /// device's Ed25519 key is checked while opening it).
    fn on_claimed(&mut self, now: u64, result: HttpResult) -> Step {
        let Some(reply) = self.queue.front().cloned() else { return self.serve(now) };
        let Some(target) = self.recipient(&reply.device_id) else {
            self.queue.pop_front();
            return self.serve(now);
        };
        let Some(secret) = self.secret_value(reply.name) else {
            self.queue.pop_front();
            return self.serve(now);
        };
        let claimed = json_object(result).ok().and_then(|body| {
            let pointer = format!(
                "/one_time_keys/{}/{}",
                pointer_escape(&target.user_id),
                pointer_escape(&reply.device_id)
            );
            body.pointer(&pointer).cloned()
        });
        let Some(claimed) = claimed else {
            self.queue.pop_front();
            self.flow.decide(Decision::RefusedSecretRequest {
                name: reply.name.as_str().to_owned(),
                device_id: reply.device_id,
                reason: "no one-time key to open an Olm session".into(),
            });
            return self.serve(now);
        };
        let content = secret_send_content(&reply.request_id, &secret);
        let txn = self.txn();
        self.send_encrypted(now, &reply, &target, Some(&claimed), content, &txn)
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
                    self.after_boot(now)
                }
                BootStep::Failed(reason) => self.flow.fail(reason),
            },
            State::Creating => {
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
                if self.flow.dialect == protocol::qr_login::Dialect::V2 {
                    qr = qr.map(QrCode::with_v2_flow);
                }
                if let Some(qr) = qr {
                    self.flow.events.push(DeviceEvent::ShowsQrCode { payload: qr.to_json_string() });
                }
                self.wait_channel(now, State::AwaitKey, "the scanner's key")
            }
            State::PuttingKey => {
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
            State::AwaitKey | State::AwaitStep3 | State::AwaitProtocol { .. } | State::AwaitSuccess => {
                self.on_channel(now, result)
            }
            State::Capabilities => {
                let body = json_object(result).unwrap_or(Value::Null);
                let enabled = |name: &str| {
                    body.pointer(&format!("/capabilities/{name}/enabled")).and_then(Value::as_bool)
                        == Some(true)
                };
                self.caps =
                    (enabled("m.get_login_token"), enabled("org.matrix.msc3882.get_login_token"), false);
                self.state = State::Versions;
                let base = self.config.homeserver.trim_end_matches('/').to_owned();
                Step::Http(HttpRequest::new("GET", format!("{base}/_matrix/client/versions")))
            }
            State::Versions => {
                let body = json_object(result).unwrap_or(Value::Null);
                self.caps.2 = body.pointer("/unstable_features/org.matrix.msc3882").and_then(Value::as_bool)
                    == Some(true);
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
            State::SendingProtocols => {
                if let Some(step) = self.flow.after_send(result) {
                    return step;
                }
                self.wait_channel(
                    now,
                    State::AwaitProtocol { skipped_progress: false },
                    "the protocol choice",
                )
            }
            State::GetToken { with_auth } => match json_object(result) {
                Ok(body) => {
                    let Ok(token) = str_field(&body, "login_token") else {
                        return self.hs_fail("get_token", "no login_token");
                    };
                    let homeserver = self.config.homeserver.trim_end_matches('/').to_owned();
                    self.send(State::SendingApproved, &Message::Approved { login_token: token, homeserver })
                }
                Err(e) if e.is_uia_challenge() && !with_auth => {
                    self.state = State::GetToken { with_auth: true };
                    match self.get_token_request(e.uia_session()) {
                        Some(request) => Step::Http(request),
                        None => self.hs_fail("get_token", "no session"),
                    }
                }
                Err(e) => self.hs_fail(self.token_endpoint.path(), e),
            },
            State::SendingApproved => {
                if let Some(step) = self.flow.after_send(result) {
                    return step;
                }
                self.wait_channel(now, State::AwaitSuccess, "the new device's login")
            }
            State::QueryDevice { device_id, device_key, since } => {
                self.on_device_query(now, result, device_id, device_key, since)
            }
            State::SignatureUpload { device_id } => {
                let failure = match json_object(result) {
                    Ok(body) => body
                        .get("failures")
                        .filter(|f| f.as_object().is_none_or(|f| !f.is_empty()))
                        .map(Value::to_string),
                    Err(e) => Some(e.to_string()),
                };
                let decision = match failure {
                    None => Decision::CrossSigned { device_id },
                    Some(detail) => Decision::CrossSigningRejected { device_id, detail },
                };
                self.flow.decide(decision);
                self.send_verified()
            }
            State::SendingVerified => {
                if let Some(step) = self.flow.after_send(result) {
                    return step;
                }
                self.quiet_since = now;
                if self.config.knobs.send_unsolicited_secret {
                    if let Some(device) = self.new_device.as_ref().map(|d| d.device_id.clone()) {
                        let request_id = format!("unsolicited-{}", self.flow.rng.next_u32());
                        self.queue.push_back(Reply {
                            name: SecretName::CrossSigningMaster,
                            request_id,
                            device_id: device,
                        });
                    }
                }
                if self.me.as_ref().is_some_and(|m| m.olm.is_none()) {
                    return self.flow.finish(Outcome::Verified);
                }
                self.serve(now)
            }
            State::Serving => {
                match json_object(result) {
                    Ok(body) => self.on_sync(now, &body),
                    Err(e) => return self.hs_fail("GET /sync", e),
                }
                self.serve(now)
            }
            State::Claiming => self.on_claimed(now, result),
            State::SendingSecret => {
                if let Some(reply) = self.queue.pop_front() {
                    if json_object(result).is_ok() {
                        self.flow.decide(Decision::SharedSecret {
                            name: reply.name.as_str().to_owned(),
                            device_id: reply.device_id,
                        });
                    }
                }
                self.quiet_since = now;
                self.serve(now)
            }
            State::AwaitScan | State::AwaitApproval | State::Ended => self.last_step.clone(),
        }
    }

    fn show_check_code(&mut self) {
        if let Some(code) = self.flow.link.as_ref().and_then(|l| l.check_code()) {
            self.flow.events.push(DeviceEvent::ShowsCheckCode { code });
        }
    }

    fn on_channel(&mut self, now: u64, result: HttpResult) -> Step {
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

    fn dispatch_wake(&mut self, now: u64) -> Step {
        if std::mem::take(&mut self.flow.sleep_then_poll) {
            return self.flow.poll(now, "the new device");
        }
        match self.state.clone() {
            State::QueryDevice { .. } => self.query_step(),
            State::Serving => {
                let since = self.since.clone();
                match self.session() {
                    Some(s) => Step::Http(s.sync(since.as_deref())),
                    None => self.hs_fail("sync", "no session"),
                }
            }
            _ => self.last_step.clone(),
        }
    }

    fn dispatch_command(&mut self, now: u64, command: Command) -> Step {
        match (self.state.clone(), command) {
            (_, Command::Cancel) if self.state != State::Boot => self.flow.end_with(None, Outcome::Cancelled),
            (State::AwaitScan, Command::ScanQrCode(text)) => {
                match QrCode::parse(&text, NameStrictness::AcceptStable) {
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
            (State::AwaitApproval, Command::Approve) => {
                self.flow.decide(Decision::UserChose { approved: true });
                self.state = State::GetToken { with_auth: false };
                let _ = now;
                match self.get_token_request(None) {
                    Some(request) => Step::Http(request),
                    None => self.hs_fail("get_token", "no session"),
                }
            }
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
        self.budget += 1;
        let step = if self.budget > STEP_BUDGET {
            self.flow.fail(Abort::Timeout { what: format!("the flow within {STEP_BUDGET} steps") })
        } else {
            step(self)
        };
        let _ = now;
        if self.flow.done {
            self.state = State::Ended;
        }
        self.last_step = step.clone();
        step
    }
}

fn pointer_escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
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
        self.guard(now_ms, |me| me.dispatch_command(now_ms, command))
    }

    fn take_events(&mut self) -> Vec<DeviceEvent> {
        self.flow.take_events()
    }
}
