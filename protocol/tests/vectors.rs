//! Every vector of `protocol/tests/vectors/signing.json`.

use protocol::{
    base64,
    canonical_json::signing_input,
    cross_signing::{self, CrossSigningKey, CrossSigningKeys, KeyUsage},
    key_id::KeyId,
    keys::{Ed25519Keypair, Ed25519PublicKey, Ed25519Signature},
    signing::{sign_json, signature_for, verify_json, VerifyJsonError},
};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/signing.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a table with a seed, a public key and signing cases; returns the
/// number of cases checked.
fn check_signing_table(table: &Value, seed_field: &str) -> usize {
    let seed: [u8; 32] = base64::decode_array(s(&table[seed_field])).unwrap();
    assert_eq!(hex(&seed), s(&table["seed_hex"]));
    let kp = Ed25519Keypair::from_seed(&seed);
    let public = kp.public_key();
    assert_eq!(public.to_base64(), s(&table["public_key_unpadded_base64"]));
    if let Some(h) = table.get("public_key_hex") {
        assert_eq!(hex(public.as_bytes()), s(h));
    }
    let entity = s(&table["server_name"]);
    let key_id: KeyId = s(&table["key_id"]).parse().unwrap();
    let cases = table["cases"].as_array().unwrap();
    for case in cases {
        let input = &case["input"];
        assert_eq!(signing_input(input).unwrap(), s(&case["canonical_signing_input"]));
        let expected = s(&case["expected_signature"]);
        assert_eq!(signature_for(input, &kp).unwrap().to_base64(), expected);
        let mut signed = input.clone();
        sign_json(&mut signed, entity, &key_id, &kp).unwrap();
        assert_eq!(signed["signatures"][entity][key_id.to_string()], expected);
        if let Some(object) = case.get("expected_signed_object") {
            assert_eq!(&signed, object);
        }
        assert_eq!(verify_json(&signed, entity, &key_id, &public), Ok(()));
    }
    assert!(!cases.is_empty());
    cases.len()
}

#[test]
fn spec_appendix_json_signing() {
    let v = vectors();
    let table = &v["spec_appendix_json_signing"];
    // The published seed (non-zero trailing bits) and the canonical one agree.
    let published: [u8; 32] = base64::decode_array(s(&table["seed_base64_as_published"])).unwrap();
    assert_eq!(base64::encode(published), s(&table["seed_base64_canonical"]));
    assert_eq!(check_signing_table(table, "seed_base64_as_published"), 2);
    assert_eq!(check_signing_table(table, "seed_base64_canonical"), 2);
}

#[test]
fn ruma_signatures_test_key() {
    let v = vectors();
    assert_eq!(check_signing_table(&v["ruma_signatures_test_key"], "seed_unpadded_base64"), 2);
}

fn fixture_keys(v: &Value) -> Vec<(String, Ed25519Keypair)> {
    let fixtures = &v["cross_signing_fixtures"]["keys"];
    let mut out = Vec::new();
    for key in fixtures.as_array().unwrap() {
        let seed: [u8; 32] = base64::decode_array(s(&key["seed_unpadded_base64"])).unwrap();
        assert_eq!(hex(&seed), s(&key["seed_hex"]));
        let kp = Ed25519Keypair::from_seed(&seed);
        assert_eq!(kp.public_key().to_base64(), s(&key["public_key_unpadded_base64"]));
        assert_eq!(hex(kp.public_key().as_bytes()), s(&key["public_key_hex"]));
        out.push((s(&key["role"]).to_owned(), kp));
    }
    out
}

fn role<'a>(keys: &'a [(String, Ed25519Keypair)], name: &str) -> &'a Ed25519Keypair {
    &keys.iter().find(|(r, _)| r == name).unwrap().1
}

#[test]
fn cross_signing_fixture_public_keys() {
    let v = vectors();
    assert_eq!(fixture_keys(&v).len(), 5);
}

#[test]
fn cross_signing_signatures() {
    let v = vectors();
    let keys = fixture_keys(&v);
    let sigs = v["cross_signing_signatures"]["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 6);
    for sig in sigs {
        let name = s(&sig["name"]);
        let kp = role(&keys, s(&sig["signer"]));
        let object = &sig["object"];
        let entity = s(&sig["signature_entity"]);
        let key_id: KeyId = s(&sig["signature_key_id"]).parse().unwrap();
        let expected = s(&sig["signature"]);
        assert_eq!(signing_input(object).unwrap(), s(&sig["canonical_signing_input"]), "{name}");
        assert_eq!(signature_for(object, kp).unwrap().to_base64(), expected, "{name}");
        let mut signed = object.clone();
        sign_json(&mut signed, entity, &key_id, kp).unwrap();
        assert_eq!(signed["signatures"][entity][key_id.to_string()], expected, "{name}");
        assert_eq!(verify_json(&signed, entity, &key_id, &kp.public_key()), Ok(()), "{name}");
        // The same signature through the raw key API.
        let raw = Ed25519Signature::from_base64(expected).unwrap();
        let input = signing_input(object).unwrap();
        assert_eq!(kp.public_key().verify(input.as_bytes(), &raw), Ok(()), "{name}");
        // Cross-signing objects are well-formed and signed by the key named in the ID.
        if object.get("usage").is_some() {
            let parsed = CrossSigningKey::parse(object).unwrap();
            assert_eq!(parsed.user_id, s(&object["user_id"]));
            if key_id.key_name != "xyz" {
                assert_eq!(KeyId::ed25519_cross_signing(&kp.public_key()), key_id, "{name}");
            }
        }
    }
}

#[test]
fn device_signing_upload_example() {
    let v = vectors();
    let keys = fixture_keys(&v);
    let body = &v["device_signing_upload_example"]["body"];
    let user = s(&v["cross_signing_fixtures"]["user_id"]);
    let cs = CrossSigningKeys {
        master: role(&keys, "master").clone(),
        self_signing: role(&keys, "self_signing").clone(),
        user_signing: role(&keys, "user_signing").clone(),
    };
    // Re-signing reproduces the accepted body exactly.
    assert_eq!(&cs.device_signing_body(user), body);
    let from_seeds =
        CrossSigningKeys::from_seeds(&cs.master.seed(), &cs.self_signing.seed(), &cs.user_signing.seed());
    assert_eq!(&from_seeds.device_signing_body(user), body);

    // Each row of the validation table passes, and each signature verifies.
    let master = &body["master_key"];
    cross_signing::check_shape(master, user, KeyUsage::Master).unwrap();
    let (master_id, master_key) = cross_signing::public_key(master).unwrap();
    assert_eq!(master_key, cs.master.public_key());
    let mut checked = 0;
    for usage in [KeyUsage::SelfSigning, KeyUsage::UserSigning] {
        let key = &body[usage.upload_field()];
        cross_signing::check_shape(key, user, usage).unwrap();
        let by_entity = key["signatures"][user].as_object().unwrap();
        assert_eq!(by_entity.len(), 1);
        for (id, _) in by_entity {
            let id: KeyId = id.parse().unwrap();
            assert_eq!(id, master_id);
            cross_signing::verify_signed_by(key, user, &id, &master_key).unwrap();
            checked += 1;
        }
        let (_, pk) = cross_signing::public_key(key).unwrap();
        assert_eq!(pk, cs.public_key(usage));
    }
    assert_eq!(checked, 2);

    // Negative cases from the table: swapped signature, missing signatures.
    let mut ssk = body["self_signing_key"].clone();
    ssk["signatures"] = body["user_signing_key"]["signatures"].clone();
    assert_eq!(
        cross_signing::verify_signed_by(&ssk, user, &master_id, &master_key),
        Err(VerifyJsonError::Invalid)
    );
    ssk.as_object_mut().unwrap().remove("signatures");
    assert_eq!(
        cross_signing::verify_signed_by(&ssk, user, &master_id, &master_key),
        Err(VerifyJsonError::NoSignatures)
    );
}

#[test]
fn query_example_device_is_self_signed_and_ssk_signed() {
    // The docs/protocol.md §7.2 device object: both its signatures verify.
    let v = vectors();
    let keys = fixture_keys(&v);
    let sigs = &v["cross_signing_signatures"]["signatures"];
    let mut device = sigs[3]["object"].clone();
    let device_kp = role(&keys, "device");
    let ssk = role(&keys, "self_signing");
    sign_json(&mut device, "@boris:test", &KeyId::ed25519_device("xyz"), device_kp).unwrap();
    let ssk_id = KeyId::ed25519_cross_signing(&ssk.public_key());
    sign_json(&mut device, "@boris:test", &ssk_id, ssk).unwrap();
    let sig_map = &device["signatures"]["@boris:test"];
    assert_eq!(sig_map["ed25519:xyz"], sigs[3]["signature"]);
    assert_eq!(sig_map[ssk_id.to_string()], sigs[4]["signature"]);
    let device_pk = Ed25519PublicKey::from_base64(s(&device["keys"]["ed25519:xyz"])).unwrap();
    assert_eq!(verify_json(&device, "@boris:test", &KeyId::ed25519_device("xyz"), &device_pk), Ok(()));
    assert_eq!(verify_json(&device, "@boris:test", &ssk_id, &ssk.public_key()), Ok(()));
}
