//! The `/keys/query` faults over HTTP — `TamperDeviceKey`, `TamperCrossSigningKey`,
//! `HideDevice` — each changing exactly its target in the answer (compared with the
//! answer without the fault), never the stored state, and named in the journal.

mod common;

use common::{Account, TestServer};
use mock_homeserver::{Caller, CrossSigningKeyKind, Fault, FaultField, Profile};
use protocol::cross_signing::CrossSigningKeys;
use protocol::device_keys::DeviceKeys;
use protocol::keys::{Curve25519PublicKey, Ed25519Keypair, Ed25519PublicKey, Ed25519Signature};
use serde_json::{json, Value};

const QUERY: &str = "/_matrix/client/v3/keys/query";

/// Alice with uploaded device keys and cross-signing keys (her device signed by her
/// self-signing key), and Bob who asks about her.
async fn setup() -> (TestServer, Account, Account) {
    let ts = TestServer::start(Profile::default()).await;
    let alice = ts.account("alice");
    let bob = ts.account("bob");
    let cross = CrossSigningKeys::from_seeds(&[1; 32], &[2; 32], &[3; 32]);
    let ed = Ed25519Keypair::from_seed(&[4; 32]);
    let curve = Curve25519PublicKey::from_bytes([5; 32]);
    let mut keys = DeviceKeys::signed_json(
        &alice.user_id,
        &alice.device_id,
        &["m.olm.v1.curve25519-aes-sha2"],
        &ed,
        &curve,
    );
    cross.sign_device(&alice.user_id, &mut keys).unwrap();
    let (status, _) =
        ts.post("/_matrix/client/v3/keys/upload", Some(&alice.token), &json!({ "device_keys": keys })).await;
    assert_eq!(status, 200);
    let body = cross.device_signing_body(&alice.user_id);
    for (usage, field) in
        [("master", "master_key"), ("self_signing", "self_signing_key"), ("user_signing", "user_signing_key")]
    {
        assert!(ts.server.core().set_cross_signing_key(&alice.user_id, usage, Some(body[field].clone())));
    }
    (ts, alice, bob)
}

/// `asker`'s answer about Alice, and the faults the journal names for it.
async fn ask(ts: &TestServer, asker: &Account, alice: &Account) -> (Value, Vec<String>) {
    let body = json!({ "device_keys": { alice.user_id.clone(): [] } });
    let (status, answer) = ts.post(QUERY, Some(&asker.token), &body).await;
    assert_eq!(status, 200, "{answer}");
    let entry = ts.server.journal().pop().expect("journaled");
    assert_eq!(entry.path, QUERY);
    (answer, entry.faults)
}

/// The answer without the fault, the answer with it and its journal faults, and a
/// check that clearing the fault restores the honest answer (the state is untouched).
async fn with_and_without(
    ts: &TestServer,
    asker: &Account,
    alice: &Account,
    fault: Fault,
) -> (Value, Value, Vec<String>) {
    let (honest, faults) = ask(ts, asker, alice).await;
    assert!(faults.is_empty());
    ts.server.add_fault(fault);
    let (lying, faults) = ask(ts, asker, alice).await;
    ts.server.core().clear_faults();
    assert_eq!(ask(ts, asker, alice).await, (honest.clone(), vec![]), "the stored state is unchanged");
    (honest, lying, faults)
}

fn tamper_device(alice: &Account, field: FaultField, value: Option<&str>) -> Fault {
    Fault::TamperDeviceKey {
        user_id: alice.user_id.clone(),
        device_id: alice.device_id.clone(),
        field,
        value: value.map(str::to_owned),
        seen_by: None,
    }
}

#[tokio::test]
async fn tamper_device_ed25519_replaces_only_that_key_with_a_valid_wrong_key() {
    let (ts, alice, bob) = setup().await;
    let fault = tamper_device(&alice, FaultField::Ed25519, None);
    let (honest, lying, faults) = with_and_without(&ts, &bob, &alice, fault.clone()).await;
    assert_eq!(faults, vec![fault.describe()]);
    assert_eq!(faults, vec![format!("tamper-device-key {}/{} Ed25519", alice.user_id, alice.device_id)]);
    let slot = format!("ed25519:{}", alice.device_id);
    let new = lying["device_keys"][&alice.user_id][&alice.device_id]["keys"][&slot].as_str().unwrap();
    assert_ne!(json!(new), honest["device_keys"][&alice.user_id][&alice.device_id]["keys"][&slot]);
    Ed25519PublicKey::from_base64(new).expect("a valid-looking Ed25519 key");
    let mut expected = honest.clone();
    expected["device_keys"][&alice.user_id][&alice.device_id]["keys"][&slot] = json!(new);
    assert_eq!(lying, expected, "nothing else changed");
}

#[tokio::test]
async fn tamper_device_curve25519_uses_the_given_value() {
    let (ts, alice, bob) = setup().await;
    let value = protocol::base64::encode([9u8; 32]);
    let fault = tamper_device(&alice, FaultField::Curve25519, Some(&value));
    let (honest, lying, faults) = with_and_without(&ts, &bob, &alice, fault.clone()).await;
    assert_eq!(faults, vec![fault.describe()]);
    let mut expected = honest.clone();
    expected["device_keys"][&alice.user_id][&alice.device_id]["keys"]
        [format!("curve25519:{}", alice.device_id)] = json!(value);
    assert_eq!(lying, expected);
}

#[tokio::test]
async fn tamper_device_signature_replaces_every_signature_with_wrong_ones() {
    let (ts, alice, bob) = setup().await;
    // The owner's own answer is tampered with too.
    let fault = tamper_device(&alice, FaultField::Signature, None);
    let (honest, lying, faults) = with_and_without(&ts, &alice, &alice, fault.clone()).await;
    assert_eq!(faults, vec![fault.describe()]);
    let honest_device = &honest["device_keys"][&alice.user_id][&alice.device_id];
    let lying_device = &lying["device_keys"][&alice.user_id][&alice.device_id];
    let honest_sigs = honest_device["signatures"][&alice.user_id].as_object().unwrap();
    let lying_sigs = lying_device["signatures"][&alice.user_id].as_object().unwrap();
    assert_eq!(honest_sigs.len(), 2, "self-signature and self-signing key signature");
    assert_eq!(lying_sigs.keys().collect::<Vec<_>>(), honest_sigs.keys().collect::<Vec<_>>());
    for (key_id, signature) in lying_sigs {
        assert_ne!(signature, &honest_sigs[key_id], "{key_id}");
        Ed25519Signature::from_base64(signature.as_str().unwrap()).expect("a well-formed signature");
    }
    let parsed = DeviceKeys::parse(lying_device).expect("still well-formed device keys");
    assert!(parsed.verify_self_signature().is_err(), "the self-signature no longer verifies");
    let mut expected = honest.clone();
    expected["device_keys"][&alice.user_id][&alice.device_id]["signatures"] =
        lying_device["signatures"].clone();
    assert_eq!(lying, expected);
    // Bob's view is tampered as well (the fault is not per asker).
    ts.server.add_fault(fault);
    let (_, faults) = ask(&ts, &bob, &alice).await;
    assert_eq!(faults.len(), 1);
}

#[tokio::test]
async fn tamper_cross_signing_key_replaces_key_id_and_value_consistently() {
    let (ts, alice, bob) = setup().await;
    let fault = Fault::TamperCrossSigningKey {
        user_id: alice.user_id.clone(),
        key: CrossSigningKeyKind::Master,
        field: FaultField::Ed25519,
        value: None,
        seen_by: None,
    };
    let (honest, lying, faults) = with_and_without(&ts, &bob, &alice, fault.clone()).await;
    assert_eq!(faults, vec![fault.describe()]);
    let keys = lying["master_keys"][&alice.user_id]["keys"].as_object().unwrap();
    assert_eq!(keys.len(), 1);
    let (key_id, value) = keys.iter().next().unwrap();
    assert_eq!(key_id, &format!("ed25519:{}", value.as_str().unwrap()));
    assert!(honest["master_keys"][&alice.user_id]["keys"].get(key_id).is_none(), "a different key");
    Ed25519PublicKey::from_base64(value.as_str().unwrap()).expect("a valid-looking key");
    let mut expected = honest.clone();
    expected["master_keys"][&alice.user_id]["keys"] = json!({ key_id.clone(): value });
    assert_eq!(lying, expected);
}

#[tokio::test]
async fn tamper_cross_signing_signature_replaces_only_that_keys_signatures() {
    let (ts, alice, bob) = setup().await;
    let value = protocol::base64::encode([7u8; 64]);
    let fault = Fault::TamperCrossSigningKey {
        user_id: alice.user_id.clone(),
        key: CrossSigningKeyKind::SelfSigning,
        field: FaultField::Signature,
        value: Some(value.clone()),
        seen_by: None,
    };
    let (honest, lying, faults) = with_and_without(&ts, &bob, &alice, fault.clone()).await;
    assert_eq!(faults, vec![fault.describe()]);
    let mut expected = honest.clone();
    let sigs =
        expected["self_signing_keys"][&alice.user_id]["signatures"][&alice.user_id].as_object_mut().unwrap();
    assert_eq!(sigs.len(), 1, "signed by the master key");
    for signature in sigs.values_mut() {
        *signature = json!(value);
    }
    assert_eq!(lying, expected);
}

#[tokio::test]
async fn tampering_with_a_key_not_in_the_answer_does_not_fire() {
    let (ts, alice, bob) = setup().await;
    // Bob never sees Alice's user-signing key, so this fault cannot apply to his answer.
    let fault = Fault::TamperCrossSigningKey {
        user_id: alice.user_id.clone(),
        key: CrossSigningKeyKind::UserSigning,
        field: FaultField::Ed25519,
        value: None,
        seen_by: None,
    };
    let (honest, lying, faults) = with_and_without(&ts, &bob, &alice, fault.clone()).await;
    assert_eq!((lying, faults), (honest, vec![]));
    // Alice does see it, and the fault fires for her.
    ts.server.add_fault(fault.clone());
    let (_, faults) = ask(&ts, &alice, &alice).await;
    assert_eq!(faults, vec![fault.describe()]);
}

#[tokio::test]
async fn hide_device_leaves_it_out_of_exactly_the_next_n_answers_listing_it() {
    let (ts, alice, bob) = setup().await;
    let alice2 = ts.another_device(&alice);
    let keys = DeviceKeys::signed_json(
        &alice.user_id,
        &alice2.device_id,
        &["m.olm.v1.curve25519-aes-sha2"],
        &Ed25519Keypair::from_seed(&[6; 32]),
        &Curve25519PublicKey::from_bytes([8; 32]),
    );
    let (status, _) =
        ts.post("/_matrix/client/v3/keys/upload", Some(&alice2.token), &json!({ "device_keys": keys })).await;
    assert_eq!(status, 200);
    let (honest, _) = ask(&ts, &bob, &alice).await;
    let mut hidden = honest.clone();
    hidden["device_keys"][&alice.user_id].as_object_mut().unwrap().remove(&alice.device_id);

    let fault = Fault::HideDevice {
        user_id: alice.user_id.clone(),
        device_id: alice.device_id.clone(),
        queries: Some(2),
        seen_by: None,
    };
    ts.server.add_fault(fault.clone());
    // A query that would not list the device does not use up the budget.
    let only_other = json!({ "device_keys": { alice.user_id.clone(): [alice2.device_id.clone()] } });
    assert_eq!(ts.post(QUERY, Some(&bob.token), &only_other).await.0, 200);
    assert!(ts.server.journal().pop().unwrap().faults.is_empty());

    assert_eq!(ask(&ts, &bob, &alice).await, (hidden.clone(), vec![fault.describe()]), "first");
    assert_eq!(ask(&ts, &alice, &alice).await.1, vec![fault.describe()], "second (any asker)");
    assert_eq!(ask(&ts, &bob, &alice).await, (honest, vec![]), "third: budget spent");
}

#[tokio::test]
async fn hide_device_without_a_budget_hides_it_always() {
    let (ts, alice, bob) = setup().await;
    let fault = Fault::HideDevice {
        user_id: alice.user_id.clone(),
        device_id: alice.device_id.clone(),
        queries: None,
        seen_by: None,
    };
    ts.server.add_fault(fault.clone());
    for _ in 0..3 {
        let (answer, faults) = ask(&ts, &bob, &alice).await;
        assert_eq!(answer["device_keys"][&alice.user_id], json!({}));
        assert_eq!(faults, vec![fault.describe()]);
    }
}

fn caller(account: &Account) -> Caller {
    Caller { user_id: account.user_id.clone(), device_id: account.device_id.clone() }
}

#[tokio::test]
async fn hide_device_seen_by_one_caller_hides_it_from_that_caller_alone_and_counts_only_its_queries() {
    let (ts, alice, bob) = setup().await;
    // Alice's other device is the one the fault is aimed at: the caller is a device, so
    // Alice's first device (same user) and Bob (another user) see the honest answer.
    let other_device = ts.another_device(&alice);
    // Alice's devices see her user-signing key, Bob does not.
    let (honest, _) = ask(&ts, &alice, &alice).await;
    let (honest_for_bob, _) = ask(&ts, &bob, &alice).await;
    let mut hidden = honest.clone();
    hidden["device_keys"][&alice.user_id].as_object_mut().unwrap().remove(&alice.device_id);
    let fault = Fault::HideDevice {
        user_id: alice.user_id.clone(),
        device_id: alice.device_id.clone(),
        queries: Some(2),
        seen_by: Some(caller(&other_device)),
    };
    ts.server.add_fault(fault.clone());
    let described = format!(
        "hide-device {}/{} seen by {}/{}",
        alice.user_id, alice.device_id, alice.user_id, other_device.device_id
    );
    assert_eq!(fault.describe(), described);

    for _ in 0..3 {
        assert_eq!(ask(&ts, &alice, &alice).await, (honest.clone(), vec![]), "the same user's other device");
        assert_eq!(ask(&ts, &bob, &alice).await, (honest_for_bob.clone(), vec![]), "another user");
    }
    // Six queries of other callers spent nothing: the aimed caller still gets its two.
    assert_eq!(ask(&ts, &other_device, &alice).await, (hidden.clone(), vec![described.clone()]), "first");
    assert_eq!(ask(&ts, &bob, &alice).await, (honest_for_bob, vec![]), "in between");
    assert_eq!(ask(&ts, &other_device, &alice).await, (hidden, vec![described]), "second");
    assert_eq!(ask(&ts, &other_device, &alice).await, (honest, vec![]), "third: its budget is spent");
}

#[tokio::test]
async fn tamper_device_key_seen_by_one_caller_lies_to_that_caller_alone() {
    let (ts, alice, bob) = setup().await;
    let mut fault = tamper_device(&alice, FaultField::Ed25519, None);
    *fault.seen_by_mut().expect("a tampering fault can be aimed") = Some(caller(&bob));
    let (honest, lying, faults) = with_and_without(&ts, &bob, &alice, fault.clone()).await;
    assert_ne!(honest, lying);
    assert_eq!(faults, vec![fault.describe()]);
    assert!(fault.describe().ends_with(&format!("seen by {}/{}", bob.user_id, bob.device_id)));
    let (honest_for_alice, _) = ask(&ts, &alice, &alice).await;
    ts.server.add_fault(fault);
    assert_eq!(ask(&ts, &alice, &alice).await, (honest_for_alice, vec![]), "the owner is told the truth");
}

#[tokio::test]
async fn tamper_cross_signing_key_seen_by_one_caller_lies_to_that_caller_alone() {
    let (ts, alice, bob) = setup().await;
    let fault = Fault::TamperCrossSigningKey {
        user_id: alice.user_id.clone(),
        key: CrossSigningKeyKind::Master,
        field: FaultField::Ed25519,
        value: None,
        seen_by: Some(caller(&alice)),
    };
    let (honest_for_alice, lying, faults) = with_and_without(&ts, &alice, &alice, fault.clone()).await;
    assert_ne!(honest_for_alice["master_keys"], lying["master_keys"]);
    assert_eq!(faults, vec![fault.describe()]);
    let (honest_for_bob, _) = ask(&ts, &bob, &alice).await;
    ts.server.add_fault(fault);
    assert_eq!(ask(&ts, &bob, &alice).await, (honest_for_bob, vec![]), "another caller is told the truth");
}

#[test]
fn seen_by_names_a_user_and_a_device_and_only_faults_with_a_caller_take_it() {
    let aimed = json!({
        "kind": "hide-device", "user_id": "@alice:test", "device_id": "NEWDEVICE", "queries": 2,
        "seen_by": { "user_id": "@alice:test", "device_id": "OLDDEVICE" }
    });
    let fault: Fault = serde_json::from_value(aimed.clone()).expect("an aimed fault");
    assert_eq!(serde_json::to_value(&fault).unwrap(), aimed, "written back as given");
    let unaimed =
        json!({ "kind": "hide-device", "user_id": "@alice:test", "device_id": "NEWDEVICE", "queries": 2 });
    let fault: Fault = serde_json::from_value(unaimed.clone()).unwrap();
    assert_eq!(serde_json::to_value(&fault).unwrap(), unaimed, "no `seen_by` when not aimed");

    let refused = [
        json!({ "kind": "hide-device", "user_id": "@a:t", "device_id": "D", "seen_by": { "user_id": "@a:t" } }),
        json!({ "kind": "hide-device", "user_id": "@a:t", "device_id": "D", "seen_by": "OLDDEVICE" }),
        json!({ "kind": "hide-device", "user_id": "@a:t", "device_id": "D",
                "seen_by": { "user_id": "@a:t", "device_id": "E", "extra": 1 } }),
        // The rendezvous takes no access token: it has no callers to aim at.
        json!({ "kind": "expire-rendezvous", "seen_by": { "user_id": "@a:t", "device_id": "E" } }),
    ];
    for probe in refused {
        assert!(serde_json::from_value::<Fault>(probe.clone()).is_err(), "accepted {probe}");
    }
}
