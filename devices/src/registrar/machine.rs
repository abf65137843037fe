//! The registrar's states and transitions.

use serde_json::{json, Map, Value};

use protocol::{cross_signing::KeyUsage, device_keys::DeviceKeys, key_id::KeyId, signing};

use super::{check, check::OwnKeys, uia, Registrar, RegistrarKnob, SendPolicy};
use crate::api::{json_object, str_field, ApiError};
use crate::events::{Abort, Decision, DeviceEvent, Outcome};
use crate::io::{Command, HttpRequest, HttpResult, Step};
use crate::role::Role;

const VERSIONS: &str = "GET /_matrix/client/versions";
const REGISTER: &str = "POST /_matrix/client/v3/register";
const LOGIN: &str = "POST /_matrix/client/v3/login";
const QUERY: &str = "POST /_matrix/client/v3/keys/query";
const DEVICE_SIGNING: &str = "POST /_matrix/client/v3/keys/device_signing/upload";
const KEYS_UPLOAD: &str = "POST /_matrix/client/v3/keys/upload";
const SIGNATURES: &str = "POST /_matrix/client/v3/keys/signatures/upload";

/// The algorithms the device announces.
const ALGORITHMS: &[&str] = &["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"];

/// Where the registrar is: the request it waits for an answer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum State {
    NotStarted,
    Versions,
    Register { round: u32 },
    Login,
    QueryOwnKeys { after_reupload: bool },
    UploadCrossSigning { round: u32, with_password: bool },
    UploadDeviceKeys,
    UploadSignatures,
    FinalQuery,
    Finished,
}

/// The next step, or the end.
type Flow = Result<Step, Outcome>;

fn homeserver(request: &str, detail: impl Into<String>) -> Outcome {
    Outcome::Error { reason: Abort::Homeserver { request: request.to_owned(), detail: detail.into() } }
}

fn api(request: &str, error: ApiError) -> Outcome {
    Outcome::Error { reason: error.into_abort(request) }
}

fn timeout(what: String) -> Outcome {
    Outcome::Error { reason: Abort::Timeout { what } }
}

/// A 4xx Matrix error with an errcode is a refusal; anything else is an error.
fn rejected_or_error(request: &str, error: ApiError) -> Outcome {
    match error {
        ApiError::Matrix { status, errcode, .. } if (400..500).contains(&status) && errcode != "?" => {
            Outcome::Rejected { status, errcode }
        }
        other => api(request, other),
    }
}

/// The body of a 401 UIA challenge, if `error` is one.
fn challenge(error: &ApiError) -> Option<&Value> {
    match error {
        ApiError::Matrix { status: 401, body, .. } if body.get("flows").is_some() => Some(body),
        _ => None,
    }
}

impl Registrar {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.homeserver.trim_end_matches('/'))
    }

    fn decide(&mut self, decision: Decision) {
        self.events.push(DeviceEvent::Decision(decision));
    }

    fn finish(&mut self, outcome: Outcome) -> Step {
        self.state = State::Finished;
        self.events.push(DeviceEvent::Finished(outcome));
        Step::Done
    }

    fn run(&mut self, flow: Flow) -> Step {
        match flow {
            Ok(step) => step,
            Err(outcome) => self.finish(outcome),
        }
    }

    /// Issues `request` within the request budget, waiting in `state`.
    fn send(&mut self, state: State, request: HttpRequest) -> Flow {
        if self.requests >= self.config.max_requests {
            return Err(timeout(format!(
                "registration to finish within {} requests",
                self.config.max_requests
            )));
        }
        self.requests += 1;
        self.state = state;
        Ok(Step::Http(request))
    }

    fn post(&self, path: &str, body: &Value) -> HttpRequest {
        let request = HttpRequest::json("POST", self.url(path), body);
        match &self.access_token {
            Some(token) => request.bearer(token),
            None => request,
        }
    }

    fn user(&self) -> String {
        self.user_id.clone().unwrap_or_else(|| self.config.expected_user_id())
    }

    fn device(&self) -> String {
        self.device_id.clone().unwrap_or_default()
    }

    fn accepted_invalid(&mut self, knob: RegistrarKnob, request: &str) -> Outcome {
        self.decide(Decision::ServerAcceptedInvalidKeys { knob: knob.name().to_owned() });
        Outcome::Error {
            reason: Abort::ServerAcceptedInvalidKeys {
                knob: knob.name().to_owned(),
                request: request.to_owned(),
            },
        }
    }

    fn on_versions(&mut self, result: HttpResult) -> Flow {
        let answer = json_object(result).map_err(|e| api(VERSIONS, e))?;
        if !answer.get("versions").is_some_and(Value::is_array) {
            return Err(homeserver(VERSIONS, "field `versions` missing or not an array"));
        }
        self.advertised = answer
            .get("unstable_features")
            .and_then(|f| f.get("org.matrix.msc2912"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        self.decide(Decision::CheckedMsc2912Support { supported: self.advertised });
        let send = match self.config.send_keys {
            SendPolicy::IfAdvertised => self.advertised,
            SendPolicy::Always => true,
            SendPolicy::Never => false,
        };
        if send {
            let field = self.config.effective_field_name();
            self.sent_field = Some(field);
            self.decide(Decision::SentDeviceSigning { field: field.as_str().to_owned() });
        }
        self.send_register(0, None)
    }

    fn register_body(&self, auth: Option<Value>) -> Value {
        let mut body = Map::new();
        body.insert("username".into(), json!(self.config.username));
        body.insert("password".into(), json!(self.config.password));
        body.insert("initial_device_display_name".into(), json!(self.config.initial_device_display_name));
        if let Some(device_id) = &self.config.device_id {
            body.insert("device_id".into(), json!(device_id));
        }
        if self.config.inhibit_login {
            body.insert("inhibit_login".into(), json!(true));
        }
        if let Some(field) = self.sent_field {
            // On every round: the server keeps the last valid set of the session.
            body.insert(field.as_str().into(), self.device_signing_body(&self.config.expected_user_id()));
        }
        if let Some(auth) = auth {
            body.insert("auth".into(), auth);
        }
        Value::Object(body)
    }

    fn send_register(&mut self, round: u32, auth: Option<Value>) -> Flow {
        let request = self.post("/_matrix/client/v3/register", &self.register_body(auth));
        self.send(State::Register { round }, request)
    }

    fn on_register(&mut self, round: u32, result: HttpResult) -> Flow {
        let error = match json_object(result) {
            Ok(answer) => return self.on_registered(&answer),
            Err(error) => error,
        };
        let Some(body) = challenge(&error) else {
            return Err(rejected_or_error(REGISTER, error));
        };
        if let Some(errcode) = uia::stage_error(body) {
            return Err(Outcome::Rejected { status: 401, errcode });
        }
        let session =
            uia::session(body).ok_or_else(|| homeserver(REGISTER, "UIA challenge without `session`"))?;
        if round >= self.config.max_uia_rounds {
            return Err(timeout(format!("UIA of /register within {} rounds", self.config.max_uia_rounds)));
        }
        let mut doable = vec!["m.login.dummy"];
        if self.config.registration_token.is_some() {
            doable.push("m.login.registration_token");
        }
        let stage = uia::next_stage(body, &doable).map_err(|d| homeserver(REGISTER, d))?;
        let mut auth = json!({ "type": stage, "session": session });
        if let (Some(token), true) = (&self.config.registration_token, stage == "m.login.registration_token")
        {
            auth["token"] = json!(token);
        }
        self.send_register(round + 1, Some(auth))
    }

    fn on_registered(&mut self, answer: &Value) -> Flow {
        self.user_id = Some(str_field(answer, "user_id").map_err(|e| api(REGISTER, e))?);
        if self.config.inhibit_login {
            let mut body = json!({
                "type": "m.login.password",
                "identifier": { "type": "m.id.user", "user": self.user() },
                "password": self.config.password,
                "initial_device_display_name": self.config.initial_device_display_name,
            });
            if let Some(device_id) = &self.config.device_id {
                body["device_id"] = json!(device_id);
            }
            let request = self.post("/_matrix/client/v3/login", &body);
            return self.send(State::Login, request);
        }
        self.logged_in(answer, REGISTER)
    }

    fn logged_in(&mut self, answer: &Value, request: &str) -> Flow {
        self.access_token = Some(str_field(answer, "access_token").map_err(|e| api(request, e))?);
        self.device_id = Some(str_field(answer, "device_id").map_err(|e| api(request, e))?);
        let skip = self.config.knobs.skip_key_check;
        if let (Some(knob), Some(_), true) = (self.config.knobs.invalidating(), self.sent_field, skip) {
            // Without the check we cannot tell "ignored" from "stored": the server
            // completed a registration that carried an invalid set.
            return Err(self.accepted_invalid(knob, REGISTER));
        }
        if skip {
            return self.send_device_keys();
        }
        self.send_query(State::QueryOwnKeys { after_reupload: false })
    }

    fn send_query(&mut self, state: State) -> Flow {
        let body = json!({ "device_keys": { self.user(): [] }, "timeout": 10_000 });
        let request = self.post("/_matrix/client/v3/keys/query", &body);
        self.send(state, request)
    }

    fn on_query_own_keys(&mut self, after_reupload: bool, result: HttpResult) -> Flow {
        let answer = json_object(result).map_err(|e| api(QUERY, e))?;
        let user_id = self.user();
        let own = OwnKeys::from_query(&answer, &user_id, None);
        if let Some(knob) = self.config.knobs.invalidating() {
            if !after_reupload && self.sent_field.is_some() && own.any_cross_signing() {
                return Err(self.accepted_invalid(knob, REGISTER));
            }
        }
        let checked = check::cross_signing(&own, &self.keys, &user_id);
        self.decide(Decision::CheckedOwnKeys { matched: checked.is_ok() });
        match checked {
            Ok(()) => self.send_device_keys(),
            Err(_) if !after_reupload => self.send_cross_signing(0, None),
            Err(reason) => Err(Outcome::Error { reason }),
        }
    }

    fn send_cross_signing(&mut self, round: u32, auth: Option<Value>) -> Flow {
        let with_password = auth.is_some();
        let mut body = self.device_signing_body(&self.user());
        if let (Some(auth), Some(map)) = (auth, body.as_object_mut()) {
            map.insert("auth".into(), auth);
        }
        let request = self.post("/_matrix/client/v3/keys/device_signing/upload", &body);
        self.send(State::UploadCrossSigning { round, with_password }, request)
    }

    fn on_cross_signing(&mut self, round: u32, with_password: bool, result: HttpResult) -> Flow {
        let error = match json_object(result) {
            Ok(_) => {
                if let Some(knob) = self.config.knobs.invalidating() {
                    return Err(self.accepted_invalid(knob, DEVICE_SIGNING));
                }
                self.decide(Decision::ReuploadedKeys { with_password });
                return self.send_query(State::QueryOwnKeys { after_reupload: true });
            }
            Err(error) => error,
        };
        let Some(body) = challenge(&error) else {
            return Err(rejected_or_error(DEVICE_SIGNING, error));
        };
        if let Some(errcode) = uia::stage_error(body) {
            return Err(Outcome::Rejected { status: 401, errcode });
        }
        let session = uia::session(body)
            .ok_or_else(|| homeserver(DEVICE_SIGNING, "UIA challenge without `session`"))?;
        if round >= self.config.max_uia_rounds {
            return Err(timeout(format!("UIA of /keys/device_signing/upload within {round} rounds")));
        }
        let stage =
            uia::next_stage(body, &["m.login.password"]).map_err(|d| homeserver(DEVICE_SIGNING, d))?;
        let auth = json!({
            "type": stage,
            "identifier": { "type": "m.id.user", "user": self.user() },
            "password": self.config.password,
            "session": session,
        });
        self.send_cross_signing(round + 1, Some(auth))
    }

    fn send_device_keys(&mut self) -> Flow {
        let (user_id, device_id) = (self.user(), self.device());
        let keys = DeviceKeys::signed_json(
            &user_id,
            &device_id,
            ALGORITHMS,
            &self.device_key,
            &self.device_curve25519,
        );
        self.device_keys = Some(keys.clone());
        let request = self.post("/_matrix/client/v3/keys/upload", &json!({ "device_keys": keys }));
        self.send(State::UploadDeviceKeys, request)
    }

    fn on_device_keys(&mut self, result: HttpResult) -> Flow {
        json_object(result).map_err(|e| api(KEYS_UPLOAD, e))?;
        self.decide(Decision::UploadedDeviceKeys { device_id: self.device() });
        // docs/protocol.md §9.3 step 3: the device signed by the self-signing key, and the
        // master key signed by the device, in one upload.
        let (user_id, device_id) = (self.user(), self.device());
        let unsignable = |e: signing::SignJsonError| Outcome::Error {
            reason: Abort::InvalidDeviceKeys { device_id: device_id.clone(), reason: e.to_string() },
        };
        let mut device = self.device_keys.clone().unwrap_or_default();
        self.keys.sign_device(&user_id, &mut device).map_err(unsignable)?;
        let mut master = self.keys.key_json(&user_id, KeyUsage::Master);
        signing::sign_json(&mut master, &user_id, &KeyId::ed25519_device(&device_id), &self.device_key)
            .map_err(unsignable)?;
        let master_name = self.keys.public_key(KeyUsage::Master).to_base64();
        let body = json!({ user_id.clone(): { device_id.clone(): device, master_name: master } });
        let request = self.post("/_matrix/client/v3/keys/signatures/upload", &body);
        self.send(State::UploadSignatures, request)
    }

    fn on_signatures(&mut self, result: HttpResult) -> Flow {
        let answer = json_object(result).map_err(|e| api(SIGNATURES, e))?;
        match answer.get("failures") {
            None => {}
            Some(Value::Object(failures))
                if failures.values().all(|f| f.as_object().is_some_and(Map::is_empty)) => {}
            Some(failures) => return Err(homeserver(SIGNATURES, format!("failures: {failures}"))),
        }
        self.decide(Decision::SignedOwnDevice { device_id: self.device() });
        self.send_query(State::FinalQuery)
    }

    fn on_final_query(&mut self, result: HttpResult) -> Flow {
        let answer = json_object(result).map_err(|e| api(QUERY, e))?;
        let (user_id, device_id) = (self.user(), self.device());
        let own = OwnKeys::from_query(&answer, &user_id, Some(&device_id));
        let checked = check::cross_signing(&own, &self.keys, &user_id).and_then(|()| {
            check::own_device(&own, &self.keys, &user_id, &device_id, &self.device_key.public_key())
        });
        checked.map_err(|reason| Outcome::Error { reason })?;
        Ok(self.finish(Outcome::Success))
    }

    fn unexpected(&mut self, got: &str) -> Step {
        if self.state == State::Finished {
            return Step::Done;
        }
        let expected = match self.state {
            State::NotStarted => "start",
            _ => "an HTTP answer",
        };
        self.finish(Outcome::Error {
            reason: Abort::UnexpectedMessage { expected: expected.to_owned(), got: got.to_owned() },
        })
    }
}

impl Role for Registrar {
    fn start(&mut self, now_ms: u64) -> Step {
        if self.state != State::NotStarted {
            return self.unexpected("a second start");
        }
        self.started_ms = now_ms;
        let request = HttpRequest::new("GET", self.url("/_matrix/client/versions"));
        let flow = self.send(State::Versions, request);
        self.run(flow)
    }

    fn on_http(&mut self, now_ms: u64, result: HttpResult) -> Step {
        if matches!(self.state, State::NotStarted | State::Finished) {
            return self.unexpected("an HTTP answer");
        }
        if now_ms.saturating_sub(self.started_ms) > self.config.deadline_ms {
            let what = format!("registration to finish within {} ms", self.config.deadline_ms);
            return self.finish(timeout(what));
        }
        let flow = match std::mem::replace(&mut self.state, State::Finished) {
            State::Versions => self.on_versions(result),
            State::Register { round } => self.on_register(round, result),
            State::Login => json_object(result)
                .map_err(|e| rejected_or_error(LOGIN, e))
                .and_then(|answer| self.logged_in(&answer, LOGIN)),
            State::QueryOwnKeys { after_reupload } => self.on_query_own_keys(after_reupload, result),
            State::UploadCrossSigning { round, with_password } => {
                self.on_cross_signing(round, with_password, result)
            }
            State::UploadDeviceKeys => self.on_device_keys(result),
            State::UploadSignatures => self.on_signatures(result),
            State::FinalQuery => self.on_final_query(result),
            State::NotStarted | State::Finished => Ok(Step::Done),
        };
        self.run(flow)
    }

    fn on_wake(&mut self, _now_ms: u64) -> Step {
        self.unexpected("a wake-up (the registrar never sleeps)")
    }

    fn on_command(&mut self, _now_ms: u64, command: Command) -> Step {
        match command {
            Command::Cancel if self.state != State::Finished => self.finish(Outcome::Cancelled),
            Command::Cancel => Step::Done,
            other => self.unexpected(&format!("the command {other:?}")),
        }
    }

    fn take_events(&mut self) -> Vec<DeviceEvent> {
        std::mem::take(&mut self.events)
    }
}
