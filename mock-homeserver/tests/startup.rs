//! The endpoints clients call at start-up and in their sync loop (matrix-js-sdk's
//! `startClient()`, its Rust crypto, matrix-rust-sdk): push rules, filters, account
//! data, profile, presence, discovery. One test per endpoint group; each answer is
//! the spec's shape, and each is journaled.

mod common;

use common::TestServer;
use mock_homeserver::Profile;
use serde_json::{json, Value};

fn path_user(user_id: &str) -> String {
    user_id.replace('@', "%40").replace(':', "%3A")
}

#[tokio::test]
async fn push_rules_are_the_empty_global_ruleset() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let empty = json!({ "content": [], "override": [], "room": [], "sender": [], "underride": [] });
    assert_eq!(
        ts.get("/_matrix/client/v3/pushrules/", Some(&alice.token)).await,
        (200, json!({ "global": empty }))
    );
    assert_eq!(ts.get("/_matrix/client/v3/pushrules/global/", Some(&alice.token)).await, (200, empty));
    assert_eq!(ts.get("/_matrix/client/v3/pushrules/", None).await.1["errcode"], "M_MISSING_TOKEN");
    let journal = ts.server.journal();
    assert!(
        journal.iter().any(|e| e.path == "/_matrix/client/v3/pushrules/" && e.status == 200),
        "journaled"
    );
}

#[tokio::test]
async fn a_filter_comes_back_as_it_was_uploaded_and_only_to_its_user() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let filters = format!("/_matrix/client/v3/user/{}/filter", path_user(&alice.user_id));
    let filter = json!({ "room": { "timeline": { "limit": 1 } }, "presence": { "not_types": ["*"] } });
    let (status, created) = ts.post(&filters, Some(&alice.token), &filter).await;
    assert_eq!(status, 200);
    let filter_id = created["filter_id"].as_str().expect("filter_id").to_owned();
    assert!(!filter_id.starts_with('{'), "the spec reserves `{{` for inline filters");
    assert_eq!(ts.get(&format!("{filters}/{filter_id}"), Some(&alice.token)).await, (200, filter));

    let other_user =
        (403, json!({ "errcode": "M_FORBIDDEN", "error": "Cannot create filters for other users" }));
    assert_eq!(ts.post(&filters, Some(&bob.token), &json!({})).await, other_user);
    let (status, body) = ts.get(&format!("{filters}/{filter_id}"), Some(&bob.token)).await;
    assert_eq!((status, body["error"].clone()), (403, json!("Cannot get filters for other users")));
    assert_eq!(
        ts.get(&format!("{filters}/12"), Some(&alice.token)).await,
        (404, json!({ "errcode": "M_NOT_FOUND", "error": "No such filter" }))
    );
    let (status, body) = ts.send("POST", &filters, Some(&alice.token), Some(&json!([1]))).await;
    assert_eq!((status, body["errcode"].clone()), (400, json!("M_BAD_JSON")));
}

#[tokio::test]
async fn account_data_is_never_found_and_never_another_user_s() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let user = path_user(&alice.user_id);
    let not_found = (404, json!({ "errcode": "M_NOT_FOUND", "error": "Account data not found" }));
    let global = format!("/_matrix/client/v3/user/{user}/account_data/m.secret_storage.default_key");
    assert_eq!(ts.get(&global, Some(&alice.token)).await, not_found);
    let room = format!("/_matrix/client/v3/user/{user}/rooms/%21room%3Atest/account_data/m.fully_read");
    assert_eq!(ts.get(&room, Some(&alice.token)).await, not_found);
    let forbidden =
        (403, json!({ "errcode": "M_FORBIDDEN", "error": "Cannot get account data for other users." }));
    assert_eq!(ts.get(&global, Some(&bob.token)).await, forbidden);
}

#[tokio::test]
async fn the_profile_names_the_localpart_and_has_no_avatar() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let profile = format!("/_matrix/client/v3/profile/{}", path_user(&alice.user_id));
    assert_eq!(ts.get(&profile, Some(&alice.token)).await, (200, json!({ "displayname": "alice" })));
    assert_eq!(ts.get(&profile, None).await, (200, json!({ "displayname": "alice" })), "no token needed");
    assert_eq!(
        ts.get(&format!("{profile}/displayname"), Some(&alice.token)).await,
        (200, json!({ "displayname": "alice" }))
    );
    assert_eq!(ts.get(&format!("{profile}/avatar_url"), Some(&alice.token)).await, (200, json!({})));
    let unknown = (404, json!({ "errcode": "M_NOT_FOUND", "error": "Profile was not found" }));
    assert_eq!(ts.get("/_matrix/client/v3/profile/%40nobody%3Atest", None).await, unknown);
}

#[tokio::test]
async fn presence_is_offline_for_known_users() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let status = |user: &str| format!("/_matrix/client/v3/presence/{}/status", path_user(user));
    assert_eq!(
        ts.get(&status(&alice.user_id), Some(&alice.token)).await,
        (200, json!({ "presence": "offline" }))
    );
    assert_eq!(
        ts.get(&status(&bob.user_id), Some(&alice.token)).await,
        (200, json!({ "presence": "offline" }))
    );
    let (code, body) = ts.get(&status("@nobody:test"), Some(&alice.token)).await;
    assert_eq!((code, body["errcode"].clone()), (404, json!("M_NOT_FOUND")));
    assert_eq!(ts.get(&status(&alice.user_id), None).await.0, 401);
}

#[tokio::test]
async fn discovery_names_this_server_and_no_turn_server() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let (status, body) = ts.get("/.well-known/matrix/client", None).await;
    assert_eq!((status, body), (200, json!({ "m.homeserver": { "base_url": ts.server.base_url() } })));
    assert_eq!(ts.get("/_matrix/client/v3/voip/turnServer", Some(&alice.token)).await, (200, json!({})));
    let (status, body): (u16, Value) = ts.get("/_matrix/client/v3/voip/turnServer", None).await;
    assert_eq!((status, body["errcode"].clone()), (401, json!("M_MISSING_TOKEN")));
}
