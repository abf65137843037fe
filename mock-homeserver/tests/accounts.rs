//! `GET`/`POST /login`, `/logout`, `/logout/all`, `/versions`, `/capabilities` and
//! `/account/whoami` over HTTP, per server profile (docs/protocol.md §5, §8.3, §10 D10).

mod common;

use common::TestServer;
use mock_homeserver::Profile;
use serde_json::{json, Value};

const LOGIN: &str = "/_matrix/client/v3/login";
const WHOAMI: &str = "/_matrix/client/v3/account/whoami";

fn password_login(user: &str, password: &str) -> Value {
    json!({ "type": "m.login.password", "identifier": { "type": "m.id.user", "user": user }, "password": password })
}

fn sorted_keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    keys
}

fn error(errcode: &str, error: &str) -> Value {
    json!({ "errcode": errcode, "error": error })
}

#[tokio::test]
async fn login_flows_follow_the_login_token_switches() {
    let ts = TestServer::start(Profile::default()).await;
    let (status, body) = ts.get(LOGIN, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "flows": [{ "type": "m.login.password" }, { "type": "m.login.token", "get_login_token": true }] })
    );

    let ts = TestServer::start(Profile::legacy()).await;
    let (_, body) = ts.get(LOGIN, None).await;
    assert_eq!(body, json!({ "flows": [{ "type": "m.login.password" }, { "type": "m.login.token" }] }));

    let r1 = Profile::default()
        .with_overrides(&json!({ "login_token": { "stable": false, "r1": true } }))
        .unwrap();
    let ts = TestServer::start(r1).await;
    let (_, body) = ts.get(LOGIN, None).await;
    assert_eq!(
        body["flows"][1],
        json!({ "type": "m.login.token", "org.matrix.msc3882.get_login_token": true })
    );
}

#[tokio::test]
async fn password_login_with_localpart_full_id_or_other_case() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    for user in ["alice", "@alice:test", "ALICE"] {
        let (status, body) = ts.post(LOGIN, None, &password_login(user, &alice.password)).await;
        assert_eq!(status, 200, "{user}: {body}");
        assert_eq!(sorted_keys(&body), ["access_token", "device_id", "home_server", "user_id"]);
        assert_eq!(body["user_id"], json!("@alice:test"));
        assert_eq!(body["home_server"], json!("test"));
        assert_ne!(body["device_id"], json!(alice.device_id), "a new device each time");
        let (status, me) = ts.get(WHOAMI, body["access_token"].as_str()).await;
        assert_eq!(status, 200);
        assert_eq!(me["device_id"], body["device_id"]);
    }
    // The deprecated top-level `user` field still works.
    let legacy = json!({ "type": "m.login.password", "user": "alice", "password": alice.password });
    assert_eq!(ts.post(LOGIN, None, &legacy).await.0, 200);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let expected = (403, error("M_FORBIDDEN", "Invalid username or password"));
    assert_eq!(ts.post(LOGIN, None, &password_login("alice", "wrong")).await, expected);
    assert_eq!(ts.post(LOGIN, None, &password_login("nobody", &alice.password)).await, expected);
    assert_eq!(ts.post(LOGIN, None, &password_login("@alice:elsewhere", &alice.password)).await, expected);
}

#[tokio::test]
async fn malformed_login_bodies_get_synapses_errors() {
    let ts = TestServer::start(Profile::default()).await;
    ts.account("alice");
    let cases = [
        (
            json!({ "identifier": { "type": "m.id.user", "user": "alice" }, "password": "x" }),
            400,
            "M_UNKNOWN",
            "Missing JSON keys.",
        ),
        (json!({ "type": "m.login.sso" }), 400, "M_UNKNOWN", "Unknown login type m.login.sso"),
        (json!({ "type": 7 }), 400, "M_INVALID_PARAM", "Bad parameter: type"),
        (
            json!({ "type": "m.login.password", "identifier": { "type": "m.id.user", "user": "alice" } }),
            400,
            "M_INVALID_PARAM",
            "Bad parameter: password",
        ),
        (
            json!({ "type": "m.login.password", "identifier": { "type": "m.id.thirdparty", "medium": "email", "address": "a@b" }, "password": "x" }),
            400,
            "M_UNKNOWN",
            "Unknown login identifier type",
        ),
        (
            json!({ "type": "m.login.password", "identifier": { "type": "m.id.user" }, "password": "x" }),
            400,
            "M_UNKNOWN",
            "User identifier is missing 'user' key",
        ),
        (
            json!({ "type": "m.login.password", "user": "alice", "password": "alice-password", "device_id": 5 }),
            400,
            "M_INVALID_PARAM",
            "Bad parameter: device_id",
        ),
    ];
    for (body, status, errcode, message) in cases {
        assert_eq!(ts.post(LOGIN, None, &body).await, (status, error(errcode, message)), "{body}");
    }
    let (status, body) = ts.send("POST", LOGIN, None, None).await;
    assert_eq!((status, body), (400, error("M_NOT_JSON", "Content not JSON.")));
    assert_eq!(ts.server.core().journal().iter().filter(|e| e.status == 200).count(), 0);
}

#[tokio::test]
async fn login_with_an_existing_device_id_reuses_it_and_revokes_its_old_token() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let mut body = password_login("alice", &alice.password);
    body["device_id"] = json!(alice.device_id);
    body["initial_device_display_name"] = json!("second login");
    let (status, answer) = ts.post(LOGIN, None, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["device_id"], json!(alice.device_id));
    let token = answer["access_token"].as_str().unwrap();
    assert_ne!(token, alice.token);
    let (status, old) = ts.get(WHOAMI, Some(&alice.token)).await;
    assert_eq!((status, old["errcode"].clone()), (401, json!("M_UNKNOWN_TOKEN")));
    let (status, devices) = ts.get("/_matrix/client/v3/devices", Some(token)).await;
    assert_eq!(status, 200);
    assert_eq!(devices["devices"].as_array().unwrap().len(), 1, "{devices}");
    assert_eq!(devices["devices"][0]["display_name"], json!("second login"));
}

#[tokio::test]
async fn a_new_device_id_and_display_name_are_kept() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let mut body = password_login("alice", &alice.password);
    body["device_id"] = json!("HARNESS");
    body["initial_device_display_name"] = json!("conformance harness");
    let (status, answer) = ts.post(LOGIN, None, &body).await;
    assert_eq!((status, answer["device_id"].clone()), (200, json!("HARNESS")));
    let (status, device) = ts.get("/_matrix/client/v3/devices/HARNESS", Some(&alice.token)).await;
    assert_eq!(status, 200);
    assert_eq!(device["display_name"], json!("conformance harness"));
}

#[tokio::test]
async fn logout_revokes_the_token_and_deletes_the_device() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let (_, answer) = ts.post(LOGIN, None, &password_login("alice", &alice.password)).await;
    let (token, device_id) =
        (answer["access_token"].as_str().unwrap(), answer["device_id"].as_str().unwrap());

    assert_eq!(ts.post("/_matrix/client/v3/logout", Some(token), &json!({})).await, (200, json!({})));
    let entry = ts.server.journal().pop().expect("journaled");
    assert_eq!((entry.path.as_str(), entry.status), ("/_matrix/client/v3/logout", 200));
    assert_eq!(entry.caller.map(|c| c.device_id).as_deref(), Some(device_id));

    let (status, body) = ts.get(WHOAMI, Some(token)).await;
    assert_eq!((status, body["errcode"].clone()), (401, json!("M_UNKNOWN_TOKEN")));
    let (_, devices) = ts.get("/_matrix/client/v3/devices", Some(&alice.token)).await;
    let ids: Vec<&str> =
        devices["devices"].as_array().unwrap().iter().map(|d| d["device_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [alice.device_id.as_str()]);
    // The other device is untouched.
    assert_eq!(ts.get(WHOAMI, Some(&alice.token)).await.0, 200);
}

#[tokio::test]
async fn logout_all_revokes_every_device_of_the_caller_only() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let alice2 = ts.another_device(&alice);
    let bob = ts.account("bob");
    assert_eq!(
        ts.post("/_matrix/client/v3/logout/all", Some(&alice.token), &json!({})).await,
        (200, json!({}))
    );
    for token in [&alice.token, &alice2.token] {
        assert_eq!(ts.get(WHOAMI, Some(token)).await.0, 401);
    }
    assert_eq!(ts.get(WHOAMI, Some(&bob.token)).await.0, 200);
    // The password still works: the account is not deactivated.
    assert_eq!(ts.post(LOGIN, None, &password_login("alice", &alice.password)).await.0, 200);
}

#[tokio::test]
async fn logout_needs_a_valid_token() {
    let ts = TestServer::start(Profile::default()).await;
    let (status, body) = ts.post("/_matrix/client/v3/logout", None, &json!({})).await;
    assert_eq!((status, body), (401, error("M_MISSING_TOKEN", "Missing access token")));
    let (status, body) = ts.post("/_matrix/client/v3/logout", Some("syt_nope"), &json!({})).await;
    assert_eq!((status, body["errcode"].clone()), (401, json!("M_UNKNOWN_TOKEN")));
}

#[tokio::test]
async fn versions_flags_per_profile() {
    let cases = [
        (Profile::default(), json!({ "org.matrix.msc3886": true }), true),
        (Profile::msc2912(), json!({ "org.matrix.msc3886": true, "org.matrix.msc2912": true }), true),
        (
            Profile::msc2912_unstable(),
            json!({ "org.matrix.msc3886": true, "org.matrix.msc2912": true }),
            true,
        ),
        (Profile::legacy(), json!({ "org.matrix.msc3882": true, "org.matrix.msc3886": true }), false),
    ];
    for (profile, unstable, v1_11) in cases {
        let name = profile.name.clone();
        let ts = TestServer::start(profile).await;
        let (status, body) = ts.get("/_matrix/client/versions", None).await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(body["unstable_features"], unstable, "{name}");
        let versions: Vec<&str> =
            body["versions"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert!(versions.contains(&"v1.7"), "{name}: stable login token needs v1.7");
        assert_eq!(versions.contains(&"v1.11"), v1_11, "{name}: MSC3967 is spec v1.11");
    }
}

#[tokio::test]
async fn capabilities_per_profile() {
    let r1 = Profile::default().with_overrides(&json!({ "login_token": { "r1": true } })).unwrap();
    let cases = [
        (Profile::default(), true, false),
        (Profile::msc2912(), true, false),
        (Profile::legacy(), false, false),
        (r1, true, true),
    ];
    for (profile, stable, r1) in cases {
        let name = profile.name.clone();
        let ts = TestServer::start(profile).await;
        let alice = ts.account("alice");
        let (status, body) = ts.get("/_matrix/client/v3/capabilities", Some(&alice.token)).await;
        assert_eq!(status, 200, "{name}");
        let caps = &body["capabilities"];
        assert_eq!(caps["m.change_password"], json!({ "enabled": true }));
        assert_eq!(caps["m.room_versions"]["default"], json!("10"));
        let enabled = json!({ "enabled": true });
        assert_eq!(caps.get("m.get_login_token") == Some(&enabled), stable, "{name}: {caps}");
        assert_eq!(caps.get("org.matrix.msc3882.get_login_token") == Some(&enabled), r1, "{name}: {caps}");
        assert_eq!(ts.get("/_matrix/client/v3/capabilities", None).await.0, 401);
    }
}

#[tokio::test]
async fn whoami_names_the_user_and_device_of_the_token() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let (status, body) = ts.get(WHOAMI, Some(&alice.token)).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({ "user_id": alice.user_id, "device_id": alice.device_id, "is_guest": false }));
    let (_, body) = ts.get(WHOAMI, Some(&bob.token)).await;
    assert_eq!(body["user_id"], json!("@bob:test"));
    let (status, body) = ts.get(WHOAMI, None).await;
    assert_eq!((status, body), (401, error("M_MISSING_TOKEN", "Missing access token")));
}
