//! The new device (A): signs in with the login token B provides, sets up its Olm
//! identity, checks B and the master key (steps 20–22, in that order), then requests
//! and validates the secrets (step 23, protocol.md §6.2).

use std::collections::{BTreeMap, VecDeque};

use protocol::cross_signing::KeyUsage;
use protocol::keys::{Curve25519PublicKey, Ed25519PublicKey};
use protocol::qr_login::{
    is_login_token_protocol, Intent, LoginDevice, Message, NameStrictness, QrCode, PROTOCOL_LOGIN_TOKEN,
};
use rand::RngCore;
use serde_json::{json, Value};

use super::bootstrap::ONE_TIME_KEYS;
use super::checks;
use super::link::Link;
use super::{Flow, NewDeviceConfig, Polling, Session};
use crate::api::{json_object, str_field};
use crate::events::{Abort, Decision, DeviceEvent, Outcome};
use crate::io::{Command, HttpRequest, HttpResult, Step};
use crate::olm::secrets::{
    cancellation_content, check_backup_secret, check_cross_signing_secret, parse_secret_send,
    request_content, SecretName,
};
use crate::olm::{check_sender_keys, to_device_body, DeviceCrypto};
use crate::role::Role;

const STEP_BUDGET: u32 = 20_000;

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
    qr: Option<QrCode>,
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
    budget: u32,
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
        Self {
            config,
            flow,
            state: State::AwaitScan,
            qr: None,
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
            budget: 0,
        }
    }

    /// The secrets accepted so far (name → b64 value).
    pub fn secrets(&self) -> &BTreeMap<String, String> {
        &self.secrets
    }

    fn adjust_link(&self, link: Link) -> Link {
        let mut link = if self.config.knobs.android { link.with_android_ivs() } else { link };
        if self.config.knobs.tamper_envelope {
            link.tamper_next_message();
        }
        link
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

    fn show_check_code(&mut self) {
        if let Some(code) = self.flow.link.as_ref().and_then(|l| l.check_code()) {
            self.flow.events.push(DeviceEvent::ShowsCheckCode { code });
        }
    }

    fn hs_fail(&mut self, request: &str, detail: impl ToString) -> Step {
        self.flow.fail(Abort::Homeserver { request: request.to_owned(), detail: detail.to_string() })
    }

    fn on_offer(&mut self, first: bool, message: &Message) -> Step {
        if first && !self.config.shows_code {
            // A as scanner checks the intent once the channel is up (Element Android).
            let compatible =
                self.qr.as_ref().is_some_and(|q| q.intent.is_compatible_with(Intent::LoginStart));
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
        self.send(State::SendingProtocol, &Message::Protocol { protocol: PROTOCOL_LOGIN_TOKEN.to_owned() })
    }

    fn login(&mut self, login_token: &str, homeserver: &str) -> Step {
        let body = json!({"type": "m.login.token", "token": login_token, "device_id": self.config.device_id});
        self.config.homeserver = homeserver.trim_end_matches('/').to_owned();
        self.state = State::LoggingIn;
        Step::Http(HttpRequest::json(
            "POST",
            format!("{}/_matrix/client/v3/login", self.config.homeserver),
            &body,
        ))
    }

    fn on_logged_in(&mut self, result: HttpResult) -> Step {
        let body = match json_object(result) {
            Ok(body) => body,
            Err(e) => return self.hs_fail("POST /login", e),
        };
        let fields =
            (str_field(&body, "access_token"), str_field(&body, "user_id"), str_field(&body, "device_id"));
        let (Ok(access_token), Ok(user_id), Ok(device_id)) = fields else {
            return self.hs_fail("POST /login", "answer lacks access_token, user_id or device_id");
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

    fn send_success(&mut self) -> Step {
        let (Some(olm), Some(session)) = (self.olm.as_ref(), self.session.as_ref()) else {
            return self.hs_fail("login", "no session");
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

    /// Steps 20, 21a (and the self-signing key's signature), 21b, 22, in this order.
    fn on_verified(&mut self, now: u64, id: &str, key: &str, master_key: Option<&str>) -> Step {
        let user = self.session.as_ref().map(|s| s.user_id.clone()).unwrap_or_default();
        let query = self.own_keys.clone();
        if !self.config.knobs.skip_verifying_device_check {
            let checked = checks::check_verifying_device(&query, &user, id, key);
            self.flow
                .decide(Decision::CheckedDeviceKey { device_id: id.to_owned(), matched: checked.is_ok() });
            if let Err(reason) = checked {
                return self.flow.security_abort(reason);
            }
        }
        let mut trusted = BTreeMap::new();
        if let Some(claimed) = master_key {
            let master = if self.config.knobs.skip_master_key_check {
                checks::published_key(&query, &user, KeyUsage::Master).ok().flatten()
            } else {
                let checked = checks::check_master_key(&query, &user, claimed);
                self.flow.decide(Decision::CheckedMasterKey { matched: checked.is_ok() });
                match checked {
                    Ok(master) => Some(master),
                    Err(reason) => return self.flow.security_abort(reason),
                }
            };
            if let Some(master) = master {
                for usage in [KeyUsage::SelfSigning, KeyUsage::UserSigning] {
                    match checks::check_signed_by_master(&query, &user, usage, &master) {
                        Ok(Some(public)) => {
                            trusted.insert(SecretName::for_usage(usage), public);
                        }
                        Ok(None) => {}
                        Err(reason) => return self.flow.security_abort(reason),
                    }
                }
                trusted.insert(SecretName::CrossSigningMaster, master.public_key);
            }
        }
        if let Some(master) = trusted.get(&SecretName::CrossSigningMaster) {
            self.flow.decide(Decision::TrustedMasterKey { master_key: master.to_base64() });
        }
        self.trusted = trusted;
        self.flow.decide(Decision::MarkedVerified { device_id: id.to_owned() });
        self.verifying_device = Some(id.to_owned());
        self.state = State::BackupVersion;
        let _ = now;
        match self.session.as_ref() {
            Some(s) => Step::Http(s.get("/_matrix/client/v3/room_keys/version")),
            None => self.hs_fail("room_keys", "no session"),
        }
    }

    /// Step 23: one `m.secret.request` per secret B can have, addressed to B.
    fn request_secrets(&mut self, now: u64) -> Step {
        let (Some(session), Some(target)) = (self.session.clone(), self.verifying_device.clone()) else {
            return self.hs_fail("sendToDevice", "no session");
        };
        for name in SecretName::ALL {
            let available = match name {
                SecretName::MegolmBackupV1 => self.backup_public.is_some(),
                cross_signing => self.trusted.contains_key(&cross_signing),
            };
            if !available {
                continue;
            }
            let request_id = format!("req-{}", self.flow.rng.next_u64());
            let content = request_content(name, &session.device_id, &request_id);
            let body = to_device_body(&session.user_id, &target, content);
            let txn = format!("a{}", self.flow.rng.next_u64());
            self.outbox.push_back(session.send(
                "PUT",
                &format!("/_matrix/client/v3/sendToDevice/m.secret.request/{txn}"),
                &body,
            ));
            self.outstanding.insert(request_id, name);
            self.flow.decide(Decision::RequestedSecret { name: name.as_str().to_owned() });
        }
        self.flow.deadline = now.saturating_add(self.config.timeout_ms);
        self.next_outbox(now)
    }

    fn next_outbox(&mut self, now: u64) -> Step {
        if let Some(request) = self.outbox.pop_front() {
            self.state = State::Outbox;
            return Step::Http(request);
        }
        if self.outstanding.is_empty() {
            return self.flow.finish(Outcome::Verified);
        }
        if now >= self.flow.deadline {
            return self.flow.fail(Abort::Timeout { what: "the requested secrets".into() });
        }
        self.state = State::Syncing;
        match self.session.as_ref() {
            Some(s) => Step::Http(s.sync(self.since.as_deref())),
            None => self.hs_fail("sync", "no session"),
        }
    }

    fn on_sync(&mut self, now: u64, result: HttpResult) -> Step {
        let body = match json_object(result) {
            Ok(body) => body,
            Err(e) => return self.hs_fail("GET /sync", e),
        };
        if let Some(next) = body.get("next_batch").and_then(Value::as_str) {
            self.since = Some(next.to_owned());
        }
        let events = body.pointer("/to_device/events").and_then(Value::as_array).cloned().unwrap_or_default();
        let received = !events.is_empty();
        for event in events {
            match event.get("type").and_then(Value::as_str) {
                Some("m.secret.send") => {
                    let request_id = event.pointer("/content/request_id").and_then(Value::as_str);
                    let name = request_id.and_then(|id| self.outstanding.get(id)).copied();
                    self.ignore_secret(name, "not Olm-encrypted".into());
                }
                Some("m.room.encrypted") => self.on_encrypted(&event),
                _ => {}
            }
        }
        if !self.outbox.is_empty() || self.outstanding.is_empty() {
            return self.next_outbox(now);
        }
        if now >= self.flow.deadline {
            return self.flow.fail(Abort::Timeout { what: "the requested secrets".into() });
        }
        if received {
            return self.next_outbox(now);
        }
        Step::Sleep { ms: self.flow.poll_ms }
    }

    fn ignore_secret(&mut self, name: Option<SecretName>, reason: String) {
        let name = name.map_or("?".to_owned(), |n| n.as_str().to_owned());
        self.flow.decide(Decision::IgnoredSecret { name, reason });
    }

    /// The ID and Ed25519 key of the own device whose Curve25519 key is `curve25519`,
    /// by the homeserver's (validly self-signed) device keys.
    fn own_device_with(&self, curve25519: &Curve25519PublicKey) -> Option<(String, Ed25519PublicKey)> {
        let user = &self.session.as_ref()?.user_id;
        let devices = self.own_keys.get("device_keys")?.get(user)?.as_object()?;
        devices.keys().find_map(|id| match checks::visible_device(&self.own_keys, user, id) {
            Ok(Some(keys)) if keys.curve25519 == *curve25519 => Some((keys.device_id, keys.ed25519)),
            _ => None,
        })
    }

    /// §6.2: the acceptance rules, in order; a failure drops the event.
    fn on_encrypted(&mut self, event: &Value) {
        let sender = event.get("sender").and_then(Value::as_str).unwrap_or("");
        let content = event.get("content").cloned().unwrap_or(Value::Null);
        let user = self.session.as_ref().map(|s| s.user_id.clone()).unwrap_or_default();
        let Some(olm) = self.olm.as_mut() else { return };
        // Rules 1 and 2 (sender, recipient, recipient_keys).
        let decrypted = match olm.decrypt_to_device(sender, &content) {
            Ok(decrypted) => decrypted,
            Err(e) => return self.ignore_secret(None, e.to_string()),
        };
        let request_id = decrypted.content.get("request_id").and_then(Value::as_str);
        let name = request_id.and_then(|id| self.outstanding.get(id)).copied();
        // Rule 2: keys.ed25519 is the key of the device that owns sender_key.
        let Some((device_id, ed25519)) = self.own_device_with(&decrypted.sender_key) else {
            let reason = "sender key does not belong to a known device of this user";
            return self.ignore_secret(name, reason.into());
        };
        if let Err(e) = check_sender_keys(&decrypted, &ed25519) {
            return self.ignore_secret(name, e.to_string());
        }
        // Rule 3.
        if decrypted.event_type != "m.secret.send" {
            return self.ignore_secret(name, format!("not an m.secret.send but {}", decrypted.event_type));
        }
        let send = match parse_secret_send(&decrypted.content) {
            Ok(send) => send,
            Err(e) => return self.ignore_secret(name, format!("not an m.secret.send: {e}")),
        };
        // Rule 4.
        if decrypted.sender != user {
            return self.ignore_secret(name, "sender is another user".into());
        }
        // Rule 5.
        let Some(name) = self.outstanding.get(&send.request_id).copied() else {
            return self.ignore_secret(None, "no outstanding request with this request_id".into());
        };
        // Rules 6 and 7: the only device asked is B, and it is verified (step 22).
        if Some(&device_id) != self.verifying_device.as_ref() {
            return self.ignore_secret(Some(name), "sending device was not asked".into());
        }
        // Rule 8.
        if let Err(reason) = self.check_value(name, &send.secret) {
            let reason = format!("value does not match the published public key: {reason}");
            return self.ignore_secret(Some(name), reason);
        }
        // Rule 9.
        self.outstanding.remove(&send.request_id);
        self.secrets.insert(name.as_str().to_owned(), send.secret);
        self.flow.decide(Decision::AcceptedSecret { name: name.as_str().to_owned() });
        self.queue_cancellations(&send.request_id);
    }

    /// Rule 8: the secret derives the public key trusted for it.
    fn check_value(&self, name: SecretName, secret: &str) -> Result<(), String> {
        match name {
            SecretName::MegolmBackupV1 => {
                let public = self.backup_public.as_deref().ok_or("no backup version")?;
                check_backup_secret(secret, public).map_err(|e| e.to_string())
            }
            cross_signing => {
                let public = self.trusted.get(&cross_signing).ok_or("no trusted public key")?;
                check_cross_signing_secret(secret, public).map_err(|e| e.to_string())
            }
        }
    }

    /// §6.2 rule 9: cancel the request at every other own device that could answer.
    fn queue_cancellations(&mut self, request_id: &str) {
        let Some(session) = self.session.clone() else { return };
        let others: Vec<String> = self
            .own_keys
            .pointer(&format!("/device_keys/{}", session.user_id.replace('~', "~0").replace('/', "~1")))
            .and_then(Value::as_object)
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_default();
        let content = cancellation_content(&session.device_id, request_id);
        let mut messages = serde_json::Map::new();
        for device in others {
            if device != session.device_id && Some(&device) != self.verifying_device.as_ref() {
                messages.insert(device, content.clone());
            }
        }
        if messages.is_empty() {
            return;
        }
        let txn = format!("a{}", self.flow.rng.next_u64());
        let body = json!({"messages": {&session.user_id: messages}});
        self.outbox.push_back(session.send(
            "PUT",
            &format!("/_matrix/client/v3/sendToDevice/m.secret.request/{txn}"),
            &body,
        ));
    }

    fn on_channel(&mut self, now: u64, result: HttpResult) -> Step {
        let message = match self.flow.on_poll(result) {
            Polling::Step(step) => return step,
            Polling::Key => {
                self.show_check_code();
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

    fn dispatch_http(&mut self, now: u64, result: HttpResult) -> Step {
        if self.flow.in_tail() {
            return self.flow.tail_next();
        }
        match self.state.clone() {
            State::Creating => {
                let homeserver = self.config.homeserver.clone();
                let created = match self.flow.link.as_mut() {
                    Some(link) => link.on_created(&homeserver, result),
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
                    .unwrap_or(Intent::LoginStart);
                if let Some(mut qr) = self.flow.link.as_ref().map(|l| l.qr_code(intent)) {
                    if self.flow.dialect == protocol::qr_login::Dialect::V2 {
                        qr = qr.with_v2_flow();
                    }
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
                self.wait_channel(now, State::AwaitOffer { first: true }, "the existing device's offer")
            }
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
            State::Uploading => match json_object(result) {
                Ok(_) => {
                    if let Some(olm) = self.olm.as_mut() {
                        olm.mark_published();
                    }
                    let id = self.session.as_ref().map(|s| s.device_id.clone()).unwrap_or_default();
                    self.flow.decide(Decision::UploadedDeviceKeys { device_id: id });
                    self.send_success()
                }
                Err(e) => self.hs_fail("POST /keys/upload", e),
            },
            State::SendingSuccess { e2ee } => {
                if let Some(step) = self.flow.after_send(result) {
                    return step;
                }
                if !e2ee {
                    return self.flow.finish(Outcome::Success);
                }
                self.state = State::QueryOwn;
                match self.session.as_ref() {
                    Some(s) => Step::Http(s.query_own_keys()),
                    None => self.hs_fail("keys/query", "no session"),
                }
            }
            State::QueryOwn => match json_object(result) {
                Ok(body) => {
                    self.own_keys = body;
                    self.wait_channel(now, State::AwaitVerified, "the verified message")
                }
                Err(e) => self.hs_fail("POST /keys/query", e),
            },
            State::BackupVersion => {
                self.backup_public = json_object(result).ok().and_then(|body| {
                    body.pointer("/auth_data/public_key").and_then(Value::as_str).map(str::to_owned)
                });
                self.request_secrets(now)
            }
            State::Outbox => {
                if let Err(e) = json_object(result) {
                    return self.hs_fail("PUT /sendToDevice", e);
                }
                self.next_outbox(now)
            }
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
            (State::AwaitScan, Command::ScanQrCode(text)) => {
                match QrCode::parse(&text, NameStrictness::AcceptStable) {
                    Ok(qr) => {
                        self.flow.dialect = qr.dialect();
                        let link = Link::scanner(&qr, &mut self.flow.rng);
                        let link = self.adjust_link(link);
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
            (State::AwaitScan, Command::Cancel) => self.flow.finish(Outcome::Cancelled),
            (_, Command::Cancel) => self.flow.end_with(Some(Message::Cancelled), Outcome::Cancelled),
            _ => self.last_step.clone(),
        }
    }

    fn guard(&mut self, step: impl FnOnce(&mut Self) -> Step) -> Step {
        if self.flow.done {
            return Step::Done;
        }
        self.budget += 1;
        let step = if self.budget > STEP_BUDGET {
            self.flow.fail(Abort::Timeout { what: format!("the flow within {STEP_BUDGET} steps") })
        } else {
            step(self)
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
                let link = Link::generator(&mut me.flow.rng);
                let link = me.adjust_link(link);
                let request = link.create_request(&me.config.homeserver);
                me.flow.link = Some(link);
                me.state = State::Creating;
                Step::Http(request)
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
