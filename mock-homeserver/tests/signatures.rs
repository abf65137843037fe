//! `POST /keys/signatures/upload` over HTTP (docs/protocol.md §7.5): the vector signatures
//! of `@boris:test`, each Synapse failure entry, the whole-request 400, the skip rule,
//! visibility of user-signing signatures and isolation between users.

mod common;

use common::{Account, Answer, TestServer};
use mock_homeserver::Profile;
use protocol::cross_signing::{CrossSigningKeys, KeyUsage};
use protocol::device_keys::DeviceKeys;
use protocol::keys::{Curve25519PublicKey, Ed25519Keypair};
use serde_json::{json, Value};

const SIGNATURES: &str = "/_matrix/client/v3/keys/signatures/upload";
const BORIS: &str = "@boris:test";
const MASTER: &str = "nqOvzeuGWT/sRx3h7+MHoInYj3Uk2LD/unI9kDYcHwk";
const SSK_ID: &str = "ed25519:EmkqvokUn8p+vQAGZitOk4PWjp7Ukp3txV2TbMPEiBQ";

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../protocol/tests/vectors/signing.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).expect("vector file is JSON")
}

/// A vector of `cross_signing_signatures`: the object with its signature added.
fn signed(name: &str) -> Value {
    let all = vectors()["cross_signing_signatures"]["signatures"].as_array().cloned().unwrap();
    let entry = all.into_iter().find(|s| s["name"] == name).expect("signature vector");
    let mut object = entry["object"].clone();
    let (entity, key_id) =
        (entry["signature_entity"].as_str().unwrap(), entry["signature_key_id"].as_str().unwrap());
    object["signatures"] = json!({ entity: { key_id: entry["signature"] } });
    object
}

/// The device xyz keys, self-signed, and the same object signed by the self-signing key.
fn device_xyz() -> Value {
    signed("device_keys of xyz self-signed")
}

fn device_xyz_by_ssk() -> Value {
    signed("device_keys of xyz signed by self-signing key")
}

/// `@boris:test` on device `xyz` with the vector device keys and cross-signing keys.
async fn boris(ts: &TestServer) -> Account {
    let user_id = ts.server.core().create_account("boris", "pw").unwrap();
    let (device_id, token) = ts.server.core().login_account(&user_id, Some("xyz")).unwrap();
    let boris = Account { user_id, device_id, token, password: "pw".to_owned() };
    let keys = json!({ "device_keys": device_xyz() });
    assert_eq!(ts.post("/_matrix/client/v3/keys/upload", Some(&boris.token), &keys).await.0, 200);
    let body = vectors()["device_signing_upload_example"]["body"].clone();
    let answer = ts.post("/_matrix/client/v3/keys/device_signing/upload", Some(&boris.token), &body).await;
    assert_eq!(answer, (200, json!({})));
    boris
}

/// An account with self-signed device keys and, if `keys` is given, cross-signing keys.
async fn account_with_keys(ts: &TestServer, localpart: &str, keys: Option<&CrossSigningKeys>) -> Account {
    let account = ts.account(localpart);
    let ed = Ed25519Keypair::from_seed(&[localpart.len() as u8; 32]);
    let device = DeviceKeys::signed_json(
        &account.user_id,
        &account.device_id,
        &["m.olm.v1.curve25519-aes-sha2"],
        &ed,
        &Curve25519PublicKey::from_bytes([9; 32]),
    );
    let body = json!({ "device_keys": device });
    assert_eq!(ts.post("/_matrix/client/v3/keys/upload", Some(&account.token), &body).await.0, 200);
    if let Some(keys) = keys {
        let body = keys.device_signing_body(&account.user_id);
        let answer = ts.post("/_matrix/client/v3/keys/device_signing/upload", Some(&account.token), &body);
        assert_eq!(answer.await.0, 200);
    }
    account
}

async fn sign(ts: &TestServer, account: &Account, body: &Value) -> Answer {
    ts.post(SIGNATURES, Some(&account.token), body).await
}

fn failures(value: Value) -> Answer {
    (200, json!({ "failures": value }))
}

fn entry(status: u16, errcode: &str, message: &str) -> Value {
    json!({ "status": status, "errcode": errcode, "message": message })
}

fn invalid_signature() -> Value {
    entry(400, "M_INVALID_SIGNATURE", "400: Invalid signature")
}

async fn query(ts: &TestServer, account: &Account, user_id: &str) -> Value {
    let body = json!({ "device_keys": { user_id: [] } });
    let (status, answer) = ts.post("/_matrix/client/v3/keys/query", Some(&account.token), &body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

#[tokio::test]
async fn vector_signatures_are_accepted_and_merged() {
    let ts = TestServer::start(Profile::default()).await;
    let boris = boris(&ts).await;
    let body =
        json!({ BORIS: { "xyz": device_xyz_by_ssk(), MASTER: signed("master key signed by device xyz") } });
    assert_eq!(sign(&ts, &boris, &body).await, failures(json!({})));

    let stored = ts.server.core().device_keys(BORIS, "xyz").unwrap();
    let sigs = &stored["signatures"][BORIS];
    assert_eq!(sigs["ed25519:xyz"], device_xyz()["signatures"][BORIS]["ed25519:xyz"], "self-signature kept");
    assert_eq!(sigs[SSK_ID], device_xyz_by_ssk()["signatures"][BORIS][SSK_ID]);

    let answer = query(&ts, &boris, BORIS).await;
    assert_eq!(answer["device_keys"][BORIS]["xyz"]["signatures"][BORIS][SSK_ID], sigs[SSK_ID]);
    let master_signature =
        signed("master key signed by device xyz")["signatures"][BORIS]["ed25519:xyz"].clone();
    assert_eq!(answer["master_keys"][BORIS]["signatures"][BORIS]["ed25519:xyz"], master_signature);

    // The master key with its new signature still counts as the uploaded one.
    let again = vectors()["device_signing_upload_example"]["body"].clone();
    let answer = ts.post("/_matrix/client/v3/keys/device_signing/upload", Some(&boris.token), &again).await;
    assert_eq!(answer, (200, json!({})), "no UIA for the same keys");
    let master = ts.server.core().cross_signing_key(BORIS, "master").unwrap();
    assert_eq!(master["signatures"][BORIS]["ed25519:xyz"], master_signature);
}

#[tokio::test]
async fn own_entries_fail_with_synapse_entries() {
    let ts = TestServer::start(Profile::default()).await;
    let boris = boris(&ts).await;
    let mut wrong_signature = device_xyz_by_ssk();
    wrong_signature["signatures"][BORIS][SSK_ID] =
        signed("device_keys of xyz self-signed")["signatures"][BORIS]["ed25519:xyz"].clone();
    let mut no_ssk_signature = device_xyz();
    no_ssk_signature["signatures"] = json!({ "@other:test": { SSK_ID: "x" } });
    let mut changed = device_xyz_by_ssk();
    changed["algorithms"] = json!(["m.megolm.v1.aes-sha2"]);
    let mut unknown = device_xyz_by_ssk();
    unknown["device_id"] = json!("NOPE");
    let mut master_by_unknown_device = signed("master key signed by device xyz");
    master_by_unknown_device["signatures"] = json!({ BORIS: { "ed25519:NOPE": "AAAA" } });

    for (object, key_id, expected) in [
        (wrong_signature, "xyz", invalid_signature()),
        (no_ssk_signature, "xyz", invalid_signature()),
        (changed, "xyz", entry(400, "M_UNKNOWN", "400: Key does not match")),
        (unknown, "NOPE", entry(404, "M_NOT_FOUND", "404: Unknown device")),
        (master_by_unknown_device, MASTER, invalid_signature()),
    ] {
        let answer = sign(&ts, &boris, &json!({ BORIS: { key_id: object } })).await;
        assert_eq!(answer, failures(json!({ BORIS: { key_id: expected } })));
    }
    let stored = ts.server.core().device_keys(BORIS, "xyz").unwrap();
    assert_eq!(stored, device_xyz(), "nothing merged");
    let master = ts.server.core().cross_signing_key(BORIS, "master").unwrap();
    assert_eq!(master, vectors()["device_signing_upload_example"]["body"]["master_key"]);
}

#[tokio::test]
async fn missing_cross_signing_keys_fail_every_entry() {
    let ts = TestServer::start(Profile::default()).await;
    let nossk = account_with_keys(&ts, "nossk", None).await;
    let body = json!({ nossk.user_id.clone(): { nossk.device_id.clone(): {}, "other": {} } });
    let expected = entry(404, "M_NOT_FOUND", "404: No self_signing key found for @nossk:test");
    let by_device = json!({ nossk.device_id.clone(): expected, "other": expected });
    assert_eq!(sign(&ts, &nossk, &body).await, failures(json!({ "@nossk:test": by_device })));

    // Signing someone else without a user-signing key, then someone without a master key.
    let other = account_with_keys(&ts, "other", None).await;
    let body = json!({ "@other:test": { "abc": {} } });
    let expected = entry(404, "M_NOT_FOUND", "404: No user_signing key found for @nossk:test");
    assert_eq!(sign(&ts, &nossk, &body).await, failures(json!({ "@other:test": { "abc": expected } })));

    let signer =
        account_with_keys(&ts, "signer", Some(&CrossSigningKeys::from_seeds(&[1; 32], &[2; 32], &[3; 32])))
            .await;
    let expected = entry(404, "M_NOT_FOUND", "404: No master key found for @other:test");
    assert_eq!(sign(&ts, &signer, &body).await, failures(json!({ "@other:test": { "abc": expected } })));
    assert_eq!(ts.server.core().cross_signing_key(&other.user_id, "master"), None);
}

#[tokio::test]
async fn a_non_object_entry_fails_the_whole_request() {
    let ts = TestServer::start(Profile::default()).await;
    let boris = boris(&ts).await;
    let bad = error_answer();
    for body in [
        json!({ BORIS: { "xyz": device_xyz_by_ssk(), "other": "not an object" } }),
        json!({ BORIS: { "xyz": device_xyz_by_ssk() }, "@other:test": [] }),
    ] {
        assert_eq!(sign(&ts, &boris, &body).await, bad);
    }
    assert_eq!(ts.server.core().device_keys(BORIS, "xyz").unwrap(), device_xyz(), "nothing stored");
}

fn error_answer() -> Answer {
    (400, json!({ "errcode": "M_INVALID_PARAM", "error": "Invalid parameter" }))
}

#[tokio::test]
async fn an_already_signed_device_is_skipped() {
    let ts = TestServer::start(Profile::default()).await;
    let boris = boris(&ts).await;
    let body = json!({ BORIS: { "xyz": device_xyz_by_ssk() } });
    assert_eq!(sign(&ts, &boris, &body).await, failures(json!({})));
    let before = ts.server.core().device_keys(BORIS, "xyz").unwrap();

    // A second, bogus signature by the same key: no failure, and nothing stored.
    let mut bogus = device_xyz_by_ssk();
    bogus["signatures"][BORIS][SSK_ID] = json!("AAAA");
    assert_eq!(sign(&ts, &boris, &json!({ BORIS: { "xyz": bogus } })).await, failures(json!({})));
    assert_eq!(ts.server.core().device_keys(BORIS, "xyz").unwrap(), before);
}

#[tokio::test]
async fn user_signing_signatures_are_visible_to_the_signer_only() {
    let ts = TestServer::start(Profile::default()).await;
    let boris = boris(&ts).await;
    let other = ts.account("otherboris");
    let other_master = signed("@otherboris:test master key signed by @boris:test user-signing key");
    let mut unsigned = other_master.clone();
    unsigned.as_object_mut().unwrap().remove("signatures");
    assert!(ts.server.core().set_cross_signing_key(&other.user_id, "master", Some(unsigned.clone())));

    let other_id = "fHZ3NPiKxoLQm5OoZbKa99SYxprOjNs4TwJUKP+twCM";
    let body = json!({ "@otherboris:test": { other_id: other_master, "SOMEDEVICE": {} } });
    let expected =
        json!({ "@otherboris:test": { "SOMEDEVICE": entry(404, "M_NOT_FOUND", "404: Unknown device") } });
    assert_eq!(sign(&ts, &boris, &body).await, failures(expected));

    let seen_by_boris = query(&ts, &boris, &other.user_id).await;
    assert_eq!(seen_by_boris["master_keys"][&other.user_id], other_master);
    let seen_by_other = query(&ts, &other, &other.user_id).await;
    let seen = &seen_by_other["master_keys"][&other.user_id];
    assert_eq!(seen["keys"], unsigned["keys"]);
    assert_eq!(seen["signatures"].get(BORIS), None, "{seen}");

    // The signer's devices learn that the signed user changed.
    let (_, sync) = ts.get("/_matrix/client/v3/sync?timeout=0&since=s0", Some(&boris.token)).await;
    let changed = sync["device_lists"]["changed"].as_array().unwrap().clone();
    assert!(changed.contains(&json!("@otherboris:test")), "{changed:?}");
}

#[tokio::test]
async fn nobody_writes_to_another_users_objects() {
    let ts = TestServer::start(Profile::default()).await;
    let boris = boris(&ts).await;
    let keys = CrossSigningKeys::from_seeds(&[5; 32], &[6; 32], &[7; 32]);
    let victim = account_with_keys(&ts, "victim", Some(&keys)).await;
    let victim_device = ts.server.core().device_keys(&victim.user_id, &victim.device_id).unwrap();
    let victim_master = ts.server.core().cross_signing_key(&victim.user_id, "master").unwrap();

    // Boris signs the victim's device with his self-signing key: not his device.
    let mut device = victim_device.clone();
    device["signatures"][BORIS] = json!({ SSK_ID: "AAAA" });
    let body = json!({ victim.user_id.clone(): { victim.device_id.clone(): device } });
    let expected = json!({ victim.user_id.clone(): { victim.device_id.clone(): entry(404, "M_NOT_FOUND", "404: Unknown device") } });
    assert_eq!(sign(&ts, &boris, &body).await, failures(expected));

    // Boris signs the victim's master key with his self-signing key instead of the
    // user-signing one, and the victim's master with a changed usage.
    let master_name = keys.public_key(KeyUsage::Master).to_base64();
    let mut master = victim_master.clone();
    master["signatures"][BORIS] = json!({ SSK_ID: "AAAA" });
    let mut altered = master.clone();
    altered["usage"] = json!(["master", "extra"]);
    for (object, expected) in
        [(master, invalid_signature()), (altered, entry(400, "M_UNKNOWN", "400: Key does not match"))]
    {
        let body = json!({ victim.user_id.clone(): { master_name.clone(): object } });
        let answer = sign(&ts, &boris, &body).await;
        assert_eq!(answer, failures(json!({ victim.user_id.clone(): { master_name.clone(): expected } })));
    }

    // Boris lists the victim's device under his own user ID: unknown device of his.
    let body = json!({ BORIS: { victim.device_id.clone(): victim_device } });
    let answer = sign(&ts, &boris, &body).await;
    assert_eq!(answer.1["failures"][BORIS][&victim.device_id]["errcode"], "M_INVALID_SIGNATURE");

    assert_eq!(ts.server.core().device_keys(&victim.user_id, &victim.device_id).unwrap(), victim_device);
    assert_eq!(ts.server.core().cross_signing_key(&victim.user_id, "master").unwrap(), victim_master);
}
