//! The `respond-with-error` fault and the journal, over real HTTP.

mod common;

use common::TestServer;
use mock_homeserver::{Caller, Fault, Profile};
use serde_json::json;

#[tokio::test]
async fn respond_with_error_fires_only_on_matches_for_its_budget_and_is_journaled() {
    let t = TestServer::start(Profile::default()).await;
    let alice = t.account("alice");
    t.server.add_fault(Fault::RespondWithError {
        method: Some("GET".into()),
        path: "/_matrix/client/v3/account/*".into(),
        status: 429,
        errcode: "M_LIMIT_EXCEEDED".into(),
        error: "Too Many Requests".into(),
        times: Some(2),
        seen_by: None,
    });

    // A request that does not match is untouched.
    let (status, _) = t.get("/_matrix/client/versions", None).await;
    assert_eq!(status, 200);
    // Two matching requests get the injected error, exactly as configured.
    for _ in 0..2 {
        let (status, body) = t.get("/_matrix/client/v3/account/whoami", Some(&alice.token)).await;
        assert_eq!(status, 429);
        assert_eq!(body, json!({"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests"}));
    }
    // The budget is spent: the real answer comes back.
    let (status, body) = t.get("/_matrix/client/v3/account/whoami", Some(&alice.token)).await;
    assert_eq!(status, 200);
    assert_eq!(body["user_id"], alice.user_id);

    let journal = t.server.journal();
    let fired: Vec<_> = journal.iter().filter(|e| !e.faults.is_empty()).collect();
    assert_eq!(fired.len(), 2, "exactly the two injected answers are marked: {journal:#?}");
    for entry in fired {
        assert_eq!(entry.status, 429);
        assert_eq!(entry.path, "/_matrix/client/v3/account/whoami");
        assert!(entry.faults[0].starts_with("respond-with-error GET /_matrix/client/v3/account/*"));
        assert_eq!(entry.caller.as_ref().map(|c| c.user_id.as_str()), Some(alice.user_id.as_str()));
    }
}

#[tokio::test]
async fn journal_records_every_exchange_in_order_with_caller_and_bodies() {
    let t = TestServer::start(Profile::default()).await;
    let alice = t.account("alice");
    t.get("/_matrix/client/versions", None).await;
    t.get("/_matrix/client/v3/account/whoami", Some(&alice.token)).await;
    t.post("/_matrix/client/v3/nonexistent", None, &json!({"x": 1})).await;
    t.send("POST", "/_matrix/client/v3/keys/query", Some(&alice.token), None).await;

    let journal = t.server.journal();
    assert_eq!(journal.len(), 4);
    assert_eq!(journal.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert!(journal.windows(2).all(|w| w[0].elapsed_ms <= w[1].elapsed_ms));
    assert_eq!(journal[0].caller, None);
    assert_eq!(journal[1].caller.as_ref().unwrap().device_id, alice.device_id);
    assert_eq!(journal[1].response.json().unwrap()["user_id"], alice.user_id);
    assert_eq!(journal[2].status, 404);
    assert_eq!(journal[2].request.json(), Some(&json!({"x": 1})));
    assert_eq!(journal[3].status, 400);
    assert_eq!(journal[3].response.json().unwrap()["errcode"], "M_NOT_JSON");
}

#[tokio::test]
async fn servers_in_one_process_share_nothing() {
    // Different seeds: with the same one both servers would hand out the same token.
    let a = TestServer::start_seeded(Profile::default(), 1).await;
    let b = TestServer::start_seeded(Profile::default(), 2).await;
    assert_ne!(a.server.base_url(), b.server.base_url());
    let alice = a.account("alice");
    // The same localpart is free on the other server, and tokens do not cross over.
    let alice_on_b = b.account("alice");
    assert_ne!(alice.token, alice_on_b.token);
    let (status, body) = b.get("/_matrix/client/v3/account/whoami", Some(&alice.token)).await;
    assert_eq!((status, body["errcode"].clone()), (401, json!("M_UNKNOWN_TOKEN")));
    assert_eq!(a.server.journal().len(), 0);
    assert_eq!(b.server.journal().len(), 1);
}

#[tokio::test]
async fn respond_with_error_seen_by_one_caller_answers_only_that_caller_and_counts_only_its_requests() {
    let t = TestServer::start(Profile::default()).await;
    let alice = t.account("alice");
    let alice2 = t.another_device(&alice);
    let bob = t.account("bob");
    t.server.add_fault(Fault::RespondWithError {
        method: None,
        path: "/_matrix/client/v3/account/whoami".into(),
        status: 403,
        errcode: "M_FORBIDDEN".into(),
        error: "no".into(),
        times: Some(1),
        seen_by: Some(Caller { user_id: alice2.user_id.clone(), device_id: alice2.device_id.clone() }),
    });
    // Neither another device of the same user, nor another user, nor a request without
    // a token (nobody's) is affected or spends the budget.
    for token in [Some(&alice.token), Some(&bob.token), None] {
        let (status, _) = t.get("/_matrix/client/v3/account/whoami", token.map(String::as_str)).await;
        assert_ne!(status, 403, "{token:?}");
    }
    let (status, body) = t.get("/_matrix/client/v3/account/whoami", Some(&alice2.token)).await;
    assert_eq!((status, body["errcode"].as_str()), (403, Some("M_FORBIDDEN")));
    let (status, _) = t.get("/_matrix/client/v3/account/whoami", Some(&alice2.token)).await;
    assert_eq!(status, 200, "the budget of one is spent");
    let fired: Vec<_> = t.server.journal().into_iter().filter(|e| !e.faults.is_empty()).collect();
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].caller.as_ref().map(|c| c.device_id.as_str()), Some(alice2.device_id.as_str()));
    assert!(fired[0].faults[0].ends_with(&format!("seen by {}/{}", alice2.user_id, alice2.device_id)));
}

#[tokio::test]
async fn lose_write_answers_success_but_stores_nothing_for_its_budget() {
    let t = TestServer::start(Profile::default()).await;
    let alice = t.account("alice");
    t.server.add_fault(Fault::LoseWrite {
        method: Some("PUT".into()),
        path: "/_matrix/client/v3/devices/*".into(),
        times: Some(1),
    });
    let path = format!("/_matrix/client/v3/devices/{}", alice.device_id);
    let name = |n: &str| json!({ "display_name": n });
    let (status, body) = t.put(&path, Some(&alice.token), &name("lost")).await;
    assert_eq!((status, body), (200, json!({})), "the client is told the write worked");
    let (_, device) = t.get(&path, Some(&alice.token)).await;
    assert_ne!(device["display_name"], json!("lost"), "but nothing was stored");
    // The budget is spent: the next write is kept.
    assert_eq!(t.put(&path, Some(&alice.token), &name("kept")).await.0, 200);
    let (_, device) = t.get(&path, Some(&alice.token)).await;
    assert_eq!(device["display_name"], json!("kept"));
    let fired: Vec<_> = t.server.journal().into_iter().filter(|e| !e.faults.is_empty()).collect();
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].faults, vec!["lose-write PUT /_matrix/client/v3/devices/*".to_owned()]);
}
