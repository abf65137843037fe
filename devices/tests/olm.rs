//! Olm device identity, secret sending and receiving (docs/protocol.md §6, §7.1,
//! §7.3) with real vodozemac sessions and no HTTP.

use devices::olm::{
    check_sender_device_keys, check_sender_keys, secrets, DeviceCrypto, OlmError, RecipientDevice,
    OLM_ALGORITHM,
};
use protocol::{
    device_keys::{DeviceKeys, DeviceKeysError},
    key_id::KeyId,
    keys::Ed25519PublicKey,
    signing::{verify_json, VerifyJsonError},
};
use serde_json::{json, Value};

const ALICE: &str = "@alice:test";

fn recipient(device: &DeviceCrypto) -> RecipientDevice {
    RecipientDevice {
        user_id: device.user_id().to_owned(),
        device_id: device.device_id().to_owned(),
        ed25519: device.ed25519_key(),
        curve25519: device.curve25519_key(),
    }
}

/// Publishes one one-time key of `device` and returns it as `/keys/claim` hands it out.
fn claim(device: &mut DeviceCrypto) -> Value {
    let keys = device.one_time_keys_json(1);
    device.mark_published();
    let (id, key) = keys.as_object().unwrap().iter().next().unwrap();
    json!({ id.clone(): key.clone() })
}

fn secret_send(request_id: &str, secret: &str) -> Value {
    secrets::secret_send_content(request_id, secret)
}

fn message_type(encrypted: &Value, to: &DeviceCrypto) -> u64 {
    encrypted["ciphertext"][to.curve25519_key().to_base64()]["type"].as_u64().unwrap()
}

#[test]
fn device_keys_self_signature_verifies() {
    let device = DeviceCrypto::new(ALICE, "ADEV");
    let json = device.device_keys_json();
    let keys = DeviceKeys::parse(&json).unwrap();
    assert_eq!(keys.user_id, ALICE);
    assert_eq!(keys.device_id, "ADEV");
    assert_eq!(keys.algorithms, [OLM_ALGORITHM, "m.megolm.v1.aes-sha2"]);
    assert_eq!(keys.ed25519, device.ed25519_key());
    assert_eq!(keys.curve25519, device.curve25519_key());
    assert_eq!(keys.verify_self_signature(), Ok(()));
    assert_eq!(json["keys"]["ed25519:ADEV"], device.ed25519_key().to_base64());
    assert_eq!(json["keys"]["curve25519:ADEV"], device.curve25519_key().to_base64());

    let wrong = DeviceKeys::parse(&device.device_keys_json_signed_by_wrong_key()).unwrap();
    assert_eq!(wrong.ed25519, device.ed25519_key());
    assert_eq!(wrong.verify_self_signature(), Err(DeviceKeysError::SelfSignature(VerifyJsonError::Invalid)));
}

#[test]
fn one_time_and_fallback_keys_are_signed() {
    let mut device = DeviceCrypto::new(ALICE, "ADEV");
    let key_id = KeyId::ed25519_device("ADEV");
    let keys = device.one_time_keys_json(3);
    let keys = keys.as_object().unwrap();
    assert_eq!(keys.len(), 3);
    for (id, key) in keys {
        assert!(id.starts_with("signed_curve25519:"), "{id}");
        assert_eq!(key["key"].as_str().unwrap().len(), 43);
        assert_eq!(verify_json(key, ALICE, &key_id, &device.ed25519_key()), Ok(()));
        let mut tampered = key.clone();
        tampered["key"] = json!(device.curve25519_key().to_base64());
        assert_eq!(
            verify_json(&tampered, ALICE, &key_id, &device.ed25519_key()),
            Err(VerifyJsonError::Invalid)
        );
    }
    // Unpublished keys are repeated until marked published.
    assert_eq!(device.one_time_keys_json(0).as_object().unwrap().len(), 3);
    device.mark_published();
    assert_eq!(device.one_time_keys_json(0), json!({}));
    let next = device.one_time_keys_json(2);
    assert_eq!(next.as_object().unwrap().len(), 2);
    assert!(next.as_object().unwrap().keys().all(|id| !keys.contains_key(id)));

    let fallback = device.fallback_key_json();
    let (id, key) = fallback.as_object().unwrap().iter().next().unwrap();
    assert!(id.starts_with("signed_curve25519:"));
    assert_eq!(key["fallback"], json!(true));
    assert_eq!(verify_json(key, ALICE, &key_id, &device.ed25519_key()), Ok(()));
}

#[test]
fn secret_send_round_trip_with_session_reuse() {
    let mut a = DeviceCrypto::new(ALICE, "ADEV");
    let mut b = DeviceCrypto::new(ALICE, "BDEV");
    assert!(!b.has_session_with(&a.curve25519_key()));
    let claimed = claim(&mut a);
    let encrypted = b
        .encrypt_to_device(&recipient(&a), Some(&claimed), "m.secret.send", secret_send("req-1", "s3cret"))
        .unwrap();
    assert!(b.has_session_with(&a.curve25519_key()));
    assert_eq!(encrypted["algorithm"], OLM_ALGORITHM);
    assert_eq!(encrypted["sender_key"], b.curve25519_key().to_base64());
    assert_eq!(message_type(&encrypted, &a), 0);

    let event = a.decrypt_to_device(ALICE, &encrypted).unwrap();
    assert_eq!(event.sender, ALICE);
    assert_eq!(event.sender_key, b.curve25519_key());
    assert_eq!(event.sender_ed25519, b.ed25519_key());
    assert_eq!(event.message_type, 0);
    assert_eq!(event.event_type, "m.secret.send");
    assert_eq!(event.plaintext["recipient_keys"]["ed25519"], a.ed25519_key().to_base64());
    assert_eq!(event.plaintext["recipient"], ALICE);
    assert_eq!(check_sender_keys(&event, &b.ed25519_key()), Ok(()));
    let send = secrets::parse_secret_send(&event.content).unwrap();
    assert_eq!((send.request_id.as_str(), send.secret.as_str()), ("req-1", "s3cret"));

    // Before A answers, B's session still sends pre-key messages; A routes
    // them to the session it already has (the one-time key is used up).
    let second =
        b.encrypt_to_device(&recipient(&a), None, "m.secret.send", secret_send("req-2", "x")).unwrap();
    assert_eq!(message_type(&second, &a), 0);
    assert_eq!(a.decrypt_to_device(ALICE, &second).unwrap().content["request_id"], "req-2");
    assert_eq!(a.session_count(&b.curve25519_key()), 1);
    // Replaying the first message fails: its message key is spent.
    assert!(matches!(a.decrypt_to_device(ALICE, &encrypted), Err(OlmError::Decryption(_))));

    // A answers over the inbound session; from then on B sends normal messages.
    let reply = a.encrypt_to_device(&recipient(&b), None, "m.dummy", json!({})).unwrap();
    assert_eq!(message_type(&reply, &b), 1);
    assert_eq!(b.decrypt_to_device(ALICE, &reply).unwrap().event_type, "m.dummy");
    let third =
        b.encrypt_to_device(&recipient(&a), None, "m.secret.send", secret_send("req-3", "y")).unwrap();
    assert_eq!(message_type(&third, &a), 1);
    let event = a.decrypt_to_device(ALICE, &third).unwrap();
    assert_eq!((event.message_type, event.content["secret"].as_str()), (1, Some("y")));
    assert_eq!(b.session_count(&a.curve25519_key()), 1);
}

/// Flips one bit in the base64 body of the entry for `to`.
fn tamper(encrypted: &Value, to: &DeviceCrypto, byte: usize) -> Value {
    let mut tampered = encrypted.clone();
    let entry = &mut tampered["ciphertext"][to.curve25519_key().to_base64()];
    let mut body = protocol::base64::decode(entry["body"].as_str().unwrap()).unwrap();
    let index = byte.min(body.len() - 1);
    body[index] ^= 0x01;
    entry["body"] = json!(protocol::base64::encode(body));
    tampered
}

#[test]
fn tampered_ciphertext_fails_and_spares_the_one_time_key() {
    let mut a = DeviceCrypto::new(ALICE, "ADEV");
    let mut b = DeviceCrypto::new(ALICE, "BDEV");
    let claimed = claim(&mut a);
    let encrypted =
        b.encrypt_to_device(&recipient(&a), Some(&claimed), "m.secret.send", secret_send("r", "s")).unwrap();
    let body_len = protocol::base64::decode(
        encrypted["ciphertext"][a.curve25519_key().to_base64()]["body"].as_str().unwrap(),
    )
    .unwrap()
    .len();
    for byte in [body_len - 1, body_len - 12, body_len / 2] {
        let result = a.decrypt_to_device(ALICE, &tamper(&encrypted, &a, byte));
        assert!(matches!(result, Err(OlmError::Decryption(_))), "byte {byte}: {result:?}");
    }
    assert_eq!(a.session_count(&b.curve25519_key()), 0);
    assert_eq!(a.decrypt_to_device(ALICE, &encrypted).unwrap().content["secret"], "s");

    // A normal message, tampered, fails too.
    let reply = a.encrypt_to_device(&recipient(&b), None, "m.dummy", json!({})).unwrap();
    b.decrypt_to_device(ALICE, &reply).unwrap();
    let normal = b.encrypt_to_device(&recipient(&a), None, "m.secret.send", secret_send("r", "t")).unwrap();
    let result = a.decrypt_to_device(ALICE, &tamper(&normal, &a, usize::MAX));
    assert!(matches!(result, Err(OlmError::Decryption(_))), "{result:?}");
    assert_eq!(a.decrypt_to_device(ALICE, &normal).unwrap().content["secret"], "t");
}

#[test]
fn message_for_another_device_is_not_for_us() {
    let mut a = DeviceCrypto::new(ALICE, "ADEV");
    let mut c = DeviceCrypto::new(ALICE, "CDEV");
    let mut b = DeviceCrypto::new(ALICE, "BDEV");
    let claimed = claim(&mut c);
    let encrypted =
        b.encrypt_to_device(&recipient(&c), Some(&claimed), "m.secret.send", secret_send("r", "s")).unwrap();
    assert_eq!(a.decrypt_to_device(ALICE, &encrypted), Err(OlmError::NoCiphertextForUs));
    assert!(c.decrypt_to_device(ALICE, &encrypted).is_ok());
}

#[test]
fn content_that_is_not_olm_is_refused() {
    let mut a = DeviceCrypto::new(ALICE, "ADEV");
    let ours = a.curve25519_key().to_base64();
    let sender_key = DeviceCrypto::new(ALICE, "B").curve25519_key().to_base64();
    let cases = [
        (secret_send("r", "s"), OlmError::NotOlm(None)),
        (json!("text"), OlmError::NotOlm(None)),
        (json!({"algorithm": "m.megolm.v1.aes-sha2"}), OlmError::NotOlm(Some("m.megolm.v1.aes-sha2".into()))),
        (
            json!({"algorithm": OLM_ALGORITHM}),
            OlmError::MalformedContent("sender_key missing or not a string".into()),
        ),
        (
            json!({"algorithm": OLM_ALGORITHM, "sender_key": sender_key}),
            OlmError::MalformedContent("ciphertext missing or not an object".into()),
        ),
        (
            json!({"algorithm": OLM_ALGORITHM, "sender_key": sender_key, "ciphertext": {ours.clone(): {"body": "AAAA"}}}),
            OlmError::MalformedContent("the ciphertext entry has no type".into()),
        ),
        (
            json!({"algorithm": OLM_ALGORITHM, "sender_key": sender_key, "ciphertext": {ours.clone(): {"type": 2, "body": "AAAA"}}}),
            OlmError::UnknownMessageType("2".into()),
        ),
        (
            json!({"algorithm": OLM_ALGORITHM, "sender_key": sender_key, "ciphertext": {ours.clone(): {"type": "0", "body": "AAAA"}}}),
            OlmError::UnknownMessageType("\"0\"".into()),
        ),
        (
            json!({"algorithm": OLM_ALGORITHM, "sender_key": sender_key, "ciphertext": {ours.clone(): {"type": 0}}}),
            OlmError::MalformedContent("the ciphertext entry has no string body".into()),
        ),
    ];
    for (content, expected) in cases {
        assert_eq!(a.decrypt_to_device(ALICE, &content), Err(expected), "{content}");
    }
    let no_session = json!({"algorithm": OLM_ALGORITHM, "sender_key": sender_key,
        "ciphertext": {ours: {"type": 1, "body": "AwogAAAA"}}});
    assert!(matches!(a.decrypt_to_device(ALICE, &no_session), Err(OlmError::Decryption(_))));
}

/// B encrypts a lying payload (built from the honest one by `lie`) for A.
fn lying(lie: impl Fn(&mut Value)) -> (DeviceCrypto, DeviceCrypto, Value) {
    let mut a = DeviceCrypto::new(ALICE, "ADEV");
    let mut b = DeviceCrypto::new(ALICE, "BDEV");
    let claimed = claim(&mut a);
    let mut plaintext = b.plaintext_payload(&recipient(&a), "m.secret.send", secret_send("r", "s"));
    lie(&mut plaintext);
    let encrypted = b.encrypt_payload(&recipient(&a), Some(&claimed), &plaintext).unwrap();
    (a, b, encrypted)
}

#[test]
fn lying_payloads_fail_with_precise_errors() {
    let other = DeviceCrypto::new(ALICE, "ODEV");
    let (mut a, _, e) = lying(|_| {});
    assert_eq!(
        a.decrypt_to_device("@mallory:test", &e),
        Err(OlmError::SenderMismatch { expected: "@mallory:test".into(), found: ALICE.into() })
    );

    let (mut a, _, e) = lying(|p| p["recipient"] = json!("@bob:test"));
    assert_eq!(
        a.decrypt_to_device(ALICE, &e),
        Err(OlmError::RecipientMismatch { expected: ALICE.into(), found: "@bob:test".into() })
    );

    let other_ed = other.ed25519_key().to_base64();
    let (mut a, _, e) = lying(|p| p["recipient_keys"]["ed25519"] = json!(other_ed));
    assert_eq!(
        a.decrypt_to_device(ALICE, &e),
        Err(OlmError::RecipientKeyMismatch { expected: a.ed25519_key(), found: other_ed.clone() })
    );

    let (mut a, b, e) = lying(|p| p["keys"]["ed25519"] = json!(other_ed));
    let event = a.decrypt_to_device(ALICE, &e).unwrap();
    assert_eq!(
        check_sender_keys(&event, &b.ed25519_key()),
        Err(OlmError::SenderKeyMismatch { expected: b.ed25519_key(), found: other.ed25519_key() })
    );

    let (mut a, _, e) = lying(|p| {
        p.as_object_mut().unwrap().remove("recipient_keys");
    });
    assert_eq!(
        a.decrypt_to_device(ALICE, &e),
        Err(OlmError::BadPayload("recipient_keys.ed25519 missing or not a string".into()))
    );
    let (mut a, _, e) = lying(|p| p["content"] = json!("secret"));
    assert_eq!(
        a.decrypt_to_device(ALICE, &e),
        Err(OlmError::BadPayload("content missing or not an object".into()))
    );
    let (mut a, _, e) = lying(|p| *p = json!(["not", "an", "object"]));
    assert_eq!(a.decrypt_to_device(ALICE, &e), Err(OlmError::BadPayload("not a JSON object".into())));
}

#[test]
fn sender_device_keys_are_checked_when_present() {
    let (mut a, b, e) = lying(|_| {});
    let honest = a.decrypt_to_device(ALICE, &e).unwrap();
    let b_keys = b.device_keys_json();
    let with = |keys: Value| {
        let mut event = honest.clone();
        event.plaintext["sender_device_keys"] = keys;
        check_sender_device_keys(&event)
    };
    assert_eq!(with(b_keys.clone()), Ok(()));
    assert!(matches!(with(b.device_keys_json_signed_by_wrong_key()), Err(OlmError::SenderDeviceKeys(_))));
    let other = DeviceCrypto::new(ALICE, "ODEV");
    let err = with(other.device_keys_json()).unwrap_err();
    assert!(matches!(&err, OlmError::SenderDeviceKeys(r) if r.starts_with("curve25519 key")), "{err}");
    let mut tampered = b_keys.clone();
    tampered["user_id"] = json!("@bob:test");
    let err = with(tampered).unwrap_err();
    assert!(matches!(&err, OlmError::SenderDeviceKeys(r) if r.starts_with("user_id")), "{err}");
    let mut no_curve = b_keys;
    no_curve["keys"].as_object_mut().unwrap().remove("curve25519:BDEV");
    assert!(matches!(with(no_curve), Err(OlmError::SenderDeviceKeys(_))));
}

#[test]
fn claimed_key_with_a_bad_signature_is_refused() {
    let mut a = DeviceCrypto::new(ALICE, "ADEV");
    let mut b = DeviceCrypto::new(ALICE, "BDEV");
    let impostor = DeviceCrypto::new(ALICE, "ADEV");
    let claimed = claim(&mut a);
    let (id, key) = claimed.as_object().unwrap().iter().next().unwrap();
    let content = || secret_send("r", "s");

    // Signed by A, checked against another Ed25519 key.
    let mut wrong_signer = recipient(&a);
    wrong_signer.ed25519 = impostor.ed25519_key();
    assert_eq!(
        b.encrypt_to_device(&wrong_signer, Some(&claimed), "m.secret.send", content()),
        Err(OlmError::BadOneTimeKeySignature(VerifyJsonError::Invalid))
    );
    // The key swapped after signing.
    let mut swapped = key.clone();
    swapped["key"] = json!(impostor.curve25519_key().to_base64());
    assert_eq!(
        b.encrypt_to_device(
            &recipient(&a),
            Some(&json!({ id.clone(): swapped })),
            "m.secret.send",
            content()
        ),
        Err(OlmError::BadOneTimeKeySignature(VerifyJsonError::Invalid))
    );
    // No signature at all.
    let mut unsigned = key.clone();
    unsigned.as_object_mut().unwrap().remove("signatures");
    assert_eq!(
        b.encrypt_to_device(
            &recipient(&a),
            Some(&json!({ id.clone(): unsigned })),
            "m.secret.send",
            content()
        ),
        Err(OlmError::BadOneTimeKeySignature(VerifyJsonError::NoSignatures))
    );
    // An unsigned legacy key, and garbage.
    let legacy = json!({"curve25519:AAAAAQ": a.curve25519_key().to_base64()});
    assert_eq!(
        b.encrypt_to_device(&recipient(&a), Some(&legacy), "m.secret.send", content()),
        Err(OlmError::BadClaimedKey("no signed_curve25519 key".into()))
    );
    assert_eq!(
        b.encrypt_to_device(&recipient(&a), Some(&json!([])), "m.secret.send", content()),
        Err(OlmError::BadClaimedKey("not an object".into()))
    );
    assert!(!b.has_session_with(&a.curve25519_key()));
    assert_eq!(
        b.encrypt_to_device(&recipient(&a), None, "m.secret.send", content()),
        Err(OlmError::NoSession(a.curve25519_key()))
    );
    // The genuine claim still works.
    assert!(b.encrypt_to_device(&recipient(&a), Some(&claimed), "m.secret.send", content()).is_ok());
}

#[test]
fn device_signs_json_and_keys_are_typed() {
    let device = DeviceCrypto::new(ALICE, "ADEV");
    let mut value = json!({"a": 1, "unsigned": {"x": 1}});
    device.sign_json(&mut value).unwrap();
    assert_eq!(verify_json(&value, ALICE, &KeyId::ed25519_device("ADEV"), &device.ed25519_key()), Ok(()));
    assert_eq!(
        Ed25519PublicKey::from_base64(&device.ed25519_key().to_base64()).unwrap(),
        device.ed25519_key()
    );
    let body = devices::olm::to_device_body(ALICE, "*", json!({"k": 1}));
    assert_eq!(body, json!({"messages": {ALICE: {"*": {"k": 1}}}}));
}
