//! Delivery faults over HTTP — `DropToDevice`, `DelayToDevice`, `ExpireRendezvous` —
//! each changing exactly its target and named in the journal; and the journal itself
//! served at `GET /_harness/journal`.

mod common;

use std::sync::Arc;

use common::{Account, TestServer};
use mock_homeserver::{Caller, Fault, HarnessAccess, JournalEntry, ManualClock, MockHomeserver};
use serde_json::{json, Value};

const RENDEZVOUS: &str = "/_matrix/client/unstable/org.matrix.msc3886/rendezvous";

async fn with_clock(fault: Fault) -> (TestServer, ManualClock) {
    let clock = ManualClock::new();
    let server = MockHomeserver::builder()
        .clock(Arc::new(clock.clone()))
        .fault(fault)
        .harness_access(HarnessAccess::Open)
        .start()
        .await
        .unwrap();
    (TestServer { server, http: reqwest::Client::new() }, clock)
}

async fn send(ts: &TestServer, from: &Account, to: &Account, event_type: &str, txn: &str) {
    let body = json!({ "messages": { to.user_id.clone(): { to.device_id.clone(): { "txn": txn } } } });
    let path = format!("/_matrix/client/v3/sendToDevice/{event_type}/{txn}");
    assert_eq!(ts.put(&path, Some(&from.token), &body).await, (200, json!({})), "accepted");
}

/// The types of the pending to-device events of a device (initial sync, no wait).
async fn pending_types(ts: &TestServer, account: &Account) -> Vec<String> {
    let (status, body) = ts.get("/_matrix/client/v3/sync?timeout=0", Some(&account.token)).await;
    assert_eq!(status, 200);
    body["to_device"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

fn entry_for(journal: &[JournalEntry], path_part: &str) -> JournalEntry {
    journal.iter().find(|e| e.path.contains(path_part)).cloned().unwrap_or_else(|| panic!("no {path_part}"))
}

#[tokio::test]
async fn drop_to_device_accepts_but_never_delivers_that_type() {
    let (ts, clock) =
        with_clock(Fault::DropToDevice { event_type: "m.secret.request".into(), seen_by: None }).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    send(&ts, &alice, &bob, "m.secret.request", "dropped").await;
    send(&ts, &alice, &bob, "m.room.encrypted", "kept").await;
    clock.advance_ms(3_600_000);
    assert_eq!(pending_types(&ts, &bob).await, vec!["m.room.encrypted"]);

    let journal = ts.server.journal();
    assert_eq!(entry_for(&journal, "/dropped").faults, vec!["drop-to-device m.secret.request"]);
    assert!(entry_for(&journal, "/kept").faults.is_empty());
}

#[tokio::test]
async fn drop_to_device_seen_by_one_sender_drops_only_what_that_sender_sends() {
    let alice_caller = |a: &Account| Caller { user_id: a.user_id.clone(), device_id: a.device_id.clone() };
    let clock = ManualClock::new();
    let server = MockHomeserver::builder().clock(Arc::new(clock.clone())).start().await.unwrap();
    let ts = TestServer { server, http: reqwest::Client::new() };
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let carol = ts.account("carol");
    let fault =
        Fault::DropToDevice { event_type: "m.secret.request".into(), seen_by: Some(alice_caller(&alice)) };
    ts.server.add_fault(fault.clone());
    send(&ts, &carol, &bob, "m.secret.request", "from-carol").await;
    send(&ts, &alice, &bob, "m.secret.request", "from-alice").await;
    let (_, body) = ts.get("/_matrix/client/v3/sync?timeout=0", Some(&bob.token)).await;
    let senders: Vec<&str> = body["to_device"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sender"].as_str().unwrap())
        .collect();
    assert_eq!(senders, vec![carol.user_id.as_str()], "only Alice's request is dropped");
    let journal = ts.server.journal();
    assert!(entry_for(&journal, "/from-carol").faults.is_empty());
    assert_eq!(entry_for(&journal, "/from-alice").faults, vec![fault.describe()]);
}

#[tokio::test]
async fn delay_to_device_holds_that_type_until_the_clock_passes() {
    let fault =
        Fault::DelayToDevice { event_type: "m.secret.request".into(), delay_ms: 5_000, seen_by: None };
    let (ts, clock) = with_clock(fault).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    send(&ts, &alice, &bob, "m.secret.request", "late").await;
    send(&ts, &alice, &bob, "m.room.encrypted", "prompt").await;
    assert_eq!(pending_types(&ts, &bob).await, vec!["m.room.encrypted"], "only that type waits");

    clock.advance_ms(4_999);
    assert_eq!(pending_types(&ts, &bob).await, vec!["m.room.encrypted"]);
    clock.advance_ms(1);
    assert_eq!(pending_types(&ts, &bob).await, vec!["m.room.encrypted", "m.secret.request"]);

    let journal = ts.server.journal();
    assert_eq!(entry_for(&journal, "/late").faults, vec!["delay-to-device m.secret.request 5000ms"]);
    assert!(entry_for(&journal, "/prompt").faults.is_empty());
}

#[tokio::test]
async fn a_long_poll_picks_up_a_delayed_message_when_it_falls_due() {
    let fault = Fault::DelayToDevice { event_type: "m.test".into(), delay_ms: 1_000, seen_by: None };
    let (ts, clock) = with_clock(fault).await;
    let ts = Arc::new(ts);
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let (_, first) = ts.get("/_matrix/client/v3/sync", Some(&bob.token)).await;
    let since = first["next_batch"].as_str().unwrap().to_owned();
    send(&ts, &alice, &bob, "m.test", "t").await;

    let poll = {
        let (ts, bob) = (ts.clone(), bob.clone());
        tokio::spawn(async move {
            ts.get(&format!("/_matrix/client/v3/sync?since={since}&timeout=10000"), Some(&bob.token)).await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    clock.advance_ms(1_000);
    let (status, body) = poll.await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(status, 200);
    assert_eq!(body["to_device"]["events"][0]["type"], json!("m.test"));
}

#[tokio::test]
async fn expire_rendezvous_after_writes_ignores_polls() {
    let (ts, _clock) = with_clock(Fault::ExpireRendezvous { after_requests: 0, after_writes: Some(2) }).await;
    let created = ts.http.post(ts.url(RENDEZVOUS)).body("{}").send().await.unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let url = created.headers()["location"].to_str().unwrap().to_owned();
    // However often a client polls, only writes count.
    for _ in 0..5 {
        assert_eq!(ts.http.get(&url).send().await.unwrap().status().as_u16(), 200);
    }
    assert_eq!(ts.http.put(&url).body("{\"a\":1}").send().await.unwrap().status().as_u16(), 202);
    // The request after the second write finds the session gone.
    assert_eq!(ts.http.get(&url).send().await.unwrap().status().as_u16(), 404);
    let journal = ts.server.journal();
    let last = journal.last().unwrap();
    assert_eq!(last.faults, vec!["expire-rendezvous after 2 writes".to_owned()]);
}

#[tokio::test]
async fn expire_rendezvous_expires_every_session_after_n_requests() {
    let (ts, _clock) = with_clock(Fault::ExpireRendezvous { after_requests: 2, after_writes: None }).await;
    let create = |ts: &TestServer| ts.http.post(ts.url(RENDEZVOUS)).body("{}").send();
    let first = create(&ts).await.unwrap();
    assert_eq!(first.status().as_u16(), 201);
    let url = first.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(ts.http.get(&url).send().await.unwrap().status().as_u16(), 200, "request 2 is normal");

    // Request 3: the fault expires the session first.
    let expired = ts.http.get(&url).send().await.unwrap();
    assert_eq!(expired.status().as_u16(), 404);
    let body: Value = expired.json().await.unwrap();
    assert_eq!(body["errcode"], json!("M_NOT_FOUND"));

    // It fires once: a new session lives on.
    let second = create(&ts).await.unwrap();
    let url2 = second.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(ts.http.get(&url2).send().await.unwrap().status().as_u16(), 200);

    let journal = ts.server.journal();
    let fired: Vec<(usize, &Vec<String>)> = journal
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.faults.is_empty())
        .map(|(i, e)| (i, &e.faults))
        .collect();
    assert_eq!(fired, vec![(2, &vec!["expire-rendezvous after 2 requests".to_owned()])]);
    assert_eq!(journal[2].status, 404);
}

#[tokio::test]
async fn the_journal_is_served_over_http() {
    let (ts, _clock) = with_clock(Fault::DropToDevice { event_type: "m.x".into(), seen_by: None }).await;
    let alice = ts.account("alice");
    send(&ts, &alice, &alice, "m.x", "j1").await;
    let (status, body) = ts.get("/_harness/journal", None).await;
    assert_eq!(status, 200);
    let entries: Vec<JournalEntry> = serde_json::from_value(body["journal"].clone()).unwrap();
    assert_eq!(entries, ts.server.journal());
    assert_eq!(entries.len(), 1, "reading the journal is not itself journaled");
    assert_eq!(entries[0].method, "PUT");
    assert_eq!(entries[0].path, "/_matrix/client/v3/sendToDevice/m.x/j1");
    assert_eq!(entries[0].faults, vec!["drop-to-device m.x"]);
}

#[tokio::test]
async fn expire_rendezvous_at_once_waits_for_a_session_to_expire() {
    let (ts, _clock) = with_clock(Fault::ExpireRendezvous { after_requests: 0, after_writes: None }).await;
    let created = ts.http.post(ts.url(RENDEZVOUS)).body("{}").send().await.unwrap();
    assert_eq!(created.status().as_u16(), 201, "nothing to expire before the session exists");
    let url = created.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(ts.http.get(&url).send().await.unwrap().status().as_u16(), 404, "gone at once");
}

#[tokio::test]
async fn duplicate_to_device_delivers_that_type_twice() {
    let (ts, _clock) = with_clock(Fault::DuplicateToDevice { event_type: "m.room.encrypted".into() }).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    send(&ts, &alice, &bob, "m.room.encrypted", "twice").await;
    send(&ts, &alice, &bob, "m.secret.request", "once").await;
    assert_eq!(
        pending_types(&ts, &bob).await,
        vec!["m.room.encrypted", "m.room.encrypted", "m.secret.request"]
    );
    let journal = ts.server.journal();
    assert_eq!(entry_for(&journal, "/twice").faults, vec!["duplicate-to-device m.room.encrypted"]);
    assert!(entry_for(&journal, "/once").faults.is_empty());
}
