//! User-interactive authentication over HTTP (docs/protocol.md §8.1): the challenge shape,
//! stage errors inside the 401 body, session errors, stored parameters and the
//! registration-token flow.

mod common;

use common::TestServer;
use mock_homeserver::Profile;
use serde_json::{json, Value};

const REGISTER: &str = "/_matrix/client/v3/register";
const GET_TOKEN: &str = "/_matrix/client/v1/login/get_token";

fn sorted_keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    keys
}

fn with_auth(mut body: Value, auth: Value) -> Value {
    body["auth"] = auth;
    body
}

fn token_profile() -> Profile {
    Profile::default().with_overrides(&json!({ "registration_token": "letmein" })).unwrap()
}

#[tokio::test]
async fn first_challenge_has_flows_params_and_session_only() {
    let ts = TestServer::start(Profile::default()).await;
    let (status, body) = ts.post(REGISTER, None, &json!({ "username": "alice", "password": "pw" })).await;
    assert_eq!(status, 401);
    assert_eq!(sorted_keys(&body), ["flows", "params", "session"]);
    assert_eq!(body["flows"], json!([{ "stages": ["m.login.dummy"] }]));
    assert_eq!(body["params"], json!({}));
    assert!(!body["session"].as_str().unwrap().is_empty());

    let alice = ts.account("alice2");
    let (status, body) = ts.post(GET_TOKEN, Some(&alice.token), &json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(sorted_keys(&body), ["flows", "params", "session"]);
    assert_eq!(body["flows"], json!([{ "stages": ["m.login.password"] }]));
}

#[tokio::test]
async fn failed_password_stage_comes_back_inside_the_challenge() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let (_, challenge) = ts.post(GET_TOKEN, Some(&alice.token), &json!({})).await;
    let session = challenge["session"].as_str().unwrap();
    let auth = json!({
        "type": "m.login.password",
        "identifier": { "type": "m.id.user", "user": "alice" },
        "password": "not it",
        "session": session,
    });
    let (status, body) = ts.post(GET_TOKEN, Some(&alice.token), &json!({ "auth": auth })).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({
            "session": session,
            "flows": [{ "stages": ["m.login.password"] }],
            "params": {},
            "completed": [],
            "errcode": "M_FORBIDDEN",
            "error": "Invalid username or password",
        })
    );
    // The session survives the failure: the right password completes it.
    let mut good = auth.clone();
    good["password"] = json!(alice.password);
    assert_eq!(ts.post(GET_TOKEN, Some(&alice.token), &json!({ "auth": good })).await.0, 200);
}

#[tokio::test]
async fn unknown_session_is_a_400() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let expected = (400, json!({ "errcode": "M_UNKNOWN", "error": "Unknown session ID: nosuchsession" }));
    let auth = json!({ "type": "m.login.dummy", "session": "nosuchsession" });
    let body = with_auth(json!({ "username": "bob", "password": "pw" }), auth.clone());
    assert_eq!(ts.post(REGISTER, None, &body).await, expected);
    assert_eq!(ts.post(GET_TOKEN, Some(&alice.token), &json!({ "auth": auth })).await, expected);
    assert!(!ts.server.core().account_exists("@bob:test"));
}

#[tokio::test]
async fn changing_the_operation_mid_session_is_forbidden() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let expected = (
        403,
        json!({
            "errcode": "M_FORBIDDEN",
            "error": "Requested operation has changed during the UI authentication session.",
        }),
    );
    let (_, register) = ts.post(REGISTER, None, &json!({ "username": "bob", "password": "pw" })).await;
    let register_session = register["session"].as_str().unwrap();
    let (_, token) = ts.post(GET_TOKEN, Some(&alice.token), &json!({})).await;
    let token_session = token["session"].as_str().unwrap();

    let auth = json!({ "type": "m.login.dummy", "session": token_session });
    assert_eq!(ts.post(REGISTER, None, &json!({ "auth": auth })).await, expected);
    let auth = json!({
        "type": "m.login.password",
        "identifier": { "type": "m.id.user", "user": "alice" },
        "password": alice.password,
        "session": register_session,
    });
    assert_eq!(ts.post(GET_TOKEN, Some(&alice.token), &json!({ "auth": auth })).await, expected);
    assert!(!ts.server.core().account_exists("@bob:test"));
}

#[tokio::test]
async fn registration_token_flow() {
    let ts = TestServer::start(token_profile()).await;
    let start = json!({ "username": "carol", "password": "pw" });
    let (status, challenge) = ts.post(REGISTER, None, &start).await;
    assert_eq!(status, 401);
    assert_eq!(challenge["flows"], json!([{ "stages": ["m.login.registration_token", "m.login.dummy"] }]));
    let session = challenge["session"].as_str().unwrap();
    let flows = challenge["flows"].clone();

    let cases = [
        (
            json!({ "type": "m.login.registration_token", "session": session }),
            "M_MISSING_PARAM",
            "Missing registration token",
        ),
        (
            json!({ "type": "m.login.registration_token", "token": "nope", "session": session }),
            "M_UNAUTHORIZED",
            "Invalid registration token",
        ),
        (
            json!({ "type": "m.login.registration_token", "token": 7, "session": session }),
            "M_INVALID_PARAM",
            "Registration token must be a string",
        ),
    ];
    for (auth, errcode, error) in cases {
        let (status, body) = ts.post(REGISTER, None, &json!({ "auth": auth })).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(
            body,
            json!({ "session": session, "flows": flows, "params": {}, "completed": [], "errcode": errcode, "error": error })
        );
    }

    let auth = json!({ "type": "m.login.registration_token", "token": "letmein", "session": session });
    let (status, body) = ts.post(REGISTER, None, &json!({ "auth": auth })).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({ "session": session, "flows": flows, "params": {}, "completed": ["m.login.registration_token"] })
    );
    assert!(!ts.server.core().account_exists("@carol:test"), "not before the flow is complete");

    let auth = json!({ "type": "m.login.dummy", "session": session });
    let (status, body) = ts.post(REGISTER, None, &json!({ "auth": auth })).await;
    assert_eq!((status, body["user_id"].clone()), (200, json!("@carol:test")), "{body}");
}

#[tokio::test]
async fn a_completed_stage_cannot_be_repeated_and_one_stage_is_not_a_flow() {
    let ts = TestServer::start(token_profile()).await;
    let (_, challenge) = ts.post(REGISTER, None, &json!({ "username": "dave", "password": "pw" })).await;
    let session = challenge["session"].as_str().unwrap();
    let token = json!({ "type": "m.login.registration_token", "token": "letmein", "session": session });
    assert_eq!(ts.post(REGISTER, None, &json!({ "auth": token })).await.0, 401);
    let (status, body) = ts.post(REGISTER, None, &json!({ "auth": token })).await;
    assert_eq!(status, 401);
    assert_eq!(body["errcode"], json!("M_FORBIDDEN"));
    assert_eq!(body["completed"], json!(["m.login.registration_token"]));
    assert!(!ts.server.core().account_exists("@dave:test"));

    // The dummy stage alone does not complete a flow that also needs the token.
    let ts = TestServer::start(token_profile()).await;
    let (_, challenge) = ts.post(REGISTER, None, &json!({ "username": "dave", "password": "pw" })).await;
    let session = challenge["session"].as_str().unwrap();
    let dummy = json!({ "type": "m.login.dummy", "session": session });
    let (status, body) = ts.post(REGISTER, None, &json!({ "auth": dummy })).await;
    assert_eq!((status, body["completed"].clone()), (401, json!(["m.login.dummy"])));
    assert!(!ts.server.core().account_exists("@dave:test"));
}

#[tokio::test]
async fn session_only_auth_reports_progress() {
    let ts = TestServer::start(token_profile()).await;
    let (_, challenge) = ts.post(REGISTER, None, &json!({ "username": "erin", "password": "pw" })).await;
    let session = challenge["session"].as_str().unwrap();
    let token = json!({ "type": "m.login.registration_token", "token": "letmein", "session": session });
    ts.post(REGISTER, None, &json!({ "auth": token })).await;
    let (status, body) = ts.post(REGISTER, None, &json!({ "auth": { "session": session } })).await;
    assert_eq!(status, 401);
    assert_eq!(body["completed"], json!(["m.login.registration_token"]));
    assert!(body.get("errcode").is_none());
}

#[tokio::test]
async fn parameters_of_earlier_rounds_are_reused_and_the_session_ends_with_success() {
    let ts = TestServer::start(Profile::default()).await;
    let start =
        json!({ "username": "frank", "password": "pw", "initial_device_display_name": "first round" });
    let (_, challenge) = ts.post(REGISTER, None, &start).await;
    let session = challenge["session"].as_str().unwrap();
    let auth = json!({ "type": "m.login.dummy", "session": session });
    let (status, body) = ts.post(REGISTER, None, &json!({ "auth": auth })).await;
    assert_eq!((status, body["user_id"].clone()), (200, json!("@frank:test")), "{body}");
    let device = format!("/_matrix/client/v3/devices/{}", body["device_id"].as_str().unwrap());
    let (_, device) = ts.get(&device, body["access_token"].as_str()).await;
    assert_eq!(device["display_name"], json!("first round"));
    // Password from the first round.
    let login = json!({ "type": "m.login.password", "identifier": { "type": "m.id.user", "user": "frank" }, "password": "pw" });
    assert_eq!(ts.post("/_matrix/client/v3/login", None, &login).await.0, 200);

    // The completed session is gone.
    let (status, body) = ts.post(REGISTER, None, &json!({ "username": "frank2", "auth": auth })).await;
    assert_eq!((status, body["error"].clone()), (400, json!(format!("Unknown session ID: {session}"))));
}

#[tokio::test]
async fn malformed_auth_is_bad_json() {
    let ts = TestServer::start(Profile::default()).await;
    for auth in [json!("dummy"), json!({ "type": "m.login.dummy", "session": 5 })] {
        let (status, body) =
            ts.post(REGISTER, None, &json!({ "username": "gina", "password": "pw", "auth": auth })).await;
        assert_eq!((status, body["errcode"].clone()), (400, json!("M_BAD_JSON")), "{auth}");
    }
}
