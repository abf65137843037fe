//! `GET /devices`, `GET` and `PUT /devices/{deviceId}` over HTTP: the caller's own
//! devices only, 404 for another user's device, display names reaching `/keys/query`.

mod common;

use common::TestServer;
use mock_homeserver::Profile;
use serde_json::{json, Value};

const DEVICES: &str = "/_matrix/client/v3/devices";

fn not_found() -> (u16, Value) {
    (404, json!({ "errcode": "M_NOT_FOUND", "error": "Device not found" }))
}

#[tokio::test]
async fn listing_shows_only_the_callers_devices() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let alice2 = ts.another_device(&alice);
    let bob = ts.account("bob");
    // alice2 makes a request, so it has been seen; bob's device must not show up.
    assert_eq!(ts.get("/_matrix/client/v3/account/whoami", Some(&alice2.token)).await.0, 200);
    assert_eq!(ts.get("/_matrix/client/v3/account/whoami", Some(&bob.token)).await.0, 200);

    let (status, body) = ts.get(DEVICES, Some(&alice.token)).await;
    assert_eq!(status, 200, "{body}");
    let devices = body["devices"].as_array().expect("devices");
    let mut ids: Vec<&str> = devices.iter().map(|d| d["device_id"].as_str().unwrap()).collect();
    ids.sort();
    let mut want = vec![alice.device_id.as_str(), alice2.device_id.as_str()];
    want.sort();
    assert_eq!(ids, want);
    for device in devices {
        let mut fields: Vec<&String> = device.as_object().unwrap().keys().collect();
        fields.sort();
        assert_eq!(fields, ["device_id", "display_name", "last_seen_ip", "last_seen_ts"]);
        assert_eq!(device["display_name"], Value::Null);
        assert_eq!(device["last_seen_ip"], json!("127.0.0.1"), "both devices have made requests");
        assert!(device["last_seen_ts"].is_u64());
    }
}

#[tokio::test]
async fn a_device_that_never_made_a_request_has_no_last_seen() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let idle = ts.another_device(&alice);
    let (status, body) = ts.get(&format!("{DEVICES}/{}", idle.device_id), Some(&alice.token)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "device_id": idle.device_id, "display_name": null, "last_seen_ip": null, "last_seen_ts": null })
    );
}

#[tokio::test]
async fn getting_one_device_and_the_404s() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let (status, body) = ts.get(&format!("{DEVICES}/{}", alice.device_id), Some(&alice.token)).await;
    assert_eq!((status, &body["device_id"]), (200, &json!(alice.device_id)));
    assert_eq!(body["last_seen_ip"], json!("127.0.0.1"));
    assert_eq!(ts.get(&format!("{DEVICES}/NOSUCHDEVICE"), Some(&alice.token)).await, not_found());
    assert_eq!(
        ts.get(&format!("{DEVICES}/{}", bob.device_id), Some(&alice.token)).await,
        not_found(),
        "bob's device"
    );
    assert_eq!(ts.get(DEVICES, None).await.0, 401);
}

#[tokio::test]
async fn renaming_a_device_shows_in_listings_and_key_queries() {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let path = format!("{DEVICES}/{}", alice.device_id);
    assert_eq!(
        ts.put(&path, Some(&alice.token), &json!({ "display_name": "Laptop" })).await,
        (200, json!({}))
    );
    assert_eq!(ts.get(&path, Some(&alice.token)).await.1["display_name"], json!("Laptop"));

    // Bob cannot rename (or learn about) Alice's device.
    let bobs_try = ts.put(&path, Some(&bob.token), &json!({ "display_name": "Pwned" })).await;
    assert_eq!(bobs_try, not_found());
    assert_eq!(ts.get(&path, Some(&alice.token)).await.1["display_name"], json!("Laptop"));

    let too_long = "x".repeat(101);
    assert_eq!(
        ts.put(&path, Some(&alice.token), &json!({ "display_name": too_long })).await,
        (400, json!({ "errcode": "M_TOO_LARGE", "error": "Device display name is too long (max 100)" }))
    );
    assert_eq!(
        ts.put(&path, Some(&alice.token), &json!({ "display_name": 5 })).await,
        (400, json!({ "errcode": "M_BAD_JSON", "error": "`display_name` must be a string" }))
    );
    assert_eq!(ts.put(&path, Some(&alice.token), &json!({ "display_name": null })).await.0, 200);
    assert_eq!(ts.get(&path, Some(&alice.token)).await.1["display_name"], Value::Null);
}
