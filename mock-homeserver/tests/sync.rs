//! `GET /sync` over HTTP: shape, exactly-once delivery across `since` tokens, the
//! long-poll, `device_lists.changed`, parameter errors.

mod common;

use std::time::{Duration, Instant};

use common::{Account, TestServer};
use mock_homeserver::Profile;
use serde_json::{json, Value};

const SYNC: &str = "/_matrix/client/v3/sync";

/// A hang guard, far above anything the server should take.
const HANG_GUARD: Duration = Duration::from_secs(5);

async fn sync(ts: &TestServer, account: &Account, query: &str) -> Value {
    let (status, body) = ts.get(&format!("{SYNC}?{query}"), Some(&account.token)).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn send(ts: &TestServer, from: &Account, to: &Account, txn: &str, content: Value) {
    let body = json!({ "messages": { to.user_id.clone(): { to.device_id.clone(): content } } });
    let answer =
        ts.put(&format!("/_matrix/client/v3/sendToDevice/m.test/{txn}"), Some(&from.token), &body).await;
    assert_eq!(answer, (200, json!({})));
}

fn contents(body: &Value) -> Vec<Value> {
    body["to_device"]["events"].as_array().expect("events").iter().map(|e| e["content"].clone()).collect()
}

#[tokio::test]
async fn the_response_has_every_section() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let body = sync(&ts, &alice, "timeout=0&filter=0&full_state=true&set_presence=offline").await;
    assert_eq!(
        body,
        json!({
            "next_batch": "s0",
            "to_device": { "events": [] },
            "device_lists": { "changed": [], "left": [] },
            "device_one_time_keys_count": { "signed_curve25519": 0 },
            "device_unused_fallback_key_types": [],
            "rooms": {},
            "account_data": { "events": [] },
            "presence": { "events": [] },
        })
    );
}

#[tokio::test]
async fn a_long_poll_wakes_when_a_message_arrives_and_it_is_delivered_once() {
    let ts = std::sync::Arc::new(TestServer::start(Profile::default()).await);
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let first = sync(&ts, &bob, "timeout=0").await;
    let since = first["next_batch"].as_str().unwrap().to_owned();

    let started = Instant::now();
    let poll = {
        let (ts, bob, since) = (ts.clone(), bob.clone(), since.clone());
        tokio::spawn(async move { sync(&ts, &bob, &format!("since={since}&timeout=10000")).await })
    };
    // Give the poll a moment to be parked (not required for correctness either way).
    tokio::time::sleep(Duration::from_millis(100)).await;
    send(&ts, &alice, &bob, "wake", json!({ "n": 1 })).await;
    let woken = poll.await.unwrap();
    assert!(started.elapsed() < HANG_GUARD, "the long-poll returned on the message, not the timeout");
    assert_eq!(contents(&woken), vec![json!({ "n": 1 })]);
    assert_eq!(woken["to_device"]["events"][0]["sender"], json!(alice.user_id));

    // The next sync with the new token does not repeat it.
    let next = woken["next_batch"].as_str().unwrap();
    assert_ne!(next, since);
    let again = sync(&ts, &bob, &format!("since={next}&timeout=0")).await;
    assert!(contents(&again).is_empty(), "{again}");
}

#[tokio::test]
async fn a_retry_with_the_same_since_gets_the_same_events_until_acknowledged() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let s0 = sync(&ts, &bob, "timeout=0").await["next_batch"].as_str().unwrap().to_owned();
    send(&ts, &alice, &bob, "a", json!({ "n": 1 })).await;
    send(&ts, &alice, &bob, "b", json!({ "n": 2 })).await;

    let first = sync(&ts, &bob, &format!("since={s0}&timeout=0")).await;
    let retry = sync(&ts, &bob, &format!("since={s0}&timeout=0")).await;
    assert_eq!(contents(&first), vec![json!({ "n": 1 }), json!({ "n": 2 })]);
    assert_eq!(contents(&retry), contents(&first));

    // Acknowledging with the new token deletes them; a later message comes alone.
    let s1 = first["next_batch"].as_str().unwrap().to_owned();
    send(&ts, &alice, &bob, "c", json!({ "n": 3 })).await;
    let third = sync(&ts, &bob, &format!("since={s1}&timeout=0")).await;
    assert_eq!(contents(&third), vec![json!({ "n": 3 })]);
    // Once acknowledged, even the old token no longer brings them back.
    let s2 = third["next_batch"].as_str().unwrap().to_owned();
    assert!(contents(&sync(&ts, &bob, &format!("since={s2}&timeout=0")).await).is_empty());
    assert!(contents(&sync(&ts, &bob, &format!("since={s0}&timeout=0")).await).is_empty());
}

#[tokio::test]
async fn an_initial_sync_delivers_pending_events_without_acknowledging_them() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    send(&ts, &alice, &bob, "a", json!({ "n": 1 })).await;
    let initial = sync(&ts, &bob, "timeout=10000").await;
    assert_eq!(contents(&initial), vec![json!({ "n": 1 })], "an initial sync never waits");
    let again = sync(&ts, &bob, "").await;
    assert_eq!(contents(&again), vec![json!({ "n": 1 })]);
}

#[tokio::test]
async fn an_empty_sync_with_timeout_zero_answers_at_once() {
    let ts = TestServer::start(Profile::default()).await;
    let bob = ts.account("bob");
    let since = sync(&ts, &bob, "").await["next_batch"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let body = sync(&ts, &bob, &format!("since={since}&timeout=0")).await;
    assert!(started.elapsed() < HANG_GUARD);
    assert!(contents(&body).is_empty());
    assert_eq!(body["next_batch"], json!(since));
}

#[tokio::test]
async fn the_timeout_is_capped_by_the_profile() {
    let profile = Profile { max_sync_timeout_ms: 200, ..Profile::default() };
    let ts = TestServer::start(profile).await;
    let bob = ts.account("bob");
    let since = sync(&ts, &bob, "").await["next_batch"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let body = sync(&ts, &bob, &format!("since={since}&timeout=60000")).await;
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(150), "it did wait: {elapsed:?}");
    assert!(elapsed < HANG_GUARD, "but only up to the cap: {elapsed:?}");
    assert!(contents(&body).is_empty());
    // The wait itself is not journaled: one entry for the whole long-poll.
    let syncs = ts.server.journal().into_iter().filter(|e| e.path == SYNC).count();
    assert_eq!(syncs, 2);
}

#[tokio::test]
async fn device_lists_changed_names_the_user_once_per_change() {
    let ts = std::sync::Arc::new(TestServer::start(Profile::default()).await);
    let alice = ts.account("alice");
    let alice2 = ts.another_device(&alice);
    let initial = sync(&ts, &alice, "").await;
    assert_eq!(initial["device_lists"]["changed"], json!([]), "an initial sync reports no changes");
    let since = initial["next_batch"].as_str().unwrap().to_owned();

    // A long-poll is woken by the change (as after another device's /keys/upload).
    let poll = {
        let (ts, alice, since) = (ts.clone(), alice.clone(), since.clone());
        tokio::spawn(async move { sync(&ts, &alice, &format!("since={since}&timeout=10000")).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    ts.server.core().mark_device_list_changed(&alice2.user_id);
    let woken = poll.await.unwrap();
    assert!(started.elapsed() < HANG_GUARD);
    assert_eq!(woken["device_lists"], json!({ "changed": [alice.user_id], "left": [] }));

    let next = woken["next_batch"].as_str().unwrap();
    let after = sync(&ts, &alice, &format!("since={next}&timeout=0")).await;
    assert_eq!(after["device_lists"]["changed"], json!([]), "acknowledged changes are not repeated");
    // Another user is not told (the mock has no shared rooms).
    let bob = ts.account("bob");
    assert_eq!(sync(&ts, &bob, "since=s0").await["device_lists"]["changed"], json!([]));
}

#[tokio::test]
async fn malformed_parameters_are_400_m_invalid_param() {
    let ts = TestServer::start(Profile::default()).await;
    let bob = ts.account("bob");
    for query in ["since=garbage", "since=s", "since=s-1", "since=s99999", "timeout=soon", "timeout=-1"] {
        let (status, body) = ts.get(&format!("{SYNC}?{query}"), Some(&bob.token)).await;
        assert_eq!((status, body["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{query}: {body}");
    }
    let (status, body) = ts.get(SYNC, None).await;
    assert_eq!((status, body["errcode"].as_str()), (401, Some("M_MISSING_TOKEN")));
}
