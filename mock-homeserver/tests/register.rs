//! `POST /register` over HTTP (docs/protocol.md §8.2) and MSC2912 cross-signing keys in it
//! per profile (§9): checks before UIA, completion, guests, and the keys' validation,
//! atomicity and field names.

mod common;

use common::TestServer;
use mock_homeserver::Profile;
use protocol::cross_signing::CrossSigningKeys;
use serde_json::{json, Value};

const REGISTER: &str = "/_matrix/client/v3/register";
const STABLE: &str = "device_signing";
const UNSTABLE: &str = "org.matrix.msc2912.device_signing";

fn error(errcode: &str, error: &str) -> Value {
    json!({ "errcode": errcode, "error": error })
}

/// A valid `device_signing` set for `user_id`, different for each `seed`.
fn key_set(user_id: &str, seed: u8) -> Value {
    CrossSigningKeys::from_seeds(&[seed; 32], &[seed.wrapping_add(1); 32], &[seed.wrapping_add(2); 32])
        .device_signing_body(user_id)
}

/// Posts `body` (which starts a session) and then the dummy stage; returns the final answer.
async fn register(ts: &TestServer, path: &str, body: &Value) -> (u16, Value) {
    let (status, challenge) = ts.post(path, None, body).await;
    if status != 401 {
        return (status, challenge);
    }
    let mut last = body.clone();
    last["auth"] = json!({ "type": "m.login.dummy", "session": challenge["session"] });
    ts.post(path, None, &last).await
}

fn stored(ts: &TestServer, user_id: &str) -> [Option<Value>; 3] {
    let core = ts.server.core();
    ["master", "self_signing", "user_signing"].map(|usage| core.cross_signing_key(user_id, usage))
}

fn assert_keys_stored(ts: &TestServer, user_id: &str, set: &Value) {
    let [master, ssk, usk] = stored(ts, user_id);
    assert_eq!(master.as_ref(), Some(&set["master_key"]), "master key of {user_id}");
    assert_eq!(ssk.as_ref(), Some(&set["self_signing_key"]), "self-signing key of {user_id}");
    assert_eq!(usk.as_ref(), Some(&set["user_signing_key"]), "user-signing key of {user_id}");
}

fn assert_no_keys(ts: &TestServer, user_id: &str) {
    assert_eq!(stored(ts, user_id), [None, None, None], "{user_id} has no cross-signing keys");
}

#[tokio::test]
async fn dummy_flow_creates_the_account_and_logs_it_in() {
    let ts = TestServer::start(Profile::default()).await;
    let (status, body) = register(&ts, REGISTER, &json!({ "username": "alice", "password": "pw" })).await;
    assert_eq!(status, 200, "{body}");
    let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["access_token", "device_id", "home_server", "user_id"]);
    assert_eq!(body["user_id"], json!("@alice:test"));
    let (status, me) = ts.get("/_matrix/client/v3/account/whoami", body["access_token"].as_str()).await;
    assert_eq!(status, 200);
    assert_eq!(me["device_id"], body["device_id"]);
    let login = json!({ "type": "m.login.password", "identifier": { "type": "m.id.user", "user": "alice" }, "password": "pw" });
    assert_eq!(ts.post("/_matrix/client/v3/login", None, &login).await.0, 200);
}

#[tokio::test]
async fn username_is_lowercased() {
    let ts = TestServer::start(Profile::default()).await;
    let (status, body) = register(&ts, REGISTER, &json!({ "username": "Boris", "password": "pw" })).await;
    assert_eq!((status, body["user_id"].clone()), (200, json!("@boris:test")));
}

#[tokio::test]
async fn username_checks_come_before_uia() {
    let ts = TestServer::start(Profile::default()).await;
    ts.account("taken");
    let cases = [
        ("al ice", "M_INVALID_USERNAME", "User ID can only contain characters a-z, 0-9, or '=_-./+'"),
        ("al:ice", "M_INVALID_USERNAME", "User ID can only contain characters a-z, 0-9, or '=_-./+'"),
        ("", "M_INVALID_USERNAME", "User ID cannot be empty"),
        ("_alice", "M_INVALID_USERNAME", "User ID may not begin with _"),
        ("taken", "M_USER_IN_USE", "User ID already taken."),
        ("TAKEN", "M_USER_IN_USE", "User ID already taken."),
    ];
    for (username, errcode, message) in cases {
        let body = json!({ "username": username, "password": "pw" });
        assert_eq!(ts.post(REGISTER, None, &body).await, (400, error(errcode, message)), "{username:?}");
    }
    let long = "a".repeat(250);
    let (status, body) = ts.post(REGISTER, None, &json!({ "username": long, "password": "pw" })).await;
    assert_eq!((status, body["errcode"].clone()), (400, json!("M_INVALID_USERNAME")));
    let (status, body) = ts.post(REGISTER, None, &json!({ "username": 5, "password": "pw" })).await;
    assert_eq!((status, body), (400, error("M_UNKNOWN", "Invalid username")));
    assert!(ts.server.journal().iter().all(|e| e.status == 400), "no UIA round was reached");
}

#[tokio::test]
async fn disabled_registration_is_forbidden_for_users_and_guests() {
    let profile = Profile::default().with_overrides(&json!({ "registration_enabled": false })).unwrap();
    let ts = TestServer::start(profile).await;
    let expected = (403, error("M_FORBIDDEN", "Registration has been disabled"));
    assert_eq!(ts.post(REGISTER, None, &json!({ "username": "alice", "password": "pw" })).await, expected);
    assert_eq!(ts.post(&format!("{REGISTER}?kind=guest"), None, &json!({})).await, expected);
    assert!(!ts.server.core().account_exists("@alice:test"));
}

#[tokio::test]
async fn username_taken_during_uia_fails_at_completion() {
    let ts = TestServer::start(Profile::default()).await;
    let (_, challenge) = ts.post(REGISTER, None, &json!({ "username": "carol", "password": "pw" })).await;
    ts.server.core().create_account("carol", "someone else").expect("free before completion");
    let auth = json!({ "type": "m.login.dummy", "session": challenge["session"] });
    let (status, body) = ts.post(REGISTER, None, &json!({ "auth": auth })).await;
    assert_eq!((status, body), (400, error("M_USER_IN_USE", "User ID already taken.")));
    // The first account is untouched.
    let login = json!({ "type": "m.login.password", "user": "carol", "password": "someone else" });
    assert_eq!(ts.post("/_matrix/client/v3/login", None, &login).await.0, 200);
}

#[tokio::test]
async fn password_is_required_and_limited() {
    let ts = TestServer::start(Profile::default()).await;
    let (status, body) = register(&ts, REGISTER, &json!({ "username": "dave" })).await;
    assert_eq!((status, body), (400, error("M_MISSING_PARAM", "Missing params: password")));
    assert!(!ts.server.core().account_exists("@dave:test"));
    let long = "p".repeat(513);
    let (status, body) = ts.post(REGISTER, None, &json!({ "username": "dave", "password": long })).await;
    assert_eq!((status, body), (400, error("M_UNKNOWN", "Invalid password")));
}

#[tokio::test]
async fn inhibit_login_creates_the_account_without_a_device() {
    let ts = TestServer::start(Profile::default()).await;
    let body = json!({ "username": "erin", "password": "pw", "inhibit_login": true });
    let (status, answer) = register(&ts, REGISTER, &body).await;
    assert_eq!((status, answer.clone()), (200, json!({ "user_id": "@erin:test", "home_server": "test" })));
    let login = json!({ "type": "m.login.password", "user": "erin", "password": "pw" });
    let (_, login) = ts.post("/_matrix/client/v3/login", None, &login).await;
    let (_, devices) = ts.get("/_matrix/client/v3/devices", login["access_token"].as_str()).await;
    assert_eq!(
        devices["devices"].as_array().unwrap().len(),
        1,
        "only the device of the later login: {devices}"
    );
}

#[tokio::test]
async fn device_id_and_display_name_are_used() {
    let ts = TestServer::start(Profile::default()).await;
    let body = json!({ "username": "fay", "password": "pw", "device_id": "REGDEVICE", "initial_device_display_name": "harness" });
    let (status, answer) = register(&ts, REGISTER, &body).await;
    assert_eq!((status, answer["device_id"].clone()), (200, json!("REGDEVICE")));
    let (_, device) = ts.get("/_matrix/client/v3/devices/REGDEVICE", answer["access_token"].as_str()).await;
    assert_eq!(device["display_name"], json!("harness"));
}

#[tokio::test]
async fn without_username_the_server_picks_a_localpart() {
    let ts = TestServer::start(Profile::default()).await;
    let (status, a) = register(&ts, REGISTER, &json!({ "password": "pw" })).await;
    assert_eq!(status, 200, "{a}");
    let (_, b) = register(&ts, REGISTER, &json!({ "password": "pw" })).await;
    for user_id in [&a["user_id"], &b["user_id"]] {
        let user_id = user_id.as_str().unwrap();
        let localpart = user_id.strip_prefix('@').and_then(|u| u.strip_suffix(":test")).unwrap();
        assert!(
            !localpart.is_empty() && localpart.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        assert!(ts.server.core().account_exists(user_id));
    }
    assert_ne!(a["user_id"], b["user_id"]);
}

#[tokio::test]
async fn guests_register_at_once_and_everything_but_the_display_name_is_ignored() {
    let ts = TestServer::start(Profile::default()).await;
    let body = json!({
        "username": "ignored", "password": "pw", "device_id": "IGNORED", "inhibit_login": true,
        "initial_device_display_name": "guest device",
    });
    let (status, answer) = ts.post(&format!("{REGISTER}?kind=guest"), None, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_ne!(answer["user_id"], json!("@ignored:test"));
    assert_ne!(answer["device_id"], json!("IGNORED"));
    assert!(!ts.server.core().account_exists("@ignored:test"));
    let path = format!("/_matrix/client/v3/devices/{}", answer["device_id"].as_str().unwrap());
    let (status, device) = ts.get(&path, answer["access_token"].as_str()).await;
    assert_eq!((status, device["display_name"].clone()), (200, json!("guest device")));

    let (status, body) = ts.post(&format!("{REGISTER}?kind=admin"), None, &json!({})).await;
    assert_eq!((status, body), (400, error("M_UNRECOGNIZED", "Do not understand membership kind: admin")));
}

#[tokio::test]
async fn malformed_bodies() {
    let ts = TestServer::start(Profile::default()).await;
    let (status, body) = ts.send("POST", REGISTER, None, None).await;
    assert_eq!((status, body), (400, error("M_NOT_JSON", "Content not JSON.")));
    let (status, body) = ts.post(REGISTER, None, &json!(["username"])).await;
    assert_eq!((status, body), (400, error("M_BAD_JSON", "Content must be a JSON object.")));
    let body = json!({ "username": "gus", "password": "pw", "device_id": 5 });
    let (status, answer) = register(&ts, REGISTER, &body).await;
    assert_eq!((status, answer["errcode"].clone()), (400, json!("M_INVALID_PARAM")));
}

#[tokio::test]
async fn availability_and_token_validity_endpoints() {
    let profile = Profile::default().with_overrides(&json!({ "registration_token": "letmein" })).unwrap();
    let ts = TestServer::start(profile).await;
    ts.account("taken");
    let available = "/_matrix/client/v3/register/available";
    assert_eq!(
        ts.get(&format!("{available}?username=free"), None).await,
        (200, json!({ "available": true }))
    );
    assert_eq!(
        ts.get(&format!("{available}?username=Taken"), None).await,
        (400, error("M_USER_IN_USE", "User ID already taken."))
    );
    assert_eq!(
        ts.get(&format!("{available}?username=a%20b"), None).await.1["errcode"],
        json!("M_INVALID_USERNAME")
    );
    assert_eq!(ts.get(available, None).await.1["errcode"], json!("M_MISSING_PARAM"));
    let validity = "/_matrix/client/v1/register/m.login.registration_token/validity";
    assert_eq!(ts.get(&format!("{validity}?token=letmein"), None).await, (200, json!({ "valid": true })));
    assert_eq!(ts.get(&format!("{validity}?token=nope"), None).await, (200, json!({ "valid": false })));
}

// ---- MSC2912 ----

#[tokio::test]
async fn msc2912_profile_stores_keys_under_either_name() {
    for field in [STABLE, UNSTABLE] {
        let ts = TestServer::start(Profile::msc2912()).await;
        let set = key_set("@boris:test", 1);
        let body = json!({ "username": "boris", "password": "pw", field: set });
        let (status, answer) = register(&ts, REGISTER, &body).await;
        assert_eq!(status, 200, "{field}: {answer}");
        assert_keys_stored(&ts, "@boris:test", &set);
        // The new user sees them through /keys/query.
        let query = json!({ "device_keys": { "@boris:test": [] } });
        let (status, keys) =
            ts.post("/_matrix/client/v3/keys/query", answer["access_token"].as_str(), &query).await;
        assert_eq!(status, 200);
        assert_eq!(keys["master_keys"]["@boris:test"], set["master_key"], "{field}");
    }
}

#[tokio::test]
async fn msc2912_profile_prefers_the_stable_name() {
    let ts = TestServer::start(Profile::msc2912()).await;
    let (stable, unstable) = (key_set("@boris:test", 1), key_set("@boris:test", 10));
    let body = json!({ "username": "boris", "password": "pw", STABLE: stable, UNSTABLE: unstable });
    assert_eq!(register(&ts, REGISTER, &body).await.0, 200);
    assert_keys_stored(&ts, "@boris:test", &stable);
}

#[tokio::test]
async fn msc2912_unstable_profile_ignores_the_stable_name() {
    let ts = TestServer::start(Profile::msc2912_unstable()).await;
    let set = key_set("@boris:test", 1);
    let body = json!({ "username": "boris", "password": "pw", STABLE: set });
    assert_eq!(register(&ts, REGISTER, &body).await.0, 200);
    assert_no_keys(&ts, "@boris:test");
    // Even an invalid set under the ignored name is no error.
    let body = json!({ "username": "boris2", "password": "pw", STABLE: "not an object" });
    assert_eq!(register(&ts, REGISTER, &body).await.0, 200);

    let set = key_set("@clara:test", 1);
    let body =
        json!({ "username": "clara", "password": "pw", STABLE: key_set("@clara:test", 10), UNSTABLE: set });
    assert_eq!(register(&ts, REGISTER, &body).await.0, 200);
    assert_keys_stored(&ts, "@clara:test", &set);
}

#[tokio::test]
async fn default_and_legacy_profiles_ignore_both_names() {
    for profile in [Profile::default(), Profile::legacy()] {
        let name = profile.name.clone();
        let ts = TestServer::start(profile).await;
        let set = key_set("@boris:test", 1);
        let body = json!({ "username": "boris", "password": "pw", STABLE: set, UNSTABLE: set });
        let (status, answer) = register(&ts, REGISTER, &body).await;
        assert_eq!(status, 200, "{name}: {answer}");
        assert_no_keys(&ts, "@boris:test");
        let query = json!({ "device_keys": { "@boris:test": [] } });
        let (_, keys) =
            ts.post("/_matrix/client/v3/keys/query", answer["access_token"].as_str(), &query).await;
        assert_eq!(keys["master_keys"], json!({}), "{name}");
    }
}

#[tokio::test]
async fn keys_from_an_earlier_round_are_committed_with_the_account() {
    let ts = TestServer::start(Profile::msc2912()).await;
    let set = key_set("@boris:test", 1);
    let (_, challenge) =
        ts.post(REGISTER, None, &json!({ "username": "boris", "password": "pw", UNSTABLE: set })).await;
    assert!(!ts.server.core().account_exists("@boris:test"), "nothing before UIA completes");
    let auth = json!({ "type": "m.login.dummy", "session": challenge["session"] });
    let (status, answer) = ts.post(REGISTER, None, &json!({ "auth": auth })).await;
    assert_eq!(status, 200, "{answer}");
    assert_keys_stored(&ts, "@boris:test", &set);
}

#[tokio::test]
async fn the_last_set_sent_in_the_session_wins() {
    let ts = TestServer::start(Profile::msc2912()).await;
    let (first, last) = (key_set("@boris:test", 1), key_set("@boris:test", 10));
    let (_, challenge) =
        ts.post(REGISTER, None, &json!({ "username": "boris", "password": "pw", STABLE: first })).await;
    let session = challenge["session"].clone();
    // A status round under the other name replaces the set.
    let (status, _) =
        ts.post(REGISTER, None, &json!({ UNSTABLE: last, "auth": { "session": session } })).await;
    assert_eq!(status, 401);
    let (status, _) =
        ts.post(REGISTER, None, &json!({ "auth": { "type": "m.login.dummy", "session": session } })).await;
    assert_eq!(status, 200);
    assert_keys_stored(&ts, "@boris:test", &last);
}

#[tokio::test]
async fn keys_are_stored_with_inhibit_login_too() {
    let ts = TestServer::start(Profile::msc2912()).await;
    let set = key_set("@boris:test", 1);
    let body = json!({ "username": "boris", "password": "pw", "inhibit_login": true, STABLE: set });
    let (status, answer) = register(&ts, REGISTER, &body).await;
    assert_eq!((status, answer), (200, json!({ "user_id": "@boris:test", "home_server": "test" })));
    assert_keys_stored(&ts, "@boris:test", &set);
}

#[tokio::test]
async fn empty_device_signing_stores_nothing() {
    let ts = TestServer::start(Profile::msc2912()).await;
    let body = json!({ "username": "boris", "password": "pw", STABLE: {} });
    assert_eq!(register(&ts, REGISTER, &body).await.0, 200);
    assert_no_keys(&ts, "@boris:test");
}

#[tokio::test]
async fn keys_without_a_username_fail_with_row_a() {
    let ts = TestServer::start(Profile::msc2912()).await;
    let body = json!({ "password": "pw", UNSTABLE: key_set("@boris:test", 1) });
    assert_eq!(ts.post(REGISTER, None, &body).await, (400, error("M_INVALID_PARAM", "Invalid master key")));
    assert!(ts.server.journal().iter().all(|e| e.status == 400), "fails before UIA");
    // Guests ignore the field altogether.
    let guest = format!("{REGISTER}?kind=guest");
    let (status, answer) = ts.post(&guest, None, &json!({ UNSTABLE: key_set("@x:test", 1) })).await;
    assert_eq!(status, 200);
    assert_no_keys(&ts, answer["user_id"].as_str().unwrap());
}

#[tokio::test]
async fn a_non_object_field_is_bad_json() {
    let ts = TestServer::start(Profile::msc2912()).await;
    let body = json!({ "username": "boris", "password": "pw", STABLE: ["master_key"] });
    let (status, answer) = ts.post(REGISTER, None, &body).await;
    assert_eq!((status, answer["errcode"].clone()), (400, json!("M_BAD_JSON")));
    assert!(!ts.server.core().account_exists("@boris:test"));
}

#[tokio::test]
async fn username_checks_come_before_key_checks() {
    let ts = TestServer::start(Profile::msc2912()).await;
    ts.account("boris");
    let body = json!({ "password": "pw", "username": "boris", STABLE: { "self_signing_key": {} } });
    assert_eq!(ts.post(REGISTER, None, &body).await, (400, error("M_USER_IN_USE", "User ID already taken.")));
}

#[tokio::test]
async fn keys_signed_for_the_unlowercased_user_fail_with_row_a() {
    let ts = TestServer::start(Profile::msc2912()).await;
    let body = json!({ "username": "Boris", "password": "pw", STABLE: key_set("@Boris:test", 1) });
    assert_eq!(ts.post(REGISTER, None, &body).await, (400, error("M_INVALID_PARAM", "Invalid master key")));
    assert!(!ts.server.core().account_exists("@boris:test"));
}

#[tokio::test]
async fn an_invalid_signature_fails_and_leaves_the_username_free() {
    let ts = TestServer::start(Profile::msc2912()).await;
    let mut bad = key_set("@boris:test", 1);
    bad["self_signing_key"]["signatures"] = json!({});
    let body = json!({ "username": "boris", "password": "pw", UNSTABLE: bad });
    let expected = (400, error("M_INVALID_SIGNATURE", "Invalid signature on self_signing key"));
    assert_eq!(ts.post(REGISTER, None, &body).await, expected);
    assert!(!ts.server.core().account_exists("@boris:test"));
    assert_no_keys(&ts, "@boris:test");

    let mut bad = key_set("@boris:test", 1);
    bad["user_signing_key"]["signatures"] = bad["self_signing_key"]["signatures"].clone();
    let body = json!({ "username": "boris", "password": "pw", STABLE: bad });
    let expected = (400, error("M_INVALID_SIGNATURE", "Invalid signature on user_signing key"));
    assert_eq!(ts.post(REGISTER, None, &body).await, expected);

    let set = key_set("@boris:test", 1);
    let body = json!({ "username": "boris", "password": "pw", UNSTABLE: set });
    assert_eq!(register(&ts, REGISTER, &body).await.0, 200, "the username is still free");
    assert_keys_stored(&ts, "@boris:test", &set);
}

#[tokio::test]
async fn a_rejected_set_leaves_the_session_as_it_was() {
    let profile = Profile::msc2912().with_overrides(&json!({ "registration_token": "letmein" })).unwrap();
    let ts = TestServer::start(profile).await;
    let good = key_set("@boris:test", 1);
    let (_, challenge) =
        ts.post(REGISTER, None, &json!({ "username": "boris", "password": "pw", STABLE: good })).await;
    let session = challenge["session"].clone();
    let token = json!({ "type": "m.login.registration_token", "token": "letmein", "session": session });
    let (status, body) = ts.post(REGISTER, None, &json!({ "auth": token })).await;
    assert_eq!((status, body["completed"].clone()), (401, json!(["m.login.registration_token"])));

    // An invalid set together with the last stage: rejected, nothing completes.
    let mut bad = key_set("@boris:test", 10);
    bad["master_key"]["usage"] = json!(["self_signing"]);
    let dummy = json!({ "type": "m.login.dummy", "session": session });
    let (status, body) = ts.post(REGISTER, None, &json!({ STABLE: bad, "auth": dummy })).await;
    assert_eq!((status, body), (400, error("M_INVALID_PARAM", "Invalid master key")));
    assert!(!ts.server.core().account_exists("@boris:test"));

    // The session still has the token stage and the earlier set.
    let (status, body) = ts.post(REGISTER, None, &json!({ "auth": { "session": session } })).await;
    assert_eq!((status, body["completed"].clone()), (401, json!(["m.login.registration_token"])));
    let (status, body) = ts.post(REGISTER, None, &json!({ "auth": dummy })).await;
    assert_eq!(status, 200, "{body}");
    assert_keys_stored(&ts, "@boris:test", &good);
}
