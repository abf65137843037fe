//! Key backup versions over HTTP (docs/protocol.md §8.4): create, current, by version,
//! the errors, and that versions are per user.

mod common;

use common::TestServer;
use mock_homeserver::Profile;
use serde_json::{json, Value};

const VERSION: &str = "/_matrix/client/v3/room_keys/version";
const ALGORITHM: &str = "m.megolm_backup.v1.curve25519-aes-sha2";

fn auth_data(n: u8) -> Value {
    json!({ "public_key": format!("pub{n}"), "signatures": { "@alice:test": { "ed25519:MSK": format!("sig{n}") } } })
}

fn stored(version: &str, n: u8) -> Value {
    json!({ "algorithm": ALGORITHM, "auth_data": auth_data(n), "count": 0, "etag": "0", "version": version })
}

#[tokio::test]
async fn versions_are_created_numbered_and_the_highest_is_current() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    assert_eq!(
        ts.get(VERSION, Some(&alice.token)).await,
        (404, json!({ "errcode": "M_NOT_FOUND", "error": "No current backup version" }))
    );
    let create = |n: u8| json!({ "algorithm": ALGORITHM, "auth_data": auth_data(n) });
    assert_eq!(ts.post(VERSION, Some(&alice.token), &create(1)).await, (200, json!({ "version": "1" })));
    assert_eq!(ts.get(VERSION, Some(&alice.token)).await, (200, stored("1", 1)));
    assert_eq!(ts.post(VERSION, Some(&alice.token), &create(2)).await, (200, json!({ "version": "2" })));
    assert_eq!(ts.get(VERSION, Some(&alice.token)).await, (200, stored("2", 2)));
    assert_eq!(ts.get(&format!("{VERSION}/1"), Some(&alice.token)).await, (200, stored("1", 1)));
    assert_eq!(ts.get(&format!("{VERSION}/2"), Some(&alice.token)).await, (200, stored("2", 2)));
    let unknown = (404, json!({ "errcode": "M_NOT_FOUND", "error": "Unknown backup version" }));
    assert_eq!(ts.get(&format!("{VERSION}/3"), Some(&alice.token)).await, unknown);
    assert_eq!(ts.get(&format!("{VERSION}/abc"), Some(&alice.token)).await, unknown);
}

#[tokio::test]
async fn versions_belong_to_one_user() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let body = json!({ "algorithm": ALGORITHM, "auth_data": auth_data(1) });
    assert_eq!(ts.post(VERSION, Some(&alice.token), &body).await, (200, json!({ "version": "1" })));
    assert_eq!(ts.get(VERSION, Some(&bob.token)).await.0, 404, "bob has no backup");
    assert_eq!(ts.get(&format!("{VERSION}/1"), Some(&bob.token)).await.0, 404, "bob cannot read alice's");
    assert_eq!(
        ts.post(VERSION, Some(&bob.token), &body).await,
        (200, json!({ "version": "1" })),
        "own numbering"
    );
    // Another device of Alice sees her backup.
    let alice2 = ts.another_device(&alice);
    assert_eq!(ts.get(VERSION, Some(&alice2.token)).await, (200, stored("1", 1)));
}

#[tokio::test]
async fn creating_a_version_checks_the_body() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let post = async |body: Value| ts.post(VERSION, Some(&alice.token), &body).await;
    let missing = |error: &str| (400, json!({ "errcode": "M_MISSING_PARAM", "error": error }));
    let bad = |error: &str| (400, json!({ "errcode": "M_BAD_JSON", "error": error }));
    assert_eq!(post(json!({})).await, missing("Missing params: ['algorithm', 'auth_data']"));
    assert_eq!(post(json!({ "auth_data": {} })).await, missing("Missing params: ['algorithm']"));
    assert_eq!(post(json!({ "algorithm": ALGORITHM })).await, missing("Missing params: ['auth_data']"));
    assert_eq!(post(json!({ "algorithm": 1, "auth_data": {} })).await, bad("`algorithm` must be a string"));
    assert_eq!(
        post(json!({ "algorithm": ALGORITHM, "auth_data": "x" })).await,
        bad("`auth_data` must be an object")
    );
    assert_eq!(post(json!([])).await, bad("Content must be a JSON object."));
    assert_eq!(ts.get(VERSION, Some(&alice.token)).await.0, 404, "nothing was stored");
    assert_eq!(ts.post(VERSION, None, &json!({})).await.0, 401);
}
