//! `POST /keys/device_signing/upload` over HTTP (docs/protocol.md §7.4): the vector upload,
//! every negative case of `signing.json`, the validation table row by row in check
//! order, atomicity, the identical-keys shortcut, UIA (MSC3967 and legacy) and the
//! Synapse-quirks switch.

mod common;

use common::{Account, Answer, TestServer};
use mock_homeserver::Profile;
use protocol::base64;
use protocol::cross_signing::{CrossSigningKeys, KeyUsage};
use protocol::key_id::KeyId;
use protocol::keys::Ed25519Keypair;
use protocol::signing::sign_json;
use serde_json::{json, Value};

const UPLOAD: &str = "/_matrix/client/v3/keys/device_signing/upload";
const MASTER_ID: &str = "ed25519:nqOvzeuGWT/sRx3h7+MHoInYj3Uk2LD/unI9kDYcHwk";

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../protocol/tests/vectors/signing.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).expect("vector file is JSON")
}

/// The vector's fixture key pair for a role (`master`, `self_signing`, ...).
fn fixture(role: &str) -> Ed25519Keypair {
    let keys = vectors()["cross_signing_fixtures"]["keys"].as_array().cloned().unwrap();
    let key = keys.iter().find(|k| k["role"] == role).expect("role");
    Ed25519Keypair::from_seed(&base64::decode_array(key["seed_unpadded_base64"].as_str().unwrap()).unwrap())
}

/// Replaces the master's signature on `key` by a fresh one from the fixture master.
fn resign_with_master(key: &mut Value) {
    key.as_object_mut().unwrap().remove("signatures");
    sign_json(key, "@boris:test", &MASTER_ID.parse::<KeyId>().unwrap(), &fixture("master")).unwrap();
}

/// Three fresh key sets for an account, from a one-byte seed.
fn key_set(seed: u8) -> CrossSigningKeys {
    CrossSigningKeys::from_seeds(&[seed; 32], &[seed + 1; 32], &[seed + 2; 32])
}

async fn upload(ts: &TestServer, account: &Account, body: &Value) -> Answer {
    ts.post(UPLOAD, Some(&account.token), body).await
}

fn error(status: u16, errcode: &str, message: &str) -> Answer {
    (status, json!({ "errcode": errcode, "error": message }))
}

fn password_auth(account: &Account, password: &str, session: &Value) -> Value {
    json!({ "type": "m.login.password", "identifier": { "type": "m.id.user", "user": account.user_id },
            "password": password, "session": session })
}

fn stored(ts: &TestServer, user_id: &str) -> [Option<Value>; 3] {
    KeyUsage::ALL.map(|usage| ts.server.core().cross_signing_key(user_id, usage.as_str()))
}

/// Builds the body of one `device_signing_upload_negative_cases` entry from its
/// description, starting from the vector's valid upload.
fn mutated(description: &str, valid: &Value) -> Value {
    let mut body = valid.clone();
    let usk_signature = valid["user_signing_key"]["signatures"].clone();
    let ssk_signature = valid["self_signing_key"]["signatures"].clone();
    match description {
        "no master_key in body and none stored (body has only self_signing_key)" => {
            body = json!({ "self_signing_key": valid["self_signing_key"] });
        }
        "master_key.user_id differs from the uploader" => body["master_key"]["user_id"] = json!("@other:test"),
        "master_key.usage lacks \"master\"" => body["master_key"]["usage"] = json!(["self_signing"]),
        "master_key.keys has two entries" => body["master_key"]["keys"]["ed25519:second"] = json!("second"),
        "master_key key id uses curve25519: prefix" => {
            let value = valid["master_key"]["keys"][MASTER_ID].clone();
            body["master_key"]["keys"] = json!({ MASTER_ID.replace("ed25519:", "curve25519:"): value });
        }
        "master_key value is not base64" => body["master_key"]["keys"][MASTER_ID] = json!("not*base64!"),
        "master_key value decodes to 31 bytes" => {
            body["master_key"]["keys"][MASTER_ID] = json!(base64::encode([7u8; 31]));
        }
        "self_signing_key.user_id wrong" => body["self_signing_key"]["user_id"] = json!("@other:test"),
        "self_signing_key.usage is [\"user_signing\"]" => {
            body["self_signing_key"]["usage"] = json!(["user_signing"]);
        }
        "self_signing_key signature replaced by the user_signing_key's master signature" => {
            body["self_signing_key"]["signatures"] = usk_signature;
        }
        "self_signing_key without signatures" => {
            body["self_signing_key"].as_object_mut().unwrap().remove("signatures");
        }
        "user_signing_key.usage is [\"self_signing\"]" => {
            body["user_signing_key"]["usage"] = json!(["self_signing"]);
        }
        "user_signing_key signature replaced by the self_signing_key's master signature" => {
            body["user_signing_key"]["signatures"] = ssk_signature;
        }
        "bad self_signing signature AND bad user_signing usage (order check)" => {
            body["self_signing_key"]["signatures"] = usk_signature;
            body["user_signing_key"]["usage"] = json!(["self_signing"]);
        }
        "bad master user_id AND bad self_signing signature (order check)" => {
            body["master_key"]["user_id"] = json!("@other:test");
            body["self_signing_key"]["signatures"] = usk_signature;
        }
        "self_signing_key validly signed but its key value is undecodable (Synapse stores master+SSK before failing)" => {
            body["self_signing_key"]["keys"] = json!({ "ed25519:undecodable": "not*base64!" });
            resign_with_master(&mut body["self_signing_key"]);
        }
        "user_signing_key validly signed but its key value is undecodable" => {
            body["user_signing_key"]["keys"] = json!({ "ed25519:undecodable": "not*base64!" });
            resign_with_master(&mut body["user_signing_key"]);
        }
        "master_key.usage is the string \"master\" instead of an array" => {
            body["master_key"]["usage"] = json!("master");
        }
        "empty body {}" => body = json!({}),
        "body is a JSON array" => body = json!([valid]),
        other => panic!("unknown negative case {other:?}: teach `mutated` about it"),
    }
    body
}

#[tokio::test]
async fn vector_upload_is_accepted_without_uia_on_a_fresh_account() {
    let ts = TestServer::start(Profile::default()).await;
    let boris = ts.account("boris");
    assert_eq!(boris.user_id, "@boris:test");
    let body = vectors()["device_signing_upload_example"]["body"].clone();
    assert_eq!(upload(&ts, &boris, &body).await, (200, json!({})));
    let [master, ssk, usk] = stored(&ts, &boris.user_id);
    assert_eq!(
        (master, ssk, usk),
        (
            Some(body["master_key"].clone()),
            Some(body["self_signing_key"].clone()),
            Some(body["user_signing_key"].clone())
        )
    );
}

#[tokio::test]
async fn every_negative_vector_case_gives_its_answer_and_stores_nothing() {
    let vectors = vectors();
    let valid = &vectors["device_signing_upload_example"]["body"];
    let cases = vectors["device_signing_upload_negative_cases"]["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 21);
    for case in cases {
        let description = case["mutation_of_valid_upload"].as_str().unwrap();
        let mut expected = match case["expected_errcode"].as_str() {
            Some(errcode) => (
                case["expected_status"].as_u64().unwrap() as u16,
                json!({ "errcode": errcode, "error": case["expected_error"] }),
            ),
            None => (200, json!({})),
        };
        // Harness choices (§7.4): a string `usage` fails row a; an undecodable
        // user-signing key is accepted only with synapse_quirks (tested below).
        if description.starts_with("master_key.usage is the string") {
            expected = error(400, "M_INVALID_PARAM", "Invalid master key");
        }
        if description.starts_with("user_signing_key validly signed but") {
            expected = error(400, "M_INVALID_PARAM", "Invalid user_signing key");
        }
        let ts = TestServer::start(Profile::default()).await;
        let boris = ts.account("boris");
        let answer = if description == "body is not JSON" {
            let response = ts
                .http
                .post(ts.url(UPLOAD))
                .bearer_auth(&boris.token)
                .header("content-type", "application/json")
                .body("{not json")
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, serde_json::from_slice(&response.bytes().await.unwrap()).unwrap())
        } else {
            upload(&ts, &boris, &mutated(description, valid)).await
        };
        assert_eq!(answer, expected, "{description}");
        assert_eq!(stored(&ts, &boris.user_id), [None, None, None], "stored after: {description}");
    }
}

/// One body per row, each also breaking every later row, so the answer shows that
/// this row is checked first.
#[tokio::test]
async fn validation_table_rows_fire_in_check_order() {
    let keys = key_set(10);
    let wrong = key_set(40);
    let user = "@alice:test";
    let valid = keys.device_signing_body(user);
    let bad_sig = |usage: KeyUsage| wrong.key_json(user, usage);
    let undecodable = |usage: KeyUsage| {
        let mut key = json!({ "user_id": user, "usage": [usage.as_str()], "keys": { "ed25519:x": "!!" } });
        sign_json(&mut key, user, &keys.key_id(KeyUsage::Master), &keys.master).unwrap();
        key
    };
    let with = |field: &str, pointer: &str, value: Value| {
        let mut key = valid[field].clone();
        *key.pointer_mut(pointer).unwrap() = value;
        key
    };
    let rows: Vec<(&str, Value, Answer)> = vec![
        (
            "a",
            json!({ "master_key": with("master_key", "/user_id", json!("@bob:test")),
            "self_signing_key": bad_sig(KeyUsage::SelfSigning),
            "user_signing_key": with("user_signing_key", "/usage", json!(["master"])) }),
            error(400, "M_INVALID_PARAM", "Invalid master key"),
        ),
        (
            "b",
            json!({ "self_signing_key": with("self_signing_key", "/user_id", json!("@bob:test")) }),
            error(400, "M_MISSING_PARAM", "No master key available"),
        ),
        (
            "c",
            json!({ "master_key": { "user_id": user, "usage": ["master"], "keys": { "ed25519:m": "AAAA" } },
            "self_signing_key": with("self_signing_key", "/usage", json!([])) }),
            error(400, "M_INVALID_PARAM", "Invalid master key"),
        ),
        (
            "d",
            json!({ "master_key": valid["master_key"],
            "self_signing_key": { "user_id": user, "usage": "self_signing", "keys": {} },
            "user_signing_key": bad_sig(KeyUsage::UserSigning) }),
            error(400, "M_INVALID_PARAM", "Invalid self_signing key"),
        ),
        (
            "e",
            json!({ "master_key": valid["master_key"], "self_signing_key": bad_sig(KeyUsage::SelfSigning),
            "user_signing_key": with("user_signing_key", "/usage", json!(["self_signing"])) }),
            error(400, "M_INVALID_SIGNATURE", "Invalid signature on self_signing key"),
        ),
        (
            "f",
            json!({ "master_key": valid["master_key"], "self_signing_key": undecodable(KeyUsage::SelfSigning),
            "user_signing_key": with("user_signing_key", "/usage", json!("user_signing")) }),
            error(400, "M_INVALID_PARAM", "Invalid user_signing key"),
        ),
        (
            "g",
            json!({ "master_key": valid["master_key"], "self_signing_key": undecodable(KeyUsage::SelfSigning),
            "user_signing_key": bad_sig(KeyUsage::UserSigning) }),
            error(400, "M_INVALID_SIGNATURE", "Invalid signature on user_signing key"),
        ),
        (
            "h",
            json!({ "master_key": valid["master_key"], "self_signing_key": undecodable(KeyUsage::SelfSigning),
            "user_signing_key": undecodable(KeyUsage::UserSigning) }),
            error(400, "M_INVALID_PARAM", "Invalid self-signing key"),
        ),
    ];
    for (row, body, expected) in rows {
        let ts = TestServer::start(Profile::default()).await;
        let alice = ts.account("alice");
        assert_eq!(upload(&ts, &alice, &body).await, expected, "row {row}");
        assert_eq!(stored(&ts, user), [None, None, None], "row {row} stored something");
    }
}

#[tokio::test]
async fn other_keys_are_checked_against_the_stored_master() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let keys = key_set(1);
    let body = keys.device_signing_body(&alice.user_id);
    assert_eq!(upload(&ts, &alice, &json!({ "master_key": body["master_key"] })).await, (200, json!({})));

    // Signed by another master: row e, after UIA; then the right one is stored.
    let bad = json!({ "self_signing_key": key_set(50).key_json(&alice.user_id, KeyUsage::SelfSigning) });
    let (status, challenge) = upload(&ts, &alice, &bad).await;
    assert_eq!(status, 401);
    let mut with_auth = bad.clone();
    with_auth["auth"] = password_auth(&alice, &alice.password, &challenge["session"]);
    assert_eq!(
        upload(&ts, &alice, &with_auth).await,
        error(400, "M_INVALID_SIGNATURE", "Invalid signature on self_signing key")
    );
    assert_eq!(stored(&ts, &alice.user_id)[1], None);

    let good = json!({ "self_signing_key": body["self_signing_key"] });
    let (_, challenge) = upload(&ts, &alice, &good).await;
    let mut with_auth = good.clone();
    with_auth["auth"] = password_auth(&alice, &alice.password, &challenge["session"]);
    assert_eq!(upload(&ts, &alice, &with_auth).await, (200, json!({})));
    assert_eq!(stored(&ts, &alice.user_id)[1], Some(body["self_signing_key"].clone()));
}

#[tokio::test]
async fn a_broken_stored_master_key_is_a_500() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let broken = json!({ "user_id": alice.user_id, "usage": ["master"], "keys": { "ed25519:m": "AAAA" } });
    assert!(ts.server.core().set_cross_signing_key(&alice.user_id, "master", Some(broken)));
    let body = json!({ "self_signing_key": key_set(1).key_json(&alice.user_id, KeyUsage::SelfSigning) });
    let (_, challenge) = upload(&ts, &alice, &body).await;
    let mut with_auth = body.clone();
    with_auth["auth"] = password_auth(&alice, &alice.password, &challenge["session"]);
    assert_eq!(upload(&ts, &alice, &with_auth).await, error(500, "M_UNKNOWN", "Invalid master key"));
}

#[tokio::test]
async fn identical_reupload_needs_no_uia_and_changed_keys_do() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let first = key_set(1).device_signing_body(&alice.user_id);
    assert_eq!(upload(&ts, &alice, &first).await, (200, json!({})));
    assert_eq!(upload(&ts, &alice, &first).await, (200, json!({})), "identical");
    assert_eq!(upload(&ts, &alice, &json!({ "master_key": first["master_key"] })).await, (200, json!({})));
    assert_eq!(upload(&ts, &alice, &json!({})).await, (200, json!({})), "empty body");

    let second = key_set(20).device_signing_body(&alice.user_id);
    let (status, challenge) = upload(&ts, &alice, &second).await;
    assert_eq!(status, 401);
    assert_eq!(challenge["flows"], json!([{ "stages": ["m.login.password"] }]));
    assert_eq!(challenge["params"], json!({}));
    let session = challenge["session"].clone();
    assert!(session.is_string());

    let mut wrong = second.clone();
    wrong["auth"] = password_auth(&alice, "not-the-password", &session);
    let (status, answer) = upload(&ts, &alice, &wrong).await;
    assert_eq!(
        (status, &answer["errcode"], &answer["error"]),
        (401, &json!("M_FORBIDDEN"), &json!("Invalid username or password"))
    );
    assert_eq!(answer["session"], session);
    assert_eq!(stored(&ts, &alice.user_id)[0], Some(first["master_key"].clone()), "not yet replaced");

    let mut right = second.clone();
    right["auth"] = password_auth(&alice, &alice.password, &session);
    assert_eq!(upload(&ts, &alice, &right).await, (200, json!({})));
    assert_eq!(stored(&ts, &alice.user_id)[0], Some(second["master_key"].clone()));
}

#[tokio::test]
async fn a_failed_replacement_leaves_the_stored_keys_alone() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let first = key_set(1).device_signing_body(&alice.user_id);
    assert_eq!(upload(&ts, &alice, &first).await, (200, json!({})));
    let mut second = key_set(20).device_signing_body(&alice.user_id);
    second["self_signing_key"]["keys"] = json!({ "ed25519:x": "!!" });
    sign_json(
        &mut second["self_signing_key"],
        &alice.user_id,
        &key_set(20).key_id(KeyUsage::Master),
        &key_set(20).master,
    )
    .unwrap();
    let (_, challenge) = upload(&ts, &alice, &second).await;
    second["auth"] = password_auth(&alice, &alice.password, &challenge["session"]);
    assert_eq!(upload(&ts, &alice, &second).await, error(400, "M_INVALID_PARAM", "Invalid self-signing key"));
    let expected = [&first["master_key"], &first["self_signing_key"], &first["user_signing_key"]];
    assert_eq!(stored(&ts, &alice.user_id), expected.map(|v| Some(v.clone())), "row h is atomic");
}

#[tokio::test]
async fn legacy_profile_demands_password_uia_for_the_first_upload() {
    let ts = TestServer::start(Profile::legacy()).await;
    let alice = ts.account("alice");
    let mut body = key_set(1).device_signing_body(&alice.user_id);
    let (status, challenge) = upload(&ts, &alice, &body).await;
    assert_eq!(status, 401);
    assert_eq!(challenge["flows"], json!([{ "stages": ["m.login.password"] }]));
    assert_eq!(stored(&ts, &alice.user_id), [None, None, None]);
    body["auth"] = password_auth(&alice, &alice.password, &challenge["session"]);
    assert_eq!(upload(&ts, &alice, &body).await, (200, json!({})));
    assert!(stored(&ts, &alice.user_id).iter().all(Option::is_some));
}

#[tokio::test]
async fn synapse_quirks_accept_an_undecodable_user_signing_key() {
    let keys = key_set(1);
    for (quirks, expected) in
        [(false, error(400, "M_INVALID_PARAM", "Invalid user_signing key")), (true, (200, json!({})))]
    {
        let profile = Profile::default().with_overrides(&json!({ "synapse_quirks": quirks })).unwrap();
        let ts = TestServer::start(profile).await;
        let alice = ts.account("alice");
        let mut body = keys.device_signing_body(&alice.user_id);
        body["user_signing_key"]["keys"] = json!({ "ed25519:x": "!!" });
        body["user_signing_key"].as_object_mut().unwrap().remove("signatures");
        sign_json(
            &mut body["user_signing_key"],
            &alice.user_id,
            &keys.key_id(KeyUsage::Master),
            &keys.master,
        )
        .unwrap();
        assert_eq!(upload(&ts, &alice, &body).await, expected, "synapse_quirks = {quirks}");
        let usk = stored(&ts, &alice.user_id)[2].clone();
        assert_eq!(usk, quirks.then(|| body["user_signing_key"].clone()));
    }
}

#[tokio::test]
async fn an_upload_marks_the_device_list_changed() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let other = ts.another_device(&alice);
    let (_, body) = ts.get("/_matrix/client/v3/sync?timeout=0", Some(&other.token)).await;
    let since = body["next_batch"].as_str().unwrap().to_owned();
    assert_eq!(upload(&ts, &alice, &key_set(1).device_signing_body(&alice.user_id)).await.0, 200);
    let path = format!("/_matrix/client/v3/sync?timeout=0&since={since}");
    let (_, body) = ts.get(&path, Some(&other.token)).await;
    assert_eq!(body["device_lists"]["changed"], json!([alice.user_id]));
}

#[tokio::test]
async fn bad_bodies_and_tokens() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    assert_eq!(ts.post(UPLOAD, None, &json!({})).await.0, 401);
    assert_eq!(
        upload(&ts, &alice, &json!("text")).await,
        error(400, "M_BAD_JSON", "Content must be a JSON object.")
    );
    // `null` fields count as absent: nothing to store, nothing stored.
    let body = json!({ "master_key": null, "self_signing_key": null });
    assert_eq!(upload(&ts, &alice, &body).await, (200, json!({})));
    assert_eq!(stored(&ts, &alice.user_id), [None, None, None]);
}
