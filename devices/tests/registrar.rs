//! The registrar against the mock homeserver over real HTTP, driven by `shell::run`:
//! one test per server profile, one per invalid-key knob, and the extras (inhibited
//! login, registration token). Every success is confirmed by a `/keys/query` the test
//! makes itself and verifies with the protocol crate.

use std::time::Duration;

use devices::registrar::{Registrar, RegistrarConfig, RegistrarKnob, RegistrarKnobs};
use devices::shell::{self, HttpExecutor};
use devices::{Decision, DeviceEvent, HttpRequest, Outcome, RoleKind};
use mock_homeserver::{JournalEntry, MockHomeserver, Profile};
use protocol::cross_signing::{check_shape, verify_signed_by, CrossSigningKey, KeyUsage};
use protocol::device_keys::DeviceKeys;
use protocol::key_id::KeyId;
use protocol::signing::verify_json;
use serde_json::{json, Value};

const REGISTER: &str = "/_matrix/client/v3/register";
const DEVICE_SIGNING: &str = "/_matrix/client/v3/keys/device_signing/upload";

async fn start(profile: Profile) -> MockHomeserver {
    MockHomeserver::builder().profile(profile).seed(3).start().await.expect("the mock homeserver starts")
}

fn config(server: &MockHomeserver, username: &str) -> RegistrarConfig {
    RegistrarConfig::new(server.base_url(), username, "correct horse", 11)
}

struct Run {
    registrar: Registrar,
    decisions: Vec<Decision>,
    outcome: Outcome,
}

async fn run(config: RegistrarConfig) -> Run {
    let mut registrar = Registrar::new(config);
    let (_commands_tx, mut commands) = tokio::sync::mpsc::channel(1);
    let mut decisions = Vec::new();
    let executor = HttpExecutor::new(Duration::from_secs(5));
    let outcome = shell::run(
        RoleKind::Registrar,
        &mut registrar,
        &executor,
        &mut commands,
        Duration::from_secs(20),
        None,
        |event| {
            if let DeviceEvent::Decision(d) = event {
                decisions.push(d.clone());
            }
        },
    )
    .await;
    Run { registrar, decisions, outcome }
}

async fn post(url: String, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = HttpRequest::json("POST", url, body);
    if let Some(token) = token {
        request = request.bearer(token);
    }
    let response = HttpExecutor::default().execute(&request).await.expect("the request is answered");
    (response.status, response.json_body().unwrap_or(Value::Null))
}

/// The test's own `/keys/query` as the registered user, verified with the protocol
/// crate: master, self-signing and user-signing keys are the registrar's, the last two
/// signed by the master; the device is self-signed and signed by the self-signing key.
async fn assert_keys_verify(server: &MockHomeserver, run: &Run) {
    let registrar = &run.registrar;
    let user = registrar.user_id().expect("registered");
    let device_id = registrar.device_id().expect("logged in");
    let url = format!("{}/_matrix/client/v3/keys/query", server.base_url());
    let (status, answer) = post(url, registrar.access_token(), &json!({"device_keys": {user: []}})).await;
    assert_eq!(status, 200, "{answer}");
    let keys = registrar.cross_signing_keys();

    let master = &answer["master_keys"][user];
    assert_eq!(check_shape(master, user, KeyUsage::Master), Ok(()), "{master}");
    let parsed = CrossSigningKey::parse(master).unwrap();
    assert_eq!(parsed.public_key, keys.public_key(KeyUsage::Master));
    for (map, usage) in
        [("self_signing_keys", KeyUsage::SelfSigning), ("user_signing_keys", KeyUsage::UserSigning)]
    {
        let key = &answer[map][user];
        assert_eq!(check_shape(key, user, usage), Ok(()), "{key}");
        assert_eq!(CrossSigningKey::parse(key).unwrap().public_key, keys.public_key(usage));
        assert_eq!(verify_signed_by(key, user, &parsed.key_id, &parsed.public_key), Ok(()));
    }

    let device = &answer["device_keys"][user][device_id];
    let parsed_device = DeviceKeys::parse(device).expect("device keys parse");
    assert_eq!(parsed_device.check_identity(user, device_id), Ok(()));
    assert_eq!(parsed_device.verify_self_signature(), Ok(()));
    assert_eq!(parsed_device.ed25519, registrar.device_key().public_key());
    let ssk = keys.public_key(KeyUsage::SelfSigning);
    assert_eq!(verify_json(device, user, &keys.key_id(KeyUsage::SelfSigning), &ssk), Ok(()));
    // docs/protocol.md §9.3 step 3: the master key signed by the device.
    let device_key_id = KeyId::ed25519_device(device_id);
    assert_eq!(verify_json(master, user, &device_key_id, &registrar.device_key().public_key()), Ok(()));
}

fn calls<'a>(journal: &'a [JournalEntry], path: &str) -> Vec<&'a JournalEntry> {
    journal.iter().filter(|e| e.path == path).collect()
}

fn statuses(entries: &[&JournalEntry]) -> Vec<u16> {
    entries.iter().map(|e| e.status).collect()
}

#[tokio::test]
async fn msc2912_keys_in_register_and_no_upload() {
    let server = start(Profile::msc2912()).await;
    let run = run(config(&server, "Alice")).await;
    assert_eq!(run.outcome, Outcome::Success, "{:?}", run.decisions);
    assert_eq!(run.registrar.user_id(), Some("@alice:test"));
    assert!(run.decisions.contains(&Decision::CheckedMsc2912Support { supported: true }));
    assert!(run.decisions.contains(&Decision::CheckedOwnKeys { matched: true }));
    assert!(!run.decisions.iter().any(|d| matches!(d, Decision::ReuploadedKeys { .. })));
    let journal = server.journal();
    assert!(calls(&journal, DEVICE_SIGNING).is_empty(), "no /keys/device_signing/upload at all");
    let registers = calls(&journal, REGISTER);
    assert_eq!(statuses(&registers), [401, 200]);
    for entry in registers {
        let body = entry.request.json().unwrap();
        assert_eq!(body["org.matrix.msc2912.device_signing"]["master_key"]["user_id"], "@alice:test");
    }
    assert_keys_verify(&server, &run).await;
}

#[tokio::test]
async fn msc2912_unstable_uses_the_unstable_name() {
    let server = start(Profile::msc2912_unstable()).await;
    let run = run(config(&server, "bob")).await;
    assert_eq!(run.outcome, Outcome::Success, "{:?}", run.decisions);
    assert!(run
        .decisions
        .contains(&Decision::SentDeviceSigning { field: "org.matrix.msc2912.device_signing".into() }));
    let journal = server.journal();
    assert!(calls(&journal, DEVICE_SIGNING).is_empty());
    for entry in calls(&journal, REGISTER) {
        let body = entry.request.json().unwrap();
        assert!(body.get("org.matrix.msc2912.device_signing").is_some());
        assert!(body.get("device_signing").is_none());
    }
    assert_keys_verify(&server, &run).await;
}

#[tokio::test]
async fn stable_name_to_an_unstable_only_server_is_detected_and_repaired() {
    let server = start(Profile::msc2912_unstable()).await;
    let knobs = RegistrarKnobs::only(RegistrarKnob::StableFieldName);
    let run = run(RegistrarConfig { knobs, ..config(&server, "carol") }).await;
    assert_eq!(run.outcome, Outcome::Success, "{:?}", run.decisions);
    assert!(run.decisions.contains(&Decision::SentDeviceSigning { field: "device_signing".into() }));
    assert!(run.decisions.contains(&Decision::CheckedOwnKeys { matched: false }));
    assert!(run.decisions.contains(&Decision::ReuploadedKeys { with_password: false }));
    assert_eq!(statuses(&calls(&server.journal(), DEVICE_SIGNING)), [200]);
    assert_keys_verify(&server, &run).await;
}

#[tokio::test]
async fn default_profile_ignores_the_field_and_the_registrar_reuploads_without_uia() {
    let server = start(Profile::default_profile()).await;
    let run = run(config(&server, "dave")).await;
    assert_eq!(run.outcome, Outcome::Success, "{:?}", run.decisions);
    assert!(run.decisions.contains(&Decision::CheckedMsc2912Support { supported: false }));
    assert!(run.decisions.contains(&Decision::CheckedOwnKeys { matched: false }));
    assert!(run.decisions.contains(&Decision::ReuploadedKeys { with_password: false }));
    assert!(run.decisions.contains(&Decision::CheckedOwnKeys { matched: true }));
    assert_eq!(statuses(&calls(&server.journal(), DEVICE_SIGNING)), [200]);
    assert_keys_verify(&server, &run).await;
}

#[tokio::test]
async fn legacy_profile_reupload_needs_password_uia() {
    let server = start(Profile::legacy()).await;
    let run = run(config(&server, "erin")).await;
    assert_eq!(run.outcome, Outcome::Success, "{:?}", run.decisions);
    assert!(run.decisions.contains(&Decision::ReuploadedKeys { with_password: true }));
    let journal = server.journal();
    let uploads = calls(&journal, DEVICE_SIGNING);
    assert_eq!(statuses(&uploads), [401, 200]);
    let challenge = uploads[0].response.json().unwrap();
    assert_eq!(challenge["flows"], json!([{"stages": ["m.login.password"]}]));
    let auth = &uploads[1].request.json().unwrap()["auth"];
    assert_eq!(auth["type"], "m.login.password");
    assert_eq!(auth["identifier"], json!({"type": "m.id.user", "user": "@erin:test"}));
    assert_eq!(auth["session"], challenge["session"]);
    assert_keys_verify(&server, &run).await;
}

#[tokio::test]
async fn advertised_but_dropped_keys_are_detected_and_repaired() {
    let profile = Profile::msc2912().with_overrides(&json!({"msc2912": "ignored"})).unwrap();
    let server = start(profile).await;
    let run = run(config(&server, "frank")).await;
    assert_eq!(run.outcome, Outcome::Success, "{:?}", run.decisions);
    let i = run.decisions.iter().position(|d| *d == Decision::CheckedOwnKeys { matched: false }).unwrap();
    assert_eq!(run.decisions[i + 1], Decision::ReuploadedKeys { with_password: false });
    assert_eq!(run.decisions[i + 2], Decision::CheckedOwnKeys { matched: true });
    assert_eq!(statuses(&calls(&server.journal(), DEVICE_SIGNING)), [200]);
    assert_keys_verify(&server, &run).await;
}

#[tokio::test]
async fn inhibit_login_logs_in_with_the_password() {
    let server = start(Profile::msc2912()).await;
    let run = run(RegistrarConfig { inhibit_login: true, ..config(&server, "grace") }).await;
    assert_eq!(run.outcome, Outcome::Success, "{:?}", run.decisions);
    let journal = server.journal();
    assert_eq!(statuses(&calls(&journal, "/_matrix/client/v3/login")), [200]);
    let registered = calls(&journal, REGISTER).last().unwrap().response.json().unwrap().clone();
    assert!(registered.get("access_token").is_none(), "{registered}");
    assert_keys_verify(&server, &run).await;
}

#[tokio::test]
async fn registration_token_stage() {
    let profile = Profile::msc2912().with_overrides(&json!({"registration_token": "letmein"})).unwrap();
    let server = start(profile).await;
    let token = Some("letmein".to_owned());
    let run = run(RegistrarConfig { registration_token: token, ..config(&server, "heidi") }).await;
    assert_eq!(run.outcome, Outcome::Success, "{:?}", run.decisions);
    let journal = server.journal();
    let stages: Vec<Value> =
        calls(&journal, REGISTER).iter().map(|e| e.request.json().unwrap()["auth"]["type"].clone()).collect();
    assert!(stages.contains(&json!("m.login.registration_token")), "{stages:?}");
    assert_keys_verify(&server, &run).await;
}

/// Registers `username` with no keys at all, by hand; returns user ID and token.
async fn register_bare(server: &MockHomeserver, username: &str) -> (String, String) {
    let url = format!("{}{REGISTER}", server.base_url());
    let body = json!({"username": username, "password": "pw"});
    let (status, challenge) = post(url.clone(), None, &body).await;
    assert_eq!(status, 401, "{challenge}");
    let mut body = body;
    body["auth"] = json!({"type": "m.login.dummy", "session": challenge["session"]});
    let (status, answer) = post(url, None, &body).await;
    assert_eq!(status, 200, "{answer}");
    (answer["user_id"].as_str().unwrap().to_owned(), answer["access_token"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn invalid_key_sets_fail_register_like_the_upload_and_leave_the_username_free() {
    let server = start(Profile::msc2912()).await;
    for (i, knob) in RegistrarKnob::INVALIDATING.into_iter().enumerate() {
        let username = format!("knob{i}");
        let config = RegistrarConfig { knobs: RegistrarKnobs::only(knob), ..config(&server, &username) };
        let invalid = Registrar::new(config.clone());
        let run = run(config).await;
        let Outcome::Rejected { status, errcode } = run.outcome.clone() else {
            panic!("{knob:?}: expected a refusal, got {:?}", run.outcome);
        };
        assert!(!run.decisions.iter().any(|d| matches!(d, Decision::ServerAcceptedInvalidKeys { .. })));
        let journal = server.journal();
        let refused = calls(&journal, REGISTER).last().unwrap().response.json().unwrap().clone();

        // The same invalid set, made for another account without keys, sent to the upload.
        let (other, token) = register_bare(&server, &format!("bare{i}")).await;
        let url = format!("{}{DEVICE_SIGNING}", server.base_url());
        let (upload_status, upload_error) =
            post(url, Some(&token), &invalid.device_signing_body(&other)).await;
        assert_eq!(
            (status, errcode.as_str()),
            (upload_status, upload_error["errcode"].as_str().unwrap()),
            "{knob:?}"
        );
        assert_eq!(refused["error"], upload_error["error"], "{knob:?}: the same error text");

        // Nothing was created: a clean registrar with the same username succeeds.
        let clean = run_clean(&server, &username).await;
        assert_eq!(clean.outcome, Outcome::Success, "{knob:?}: {:?}", clean.decisions);
        assert_keys_verify(&server, &clean).await;
    }
}

async fn run_clean(server: &MockHomeserver, username: &str) -> Run {
    run(RegistrarConfig { seed: 99, ..config(server, username) }).await
}
