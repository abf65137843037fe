//! Password and token login, logout, and the MSC3882 login token in its three forms.

mod common;

use std::sync::Arc;

use common::TestServer;
use mock_homeserver::{ManualClock, MockHomeserver, Profile};
use serde_json::json;

fn password_auth(session: &str, user: &str, password: &str) -> serde_json::Value {
    json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password, "session": session})
}

/// Gets a token through the two UIA rounds; returns the 200 body.
async fn get_token(t: &TestServer, path: &str, token: &str, user: &str, password: &str) -> serde_json::Value {
    let (status, challenge) = t.post(path, Some(token), &json!({})).await;
    assert_eq!(status, 401, "{challenge}");
    assert_eq!(challenge["flows"], json!([{"stages": ["m.login.password"]}]));
    assert_eq!(challenge["params"], json!({}));
    let session = challenge["session"].as_str().expect("session").to_owned();
    let (status, body) =
        t.post(path, Some(token), &json!({"auth": password_auth(&session, user, password)})).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn login_flows_advertise_the_token_form_of_the_profile() {
    let t = TestServer::start(Profile::default()).await;
    let (status, body) = t.get("/_matrix/client/v3/login", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["flows"],
        json!([{"type": "m.login.password"}, {"type": "m.login.token", "get_login_token": true}])
    );
    let legacy = TestServer::start(Profile::legacy()).await;
    let (_, body) = legacy.get("/_matrix/client/v3/login", None).await;
    assert_eq!(body["flows"][1], json!({"type": "m.login.token"}));
}

#[tokio::test]
async fn password_login_and_its_errors() {
    let t = TestServer::start(Profile::default()).await;
    let alice = t.account("alice");
    let body = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
        "password": alice.password, "device_id": "PHONE", "initial_device_display_name": "phone"});
    let (status, answer) = t.post("/_matrix/client/v3/login", None, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["user_id"], alice.user_id);
    assert_eq!(answer["device_id"], "PHONE");
    assert_eq!(answer["home_server"], "test");
    let token = answer["access_token"].as_str().unwrap();
    let (_, whoami) = t.get("/_matrix/client/v3/account/whoami", Some(token)).await;
    assert_eq!(whoami["device_id"], "PHONE");

    let wrong = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "@alice:test"}, "password": "nope"});
    let (status, answer) = t.post("/_matrix/client/v3/login", None, &wrong).await;
    assert_eq!(
        (status, answer),
        (403, json!({"errcode": "M_FORBIDDEN", "error": "Invalid username or password"}))
    );
    let unknown_user = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "bob"}, "password": "x"});
    assert_eq!(t.post("/_matrix/client/v3/login", None, &unknown_user).await.0, 403);
    let (status, answer) = t.post("/_matrix/client/v3/login", None, &json!({"type": "m.login.sso"})).await;
    assert_eq!((status, answer["errcode"].clone()), (400, json!("M_UNKNOWN")));
    let (status, answer) = t.post("/_matrix/client/v3/login", None, &json!({"password": "x"})).await;
    assert_eq!((status, answer["errcode"].clone()), (400, json!("M_UNKNOWN")));
}

#[tokio::test]
async fn a_login_token_is_single_use() {
    let t = TestServer::start(Profile::default()).await;
    let alice = t.account("alice");
    let issued =
        get_token(&t, "/_matrix/client/v1/login/get_token", &alice.token, "alice", &alice.password).await;
    assert_eq!(issued["expires_in_ms"], 120_000);
    let login_token = issued["login_token"].as_str().unwrap();
    let body = json!({"type": "m.login.token", "token": login_token, "device_id": "NEWDEVICE"});
    let (status, answer) = t.post("/_matrix/client/v3/login", None, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["user_id"], alice.user_id);
    assert_eq!(answer["device_id"], "NEWDEVICE");
    let (status, again) = t.post("/_matrix/client/v3/login", None, &body).await;
    assert_eq!((status, again), (403, json!({"errcode": "M_FORBIDDEN", "error": "Invalid login token"})));
}

#[tokio::test]
async fn the_v1_text_field_name_login_token_is_rejected() {
    let t = TestServer::start(Profile::default()).await;
    let alice = t.account("alice");
    let issued =
        get_token(&t, "/_matrix/client/v1/login/get_token", &alice.token, "alice", &alice.password).await;
    let body = json!({"type": "m.login.token", "login_token": issued["login_token"]});
    let (status, answer) = t.post("/_matrix/client/v3/login", None, &body).await;
    assert_eq!((status, answer), (400, json!({"errcode": "M_UNKNOWN", "error": "Missing JSON keys."})));
}

#[tokio::test]
async fn a_login_token_expires_by_the_server_clock() {
    let clock = ManualClock::new();
    let server = MockHomeserver::builder().clock(Arc::new(clock.clone())).start().await.unwrap();
    let t = TestServer { server, http: reqwest::Client::new() };
    let alice = t.account("alice");
    let issued =
        get_token(&t, "/_matrix/client/v1/login/get_token", &alice.token, "alice", &alice.password).await;
    clock.advance_ms(120_000);
    let body = json!({"type": "m.login.token", "token": issued["login_token"]});
    let (status, answer) = t.post("/_matrix/client/v3/login", None, &body).await;
    assert_eq!((status, answer["error"].clone()), (403, json!("Invalid login token")));
    let unknown = json!({"type": "m.login.token", "token": "lt_never_issued"});
    assert_eq!(t.post("/_matrix/client/v3/login", None, &unknown).await.0, 403);
}

#[tokio::test]
async fn every_token_request_needs_the_password_again_and_a_wrong_one_fails_the_stage() {
    let t = TestServer::start(Profile::default()).await;
    let alice = t.account("alice");
    get_token(&t, "/_matrix/client/v1/login/get_token", &alice.token, "alice", &alice.password).await;
    // A second request is challenged again: consent is asked every time.
    let (status, challenge) =
        t.post("/_matrix/client/v1/login/get_token", Some(&alice.token), &json!({})).await;
    assert_eq!(status, 401);
    let session = challenge["session"].as_str().unwrap();
    let (status, failed) = t
        .post(
            "/_matrix/client/v1/login/get_token",
            Some(&alice.token),
            &json!({"auth": password_auth(session, "alice", "wrong")}),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(failed["errcode"], "M_FORBIDDEN");
    assert_eq!(failed["error"], "Invalid username or password");
    assert_eq!(failed["session"], session);
    assert_eq!(failed["completed"], json!([]));
    // Another user's password does not authenticate alice.
    let bob = t.account("bob");
    let (status, _) = t
        .post(
            "/_matrix/client/v1/login/get_token",
            Some(&alice.token),
            &json!({"auth": password_auth(session, "bob", &bob.password)}),
        )
        .await;
    assert_eq!(status, 401);
    // Without a token at all.
    assert_eq!(t.post("/_matrix/client/v1/login/get_token", None, &json!({})).await.0, 401);
}

#[tokio::test]
async fn each_profile_serves_only_its_token_forms() {
    let t = TestServer::start(Profile::default()).await;
    let alice = t.account("alice");
    for path in [
        "/_matrix/client/unstable/org.matrix.msc3882/login/get_token",
        "/_matrix/client/unstable/org.matrix.msc3882/login/token",
    ] {
        let (status, body) = t.post(path, Some(&alice.token), &json!({})).await;
        assert_eq!((status, body["errcode"].clone()), (404, json!("M_UNRECOGNIZED")), "{path}");
    }
    let legacy = TestServer::start(Profile::legacy()).await;
    let bob = legacy.account("bob");
    let (status, _) = legacy.post("/_matrix/client/v1/login/get_token", Some(&bob.token), &json!({})).await;
    assert_eq!(status, 404);
    let issued = get_token(
        &legacy,
        "/_matrix/client/unstable/org.matrix.msc3882/login/token",
        &bob.token,
        "bob",
        &bob.password,
    )
    .await;
    assert_eq!(issued["expires_in"], 120);
    assert!(issued.get("expires_in_ms").is_none());
    let r1 =
        Profile::default().with_overrides(&json!({"login_token": {"stable": false, "r1": true}})).unwrap();
    let r1 = TestServer::start(r1).await;
    let carol = r1.account("carol");
    let issued = get_token(
        &r1,
        "/_matrix/client/unstable/org.matrix.msc3882/login/get_token",
        &carol.token,
        "carol",
        &carol.password,
    )
    .await;
    assert_eq!(issued["expires_in_ms"], 120_000);
    let (_, caps) = r1.get("/_matrix/client/v3/capabilities", Some(&carol.token)).await;
    assert_eq!(caps["capabilities"]["org.matrix.msc3882.get_login_token"]["enabled"], true);
    assert!(caps["capabilities"].get("m.get_login_token").is_none());
}

#[tokio::test]
async fn logout_ends_the_token_and_the_device() {
    let t = TestServer::start(Profile::default()).await;
    let alice = t.account("alice");
    let (status, _) = t.post("/_matrix/client/v3/logout", Some(&alice.token), &json!({})).await;
    assert_eq!(status, 200);
    let (status, body) = t.get("/_matrix/client/v3/account/whoami", Some(&alice.token)).await;
    assert_eq!((status, body["errcode"].clone()), (401, json!("M_UNKNOWN_TOKEN")));
    let other = t.another_device(&alice);
    let (_, devices) = t.get("/_matrix/client/v3/devices", Some(&other.token)).await;
    let ids: Vec<&str> =
        devices["devices"].as_array().unwrap().iter().filter_map(|d| d["device_id"].as_str()).collect();
    assert_eq!(ids, vec![other.device_id.as_str()]);
}
