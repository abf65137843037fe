//! A scripted homeserver for the registrar's state-machine tests: just enough state to
//! answer each request, with switches for the behaviours under test, and a driver.

#![allow(dead_code)]

use devices::registrar::{Registrar, RegistrarConfig};
use devices::{Decision, DeviceEvent, HttpRequest, HttpResponse, Outcome, Role, Step};
use serde_json::{json, Map, Value};

/// Which field names the scripted server stores.
#[derive(Clone, Copy, PartialEq)]
pub enum Accepts {
    Nothing,
    Both,
    UnstableOnly,
}

/// A scripted homeserver: just enough state to answer the registrar's requests.
pub struct Fake {
    pub advertise: bool,
    pub accepts: Accepts,
    pub msc3967: bool,
    /// The answer to a `/register` carrying the field (a validation failure).
    pub reject_keys: Option<(u16, &'static str)>,
    /// The answer to `/keys/device_signing/upload` (a validation failure).
    pub reject_upload: Option<(u16, &'static str)>,
    pub registration_token: Option<&'static str>,
    pub keys: Map<String, Value>,
    pub device: Option<Value>,
    pub pending: Option<Value>,
    pub log: Vec<(String, Option<Value>, u16)>,
}

pub const USER: &str = "@alice:test";

impl Fake {
    pub fn new(advertise: bool, accepts: Accepts) -> Self {
        Self {
            advertise,
            accepts,
            msc3967: true,
            reject_keys: None,
            reject_upload: None,
            registration_token: None,
            keys: Map::new(),
            device: None,
            pending: None,
            log: Vec::new(),
        }
    }

    pub fn answer(&mut self, request: &HttpRequest) -> HttpResponse {
        let path = request.url.trim_start_matches("http://hs").to_owned();
        let body = request.json_body();
        let b = body.clone().unwrap_or(Value::Null);
        let response = match path.as_str() {
            "/_matrix/client/versions" => HttpResponse::json(
                200,
                &json!({"versions": ["v1.11"], "unstable_features": {"org.matrix.msc2912": self.advertise}}),
            ),
            "/_matrix/client/v3/register" => self.register(&b),
            "/_matrix/client/v3/login" => {
                HttpResponse::json(200, &json!({"user_id": USER, "access_token": "tok2", "device_id": "DEV"}))
            }
            "/_matrix/client/v3/keys/query" => {
                let mut answer = json!({"device_keys": {USER: {}}, "master_keys": {}, "self_signing_keys": {}, "user_signing_keys": {}, "failures": {}});
                for (field, map) in [
                    ("master_key", "master_keys"),
                    ("self_signing_key", "self_signing_keys"),
                    ("user_signing_key", "user_signing_keys"),
                ] {
                    if let Some(key) = self.keys.get(field) {
                        answer[map][USER] = key.clone();
                    }
                }
                if let Some(device) = &self.device {
                    answer["device_keys"][USER]["DEV"] = device.clone();
                }
                HttpResponse::json(200, &answer)
            }
            "/_matrix/client/v3/keys/device_signing/upload" => {
                if let Some((status, errcode)) = self.reject_upload {
                    HttpResponse::json(status, &json!({"errcode": errcode, "error": "bad"}))
                } else if !self.msc3967 && b.get("auth").is_none() {
                    HttpResponse::json(
                        401,
                        &json!({"session": "u1", "flows": [{"stages": ["m.login.password"]}], "params": {}}),
                    )
                } else {
                    self.store(&b);
                    HttpResponse::json(200, &json!({}))
                }
            }
            "/_matrix/client/v3/keys/upload" => {
                self.device = b.get("device_keys").cloned();
                HttpResponse::json(200, &json!({"one_time_key_counts": {"signed_curve25519": 0}}))
            }
            "/_matrix/client/v3/keys/signatures/upload" => {
                for (key_id, object) in b[USER].as_object().cloned().unwrap_or_default() {
                    let target =
                        if key_id == "DEV" { self.device.as_mut() } else { self.keys.get_mut("master_key") };
                    if let Some(target) = target {
                        for (k, v) in object["signatures"][USER].as_object().cloned().unwrap_or_default() {
                            target["signatures"][USER][k] = v;
                        }
                    }
                }
                HttpResponse::json(200, &json!({"failures": {}}))
            }
            _ => HttpResponse::json(404, &json!({"errcode": "M_UNRECOGNIZED", "error": "?"})),
        };
        self.log.push((path, body, response.status));
        response
    }

    pub fn register(&mut self, b: &Value) -> HttpResponse {
        let field = match self.accepts {
            Accepts::Nothing => None,
            Accepts::Both => b.get("device_signing").or_else(|| b.get("org.matrix.msc2912.device_signing")),
            Accepts::UnstableOnly => b.get("org.matrix.msc2912.device_signing"),
        };
        if let (Some(_), Some((status, errcode))) = (field, self.reject_keys) {
            return HttpResponse::json(status, &json!({"errcode": errcode, "error": "bad keys"}));
        }
        if field.is_some() {
            self.pending = field.cloned();
        }
        let stages: Vec<&str> = match self.registration_token {
            Some(_) => vec!["m.login.registration_token", "m.login.dummy"],
            None => vec!["m.login.dummy"],
        };
        let completed: Vec<&str> = match b["auth"]["type"].as_str() {
            Some("m.login.registration_token") if b["auth"]["token"].as_str() == self.registration_token => {
                vec![stages[0]]
            }
            Some("m.login.registration_token") => {
                return HttpResponse::json(
                    401,
                    &json!({"session": "s", "flows": [{"stages": stages}], "completed": [], "errcode": "M_FORBIDDEN", "error": "bad token"}),
                )
            }
            Some("m.login.dummy") => stages.clone(),
            _ => vec![],
        };
        if completed.len() < stages.len() {
            return HttpResponse::json(
                401,
                &json!({"session": "s", "flows": [{"stages": stages}], "params": {}, "completed": completed}),
            );
        }
        if let Some(keys) = self.pending.take() {
            self.store(&keys);
        }
        if b["inhibit_login"] == json!(true) {
            return HttpResponse::json(200, &json!({"user_id": USER}));
        }
        HttpResponse::json(200, &json!({"user_id": USER, "access_token": "tok", "device_id": "DEV"}))
    }

    pub fn store(&mut self, body: &Value) {
        for field in ["master_key", "self_signing_key", "user_signing_key"] {
            if let Some(key) = body.get(field) {
                self.keys.insert(field.to_owned(), key.clone());
            }
        }
    }

    pub fn paths(&self) -> Vec<String> {
        self.log.iter().map(|(p, _, s)| format!("{} {s}", p.trim_start_matches("/_matrix/client/"))).collect()
    }
}

pub fn base() -> RegistrarConfig {
    RegistrarConfig::new("http://hs", "Alice", "secret", 7)
}

/// Runs the registrar against `answer` until it is done; returns events and outcome.
pub fn drive(
    registrar: &mut Registrar,
    mut answer: impl FnMut(&HttpRequest) -> HttpResponse,
) -> (Vec<DeviceEvent>, Outcome) {
    let mut events = Vec::new();
    let mut step = registrar.start(0);
    for now in 1..100 {
        events.extend(registrar.take_events());
        step = match step {
            Step::Http(request) => registrar.on_http(now, Ok(answer(&request))),
            Step::Done => break,
            other => panic!("unexpected step {other:?}"),
        };
    }
    events.extend(registrar.take_events());
    assert_eq!(step, Step::Done, "the registrar must end");
    let outcome = match events.last() {
        Some(DeviceEvent::Finished(outcome)) => outcome.clone(),
        other => panic!("last event is not Finished: {other:?}"),
    };
    (events, outcome)
}

pub fn run(fake: &mut Fake, config: RegistrarConfig) -> (Vec<Decision>, Outcome) {
    let mut registrar = Registrar::new(config);
    let (events, outcome) = drive(&mut registrar, |r| fake.answer(r));
    let decisions = events
        .into_iter()
        .filter_map(|e| match e {
            DeviceEvent::Decision(d) => Some(d),
            _ => None,
        })
        .collect();
    (decisions, outcome)
}
