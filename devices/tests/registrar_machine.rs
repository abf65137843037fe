//! The registrar's state machine fed with canned answers from a small scripted server
//! (no sockets): the decisions it takes, the requests it makes, and how it ends on
//! odd answers.

use devices::registrar::{FieldName, Registrar, RegistrarConfig, RegistrarKnob, RegistrarKnobs, SendPolicy};
use devices::{Abort, Command, Decision, DeviceEvent, HttpRequest, HttpResponse, Outcome, Role, Step};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Which field names the scripted server stores.
#[derive(Clone, Copy, PartialEq)]
enum Accepts {
    Nothing,
    Both,
    UnstableOnly,
}

/// A scripted homeserver: just enough state to answer the registrar's requests.
struct Fake {
    advertise: bool,
    accepts: Accepts,
    msc3967: bool,
    /// The answer to a `/register` carrying the field (a validation failure).
    reject_keys: Option<(u16, &'static str)>,
    /// The answer to `/keys/device_signing/upload` (a validation failure).
    reject_upload: Option<(u16, &'static str)>,
    registration_token: Option<&'static str>,
    keys: Map<String, Value>,
    device: Option<Value>,
    pending: Option<Value>,
    log: Vec<(String, Option<Value>, u16)>,
}

const USER: &str = "@alice:test";

impl Fake {
    fn new(advertise: bool, accepts: Accepts) -> Self {
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

    fn answer(&mut self, request: &HttpRequest) -> HttpResponse {
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

    fn register(&mut self, b: &Value) -> HttpResponse {
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

    fn store(&mut self, body: &Value) {
        for field in ["master_key", "self_signing_key", "user_signing_key"] {
            if let Some(key) = body.get(field) {
                self.keys.insert(field.to_owned(), key.clone());
            }
        }
    }

    fn paths(&self) -> Vec<String> {
        self.log.iter().map(|(p, _, s)| format!("{} {s}", p.trim_start_matches("/_matrix/client/"))).collect()
    }
}

fn base() -> RegistrarConfig {
    RegistrarConfig::new("http://hs", "Alice", "secret", 7)
}

/// Runs the registrar against `answer` until it is done; returns events and outcome.
fn drive(
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

fn run(fake: &mut Fake, config: RegistrarConfig) -> (Vec<Decision>, Outcome) {
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

#[test]
fn msc2912_server_keeps_the_keys_sent_in_register() {
    let mut fake = Fake::new(true, Accepts::Both);
    let (decisions, outcome) = run(&mut fake, base());
    assert_eq!(outcome, Outcome::Success);
    assert_eq!(
        decisions,
        vec![
            Decision::CheckedMsc2912Support { supported: true },
            Decision::SentDeviceSigning { field: "org.matrix.msc2912.device_signing".into() },
            Decision::CheckedOwnKeys { matched: true },
            Decision::UploadedDeviceKeys { device_id: "DEV".into() },
            Decision::SignedOwnDevice { device_id: "DEV".into() },
        ]
    );
    assert_eq!(
        fake.paths(),
        [
            "versions 200",
            "v3/register 401",
            "v3/register 200",
            "v3/keys/query 200",
            "v3/keys/upload 200",
            "v3/keys/signatures/upload 200",
            "v3/keys/query 200"
        ]
    );
    // Both rounds carry the keys for the lowercased user ID; the second completes dummy UIA.
    for (_, body, _) in &fake.log[1..3] {
        let keys = &body.as_ref().unwrap()["org.matrix.msc2912.device_signing"];
        assert_eq!(keys["master_key"]["user_id"], USER);
    }
    assert_eq!(fake.log[2].1.as_ref().unwrap()["auth"], json!({"type": "m.login.dummy", "session": "s"}));
}

#[test]
fn a_server_without_the_flag_gets_the_keys_by_upload_without_uia() {
    let mut fake = Fake::new(false, Accepts::Nothing);
    let (decisions, outcome) = run(&mut fake, base());
    assert_eq!(outcome, Outcome::Success);
    assert!(!decisions.iter().any(|d| matches!(d, Decision::SentDeviceSigning { .. })));
    assert!(decisions.contains(&Decision::CheckedOwnKeys { matched: false }));
    assert!(decisions.contains(&Decision::ReuploadedKeys { with_password: false }));
    assert!(fake.log[1].1.as_ref().unwrap().get("org.matrix.msc2912.device_signing").is_none());
    assert!(fake.paths().contains(&"v3/keys/device_signing/upload 200".to_owned()));
}

#[test]
fn a_legacy_server_gets_password_uia() {
    let mut fake = Fake::new(false, Accepts::Nothing);
    fake.msc3967 = false;
    let (decisions, outcome) = run(&mut fake, base());
    assert_eq!(outcome, Outcome::Success);
    assert!(decisions.contains(&Decision::ReuploadedKeys { with_password: true }));
    let uploads: Vec<_> = fake.log.iter().filter(|(p, _, _)| p.ends_with("device_signing/upload")).collect();
    assert_eq!(uploads.iter().map(|u| u.2).collect::<Vec<_>>(), [401, 200]);
    assert_eq!(
        uploads[1].1.as_ref().unwrap()["auth"],
        json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": USER}, "password": "secret", "session": "u1"})
    );
}

#[test]
fn a_server_that_advertises_but_drops_the_keys_is_repaired() {
    let mut fake = Fake::new(true, Accepts::Nothing);
    let (decisions, outcome) = run(&mut fake, base());
    assert_eq!(outcome, Outcome::Success);
    let i = decisions.iter().position(|d| *d == Decision::CheckedOwnKeys { matched: false }).unwrap();
    assert_eq!(decisions[i + 1], Decision::ReuploadedKeys { with_password: false });
    assert_eq!(decisions[i + 2], Decision::CheckedOwnKeys { matched: true });
}

#[test]
fn stable_name_to_an_unstable_only_server_is_repaired() {
    let mut fake = Fake::new(true, Accepts::UnstableOnly);
    let config = RegistrarConfig { knobs: RegistrarKnobs::only(RegistrarKnob::StableFieldName), ..base() };
    let (decisions, outcome) = run(&mut fake, config);
    assert_eq!(outcome, Outcome::Success);
    assert!(decisions.contains(&Decision::SentDeviceSigning { field: "device_signing".into() }));
    assert!(decisions.contains(&Decision::ReuploadedKeys { with_password: false }));
}

#[test]
fn invalid_keys_rejected_by_register() {
    let mut fake = Fake::new(true, Accepts::Both);
    fake.reject_keys = Some((400, "M_INVALID_SIGNATURE"));
    let config =
        RegistrarConfig { knobs: RegistrarKnobs::only(RegistrarKnob::BadSelfSigningSignature), ..base() };
    let (_, outcome) = run(&mut fake, config);
    assert_eq!(outcome, Outcome::Rejected { status: 400, errcode: "M_INVALID_SIGNATURE".into() });
    assert_eq!(fake.paths(), ["versions 200", "v3/register 400"]);
}

#[test]
fn invalid_keys_stored_by_register_are_a_finding() {
    for knob in RegistrarKnob::INVALIDATING {
        let mut fake = Fake::new(true, Accepts::Both);
        let config = RegistrarConfig { knobs: RegistrarKnobs::only(knob), ..base() };
        let (decisions, outcome) = run(&mut fake, config);
        assert!(decisions.contains(&Decision::ServerAcceptedInvalidKeys { knob: knob.name().into() }));
        assert_eq!(
            outcome,
            Outcome::Error {
                reason: Abort::ServerAcceptedInvalidKeys {
                    knob: knob.name().into(),
                    request: "POST /_matrix/client/v3/register".into()
                }
            }
        );
    }
}

#[test]
fn invalid_keys_ignored_by_register_then_refused_by_upload() {
    let mut fake = Fake::new(true, Accepts::Nothing);
    fake.reject_upload = Some((400, "M_INVALID_PARAM"));
    let config = RegistrarConfig { knobs: RegistrarKnobs::only(RegistrarKnob::MasterWrongUsage), ..base() };
    let (decisions, outcome) = run(&mut fake, config);
    assert!(!decisions.iter().any(|d| matches!(d, Decision::ServerAcceptedInvalidKeys { .. })));
    assert_eq!(outcome, Outcome::Rejected { status: 400, errcode: "M_INVALID_PARAM".into() });
}

#[test]
fn invalid_keys_accepted_by_upload_are_a_finding() {
    let mut fake = Fake::new(false, Accepts::Nothing);
    let config = RegistrarConfig { knobs: RegistrarKnobs::only(RegistrarKnob::TwoKeysInMaster), ..base() };
    let (_, outcome) = run(&mut fake, config);
    assert_eq!(
        outcome,
        Outcome::Error {
            reason: Abort::ServerAcceptedInvalidKeys {
                knob: "two-keys-in-master".into(),
                request: "POST /_matrix/client/v3/keys/device_signing/upload".into()
            }
        }
    );
}

#[test]
fn skip_key_check_skips_only_the_post_registration_check() {
    let mut fake = Fake::new(true, Accepts::Both);
    let config = RegistrarConfig { knobs: RegistrarKnobs::only(RegistrarKnob::SkipKeyCheck), ..base() };
    let (decisions, outcome) = run(&mut fake, config);
    assert_eq!(outcome, Outcome::Success);
    assert!(!decisions.iter().any(|d| matches!(d, Decision::CheckedOwnKeys { .. })));
    assert_eq!(fake.paths().iter().filter(|p| p.contains("keys/query")).count(), 1, "only the final query");

    // Against a server that drops the keys, nothing repairs them and the end fails.
    let mut fake = Fake::new(true, Accepts::Nothing);
    let config = RegistrarConfig { knobs: RegistrarKnobs::only(RegistrarKnob::SkipKeyCheck), ..base() };
    let (_, outcome) = run(&mut fake, config);
    assert_eq!(outcome, Outcome::Error { reason: Abort::MasterKeyMissingOnHomeserver });
}

#[test]
fn registration_token_and_inhibit_login() {
    let mut fake = Fake::new(true, Accepts::Both);
    fake.registration_token = Some("letmein");
    let config =
        RegistrarConfig { registration_token: Some("letmein".into()), inhibit_login: true, ..base() };
    let (_, outcome) = run(&mut fake, config);
    assert_eq!(outcome, Outcome::Success);
    assert_eq!(
        fake.paths()[..5],
        ["versions 200", "v3/register 401", "v3/register 401", "v3/register 200", "v3/login 200"]
    );
    assert_eq!(fake.log[2].1.as_ref().unwrap()["auth"]["token"], "letmein");
    assert_eq!(fake.log[1].1.as_ref().unwrap()["inhibit_login"], true);

    // A wrong token is a refusal with the stage's errcode.
    let mut fake = Fake::new(true, Accepts::Both);
    fake.registration_token = Some("letmein");
    let (_, outcome) = run(&mut fake, RegistrarConfig { registration_token: Some("nope".into()), ..base() });
    assert_eq!(outcome, Outcome::Rejected { status: 401, errcode: "M_FORBIDDEN".into() });

    // No token configured: no flow the registrar can complete.
    let mut fake = Fake::new(true, Accepts::Both);
    fake.registration_token = Some("letmein");
    let (_, outcome) = run(&mut fake, base());
    assert!(matches!(outcome, Outcome::Error { reason: Abort::Homeserver { .. } }), "{outcome:?}");
}

#[test]
fn field_name_and_send_policy() {
    let mut fake = Fake::new(true, Accepts::Both);
    let (decisions, outcome) = run(&mut fake, RegistrarConfig { field_name: FieldName::Stable, ..base() });
    assert_eq!(outcome, Outcome::Success);
    assert!(decisions.contains(&Decision::SentDeviceSigning { field: "device_signing".into() }));

    let mut fake = Fake::new(false, Accepts::Both);
    let (decisions, _) = run(&mut fake, RegistrarConfig { send_keys: SendPolicy::Always, ..base() });
    assert!(decisions.contains(&Decision::CheckedOwnKeys { matched: true }));

    let mut fake = Fake::new(true, Accepts::Both);
    let (decisions, _) = run(&mut fake, RegistrarConfig { send_keys: SendPolicy::Never, ..base() });
    assert!(decisions.contains(&Decision::ReuploadedKeys { with_password: false }));
}

#[test]
fn each_knob_changes_only_its_part() {
    let clean = Registrar::new(base()).device_signing_body(USER);
    for knob in RegistrarKnob::INVALIDATING {
        let body = Registrar::new(RegistrarConfig { knobs: RegistrarKnobs::only(knob), ..base() })
            .device_signing_body(USER);
        let changed: Vec<&str> = ["master_key", "self_signing_key", "user_signing_key"]
            .into_iter()
            .filter(|f| body.get(*f) != clean.get(*f))
            .collect();
        let expected: &[&str] = match knob {
            RegistrarKnob::BadSelfSigningSignature => &["self_signing_key"],
            RegistrarKnob::BadUserSigningSignature => &["user_signing_key"],
            _ => &["master_key"],
        };
        assert_eq!(changed, expected, "{knob:?}");
        // Within the changed key, only the named member differs.
        let field = expected[0];
        let (a, b) = (&clean[field], &body[field]);
        let members: Vec<&String> =
            a.as_object().unwrap().keys().filter(|k| b.get(*k) != a.get(*k)).collect();
        let expected_member = match knob {
            RegistrarKnob::BadSelfSigningSignature | RegistrarKnob::BadUserSigningSignature => "signatures",
            RegistrarKnob::MasterWrongUsage => "usage",
            RegistrarKnob::MasterWrongUserId => "user_id",
            RegistrarKnob::TwoKeysInMaster => "keys",
            _ => "",
        };
        if knob == RegistrarKnob::MissingMasterKey {
            assert!(body.get("master_key").is_none());
        } else {
            assert_eq!(members, [expected_member], "{knob:?}");
        }
    }
    let two = Registrar::new(RegistrarConfig {
        knobs: RegistrarKnobs::only(RegistrarKnob::TwoKeysInMaster),
        ..base()
    })
    .device_signing_body(USER);
    assert_eq!(two["master_key"]["keys"].as_object().unwrap().len(), 2);
}

#[test]
fn knobs_deserialize_by_kebab_case_name() {
    let knobs: RegistrarKnobs =
        serde_json::from_value(json!({"bad-self-signing-signature": true, "skip-key-check": true})).unwrap();
    assert_eq!(knobs.enabled(), [RegistrarKnob::BadSelfSigningSignature, RegistrarKnob::SkipKeyCheck]);
    assert_eq!(knobs.invalidating(), Some(RegistrarKnob::BadSelfSigningSignature));
    assert!(serde_json::from_value::<RegistrarKnobs>(json!({"bad-signature": true})).is_err());
    for knob in RegistrarKnob::ALL {
        assert_eq!(serde_json::to_value(knob).unwrap(), json!(knob.name()));
        let set: RegistrarKnobs = serde_json::from_value(json!({ knob.name(): true })).unwrap();
        assert_eq!(set.enabled(), [knob]);
    }
    let config: RegistrarConfig = serde_json::from_value(json!({
        "homeserver": "http://hs", "username": "bob", "password": "pw", "seed": 1,
        "field_name": "stable", "send_keys": "always", "knobs": {"missing-master-key": true}
    }))
    .unwrap();
    assert_eq!(config.effective_field_name(), FieldName::Stable);
    assert_eq!(config.server_name, "test");
    assert_eq!(config.expected_user_id(), "@bob:test");
}

#[test]
fn same_seed_same_keys() {
    let a = Registrar::new(base()).device_signing_body(USER);
    let b = Registrar::new(base()).device_signing_body(USER);
    let c = Registrar::new(RegistrarConfig { seed: 8, ..base() }).device_signing_body(USER);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

fn outcome_for(answers: Vec<HttpResponse>) -> Outcome {
    let mut registrar = Registrar::new(base());
    let mut answers = answers.into_iter();
    let (_, outcome) = drive(&mut registrar, |_| {
        answers.next().unwrap_or_else(|| HttpResponse { status: 200, headers: vec![], body: b"[]".to_vec() })
    });
    outcome
}

fn homeserver_error(outcome: &Outcome) -> Option<(String, String)> {
    match outcome {
        Outcome::Error { reason: Abort::Homeserver { request, detail } } => {
            Some((request.clone(), detail.clone()))
        }
        _ => None,
    }
}

#[test]
fn odd_answers_end_in_precise_errors() {
    let versions = HttpResponse::json(200, &json!({"versions": ["v1.11"], "unstable_features": {}}));
    let text = |status| HttpResponse { status, headers: vec![], body: b"<html>oops</html>".to_vec() };

    let o = outcome_for(vec![HttpResponse::json(500, &json!({"errcode": "M_UNKNOWN"}))]);
    assert_eq!(homeserver_error(&o).unwrap().0, "GET /_matrix/client/versions");
    let o = outcome_for(vec![text(200)]);
    assert!(homeserver_error(&o).unwrap().1.contains("not a JSON object"), "{o:?}");
    let o = outcome_for(vec![HttpResponse::json(200, &json!({"unstable_features": {}}))]);
    assert!(homeserver_error(&o).unwrap().1.contains("versions"));

    // /register: a 500 is an error, a 4xx Matrix error is a refusal.
    let o = outcome_for(vec![versions.clone(), HttpResponse::json(500, &json!({"errcode": "M_UNKNOWN"}))]);
    assert_eq!(homeserver_error(&o).unwrap().0, "POST /_matrix/client/v3/register");
    let o =
        outcome_for(vec![versions.clone(), HttpResponse::json(400, &json!({"errcode": "M_USER_IN_USE"}))]);
    assert_eq!(o, Outcome::Rejected { status: 400, errcode: "M_USER_IN_USE".into() });
    let o = outcome_for(vec![versions.clone(), text(403)]);
    assert!(homeserver_error(&o).is_some(), "{o:?}");
    let o = outcome_for(vec![versions.clone(), HttpResponse::json(401, &json!({"flows": []}))]);
    assert!(homeserver_error(&o).unwrap().1.contains("session"));
    let o = outcome_for(vec![versions.clone(), HttpResponse::json(200, &json!({"access_token": "t"}))]);
    assert!(homeserver_error(&o).unwrap().1.contains("user_id"));
    let o = outcome_for(vec![
        versions.clone(),
        HttpResponse::json(200, &json!({"user_id": USER, "device_id": "D"})),
    ]);
    assert!(homeserver_error(&o).unwrap().1.contains("access_token"));

    // Transport failure.
    let mut registrar = Registrar::new(base());
    registrar.start(0);
    let step = registrar.on_http(1, Err(devices::TransportError("refused".into())));
    assert_eq!(step, Step::Done);
    assert!(matches!(registrar.take_events().last(), Some(DeviceEvent::Finished(Outcome::Error { .. }))));
}

#[test]
fn endless_uia_and_request_budget_are_bounded() {
    let challenge =
        HttpResponse::json(401, &json!({"session": "s", "flows": [{"stages": ["m.login.dummy"]}]}));
    let versions = HttpResponse::json(200, &json!({"versions": []}));
    let mut answers = vec![versions];
    answers.extend(std::iter::repeat_n(challenge, 50));
    let o = outcome_for(answers);
    assert!(matches!(o, Outcome::Error { reason: Abort::Timeout { .. } }), "{o:?}");

    let mut registrar = Registrar::new(RegistrarConfig { max_requests: 2, ..base() });
    let mut fake = Fake::new(true, Accepts::Both);
    let (_, outcome) = drive(&mut registrar, |r| fake.answer(r));
    assert!(matches!(outcome, Outcome::Error { reason: Abort::Timeout { .. } }), "{outcome:?}");
    assert_eq!(registrar.requests_made(), 2);
}

#[test]
fn deadline_cancel_and_stray_inputs() {
    let mut registrar = Registrar::new(RegistrarConfig { deadline_ms: 10, ..base() });
    registrar.start(0);
    let step = registrar.on_http(11, Ok(HttpResponse::json(200, &json!({"versions": []}))));
    assert_eq!(step, Step::Done);
    assert!(matches!(
        registrar.take_events().last(),
        Some(DeviceEvent::Finished(Outcome::Error { reason: Abort::Timeout { .. } }))
    ));

    let mut registrar = Registrar::new(base());
    registrar.start(0);
    assert_eq!(registrar.on_command(1, Command::Cancel), Step::Done);
    assert_eq!(registrar.take_events(), [DeviceEvent::Finished(Outcome::Cancelled)]);
    assert_eq!(registrar.on_http(2, Ok(HttpResponse::json(200, &json!({})))), Step::Done);
    assert!(registrar.take_events().is_empty(), "nothing after the end");

    let mut registrar = Registrar::new(base());
    registrar.start(0);
    assert_eq!(registrar.on_wake(1), Step::Done);
    assert!(matches!(registrar.take_events().last(), Some(DeviceEvent::Finished(Outcome::Error { .. }))));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the server answers, the registrar ends within its request budget,
    /// with exactly one Finished event, and never panics.
    #[test]
    fn any_answers_end_cleanly(answers in prop::collection::vec(
        (prop_oneof![Just(200u16), Just(400), Just(401), Just(500)], prop_oneof![
            Just(b"not json".to_vec()),
            Just(b"{}".to_vec()),
            Just(br#"{"versions":[],"unstable_features":{"org.matrix.msc2912":true}}"#.to_vec()),
            Just(br#"{"session":"s","flows":[{"stages":["m.login.dummy"]}]}"#.to_vec()),
            Just(br#"{"user_id":"@alice:test","access_token":"t","device_id":"D"}"#.to_vec()),
            Just(br#"{"errcode":"M_FORBIDDEN"}"#.to_vec()),
            Just(br#"{"failures":{"x":1}}"#.to_vec()),
            Just(br#"{"master_keys":{"@alice:test":{"keys":[]}}}"#.to_vec()),
        ]),
        0..40,
    )) {
        let mut registrar = Registrar::new(base());
        let mut answers = answers.into_iter();
        let mut step = registrar.start(0);
        let mut finished = 0;
        let mut steps = 0;
        while let Step::Http(_) = step {
            steps += 1;
            prop_assert!(steps <= 32);
            let (status, body) = answers.next().unwrap_or((500, Vec::new()));
            step = registrar.on_http(steps, Ok(HttpResponse { status, headers: vec![], body }));
            finished += registrar.take_events().iter().filter(|e| matches!(e, DeviceEvent::Finished(_))).count();
        }
        prop_assert_eq!(step, Step::Done);
        prop_assert_eq!(finished, 1);
    }
}
