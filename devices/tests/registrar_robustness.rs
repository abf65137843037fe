//! The registrar's knobs, and its robustness: odd answers, bounded waits, stray
//! inputs, and arbitrary answers (property test), all without sockets.

mod registrar_fake;

use devices::registrar::{FieldName, Registrar, RegistrarConfig, RegistrarKnob, RegistrarKnobs};
use devices::{Abort, Command, DeviceEvent, HttpResponse, Outcome, Role, Step};
use proptest::prelude::*;
use registrar_fake::{base, drive, Accepts, Fake, USER};
use serde_json::json;

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
