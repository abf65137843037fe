//! The registrar's state machine fed with canned answers from a small scripted server
//! (no sockets): the decisions it takes and the requests it makes for each server
//! behaviour.

mod registrar_fake;

use devices::registrar::{FieldName, RegistrarConfig, RegistrarKnob, RegistrarKnobs, SendPolicy};
use devices::{Abort, Decision, Outcome};
use registrar_fake::{base, run, Accepts, Fake, USER};
use serde_json::json;

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
