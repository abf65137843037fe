//! Differential tests against ruma-signatures / ruma-common: canonical JSON
//! bytes and Ed25519 JSON signatures must agree in both directions.

use proptest::prelude::*;
use protocol::{
    canonical_json::{signing_input, to_canonical_string},
    key_id::KeyId,
    keys::Ed25519Keypair,
    signing::{sign_json, verify_json, VerifyJsonError},
};
use ruma_common::{serde::Base64, CanonicalJsonObject, CanonicalJsonValue};
use ruma_signatures::{Ed25519KeyPair, PublicKeyMap};
use serde_json::{Map, Value};

const ENTITY: &str = "domain";
const MAX: i64 = (1 << 53) - 1;

fn json_string() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        '\0', '\u{1}', '\u{8}', '\t', '\n', '\u{b}', '\u{c}', '\r', '\u{1f}', ' ', '"', '\\', '/', '\u{7f}',
        '\u{80}', 'é', '\u{2028}', '\u{2029}', '\u{feff}', 'Ａ', '😀', 'a', 'Z', ':',
    ]);
    prop::collection::vec(prop_oneof![any::<char>(), special], 0..8)
        .prop_map(|chars| chars.into_iter().collect())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-MAX..=MAX).prop_map(Value::from),
        prop_oneof![-1000i64..1000, Just(MAX), Just(-MAX)].prop_map(Value::from),
        json_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((json_string(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// A random object with an ASCII `payload` member to tamper with. With
/// `with_reserved`, the top level may also have `signatures`/`unsigned`.
fn json_object(with_reserved: bool) -> impl Strategy<Value = Value> {
    let key = if with_reserved {
        prop_oneof![
            3 => json_string(),
            1 => Just("unsigned".to_owned()),
            1 => Just("signatures".to_owned()),
        ]
        .boxed()
    } else {
        json_string().prop_filter("reserved", |k| k != "signatures" && k != "unsigned").boxed()
    };
    (prop::collection::vec((key, json_value()), 0..6), "[a-z]{1,8}").prop_map(|(entries, payload)| {
        let mut map: Map<String, Value> = entries.into_iter().collect();
        map.insert("payload".to_owned(), Value::String(payload));
        Value::Object(map)
    })
}

fn to_ruma(value: &Value) -> CanonicalJsonObject {
    match CanonicalJsonValue::try_from(value.clone()).unwrap() {
        CanonicalJsonValue::Object(object) => object,
        other => panic!("not an object: {other:?}"),
    }
}

fn ruma_keypair(seed: &[u8; 32]) -> Ed25519KeyPair {
    // PKCS#8 v1 (RFC 8410) wrapping of a 32-byte Ed25519 seed.
    let mut der =
        vec![0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
    der.extend_from_slice(seed);
    Ed25519KeyPair::from_der(&der, "1".to_owned()).unwrap()
}

fn ruma_verify(value: &Value, public: &[u8; 32]) -> bool {
    let mut set = std::collections::BTreeMap::new();
    set.insert("ed25519:1".to_owned(), Base64::new(public.to_vec()));
    let mut map = PublicKeyMap::new();
    map.insert(ENTITY.to_owned(), set);
    ruma_signatures::verify_json(&map, &to_ruma(value)).is_ok()
}

fn key_id() -> KeyId {
    "ed25519:1".parse().unwrap()
}

/// Flips the lowest bit of the first character of the signature's bytes.
fn flip_signature_bit(value: &mut Value, bit: usize) {
    let slot = &mut value["signatures"][ENTITY]["ed25519:1"];
    let mut bytes = protocol::base64::decode(slot.as_str().unwrap()).unwrap();
    bytes[bit / 8 % 64] ^= 1 << (bit % 8);
    *slot = Value::String(protocol::base64::encode(bytes));
}

/// Flips one bit of the ASCII `payload` string (stays ASCII).
fn flip_payload_bit(value: &mut Value) {
    let payload = value["payload"].as_str().unwrap().to_owned();
    let mut bytes = payload.into_bytes();
    bytes[0] ^= 1;
    value["payload"] = Value::String(String::from_utf8(bytes).unwrap());
}

/// Checks that ours and ruma both accept `signed`, and both reject it after
/// a flipped signature bit or a flipped payload bit.
fn check_both_ways(signed: &Value, kp: &Ed25519Keypair, bit: usize) -> Result<(), TestCaseError> {
    let public = kp.public_key();
    prop_assert_eq!(verify_json(signed, ENTITY, &key_id(), &public), Ok(()));
    prop_assert!(ruma_verify(signed, public.as_bytes()));

    let mut bad_sig = signed.clone();
    flip_signature_bit(&mut bad_sig, bit);
    prop_assert_eq!(verify_json(&bad_sig, ENTITY, &key_id(), &public), Err(VerifyJsonError::Invalid));
    prop_assert!(!ruma_verify(&bad_sig, public.as_bytes()));

    let mut bad_value = signed.clone();
    flip_payload_bit(&mut bad_value);
    prop_assert_eq!(verify_json(&bad_value, ENTITY, &key_id(), &public), Err(VerifyJsonError::Invalid));
    prop_assert!(!ruma_verify(&bad_value, public.as_bytes()));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn canonical_bytes_match_ruma(value in json_value()) {
        let ruma = CanonicalJsonValue::try_from(value.clone()).unwrap().to_string();
        prop_assert_eq!(to_canonical_string(&value).unwrap(), ruma);
    }

    #[test]
    fn signing_input_matches_ruma(value in json_object(true)) {
        let ruma = ruma_signatures::to_canonical_json_string_for_signing(&to_ruma(&value)).unwrap();
        prop_assert_eq!(signing_input(&value).unwrap(), ruma);
    }

    #[test]
    fn our_signature_verifies_with_ruma(
        value in json_object(false),
        seed in any::<[u8; 32]>(),
        bit in 0usize..512,
    ) {
        let kp = Ed25519Keypair::from_seed(&seed);
        let mut signed = value;
        sign_json(&mut signed, ENTITY, &key_id(), &kp).unwrap();
        check_both_ways(&signed, &kp, bit)?;
    }

    #[test]
    fn ruma_signature_verifies_with_ours(
        value in json_object(false),
        seed in any::<[u8; 32]>(),
        bit in 0usize..512,
    ) {
        let kp = Ed25519Keypair::from_seed(&seed);
        let ruma_kp = ruma_keypair(&seed);
        prop_assert_eq!(ruma_kp.public_key(), *kp.public_key().as_bytes());
        let mut object = to_ruma(&value);
        ruma_signatures::sign_json(ENTITY, &ruma_kp, &mut object).unwrap();
        let signed: Value = CanonicalJsonValue::Object(object).into();
        // Ed25519 is deterministic: our signature is the same string.
        let mut ours = value;
        sign_json(&mut ours, ENTITY, &key_id(), &kp).unwrap();
        prop_assert_eq!(&ours, &signed);
        check_both_ways(&signed, &kp, bit)?;
    }
}
