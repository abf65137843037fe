//! Property tests: whatever a client sends, the server answers with a well-formed
//! Matrix response — never a panic, never a 5xx, and every error body carries an
//! `errcode` (a bare UIA challenge carries `flows` instead).

use std::sync::Arc;

use mock_homeserver::{Body, Homeserver, ManualClock, Profile, Request, Response};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Every path the server serves, with placeholders filled by the strategies.
const PATHS: &[&str] = &[
    "/_matrix/client/versions",
    "/_matrix/client/v3/capabilities",
    "/_matrix/client/v3/account/whoami",
    "/_matrix/client/v3/login",
    "/_matrix/client/v3/logout",
    "/_matrix/client/v3/register",
    "/_matrix/client/v1/login/get_token",
    "/_matrix/client/unstable/org.matrix.msc3882/login/get_token",
    "/_matrix/client/unstable/org.matrix.msc3882/login/token",
    "/_matrix/client/v3/keys/upload",
    "/_matrix/client/v3/keys/query",
    "/_matrix/client/v3/keys/claim",
    "/_matrix/client/v3/keys/device_signing/upload",
    "/_matrix/client/v3/keys/signatures/upload",
    "/_matrix/client/v3/devices",
    "/_matrix/client/v3/devices/ALICEDEV",
    "/_matrix/client/v3/sendToDevice/m.secret.request/txn1",
    "/_matrix/client/v3/sync",
    "/_matrix/client/v3/room_keys/version",
    "/_matrix/client/v3/room_keys/version/1",
    "/_matrix/client/unstable/org.matrix.msc3886/rendezvous",
    "/_matrix/client/unstable/org.matrix.msc3886/rendezvous/abc",
    "/_matrix/client/v3/nonexistent",
    "/",
    "",
];

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "HEAD", "BREW"];

fn server() -> (Homeserver, String) {
    let server = Homeserver::with_clock(Profile::msc2912(), 3, Arc::new(ManualClock::new()));
    let user = server.create_account("alice", "alice-password").expect("fresh account");
    let (_, token) = server.login_account(&user, Some("ALICEDEV")).expect("login");
    (server, token)
}

/// Arbitrary JSON, nested a few levels, including the shapes our endpoints expect.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        "\\PC{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "@alice:test",
            "ALICEDEV",
            "m.login.dummy",
            "m.login.password",
            "m.login.token",
            "ed25519:ALICEDEV",
            "signed_curve25519:AAAAAQ",
            "master",
            "self_signing",
            "user_signing",
            "*",
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "auth",
                    "type",
                    "session",
                    "username",
                    "password",
                    "device_keys",
                    "one_time_keys",
                    "master_key",
                    "self_signing_key",
                    "user_signing_key",
                    "keys",
                    "usage",
                    "user_id",
                    "signatures",
                    "messages",
                    "@alice:test",
                    "ALICEDEV",
                    "identifier",
                    "user",
                    "token",
                    "device_signing",
                    "org.matrix.msc2912.device_signing",
                    "algorithm",
                    "auth_data",
                    "timeout",
                    "fallback_keys",
                    "algorithms",
                    "device_id",
                ])
                .prop_map(str::to_owned),
                inner,
                0..5,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        arb_json().prop_map(|v| serde_json::to_vec(&v).expect("serialises")),
        Just(Vec::new()),
        Just(b"{".to_vec()),
    ]
}

fn arb_request() -> impl Strategy<Value = (String, String, String, Vec<u8>, bool)> {
    (
        prop::sample::select(METHODS).prop_map(str::to_owned),
        prop_oneof![
            3 => prop::sample::select(PATHS).prop_map(str::to_owned),
            1 => "/[a-z_/%.0-9]{0,40}".prop_map(|s| s),
        ],
        prop_oneof![Just(String::new()), "[a-z_=&%0-9]{0,20}".prop_map(|s| s), Just("timeout=0".to_owned())],
        arb_body(),
        any::<bool>(),
    )
}

fn check(response: &Response) -> Result<(), TestCaseError> {
    prop_assert!(response.status < 500, "5xx answer: {response:?}");
    prop_assert!((100..600).contains(&response.status));
    if response.status >= 400 {
        let Body::Json(Value::Object(body)) = &response.body else {
            return Err(TestCaseError::fail(format!("error without a JSON object body: {response:?}")));
        };
        let is_uia_challenge = response.status == 401 && body.contains_key("flows");
        prop_assert!(
            body.get("errcode").and_then(Value::as_str).is_some() || is_uia_challenge,
            "error body without errcode: {response:?}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Random methods, paths, queries and bodies, with and without a valid token.
    #[test]
    fn no_panic_no_5xx_errors_carry_errcode(requests in prop::collection::vec(arb_request(), 1..6)) {
        let (server, token) = server();
        for (method, path, query, body, authenticated) in requests {
            let mut request = Request::new(&method, &path);
            request.query = query;
            request.body = body;
            request = request.with_header("content-type", "application/json");
            if authenticated {
                request = request.with_token(&token);
            }
            let response = server.handle(request);
            check(&response)?;
        }
        // The journal recorded every exchange, in order.
        let journal = server.journal();
        for (i, entry) in journal.iter().enumerate() {
            prop_assert_eq!(entry.seq, i as u64 + 1);
        }
    }

    /// Well-formed JSON objects against every known endpoint and method.
    #[test]
    fn json_objects_against_known_endpoints(
        path in prop::sample::select(PATHS),
        method in prop::sample::select(&["GET", "POST", "PUT", "DELETE"][..]),
        body in arb_json(),
    ) {
        let (server, token) = server();
        let request = Request::new(method, path).json(&body).with_token(&token);
        check(&server.handle(request))?;
    }
}

#[test]
fn unknown_endpoint_and_wrong_method_are_m_unrecognized() {
    let (server, _) = server();
    let unknown = server.handle(Request::get("/_matrix/client/v3/nonexistent"));
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json_body().unwrap()["errcode"], "M_UNRECOGNIZED");
    let wrong_method = server.handle(Request::new("DELETE", "/_matrix/client/versions"));
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.json_body().unwrap()["errcode"], "M_UNRECOGNIZED");
}

#[test]
fn missing_and_unknown_tokens() {
    let (server, _) = server();
    let missing = server.handle(Request::get("/_matrix/client/v3/account/whoami"));
    assert_eq!(
        (missing.status, missing.json_body().unwrap()["errcode"].clone()),
        (401, json!("M_MISSING_TOKEN"))
    );
    let unknown = server.handle(Request::get("/_matrix/client/v3/account/whoami").with_token("nope"));
    assert_eq!(
        (unknown.status, unknown.json_body().unwrap()["errcode"].clone()),
        (401, json!("M_UNKNOWN_TOKEN"))
    );
}

#[test]
fn body_over_the_limit_is_m_too_large() {
    let (server, token) = server();
    let mut request = Request::new("POST", "/_matrix/client/v3/keys/query").with_token(&token);
    request.body = vec![b' '; 70_000];
    let response = server.handle(request);
    assert_eq!(response.status, 413);
    assert_eq!(response.json_body().unwrap()["errcode"], "M_TOO_LARGE");
}
