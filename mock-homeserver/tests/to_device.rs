//! `PUT /sendToDevice/{eventType}/{txnId}` over HTTP: delivery, idempotency, `*`
//! fan-out, skipped recipients, body validation, privacy of inboxes.

mod common;

use common::{Account, TestServer};
use mock_homeserver::Profile;
use serde_json::{json, Value};

const SEND: &str = "/_matrix/client/v3/sendToDevice";

/// An incremental-free sync (no `since`, `timeout=0`): every pending event.
async fn pending(ts: &TestServer, account: &Account) -> Vec<Value> {
    let (status, body) = ts.get("/_matrix/client/v3/sync?timeout=0", Some(&account.token)).await;
    assert_eq!(status, 200, "{body}");
    body["to_device"]["events"].as_array().expect("to_device.events").clone()
}

#[tokio::test]
async fn delivers_type_sender_and_content() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let content = json!({ "action": "request", "name": "m.cross_signing.master", "request_id": "r1",
                          "requesting_device_id": alice.device_id });
    let body = json!({ "messages": { bob.user_id.clone(): { bob.device_id.clone(): content } } });
    let answer = ts.put(&format!("{SEND}/m.secret.request/t1"), Some(&alice.token), &body).await;
    assert_eq!(answer, (200, json!({})));

    let events = pending(&ts, &bob).await;
    assert_eq!(
        events,
        vec![json!({ "type": "m.secret.request", "sender": alice.user_id, "content": content })]
    );
}

#[tokio::test]
async fn a_repeated_txn_id_answers_200_and_delivers_nothing_again() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let body = |n: u32| json!({ "messages": { bob.user_id.clone(): { bob.device_id.clone(): { "n": n } } } });

    let path = format!("{SEND}/m.test/txn-1");
    assert_eq!(ts.put(&path, Some(&alice.token), &body(1)).await, (200, json!({})));
    // The same token, type and txn ID: accepted, not delivered, even with a new body.
    assert_eq!(ts.put(&path, Some(&alice.token), &body(2)).await, (200, json!({})));
    // The same txn ID under another event type, or from another device, is a new send.
    assert_eq!(ts.put(&format!("{SEND}/m.other/txn-1"), Some(&alice.token), &body(3)).await.0, 200);
    let alice2 = ts.another_device(&alice);
    assert_eq!(ts.put(&path, Some(&alice2.token), &body(4)).await.0, 200);

    let contents: Vec<Value> = pending(&ts, &bob).await.into_iter().map(|e| e["content"].clone()).collect();
    assert_eq!(contents, vec![json!({ "n": 1 }), json!({ "n": 3 }), json!({ "n": 4 })]);
}

#[tokio::test]
async fn star_fans_out_to_every_device_of_that_user() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let alice2 = ts.another_device(&alice);
    let alice3 = ts.another_device(&alice);
    let bob = ts.account("bob");
    let body = json!({ "messages": { alice.user_id.clone(): { "*": { "hello": "all" } } } });
    assert_eq!(ts.put(&format!("{SEND}/m.secret.request/star"), Some(&alice.token), &body).await.0, 200);

    for device in [&alice, &alice2, &alice3] {
        let events = pending(&ts, device).await;
        assert_eq!(events.len(), 1, "device {} gets exactly one copy", device.device_id);
        assert_eq!(events[0]["content"], json!({ "hello": "all" }));
        assert_eq!(events[0]["sender"], json!(alice.user_id));
    }
    assert!(pending(&ts, &bob).await.is_empty(), "other users get nothing");
}

#[tokio::test]
async fn an_explicit_device_entry_wins_over_star_for_that_device() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let alice2 = ts.another_device(&alice);
    let body = json!({ "messages": { alice.user_id.clone(): {
        "*": { "to": "star" }, alice2.device_id.clone(): { "to": "explicit" } } } });
    assert_eq!(ts.put(&format!("{SEND}/m.test/mixed"), Some(&alice.token), &body).await.0, 200);

    let first = pending(&ts, &alice).await;
    let second = pending(&ts, &alice2).await;
    assert_eq!(first.iter().map(|e| e["content"].clone()).collect::<Vec<_>>(), vec![json!({ "to": "star" })]);
    assert_eq!(
        second.iter().map(|e| e["content"].clone()).collect::<Vec<_>>(),
        vec![json!({ "to": "explicit" })]
    );
}

#[tokio::test]
async fn unknown_users_and_devices_are_skipped_silently() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let body = json!({ "messages": {
        "@nobody:test": { "*": { "x": 1 } },
        "not a user id": { "DEV": { "x": 2 } },
        bob.user_id.clone(): { "NOSUCHDEVICE": { "x": 3 }, bob.device_id.clone(): { "x": 4 } },
    } });
    assert_eq!(ts.put(&format!("{SEND}/m.test/skip"), Some(&alice.token), &body).await, (200, json!({})));
    let events = pending(&ts, &bob).await;
    assert_eq!(events.iter().map(|e| e["content"].clone()).collect::<Vec<_>>(), vec![json!({ "x": 4 })]);
}

#[tokio::test]
async fn malformed_bodies_are_rejected_and_do_not_use_up_the_txn_id() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let path = format!("{SEND}/m.test/shape");

    let response = ts
        .http
        .put(ts.url(&path))
        .bearer_auth(&alice.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "errcode": "M_NOT_JSON", "error": "Content not JSON." }));

    let cases = [
        (json!([1, 2]), "M_BAD_JSON"),
        (json!({}), "M_MISSING_PARAM"),
        (json!({ "messages": [] }), "M_BAD_JSON"),
        (json!({ "messages": { bob.user_id.clone(): "x" } }), "M_BAD_JSON"),
        (json!({ "messages": { bob.user_id.clone(): { bob.device_id.clone(): 7 } } }), "M_BAD_JSON"),
    ];
    for (body, errcode) in cases {
        let (status, answer) = ts.put(&path, Some(&alice.token), &body).await;
        assert_eq!((status, answer["errcode"].as_str()), (400, Some(errcode)), "{body} -> {answer}");
    }
    assert!(pending(&ts, &bob).await.is_empty());

    // The rejected attempts did not record the txn ID: a valid body under it is delivered.
    let good = json!({ "messages": { bob.user_id.clone(): { bob.device_id.clone(): { "ok": true } } } });
    assert_eq!(ts.put(&path, Some(&alice.token), &good).await, (200, json!({})));
    assert_eq!(pending(&ts, &bob).await.len(), 1);
}

#[tokio::test]
async fn sending_needs_an_access_token() {
    let ts = TestServer::start(Profile::default()).await;
    let body = json!({ "messages": {} });
    let (status, answer) = ts.put(&format!("{SEND}/m.test/1"), None, &body).await;
    assert_eq!((status, answer["errcode"].as_str()), (401, Some("M_MISSING_TOKEN")));
    let (status, answer) = ts.put(&format!("{SEND}/m.test/1"), Some("syt_bogus"), &body).await;
    assert_eq!((status, answer["errcode"].as_str()), (401, Some("M_UNKNOWN_TOKEN")));
}

#[tokio::test]
async fn only_the_addressed_device_reads_its_inbox() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let bob2 = ts.another_device(&bob);
    let body = json!({ "messages": { bob.user_id.clone(): { bob.device_id.clone(): { "secret": "s" } } } });
    assert_eq!(ts.put(&format!("{SEND}/m.test/private"), Some(&alice.token), &body).await.0, 200);

    assert!(pending(&ts, &alice).await.is_empty(), "the sender does not read the recipient's inbox");
    assert!(pending(&ts, &bob2).await.is_empty(), "another device of the recipient does not either");
    assert_eq!(pending(&ts, &bob).await.len(), 1);
}
