//! The MSC3903 v2 secure channel against `protocol/tests/vectors/secure-channel.json`
//! (docs/protocol.md §4), plus negative cases and a no-panic property test.

use devices::secure_channel::{
    hkdf_info, ChannelError, ChannelRole, CheckCode, EnvelopeDefect, EphemeralKeyPair, InitiatorCreateBody,
    IvLength, KeyBodyError, RecipientKeyBody, SecureChannel,
};
use proptest::prelude::*;
use protocol::qr_login::{
    Dialect, Intent, Message, NameStrictness, QrCode, ALGORITHM_V2_STABLE, ALGORITHM_V2_UNSTABLE,
};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::{json, Value};

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../protocol/tests/vectors/secure-channel.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).expect("vector file is JSON")
}

fn hex(value: &Value) -> Vec<u8> {
    let text = value.as_str().expect("hex string");
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

fn hex32(value: &Value) -> [u8; 32] {
    hex(value).try_into().unwrap()
}

fn pair(v: &Value, name: &str) -> EphemeralKeyPair {
    EphemeralKeyPair::from_private_bytes(hex32(&v["x25519"][format!("{name}_private_key_hex")]))
}

/// Both ends of the vector's channel, built with `algorithm` in the info.
fn channels(algorithm: &str) -> (SecureChannel, SecureChannel) {
    let v = vectors();
    let initiator = pair(&v, "initiator");
    let recipient = pair(&v, "recipient");
    let (ipub, rpub) = (initiator.public_key(), recipient.public_key());
    (
        SecureChannel::establish(ChannelRole::Initiator, initiator, rpub, algorithm).unwrap(),
        SecureChannel::establish(ChannelRole::Recipient, recipient, ipub, algorithm).unwrap(),
    )
}

fn envelope(v: &Value, name: &str) -> Value {
    serde_json::from_str(v[name]["envelope_json"].as_str().unwrap()).unwrap()
}

/// §4.1: public keys and the shared secret (RFC 7748 §6.1 values).
#[test]
fn x25519_matches_vector() {
    let v = vectors();
    let x = &v["x25519"];
    let initiator = pair(&v, "initiator");
    let recipient = pair(&v, "recipient");
    assert_eq!(initiator.public_key(), hex32(&x["initiator_public_key_hex"]));
    assert_eq!(recipient.public_key(), hex32(&x["recipient_public_key_hex"]));
    assert_eq!(initiator.public_key_base64(), x["initiator_public_key_unpadded_base64"]);
    assert_eq!(recipient.public_key_base64(), x["recipient_public_key_unpadded_base64"]);
    let shared = hex32(&x["shared_secret_hex"]);
    assert_eq!(initiator.diffie_hellman(recipient.public_key()), (shared, true));
    assert_eq!(recipient.diffie_hellman(initiator.public_key()), (shared, true));
    let (i, r) = channels(ALGORITHM_V2_UNSTABLE);
    assert_eq!(i.shared_secret(), shared);
    assert_eq!(r.shared_secret(), shared);
}

/// §4.2: info string (initiator first on both sides) and AES key.
#[test]
fn hkdf_matches_vector() {
    let v = vectors();
    let (i, r) = channels(ALGORITHM_V2_UNSTABLE);
    assert_eq!(i.info(), v["hkdf"]["info"]);
    assert_eq!(r.info(), v["hkdf"]["info"]);
    assert_eq!(
        hkdf_info(
            ALGORITHM_V2_UNSTABLE,
            &hex32(&v["x25519"]["initiator_public_key_hex"]),
            &hex32(&v["x25519"]["recipient_public_key_hex"])
        ),
        v["hkdf"]["info"]
    );
    let key = hex32(&v["hkdf"]["aes_key_hex"]);
    assert_eq!(i.aes_key(), key);
    assert_eq!(r.aes_key(), key);
    assert_eq!(i.role(), ChannelRole::Initiator);
    assert_eq!(r.algorithm(), ALGORITHM_V2_UNSTABLE);
}

/// §4.4: check code bytes, numbers and rendering, equal on both screens.
#[test]
fn check_code_matches_vector() {
    let v = vectors();
    let c = &v["check_code"];
    let (i, r) = channels(ALGORITHM_V2_UNSTABLE);
    let code = i.check_code_value();
    assert_eq!(code.bytes().to_vec(), hex(&c["bytes_hex"]));
    assert_eq!(code.bytes()[..], i.aes_key()[..5]);
    let numbers: Vec<u16> =
        c["numbers"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap() as u16).collect();
    assert_eq!(code.numbers().to_vec(), numbers);
    assert_eq!(i.check_code(), c["rendered"]);
    assert_eq!(r.check_code(), c["rendered"]);
    // Range: every number lies in 1000..=9191.
    assert_eq!(CheckCode::from_bytes([0; 5]).to_string(), "1000-1000-1000");
    assert_eq!(CheckCode::from_bytes([0xff; 5]).to_string(), "9191-9191-9191");
}

/// §4.3: both envelopes decrypt to the plaintext, on both sides.
#[test]
fn decrypts_both_vector_envelopes() {
    let v = vectors();
    let plaintext = hex(&v["encryption_32_byte_iv"]["plaintext_hex"]);
    let expected: Value = serde_json::from_slice(&plaintext).unwrap();
    let (i, r) = channels(ALGORITHM_V2_UNSTABLE);
    for name in ["encryption_32_byte_iv", "encryption_16_byte_iv"] {
        let env = envelope(&v, name);
        assert_eq!(env, v[name]["envelope"]);
        for channel in [&i, &r] {
            assert_eq!(channel.decrypt(&env).unwrap(), plaintext);
            assert_eq!(channel.decrypt_json(&env).unwrap(), expected);
        }
        let message = Message::parse(&r.decrypt_json(&env).unwrap(), Dialect::V1).unwrap();
        assert!(matches!(message, Message::Protocols { .. }));
    }
}

/// §4.3: encrypting under the given IVs reproduces the ciphertexts exactly.
#[test]
fn encrypt_with_vector_ivs_reproduces_ciphertexts() {
    let v = vectors();
    let plaintext = hex(&v["encryption_32_byte_iv"]["plaintext_hex"]);
    let (i, _) = channels(ALGORITHM_V2_UNSTABLE);
    for name in ["encryption_32_byte_iv", "encryption_16_byte_iv"] {
        let iv = hex(&v[name]["iv_hex"]);
        let env = i.encrypt_bytes_with_iv(&plaintext, &iv).unwrap();
        assert_eq!(env, v[name]["envelope"], "{name}");
        let decoded = hex(&v[name]["ciphertext_and_tag_hex"]);
        assert_eq!(decoded[decoded.len() - 16..], hex(&v[name]["tag_hex"])[..]);
        // The JSON entry point serialises compactly; same value back.
        let value: Value = serde_json::from_slice(&plaintext).unwrap();
        let env = i.encrypt_json_with_iv(&value, &iv).unwrap();
        assert_eq!(i.decrypt_json(&env).unwrap(), value);
    }
}

/// D2: 32-byte IVs by default, 16 with the `android` option; both decrypt;
/// a seeded RNG makes the envelope reproducible.
#[test]
fn random_ivs_and_android_option() {
    let (i, r) = channels(ALGORITHM_V2_UNSTABLE);
    let message =
        Message::Approved { login_token: "tok".into(), homeserver: "https://hs.example.test".into() }
            .to_json(Dialect::V1);
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let a = i.encrypt_json(&message, &mut rng).unwrap();
    let b = i.encrypt_json(&message, &mut rng).unwrap();
    assert_ne!(a, b, "fresh IV per message");
    assert_eq!(a, i.encrypt_json(&message, &mut ChaCha20Rng::seed_from_u64(7)).unwrap());
    let iv_len = |env: &Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD_NO_PAD.decode(env["iv"].as_str().unwrap()).unwrap().len()
    };
    assert_eq!(iv_len(&a), 32);
    assert_eq!(r.decrypt_json(&a).unwrap(), message);
    let android = r.clone().with_send_iv_length(IvLength::Bytes16);
    let c = android.encrypt_json(&message, &mut rng).unwrap();
    assert_eq!(iv_len(&c), 16);
    assert_eq!(i.decrypt_json(&c).unwrap(), message);
}

/// D1: the stable name in the info derives the vector's negative key, and
/// that key fails the GCM tag on both envelopes.
#[test]
fn stable_name_info_derives_other_key_and_fails() {
    let v = vectors();
    let (i, _) = channels(ALGORITHM_V2_STABLE);
    assert_eq!(i.info(), v["negative"]["stable_name_info"]);
    assert_eq!(i.aes_key(), hex32(&v["negative"]["stable_name_aes_key_hex"]));
    for name in ["encryption_32_byte_iv", "encryption_16_byte_iv"] {
        assert_eq!(i.decrypt(&envelope(&v, name)), Err(ChannelError::DecryptionFailed));
    }
}

#[test]
fn tampering_and_wrong_keys_are_rejected() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let v = vectors();
    let (i, _) = channels(ALGORITHM_V2_UNSTABLE);
    for name in ["encryption_32_byte_iv", "encryption_16_byte_iv"] {
        let env = envelope(&v, name);
        let ct = b64.decode(env["ciphertext"].as_str().unwrap()).unwrap();
        for position in [0, ct.len() / 2, ct.len() - 1] {
            let mut flipped = ct.clone();
            flipped[position] ^= 0x01;
            let bad = json!({"iv": env["iv"], "ciphertext": b64.encode(&flipped)});
            assert_eq!(i.decrypt(&bad), Err(ChannelError::DecryptionFailed));
        }
        // A different recipient key (a MITM's) yields a different channel.
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let mitm = EphemeralKeyPair::generate(&mut rng);
        let wrong = SecureChannel::establish(
            ChannelRole::Initiator,
            pair(&v, "initiator"),
            mitm.public_key(),
            ALGORITHM_V2_UNSTABLE,
        )
        .unwrap();
        assert_ne!(wrong.check_code(), i.check_code());
        assert_eq!(wrong.decrypt(&env), Err(ChannelError::DecryptionFailed));
    }
}

#[test]
fn malformed_envelopes_are_precise_errors() {
    let (i, _) = channels(ALGORITHM_V2_UNSTABLE);
    let iv12 = "AAECAwQFBgcICQoL"; // 12 bytes
    let ct = "xxHPv9kuIyqEaJDi6uQd8ROVFSqn4fBsJ6PyOZGg7kU";
    let m = ChannelError::MalformedEnvelope;
    let cases = [
        (json!({"iv": iv12, "ciphertext": ct}), ChannelError::BadIvLength(12)),
        (json!({"iv": "", "ciphertext": ct}), ChannelError::BadIvLength(0)),
        (json!([]), m(EnvelopeDefect::NotAnObject)),
        (json!({"ciphertext": ct}), m(EnvelopeDefect::MissingIv)),
        (json!({"iv": iv12}), m(EnvelopeDefect::MissingCiphertext)),
        (json!({"iv": 1, "ciphertext": ct}), m(EnvelopeDefect::IvNotString)),
        (json!({"iv": iv12, "ciphertext": null}), m(EnvelopeDefect::CiphertextNotString)),
        (json!({"iv": "!!", "ciphertext": ct}), m(EnvelopeDefect::IvNotBase64)),
        (json!({"iv": iv12, "ciphertext": "a"}), m(EnvelopeDefect::CiphertextNotBase64)),
        (
            json!({"iv": "AAECAwQFBgcICQoLDA0ODw", "ciphertext": "AAEC"}),
            m(EnvelopeDefect::CiphertextTooShort),
        ),
    ];
    for (envelope, expected) in cases {
        assert_eq!(i.decrypt(&envelope), Err(expected), "{envelope}");
    }
    assert_eq!(i.encrypt_bytes_with_iv(b"{}", &[0u8; 12]), Err(ChannelError::BadIvLength(12)));
    // Authentic but not JSON.
    let env = i.encrypt_bytes_with_iv(b"not json", &[9u8; 16]).unwrap();
    assert_eq!(i.decrypt_json(&env), Err(ChannelError::PlaintextNotJson));
    // Padded base64 in the envelope is accepted (§4.3).
    let v = vectors();
    let mut env = envelope(&v, "encryption_16_byte_iv");
    env["iv"] = json!(format!("{}==", env["iv"].as_str().unwrap()));
    assert!(i.decrypt(&env).is_ok());
}

#[test]
fn establish_rejects_bad_algorithm_and_low_order_key() {
    let v = vectors();
    assert_eq!(
        SecureChannel::establish(ChannelRole::Recipient, pair(&v, "recipient"), [9; 32], "m.rendezvous.v1")
            .unwrap_err(),
        ChannelError::UnsupportedAlgorithm("m.rendezvous.v1".into())
    );
    assert_eq!(
        SecureChannel::establish(
            ChannelRole::Recipient,
            pair(&v, "recipient"),
            [0; 32],
            ALGORITHM_V2_UNSTABLE
        )
        .unwrap_err(),
        ChannelError::NonContributoryKey
    );
}

/// C1 and C3 (§4.1) against the vector's cleartext payloads.
#[test]
fn cleartext_bodies_match_vector() {
    let v = vectors();
    let p = &v["rendezvous_cleartext_payloads"];
    let create = InitiatorCreateBody { algorithm: ALGORITHM_V2_UNSTABLE.into() };
    assert_eq!(create.to_json(), p["initiator_create_body"]);
    assert_eq!(InitiatorCreateBody::parse(&p["initiator_create_body"]), Ok(create));
    let body =
        RecipientKeyBody { algorithm: ALGORITHM_V2_UNSTABLE.into(), key: pair(&v, "recipient").public_key() };
    assert_eq!(body.to_json(), p["recipient_key_body"]);
    assert_eq!(RecipientKeyBody::parse(&p["recipient_key_body"]), Ok(body));
    // js-sdk accepts the stable name too, and a padded key.
    let stable =
        json!({"algorithm": ALGORITHM_V2_STABLE, "key": "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="});
    assert_eq!(RecipientKeyBody::parse(&stable).unwrap().algorithm, ALGORITHM_V2_STABLE);
}

#[test]
fn cleartext_body_errors_are_precise() {
    let alg = ALGORITHM_V2_UNSTABLE;
    let cases = [
        (json!("x"), KeyBodyError::NotAnObject),
        (json!({"key": "AAAA"}), KeyBodyError::MissingAlgorithm),
        (json!({"algorithm": "other", "key": "AAAA"}), KeyBodyError::UnsupportedAlgorithm("other".into())),
        (json!({"algorithm": alg}), KeyBodyError::MissingKey),
        (json!({"algorithm": alg, "key": 3}), KeyBodyError::KeyNotString),
        (json!({"algorithm": alg, "key": "*"}), KeyBodyError::KeyNotBase64),
        (json!({"algorithm": alg, "key": "AAAA"}), KeyBodyError::KeyLength(3)),
    ];
    for (body, expected) in cases {
        assert_eq!(RecipientKeyBody::parse(&body), Err(expected), "{body}");
    }
    assert_eq!(
        InitiatorCreateBody::parse(&json!({"algorithm": "x"})),
        Err(KeyBodyError::UnsupportedAlgorithm("x".into()))
    );
}

/// End to end: B shows the QR code, A scans it and both derive the same
/// channel with the QR's algorithm string (D1); messages flow both ways.
#[test]
fn qr_bootstrapped_channel_end_to_end() {
    let mut rng = ChaCha20Rng::seed_from_u64(42);
    let b_keys = EphemeralKeyPair::generate(&mut rng);
    let qr = QrCode::deployed(b_keys.public_key(), "https://rz.example.test/r/1", Intent::LoginReciprocate);
    let scanned = QrCode::parse(&qr.to_json_string(), NameStrictness::StrictDeployed).unwrap();
    let a_keys = EphemeralKeyPair::generate(&mut rng);
    let c3 = RecipientKeyBody { algorithm: scanned.algorithm.clone(), key: a_keys.public_key() }.to_json();
    let a = SecureChannel::establish(ChannelRole::Recipient, a_keys, scanned.key, &scanned.algorithm)
        .unwrap()
        .with_send_iv_length(IvLength::Bytes16);
    let received = RecipientKeyBody::parse(&c3).unwrap();
    let b = SecureChannel::establish(ChannelRole::Initiator, b_keys, received.key, &qr.algorithm).unwrap();
    assert_eq!(a.check_code(), b.check_code());
    assert_eq!(a.aes_key(), b.aes_key());
    for dialect in [Dialect::V1, Dialect::V2] {
        let m3 = Message::Protocols { protocols: vec!["org.matrix.msc3906.login_token".into()] };
        let env = b.encrypt_json(&m3.to_json(dialect), &mut rng).unwrap();
        assert_eq!(Message::parse(&a.decrypt_json(&env).unwrap(), dialect), Ok(m3));
        let m4 = Message::Protocol { protocol: "org.matrix.msc3906.login_token".into() };
        let env = a.encrypt_json(&m4.to_json(dialect), &mut rng).unwrap();
        assert_eq!(Message::parse(&b.decrypt_json(&env).unwrap(), dialect), Ok(m4));
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..80).prop_map(|b| {
            use base64::Engine as _;
            Value::from(base64::engine::general_purpose::STANDARD.encode(b))
        }),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(
                prop_oneof![Just("iv".to_owned()), Just("ciphertext".to_owned()), ".{0,6}"],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Arbitrary JSON never panics the decrypter.
    #[test]
    fn decrypt_never_panics_on_arbitrary_json(value in arb_json()) {
        let (i, _) = channels(ALGORITHM_V2_UNSTABLE);
        let _ = i.decrypt_json(&value);
        let _ = RecipientKeyBody::parse(&value);
        let _ = Message::parse(&value, Dialect::V1);
        let _ = Message::parse(&value, Dialect::V2);
    }

    /// Well-formed envelopes with random IV and ciphertext bytes of any
    /// length give an error, never a panic (and never a false success).
    #[test]
    fn decrypt_never_panics_on_random_bytes(
        iv in proptest::collection::vec(any::<u8>(), 0..48),
        ct in proptest::collection::vec(any::<u8>(), 0..128),
    ) {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
        let (i, _) = channels(ALGORITHM_V2_UNSTABLE);
        let env = json!({"iv": b64.encode(&iv), "ciphertext": b64.encode(&ct)});
        let result = i.decrypt(&env);
        prop_assert!(result.is_err());
        if iv.len() != 16 && iv.len() != 32 {
            prop_assert_eq!(result, Err(ChannelError::BadIvLength(iv.len())));
        }
    }
}
