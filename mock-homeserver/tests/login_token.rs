//! MSC3882 login tokens over HTTP (docs/protocol.md §5, §10 D10): the stable, r1 and r0
//! forms per profile, UIA with the caller's password on every request, single use,
//! expiry by the server's clock, and redeeming with `POST /login`.

mod common;

use std::sync::Arc;

use common::{Account, TestServer};
use mock_homeserver::{ManualClock, MockHomeserver, Profile};
use serde_json::{json, Value};

const STABLE: &str = "/_matrix/client/v1/login/get_token";
const R1: &str = "/_matrix/client/unstable/org.matrix.msc3882/login/get_token";
const R0: &str = "/_matrix/client/unstable/org.matrix.msc3882/login/token";
const LOGIN: &str = "/_matrix/client/v3/login";

fn error(errcode: &str, error: &str) -> Value {
    json!({ "errcode": errcode, "error": error })
}

fn password_auth(account: &Account, password: &str, session: &str) -> Value {
    json!({ "auth": {
        "type": "m.login.password",
        "identifier": { "type": "m.id.user", "user": account.user_id },
        "password": password,
        "session": session,
    } })
}

/// Requests a token on `path`: the 401 challenge, then the password stage. Returns the
/// 200 body.
async fn get_token(ts: &TestServer, path: &str, account: &Account) -> Value {
    let (status, challenge) = ts.post(path, Some(&account.token), &json!({})).await;
    assert_eq!(status, 401, "{challenge}");
    assert_eq!(challenge["flows"], json!([{ "stages": ["m.login.password"] }]));
    let session = challenge["session"].as_str().expect("session");
    let (status, body) =
        ts.post(path, Some(&account.token), &password_auth(account, &account.password, session)).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn token_login(token: &str) -> Value {
    json!({ "type": "m.login.token", "token": token })
}

#[tokio::test]
async fn stable_token_logs_in_a_new_device_once() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let body = get_token(&ts, STABLE, &alice).await;
    let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["expires_in_ms", "login_token"]);
    assert_eq!(body["expires_in_ms"], json!(120_000));
    let token = body["login_token"].as_str().unwrap();

    let (status, login) = ts.post(LOGIN, None, &token_login(token)).await;
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["user_id"], json!("@alice:test"));
    assert_eq!(login["home_server"], json!("test"));
    assert_ne!(login["device_id"], json!(alice.device_id));
    let (status, me) = ts.get("/_matrix/client/v3/account/whoami", login["access_token"].as_str()).await;
    assert_eq!((status, me["device_id"].clone()), (200, login["device_id"].clone()));

    // Single use.
    assert_eq!(
        ts.post(LOGIN, None, &token_login(token)).await,
        (403, error("M_FORBIDDEN", "Invalid login token"))
    );
}

#[tokio::test]
async fn token_login_takes_device_id_and_display_name() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let token = get_token(&ts, STABLE, &alice).await["login_token"].as_str().unwrap().to_owned();
    let body = json!({ "type": "m.login.token", "token": token, "device_id": "NEWDEVICE", "initial_device_display_name": "scanner" });
    let (status, login) = ts.post(LOGIN, None, &body).await;
    assert_eq!((status, login["device_id"].clone()), (200, json!("NEWDEVICE")));
    let (status, device) = ts.get("/_matrix/client/v3/devices/NEWDEVICE", Some(&alice.token)).await;
    assert_eq!((status, device["display_name"].clone()), (200, json!("scanner")));
}

#[tokio::test]
async fn token_expires_by_the_server_clock() {
    let clock = ManualClock::new();
    let server = MockHomeserver::builder().clock(Arc::new(clock.clone())).seed(3).start().await.unwrap();
    let ts = TestServer { server, http: reqwest::Client::new() };
    let alice = ts.account("alice");

    let first = get_token(&ts, STABLE, &alice).await["login_token"].as_str().unwrap().to_owned();
    clock.advance_ms(120_000);
    assert_eq!(
        ts.post(LOGIN, None, &token_login(&first)).await,
        (403, error("M_FORBIDDEN", "Invalid login token"))
    );

    let second = get_token(&ts, STABLE, &alice).await["login_token"].as_str().unwrap().to_owned();
    clock.advance_ms(119_999);
    assert_eq!(ts.post(LOGIN, None, &token_login(&second)).await.0, 200, "one millisecond before expiry");
}

#[tokio::test]
async fn every_token_request_needs_a_fresh_password_stage() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    get_token(&ts, STABLE, &alice).await;
    // A successful round does not excuse the next one; the old session is closed.
    let (status, challenge) = ts.post(STABLE, Some(&alice.token), &json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(challenge["flows"], json!([{ "stages": ["m.login.password"] }]));
    let tokens_issued = ts.server.journal().iter().filter(|e| e.path == STABLE && e.status == 200).count();
    assert_eq!(tokens_issued, 1);
}

#[tokio::test]
async fn wrong_or_foreign_password_gets_no_token() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let (_, challenge) = ts.post(STABLE, Some(&alice.token), &json!({})).await;
    let session = challenge["session"].as_str().unwrap();

    let (status, body) = ts.post(STABLE, Some(&alice.token), &password_auth(&alice, "wrong", session)).await;
    assert_eq!(status, 401);
    assert_eq!(body["errcode"], json!("M_FORBIDDEN"));
    assert_eq!(body["error"], json!("Invalid username or password"));
    // Bob's correct password does not authenticate Alice.
    let (status, body) =
        ts.post(STABLE, Some(&alice.token), &password_auth(&bob, &bob.password, session)).await;
    assert_eq!((status, body["errcode"].clone()), (401, json!("M_FORBIDDEN")));
    assert!(ts.server.journal().iter().all(|e| e.status != 200));
}

#[tokio::test]
async fn token_request_needs_an_access_token() {
    let ts = TestServer::start(Profile::default()).await;
    let (status, body) = ts.post(STABLE, None, &json!({})).await;
    assert_eq!((status, body), (401, error("M_MISSING_TOKEN", "Missing access token")));
    let (status, body) = ts.post(STABLE, Some("syt_unknown"), &json!({})).await;
    assert_eq!((status, body["errcode"].clone()), (401, json!("M_UNKNOWN_TOKEN")));
}

#[tokio::test]
async fn default_profile_serves_only_the_stable_form() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    for path in [R1, R0] {
        for token in [Some(alice.token.as_str()), None] {
            assert_eq!(
                ts.post(path, token, &json!({})).await,
                (404, error("M_UNRECOGNIZED", "Unrecognized request")),
                "{path}"
            );
        }
    }
}

#[tokio::test]
async fn legacy_profile_serves_only_r0_with_seconds() {
    let ts = TestServer::start(Profile::legacy()).await;
    let alice = ts.account("alice");
    for path in [STABLE, R1] {
        assert_eq!(ts.post(path, Some(&alice.token), &json!({})).await.0, 404, "{path}");
    }
    let body = get_token(&ts, R0, &alice).await;
    let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["expires_in", "login_token"]);
    assert_eq!(body["expires_in"], json!(120));
    let (status, login) = ts.post(LOGIN, None, &token_login(body["login_token"].as_str().unwrap())).await;
    assert_eq!((status, login["user_id"].clone()), (200, json!("@alice:test")));
}

#[tokio::test]
async fn r1_and_lifetime_follow_the_profile() {
    let profile = Profile::default()
        .with_overrides(
            &json!({ "login_token": { "stable": false, "r1": true, "r0": true, "lifetime_ms": 5_000 } }),
        )
        .unwrap();
    // A clock that stands still: the 5 s lifetime must not run out on a slow machine
    // between asking for the tokens and using them.
    let clock = ManualClock::new();
    let server =
        MockHomeserver::builder().profile(profile).clock(Arc::new(clock)).seed(1).start().await.unwrap();
    let ts = TestServer { server, http: reqwest::Client::new() };
    let alice = ts.account("alice");
    assert_eq!(ts.post(STABLE, Some(&alice.token), &json!({})).await.0, 404);
    let r1 = get_token(&ts, R1, &alice).await;
    assert_eq!(r1["expires_in_ms"], json!(5_000));
    assert!(r1.get("expires_in").is_none());
    let r0 = get_token(&ts, R0, &alice).await;
    assert_eq!(r0["expires_in"], json!(5));
    assert_ne!(r0["login_token"], r1["login_token"]);
    for token in [&r1, &r0] {
        assert_eq!(ts.post(LOGIN, None, &token_login(token["login_token"].as_str().unwrap())).await.0, 200);
    }
}

#[tokio::test]
async fn msc3882_r0_body_field_login_token_is_rejected_and_keeps_the_token() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let token = get_token(&ts, STABLE, &alice).await["login_token"].as_str().unwrap().to_owned();
    let wrong = json!({ "type": "m.login.token", "login_token": token });
    assert_eq!(ts.post(LOGIN, None, &wrong).await, (400, error("M_UNKNOWN", "Missing JSON keys.")));
    // The malformed request did not use the token up.
    assert_eq!(ts.post(LOGIN, None, &token_login(&token)).await.0, 200);
}

#[tokio::test]
async fn unknown_or_malformed_tokens_are_forbidden() {
    let ts = TestServer::start(Profile::default()).await;
    ts.account("alice");
    let invalid = (403, error("M_FORBIDDEN", "Invalid login token"));
    assert_eq!(ts.post(LOGIN, None, &token_login("syl_nosuchtoken")).await, invalid);
    assert_eq!(ts.post(LOGIN, None, &json!({ "type": "m.login.token", "token": 42 })).await, invalid);
}
