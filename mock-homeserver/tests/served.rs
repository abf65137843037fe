//! `endpoints::served()` is the route table the server dispatches on: every endpoint it
//! lists is answered (never `404 M_UNRECOGNIZED`), and a path it does not list is not.

use mock_homeserver::endpoints::{served, Endpoint, SPEC_TO_DEVICE_EVENT_TYPES};
use mock_homeserver::{Homeserver, Profile, Request};
use serde_json::json;

/// A profile with every switchable endpoint on.
fn everything_on() -> Profile {
    Profile::default()
        .with_overrides(
            &json!({ "login_token": { "r0": true, "r1": true }, "rendezvous": { "enabled": true } }),
        )
        .expect("valid overrides")
}

fn is_unrecognized(server: &Homeserver, method: &str, path: &str) -> bool {
    let response = server.handle(Request::new(method, path));
    response.status == 404 && response.json_body().is_some_and(|b| b["errcode"] == "M_UNRECOGNIZED")
}

#[test]
fn every_listed_endpoint_is_served_and_an_unlisted_path_is_not() {
    let server = Homeserver::new(everything_on(), 1);
    let endpoints = served();
    assert!(endpoints.len() > 30, "{endpoints:?}");
    for Endpoint { method, path } in &endpoints {
        let concrete: Vec<&str> =
            path.split('/').map(|segment| if segment.starts_with('{') { "x" } else { segment }).collect();
        let concrete = concrete.join("/");
        assert!(!is_unrecognized(&server, method, &concrete), "{method} {concrete} is listed but not served");
    }
    for (method, path) in [
        ("PUT", "/_matrix/client/v3/sendToDevice/m.secret.request"),
        ("GET", "/_matrix/client/v3/keys/qeury"),
        ("POST", "/_matrix/client/v3/rendezvous"),
    ] {
        assert!(!endpoints.iter().any(|e| e.method == method && e.path == path));
        assert!(is_unrecognized(&server, method, path), "{method} {path}");
    }
}

#[test]
fn the_event_type_parameter_has_the_specs_to_device_types() {
    assert_eq!(Endpoint::spec_values("eventType"), Some(SPEC_TO_DEVICE_EVENT_TYPES));
    assert_eq!(Endpoint::spec_values("txnId"), None);
    for event_type in ["m.room.encrypted", "m.secret.request", "m.secret.send", "m.key.verification.start"] {
        assert!(SPEC_TO_DEVICE_EVENT_TYPES.contains(&event_type), "{event_type}");
    }
    assert!(SPEC_TO_DEVICE_EVENT_TYPES.iter().all(|t| t.starts_with("m.")));
}
