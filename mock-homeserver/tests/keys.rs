//! `/keys/upload`, `/keys/query` and `/keys/claim` over HTTP (docs/protocol.md §7.1–§7.3):
//! success paths, Synapse's errors, user isolation, visibility of signatures,
//! one-time key consumption then fallback, and `device_lists.changed`.

mod common;

use common::{Account, TestServer};
use mock_homeserver::Profile;
use protocol::device_keys::DeviceKeys;
use protocol::keys::{Curve25519PublicKey, Ed25519Keypair};
use serde_json::{json, Value};

const UPLOAD: &str = "/_matrix/client/v3/keys/upload";
const QUERY: &str = "/_matrix/client/v3/keys/query";
const CLAIM: &str = "/_matrix/client/v3/keys/claim";
const ALGORITHMS: &[&str] = &["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"];

/// Self-signed device keys for an account, from a one-byte seed.
fn device_keys(account: &Account, seed: u8) -> Value {
    let ed = Ed25519Keypair::from_seed(&[seed; 32]);
    let curve = Curve25519PublicKey::from_bytes([seed ^ 0x55; 32]);
    DeviceKeys::signed_json(&account.user_id, &account.device_id, ALGORITHMS, &ed, &curve)
}

fn otk(n: u8) -> Value {
    json!({ "key": format!("key{n}"), "signatures": { "@x:test": { "ed25519:X": format!("sig{n}") } } })
}

async fn upload(ts: &TestServer, account: &Account, body: Value) -> (u16, Value) {
    ts.post(UPLOAD, Some(&account.token), &body).await
}

async fn query(ts: &TestServer, account: &Account, users: Value) -> Value {
    let (status, body) = ts.post(QUERY, Some(&account.token), &json!({ "device_keys": users })).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn bad_json(error: &str) -> (u16, Value) {
    (400, json!({ "errcode": "M_BAD_JSON", "error": error }))
}

#[tokio::test]
async fn upload_stores_device_keys_and_counts_one_time_keys() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let keys = device_keys(&alice, 1);
    let body = json!({ "device_keys": keys, "one_time_keys": { "signed_curve25519:AAAAAQ": otk(1),
        "signed_curve25519:AAAAAg": otk(2), "curve25519:AAAAAw": "plain" } });
    let answer = upload(&ts, &alice, body).await;
    assert_eq!(answer, (200, json!({ "one_time_key_counts": { "signed_curve25519": 2, "curve25519": 1 } })));

    let answer = query(&ts, &alice, json!({ alice.user_id.clone(): [] })).await;
    let mut expected = keys.clone();
    expected["unsigned"] = json!({});
    assert_eq!(answer["device_keys"][&alice.user_id], json!({ alice.device_id.clone(): expected }));
}

#[tokio::test]
async fn upload_without_one_time_keys_still_reports_signed_curve25519() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    assert_eq!(
        upload(&ts, &alice, json!({})).await,
        (200, json!({ "one_time_key_counts": { "signed_curve25519": 0 } }))
    );
}

#[tokio::test]
async fn upload_refuses_keys_for_another_user_or_device() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let alice2 = ts.another_device(&alice);
    let wrong_user = json!({ "device_keys": device_keys(&bob, 2) });
    assert_eq!(
        upload(&ts, &alice, wrong_user).await,
        bad_json("Provided `user_id` in `device_keys` does not match that of the authenticated user")
    );
    let wrong_device = json!({ "device_keys": device_keys(&alice2, 3) });
    assert_eq!(
        upload(&ts, &alice, wrong_device).await,
        bad_json(
            "Provided `device_id` in `device_keys` does not match that of the authenticated user device"
        )
    );
    let mut missing_user = device_keys(&alice, 1);
    missing_user.as_object_mut().unwrap().remove("user_id");
    assert_eq!(
        upload(&ts, &alice, json!({ "device_keys": missing_user })).await,
        bad_json("Provided `user_id` in `device_keys` does not match that of the authenticated user")
    );
    // Nothing was stored for anyone.
    let answer = query(&ts, &bob, json!({ alice.user_id.clone(): [], bob.user_id.clone(): [] })).await;
    assert_eq!(answer["device_keys"], json!({ alice.user_id.clone(): {}, bob.user_id.clone(): {} }));
}

#[tokio::test]
async fn upload_checks_the_shape_of_device_keys() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let cases = [
        ("algorithms", Value::Null, "`device_keys.algorithms` must be a list of strings"),
        ("algorithms", json!([1]), "`device_keys.algorithms` must be a list of strings"),
        ("keys", json!({ "ed25519:X": 5 }), "`device_keys.keys` must be an object of strings"),
        ("keys", json!([]), "`device_keys.keys` must be an object of strings"),
        (
            "signatures",
            json!({ "@alice:test": "sig" }),
            "`device_keys.signatures` must be an object of objects of strings",
        ),
    ];
    for (field, value, error) in cases {
        let mut keys = device_keys(&alice, 1);
        keys[field] = value;
        assert_eq!(upload(&ts, &alice, json!({ "device_keys": keys })).await, bad_json(error), "{field}");
    }
    let mut keys = device_keys(&alice, 1);
    keys.as_object_mut().unwrap().remove("signatures");
    let error = "`device_keys.signatures` must be an object of objects of strings";
    assert_eq!(upload(&ts, &alice, json!({ "device_keys": keys })).await, bad_json(error));
    assert_eq!(
        upload(&ts, &alice, json!({ "device_keys": "x" })).await,
        bad_json("`device_keys` must be an object")
    );
}

#[tokio::test]
async fn upload_does_not_verify_the_self_signature() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let mut keys = device_keys(&alice, 1);
    keys["signatures"][&alice.user_id][format!("ed25519:{}", alice.device_id)] = json!("not a signature");
    assert_eq!(upload(&ts, &alice, json!({ "device_keys": keys.clone() })).await.0, 200);
    let answer = query(&ts, &alice, json!({ alice.user_id.clone(): [] })).await;
    assert_eq!(answer["device_keys"][&alice.user_id][&alice.device_id]["signatures"], keys["signatures"]);
}

#[tokio::test]
async fn upload_checks_one_time_and_fallback_key_shapes_atomically() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let cases = [
        (json!({ "one_time_keys": [] }), "`one_time_keys` must be an object"),
        (json!({ "fallback_keys": 3 }), "`fallback_keys` must be an object"),
        (
            json!({ "one_time_keys": { "nocolon": otk(1) } }),
            "Key ID `nocolon` in `one_time_keys` must have the form `<algorithm>:<key id>`",
        ),
        (
            json!({ "one_time_keys": { "signed_curve25519:A": { "key": 1, "signatures": {} } } }),
            "`one_time_keys.signed_curve25519:A` must be a string or an object with `key` and `signatures`",
        ),
        (
            json!({ "one_time_keys": { "signed_curve25519:A": otk(1) },
                    "fallback_keys": { "signed_curve25519:F": { "key": "k", "fallback": "yes", "signatures": {} } } }),
            "`fallback_keys.signed_curve25519:F` must be a string or an object with `key` and `signatures`",
        ),
    ];
    for (body, error) in cases {
        assert_eq!(upload(&ts, &alice, body.clone()).await, bad_json(error), "{body}");
    }
    // The valid one-time key of the last, failed request was not stored.
    assert_eq!(upload(&ts, &alice, json!({})).await.1["one_time_key_counts"]["signed_curve25519"], 0);
}

#[tokio::test]
async fn reuploading_a_one_time_key_id_with_other_content_fails() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let body = json!({ "one_time_keys": { "signed_curve25519:A": otk(1) } });
    assert_eq!(upload(&ts, &alice, body.clone()).await.0, 200);
    // The same key again is accepted and counted once.
    assert_eq!(upload(&ts, &alice, body).await.1["one_time_key_counts"]["signed_curve25519"], 1);
    let (status, error) =
        upload(&ts, &alice, json!({ "one_time_keys": { "signed_curve25519:A": otk(2) } })).await;
    assert_eq!((status, error["errcode"].as_str()), (400, Some("M_UNKNOWN")));
    let message = error["error"].as_str().unwrap();
    assert!(message.starts_with("One time key signed_curve25519:A already exists. Old key: "), "{message}");
}

#[tokio::test]
async fn new_or_changed_device_keys_mark_the_device_list_changed() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let other = ts.another_device(&alice);
    let since = async |account: &Account| {
        let (_, body) = ts.get("/_matrix/client/v3/sync?timeout=0", Some(&account.token)).await;
        body["next_batch"].as_str().unwrap().to_owned()
    };
    let changed = async |account: &Account, token: &str| {
        let (_, body) =
            ts.get(&format!("/_matrix/client/v3/sync?timeout=0&since={token}"), Some(&account.token)).await;
        body["device_lists"]["changed"].clone()
    };
    let token = since(&other).await;
    assert_eq!(upload(&ts, &alice, json!({ "device_keys": device_keys(&alice, 1) })).await.0, 200);
    assert_eq!(changed(&other, &token).await, json!([alice.user_id.clone()]), "new keys");

    let token = since(&other).await;
    assert_eq!(upload(&ts, &alice, json!({ "device_keys": device_keys(&alice, 1) })).await.0, 200);
    assert_eq!(changed(&other, &token).await, json!([]), "same keys again: no change");

    assert_eq!(upload(&ts, &alice, json!({ "device_keys": device_keys(&alice, 2) })).await.0, 200);
    assert_eq!(changed(&other, &token).await, json!([alice.user_id.clone()]), "changed keys");
}

#[tokio::test]
async fn query_answers_all_five_members_and_every_local_user() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let answer = query(
        &ts,
        &alice,
        json!({ bob.user_id.clone(): [], "@nobody:test": ["X"], "@carol:elsewhere.org": [], "@dan:elsewhere.org": [] }),
    )
    .await;
    assert_eq!(
        answer,
        json!({
            "device_keys": { bob.user_id.clone(): {}, "@nobody:test": {} },
            "failures": { "elsewhere.org": { "status": 503, "message": "Not ready for retry" } },
            "master_keys": {}, "self_signing_keys": {}, "user_signing_keys": {},
        })
    );
}

#[tokio::test]
async fn query_lists_requested_devices_with_unsigned() {
    let ts = TestServer::start(Profile::default()).await;
    let bob = ts.account("bob");
    let bob2 = ts.another_device(&bob);
    let bob3 = ts.another_device(&bob); // never uploads keys: never listed
    upload(&ts, &bob, json!({ "device_keys": device_keys(&bob, 1) })).await;
    upload(&ts, &bob2, json!({ "device_keys": device_keys(&bob2, 2) })).await;
    let rename = json!({ "display_name": "Bob's phone" });
    assert_eq!(
        ts.put(&format!("/_matrix/client/v3/devices/{}", bob2.device_id), Some(&bob2.token), &rename).await.0,
        200
    );

    let all = query(&ts, &bob, json!({ bob.user_id.clone(): [] })).await;
    let devices = &all["device_keys"][&bob.user_id];
    let mut ids: Vec<&String> = devices.as_object().unwrap().keys().collect();
    ids.sort();
    let mut want = vec![&bob.device_id, &bob2.device_id];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(devices[&bob.device_id]["unsigned"], json!({}));
    assert_eq!(devices[&bob2.device_id]["unsigned"], json!({ "device_display_name": "Bob's phone" }));

    let some = query(
        &ts,
        &bob,
        json!({ bob.user_id.clone(): [bob2.device_id.clone(), bob3.device_id.clone(), "NOPE"] }),
    )
    .await;
    let only: Vec<&String> = some["device_keys"][&bob.user_id].as_object().unwrap().keys().collect();
    assert_eq!(only, vec![&bob2.device_id]);
}

#[tokio::test]
async fn query_rejects_bad_bodies() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let post = async |body: Value| ts.post(QUERY, Some(&alice.token), &body).await;
    assert_eq!(post(json!({})).await, bad_json("'device_keys' must be a JSON object"));
    assert_eq!(post(json!({ "device_keys": [] })).await, bad_json("'device_keys' must be a JSON object"));
    let not_list = bad_json("'device_keys' values must be a list of strings");
    assert_eq!(post(json!({ "device_keys": { "@a:test": "X" } })).await, not_list);
    assert_eq!(post(json!({ "device_keys": { "@a:test": [1] } })).await, not_list);
    let invalid = |error: &str| (400, json!({ "errcode": "M_INVALID_PARAM", "error": error }));
    assert_eq!(
        post(json!({ "device_keys": { "alice": [] } })).await,
        invalid("Expected UserID string to start with '@'")
    );
    assert_eq!(
        post(json!({ "device_keys": { "@alice": [] } })).await,
        invalid("Expected UserID of the form '@localname:domain'")
    );
    assert_eq!(ts.post(QUERY, None, &json!({ "device_keys": {} })).await.0, 401);
    let (status, body) = ts.send("POST", QUERY, Some(&alice.token), None).await;
    assert_eq!((status, body["errcode"].as_str()), (400, Some("M_NOT_JSON")));
}

/// Master, self-signing and user-signing key objects for a user, with `extra`
/// signatures merged into the master key.
fn cross_signing(user_id: &str, seed: u8, extra: Value) -> [Value; 3] {
    let keys =
        protocol::cross_signing::CrossSigningKeys::from_seeds(&[seed; 32], &[seed + 1; 32], &[seed + 2; 32]);
    let mut body = keys.device_signing_body(user_id);
    let mut master = body["master_key"].take();
    if let Some(extra) = extra.as_object() {
        for (signer, by_key) in extra {
            master["signatures"][signer] = by_key.clone();
        }
    }
    [master, body["self_signing_key"].take(), body["user_signing_key"].take()]
}

fn install(ts: &TestServer, user_id: &str, keys: &[Value; 3]) {
    for (usage, key) in ["master", "self_signing", "user_signing"].into_iter().zip(keys) {
        assert!(ts.server.core().set_cross_signing_key(user_id, usage, Some(key.clone())));
    }
}

#[tokio::test]
async fn query_serves_cross_signing_keys_and_user_signing_only_to_its_owner() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let bob_keys = cross_signing(&bob.user_id, 10, json!({}));
    install(&ts, &bob.user_id, &bob_keys);

    let by_bob = query(&ts, &bob, json!({ bob.user_id.clone(): [] })).await;
    assert_eq!(by_bob["master_keys"], json!({ bob.user_id.clone(): bob_keys[0] }));
    assert_eq!(by_bob["self_signing_keys"], json!({ bob.user_id.clone(): bob_keys[1] }));
    assert_eq!(by_bob["user_signing_keys"], json!({ bob.user_id.clone(): bob_keys[2] }));

    let by_alice = query(&ts, &alice, json!({ bob.user_id.clone(): [] })).await;
    assert_eq!(by_alice["master_keys"], by_bob["master_keys"]);
    assert_eq!(by_alice["self_signing_keys"], by_bob["self_signing_keys"]);
    assert_eq!(by_alice["user_signing_keys"], json!({}), "another user's user-signing key is never served");
}

#[tokio::test]
async fn nobody_sees_another_users_user_signing_signatures() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let carol = ts.account("carol");
    // Bob's master key carries his device's signature plus Alice's and Carol's (by
    // their user-signing keys).
    let alice_sig = json!({ "ed25519:ALICEUSK": "alice-signature" });
    let carol_sig = json!({ "ed25519:CAROLUSK": "carol-signature" });
    let bob_sig = json!({ format!("ed25519:{}", bob.device_id): "bob-device-signature" });
    let extra = json!({ bob.user_id.clone(): bob_sig, alice.user_id.clone(): alice_sig, carol.user_id.clone(): carol_sig });
    let bob_keys = cross_signing(&bob.user_id, 20, extra);
    install(&ts, &bob.user_id, &bob_keys);
    let signers = |answer: &Value| {
        let mut signers: Vec<String> =
            answer["master_keys"][&bob.user_id]["signatures"].as_object().unwrap().keys().cloned().collect();
        signers.sort();
        signers
    };
    let seen_by_alice = query(&ts, &alice, json!({ bob.user_id.clone(): [] })).await;
    assert_eq!(signers(&seen_by_alice), vec![alice.user_id.clone(), bob.user_id.clone()]);
    assert_eq!(seen_by_alice["master_keys"][&bob.user_id]["signatures"][&alice.user_id], alice_sig);
    let seen_by_carol = query(&ts, &carol, json!({ bob.user_id.clone(): [] })).await;
    assert_eq!(signers(&seen_by_carol), vec![bob.user_id.clone(), carol.user_id.clone()]);
    let seen_by_bob = query(&ts, &bob, json!({ bob.user_id.clone(): [] })).await;
    assert_eq!(signers(&seen_by_bob), vec![bob.user_id.clone()]);
    // The stored key is untouched.
    assert_eq!(ts.server.core().cross_signing_key(&bob.user_id, "master"), Some(bob_keys[0].clone()));
}

#[tokio::test]
async fn claim_hands_out_each_one_time_key_once_then_the_fallback() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let fallback = json!({ "key": "fb", "fallback": true, "signatures": {} });
    let body = json!({ "one_time_keys": { "signed_curve25519:A": otk(1), "signed_curve25519:B": otk(2) },
        "fallback_keys": { "signed_curve25519:F": fallback } });
    assert_eq!(upload(&ts, &bob, body).await.0, 200);
    let request =
        json!({ "one_time_keys": { bob.user_id.clone(): { bob.device_id.clone(): "signed_curve25519" } } });
    let claim = async || ts.post(CLAIM, Some(&alice.token), &request).await;
    let claimed = |key_id: &str, key: &Value| {
        (
            200,
            json!({ "one_time_keys": { bob.user_id.clone(): { bob.device_id.clone(): { key_id: key } } }, "failures": {} }),
        )
    };
    assert_eq!(claim().await, claimed("signed_curve25519:A", &otk(1)));
    assert_eq!(claim().await, claimed("signed_curve25519:B", &otk(2)));
    assert_eq!(claim().await, claimed("signed_curve25519:F", &fallback));
    assert_eq!(claim().await, claimed("signed_curve25519:F", &fallback), "the fallback key is not consumed");
    assert_eq!(upload(&ts, &bob, json!({})).await.1["one_time_key_counts"]["signed_curve25519"], 0);
}

#[tokio::test]
async fn claim_leaves_out_devices_without_keys_and_reports_remote_servers() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    upload(&ts, &bob, json!({ "one_time_keys": { "signed_curve25519:A": otk(1) } })).await;
    let request = json!({ "one_time_keys": {
        bob.user_id.clone(): { bob.device_id.clone(): "curve25519", "NODEVICE": "signed_curve25519" },
        "@nobody:test": { "X": "signed_curve25519" },
        "@remote:far.away": { "X": "signed_curve25519" },
    } });
    let answer = ts.post(CLAIM, Some(&alice.token), &request).await;
    let failures = json!({ "far.away": { "status": 503, "message": "Not ready for retry" } });
    assert_eq!(answer, (200, json!({ "one_time_keys": {}, "failures": failures })));
    assert_eq!(
        ts.post(CLAIM, Some(&alice.token), &json!({})).await,
        (200, json!({ "one_time_keys": {}, "failures": {} }))
    );
}

#[tokio::test]
async fn claim_rejects_bad_bodies() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let post = async |body: Value| ts.post(CLAIM, Some(&alice.token), &body).await;
    assert_eq!(post(json!({ "one_time_keys": [] })).await, bad_json("'one_time_keys' must be a JSON object"));
    assert_eq!(
        post(json!({ "one_time_keys": { "@a:test": [] } })).await,
        bad_json("'one_time_keys' values must be JSON objects")
    );
    assert_eq!(
        post(json!({ "one_time_keys": { "@a:test": { "D": 1 } } })).await,
        bad_json("Algorithms in 'one_time_keys' must be strings")
    );
    assert_eq!(
        post(json!({ "one_time_keys": { "a": {} } })).await,
        (400, json!({ "errcode": "M_INVALID_PARAM", "error": "Expected UserID string to start with '@'" }))
    );
}
