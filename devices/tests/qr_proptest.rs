//! Property: each QR-login role, fed random sequences of valid, reordered, duplicated
//! and malformed inputs, never panics, ends within a bounded number of steps, and
//! never takes a trust decision unless the checks before it passed.

use devices::qr_login::{ExistingDevice, ExistingDeviceConfig, NewDevice, NewDeviceConfig};
use devices::{Command, Decision, DeviceEvent, HttpResponse, Role, Step};
use proptest::prelude::*;
use serde_json::json;

#[derive(Debug, Clone)]
enum Input {
    Http { status: u16, body: usize, json_type: bool },
    Wake,
    Command(usize),
    Advance(u64),
}

fn bodies() -> Vec<Vec<u8>> {
    let v = |value: serde_json::Value| serde_json::to_vec(&value).unwrap();
    vec![
        v(json!({})),
        b"not json".to_vec(),
        Vec::new(),
        v(json!({"access_token": "t", "user_id": "@u:hs", "device_id": "D"})),
        v(json!({"one_time_key_counts": {"signed_curve25519": 20}})),
        v(json!({"failures": {}})),
        v(json!({"version": "1"})),
        v(json!({"capabilities": {"m.get_login_token": {"enabled": true}}})),
        v(json!({"versions": ["v1.7"], "unstable_features": {"org.matrix.msc3882": true}})),
        v(json!({"login_token": "tok", "expires_in_ms": 1000})),
        v(json!({"session": "s", "flows": [{"stages": ["m.login.password"]}], "params": {}})),
        v(
            json!({"algorithm": "org.matrix.msc3903.rendezvous.v2.curve25519-aes-sha256", "key": "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo"}),
        ),
        v(json!({"iv": "AAAAAAAAAAAAAAAAAAAAAA", "ciphertext": "AAAAAAAAAAAAAAAAAAAAAAAAAAAA"})),
        v(
            json!({"device_keys": {"@u:hs": {"D": {"user_id": "@u:hs", "device_id": "D"}}}, "master_keys": {}}),
        ),
        v(json!({"next_batch": "n", "to_device": {"events": [
            {"type": "m.secret.request", "sender": "@u:hs", "content": {"action": "request", "name": "m.cross_signing.master", "requesting_device_id": "A", "request_id": "r"}},
            {"type": "m.secret.send", "sender": "@u:hs", "content": {"request_id": "r", "secret": "AAAA"}},
            {"type": "m.room.encrypted", "sender": "@u:hs", "content": {"algorithm": "m.olm.v1.curve25519-aes-sha2", "sender_key": "x", "ciphertext": {}}}
        ]}})),
        v(json!({"auth_data": {"public_key": "AAAA"}, "version": "1"})),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        4 => (prop::sample::select(vec![200u16, 201, 202, 304, 401, 404, 412, 429, 500]), 0usize..16, any::<bool>())
            .prop_map(|(status, body, json_type)| Input::Http { status, body, json_type }),
        2 => Just(Input::Wake),
        1 => (0usize..5).prop_map(Input::Command),
        1 => (0u64..5_000).prop_map(Input::Advance),
    ]
}

fn command(i: usize) -> Command {
    let qr = "{\"rendezvous\":{\"algorithm\":\"org.matrix.msc3903.rendezvous.v2.curve25519-aes-sha256\",\"key\":\"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo\",\"transport\":{\"type\":\"org.matrix.msc3886.http.v1\",\"uri\":\"http://hs.test/rz/1\"}},\"intent\":\"login.reciprocate\"}";
    match i {
        0 => Command::ScanQrCode(qr.to_owned()),
        1 => Command::ScanQrCode("garbage".to_owned()),
        2 => Command::Approve,
        3 => Command::Decline,
        _ => Command::Cancel,
    }
}

/// Drives `role` with `inputs` (cycled), advancing the clock a little at every input.
/// Returns the events and whether it ended.
fn drive(role: &mut dyn Role, inputs: &[Input]) -> (Vec<DeviceEvent>, bool) {
    let bodies = bodies();
    let mut now = 0u64;
    let mut events = Vec::new();
    let mut step = role.start(now);
    events.extend(role.take_events());
    for i in 0..30_000usize {
        if step == Step::Done {
            return (events, true);
        }
        now += 250;
        let input = inputs.get(i % inputs.len().max(1)).cloned().unwrap_or(Input::Wake);
        step = match input {
            Input::Http { status, body, json_type } => {
                let mut headers = vec![("etag".to_owned(), format!("\"{i}\""))];
                if json_type {
                    headers.push(("content-type".to_owned(), "application/json".to_owned()));
                }
                headers.push(("location".to_owned(), "http://hs.test/rz/1".to_owned()));
                role.on_http(now, Ok(HttpResponse { status, headers, body: bodies[body].clone() }))
            }
            Input::Wake => role.on_wake(now),
            Input::Command(c) => role.on_command(now, command(c)),
            Input::Advance(ms) => {
                now += ms;
                role.on_wake(now)
            }
        };
        events.extend(role.take_events());
    }
    (events, step == Step::Done)
}

/// Trust decisions only after the checks that must precede them passed.
fn assert_safe(events: &[DeviceEvent]) {
    let mut device_checked = false;
    let mut master_failed = false;
    let mut marked = false;
    let mut aborted = false;
    for event in events {
        let DeviceEvent::Decision(decision) = event else { continue };
        match decision {
            Decision::CheckedDeviceKey { matched, .. } => device_checked |= *matched,
            Decision::CheckedMasterKey { matched } => master_failed |= !matched,
            Decision::Aborted { .. } => aborted = true,
            Decision::TrustedMasterKey { .. } => {
                assert!(device_checked && !master_failed && !aborted, "trust before checks: {events:#?}")
            }
            Decision::MarkedVerified { .. } => {
                assert!(device_checked && !master_failed && !aborted, "verified before checks: {events:#?}");
                marked = true;
            }
            Decision::CrossSigned { .. }
            | Decision::RequestedSecret { .. }
            | Decision::SharedSecret { .. } => {
                assert!(marked && !aborted, "effect before verification: {events:#?}")
            }
            _ => {}
        }
    }
}

fn b_config(shows: bool) -> ExistingDeviceConfig {
    let mut config = ExistingDeviceConfig::new("http://hs.test", "u", "pw", "B");
    config.shows_code = shows;
    config
}

fn a_config(shows: bool) -> NewDeviceConfig {
    let mut config = NewDeviceConfig::new("A");
    config.shows_code = shows;
    config.homeserver = "http://hs.test".into();
    config
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn existing_device_survives_any_input(inputs in prop::collection::vec(input(), 1..60), shows in any::<bool>()) {
        let mut role = ExistingDevice::new(b_config(shows));
        let (events, ended) = drive(&mut role, &inputs);
        prop_assert!(ended, "B did not end: {:?}", events.last());
        assert_safe(&events);
    }

    #[test]
    fn new_device_survives_any_input(inputs in prop::collection::vec(input(), 1..60), shows in any::<bool>()) {
        let mut role = NewDevice::new(a_config(shows));
        let (events, ended) = drive(&mut role, &inputs);
        prop_assert!(ended, "A did not end: {:?}", events.last());
        assert_safe(&events);
    }
}
