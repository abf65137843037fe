//! Garbage as `m.room.encrypted` content never panics `decrypt_to_device`: it
//! is refused with an [`OlmError`], and a genuine message still decrypts after.

use devices::olm::{DeviceCrypto, OlmError, RecipientDevice, OLM_ALGORITHM};
use proptest::prelude::*;
use serde_json::{json, Value};

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        Just(json!(OLM_ALGORITHM)),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("algorithm".to_owned()),
                    Just("sender_key".to_owned()),
                    Just("ciphertext".to_owned()),
                    Just("type".to_owned()),
                    Just("body".to_owned()),
                    "[a-z_]{0,10}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A device with a published one-time key, and a sender with a session to it.
fn setup() -> (DeviceCrypto, DeviceCrypto) {
    let mut a = DeviceCrypto::new("@alice:test", "ADEV");
    let b = DeviceCrypto::new("@alice:test", "BDEV");
    let _ = a.one_time_keys_json(2);
    a.mark_published();
    (a, b)
}

fn send(a: &mut DeviceCrypto, b: &mut DeviceCrypto) -> Value {
    let keys = a.one_time_keys_json(1);
    a.mark_published();
    let recipient = RecipientDevice {
        user_id: a.user_id().to_owned(),
        device_id: a.device_id().to_owned(),
        ed25519: a.ed25519_key(),
        curve25519: a.curve25519_key(),
    };
    b.encrypt_to_device(&recipient, Some(&keys), "m.secret.send", json!({"request_id": "r", "secret": "s"}))
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_json_never_panics(content in any_json(), sender in ".{0,12}") {
        let (mut a, _) = setup();
        prop_assert!(a.decrypt_to_device(&sender, &content).is_err());
    }

    #[test]
    fn arbitrary_olm_bodies_never_panic(
        message_type in prop_oneof![Just(json!(0)), Just(json!(1)), any::<i64>().prop_map(|n| json!(n))],
        body in prop::collection::vec(any::<u8>(), 0..300),
        raw_body in prop::option::of(".{0,60}"),
    ) {
        let (mut a, mut b) = setup();
        let body = raw_body.unwrap_or_else(|| protocol::base64::encode(&body));
        let content = json!({
            "algorithm": OLM_ALGORITHM,
            "sender_key": b.curve25519_key().to_base64(),
            "ciphertext": { a.curve25519_key().to_base64(): { "type": message_type, "body": body } },
        });
        let result = a.decrypt_to_device("@alice:test", &content);
        prop_assert!(result.is_err());
        prop_assert!(!matches!(result, Err(OlmError::NotOlm(_)) | Err(OlmError::NoCiphertextForUs)));
        prop_assert!(!a.has_session_with(&b.curve25519_key()));
        // The garbage did not break the account.
        let genuine = send(&mut a, &mut b);
        prop_assert!(a.decrypt_to_device("@alice:test", &genuine).is_ok());
    }

    #[test]
    fn corrupted_genuine_messages_never_panic(index in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let (mut a, mut b) = setup();
        let genuine = send(&mut a, &mut b);
        let mut corrupted = genuine.clone();
        let entry = &mut corrupted["ciphertext"][a.curve25519_key().to_base64()];
        let mut bytes = protocol::base64::decode(entry["body"].as_str().unwrap()).unwrap();
        let i = index.index(bytes.len());
        bytes[i] ^= xor;
        entry["body"] = json!(protocol::base64::encode(bytes));
        match a.decrypt_to_device("@alice:test", &corrupted) {
            // A few bytes of the encoding carry no meaning (vodozemac draws fresh keys each
            // run, so which ones varies): such a change may decrypt, but it can never yield
            // another plaintext.
            Ok(event) => prop_assert_eq!(event.content, json!({"request_id": "r", "secret": "s"})),
            // Otherwise it fails, spends nothing, and the genuine message still decrypts.
            Err(_) => prop_assert!(a.decrypt_to_device("@alice:test", &genuine).is_ok()),
        }
    }
}
