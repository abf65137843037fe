//! Secret names, encodings and consistency checks (docs/protocol.md §6.4, §6.2 rule
//! 8), and the `m.secret.request` / `m.secret.send` contents (§6.1).

use base64::{engine::general_purpose::STANDARD, Engine as _};
use devices::olm::{
    secrets::{
        cancellation_content, check_backup_secret, check_cross_signing_secret, encode_ed25519_seed,
        parse_secret_request, parse_secret_send, request_content, secret_send_content, BackupKey,
        ContentError, SecretAction, SecretError, SecretName, SecretRequest, BACKUP_ALGORITHM,
    },
    DeviceCrypto,
};
use protocol::{
    cross_signing::KeyUsage,
    key_id::KeyId,
    keys::{Ed25519Keypair, Ed25519PublicKey},
    signing::verify_json,
};
use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};
use serde_json::json;

#[test]
fn secret_names_round_trip() {
    let wire: Vec<_> = SecretName::ALL.iter().map(|n| n.as_str()).collect();
    assert_eq!(
        wire,
        [
            "m.cross_signing.master",
            "m.cross_signing.self_signing",
            "m.cross_signing.user_signing",
            "m.megolm_backup.v1"
        ]
    );
    for name in SecretName::ALL {
        assert_eq!(SecretName::parse(name.as_str()), Some(name));
        assert_eq!(name.to_string(), name.as_str());
    }
    for usage in KeyUsage::ALL {
        let name = SecretName::for_usage(usage);
        assert_eq!(name.as_str(), usage.secret_name());
        assert_eq!(name.key_usage(), Some(usage));
    }
    assert_eq!(SecretName::MegolmBackupV1.key_usage(), None);
    assert_eq!(SecretName::parse("m.cross_signing.Master"), None);
}

#[test]
fn cross_signing_secret_check() {
    let key = Ed25519Keypair::generate(&mut ChaCha20Rng::seed_from_u64(7));
    let seed = key.seed();
    let unpadded = encode_ed25519_seed(&seed);
    assert!(!unpadded.ends_with('='));
    assert_eq!(unpadded.len(), 43);
    let padded = STANDARD.encode(seed);
    assert!(padded.ends_with('='));
    assert_eq!(check_cross_signing_secret(&unpadded, &key.public_key()), Ok(()));
    assert_eq!(check_cross_signing_secret(&padded, &key.public_key()), Ok(()));

    let other = Ed25519Keypair::generate(&mut ChaCha20Rng::seed_from_u64(8));
    assert_eq!(
        check_cross_signing_secret(&encode_ed25519_seed(&other.seed()), &key.public_key()),
        Err(SecretError::PublicKeyMismatch {
            published: key.public_key().to_base64(),
            derived: other.public_key().to_base64(),
        })
    );
    // The public key is not the secret.
    assert!(matches!(
        check_cross_signing_secret(&key.public_key().to_base64(), &key.public_key()),
        Err(SecretError::PublicKeyMismatch { .. })
    ));
    assert_eq!(check_cross_signing_secret("AAAA", &key.public_key()), Err(SecretError::WrongLength(3)));
    assert_eq!(check_cross_signing_secret("not base64!", &key.public_key()), Err(SecretError::NotBase64));

    // The spec's seed, with its non-zero trailing bits.
    let spec = Ed25519PublicKey::from_base64("XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI").unwrap();
    assert_eq!(check_cross_signing_secret("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1", &spec), Ok(()));
}

#[test]
fn backup_key_secret_and_auth_data() {
    let key = BackupKey::generate(&mut ChaCha20Rng::seed_from_u64(1));
    assert_eq!(
        BackupKey::generate(&mut ChaCha20Rng::seed_from_u64(1)).public_key(),
        key.public_key(),
        "deterministic from the seed"
    );
    let secret = key.to_secret();
    assert_eq!(secret.len(), 43);
    assert_eq!(BackupKey::from_secret(&secret).unwrap().public_key(), key.public_key());
    assert_eq!(check_backup_secret(&secret, &key.public_key_b64()), Ok(()));
    let padded = STANDARD.encode(protocol::base64::decode(&secret).unwrap());
    assert_eq!(check_backup_secret(&padded, &key.public_key_b64()), Ok(()));

    let other = BackupKey::generate(&mut ChaCha20Rng::seed_from_u64(2));
    assert_eq!(
        check_backup_secret(&other.to_secret(), &key.public_key_b64()),
        Err(SecretError::PublicKeyMismatch {
            published: key.public_key_b64(),
            derived: other.public_key_b64()
        })
    );
    assert_eq!(check_backup_secret(&secret, "short"), Err(SecretError::BadPublishedKey));
    assert_eq!(check_backup_secret("YWJj", &key.public_key_b64()), Err(SecretError::WrongLength(3)));
    assert!(!format!("{key:?}").contains(&secret));

    // RFC 7748 §6.1: Alice's private key and public key.
    let alice =
        BackupKey::from_bytes(hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
    assert_eq!(
        alice.public_key().as_bytes(),
        &hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    );

    let master = Ed25519Keypair::generate(&mut ChaCha20Rng::seed_from_u64(3));
    let device = DeviceCrypto::new("@alice:test", "ADEV");
    let auth_data = key.auth_data("@alice:test", Some(&master), Some(&device));
    assert_eq!(auth_data["public_key"], key.public_key_b64());
    let master_id = KeyId::ed25519_cross_signing(&master.public_key());
    assert_eq!(verify_json(&auth_data, "@alice:test", &master_id, &master.public_key()), Ok(()));
    let device_id = KeyId::ed25519_device("ADEV");
    assert_eq!(verify_json(&auth_data, "@alice:test", &device_id, &device.ed25519_key()), Ok(()));
    assert_eq!(key.auth_data("@alice:test", None, None)["signatures"], json!({}));
    let body = BackupKey::version_body(auth_data.clone());
    assert_eq!(body, json!({"algorithm": BACKUP_ALGORITHM, "auth_data": auth_data}));
}

fn hex(s: &str) -> [u8; 32] {
    let mut out = [0; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

#[test]
fn request_and_cancellation_round_trip() {
    let request = request_content(SecretName::CrossSigningMaster, "AAABBBCCC", "req-1");
    assert_eq!(
        request,
        json!({"name":"m.cross_signing.master","action":"request","requesting_device_id":"AAABBBCCC","request_id":"req-1"})
    );
    let parsed = parse_secret_request(&request).unwrap();
    assert_eq!(
        parsed,
        SecretRequest {
            action: SecretAction::Request,
            name: Some("m.cross_signing.master".into()),
            requesting_device_id: "AAABBBCCC".into(),
            request_id: "req-1".into(),
        }
    );
    assert_eq!(parsed.secret_name(), Some(SecretName::CrossSigningMaster));

    let cancel = cancellation_content("AAABBBCCC", "req-1");
    assert_eq!(
        cancel,
        json!({"action":"request_cancellation","requesting_device_id":"AAABBBCCC","request_id":"req-1"})
    );
    let parsed = parse_secret_request(&cancel).unwrap();
    assert_eq!(parsed.action, SecretAction::RequestCancellation);
    assert_eq!((parsed.name, parsed.request_id.as_str()), (None, "req-1"));

    // js-sdk's extra field is tolerated; an unknown name parses but is not a known secret.
    let mut extra = request_content(SecretName::MegolmBackupV1, "D", "r");
    extra["org.matrix.msgid"] = json!("m1");
    assert_eq!(parse_secret_request(&extra).unwrap().secret_name(), Some(SecretName::MegolmBackupV1));
    let mut unknown = request_content(SecretName::MegolmBackupV1, "D", "r");
    unknown["name"] = json!("m.something.else");
    let parsed = parse_secret_request(&unknown).unwrap();
    assert_eq!((parsed.name.as_deref(), parsed.secret_name()), (Some("m.something.else"), None));
}

#[test]
fn malformed_requests_give_precise_errors() {
    let good = request_content(SecretName::CrossSigningSelfSigning, "D", "r");
    let without = |field: &str| {
        let mut v = good.clone();
        v.as_object_mut().unwrap().remove(field);
        parse_secret_request(&v)
    };
    let with = |field: &str, value: serde_json::Value| {
        let mut v = good.clone();
        v[field] = value;
        parse_secret_request(&v)
    };
    assert_eq!(parse_secret_request(&json!("x")), Err(ContentError::NotAnObject));
    assert_eq!(without("action"), Err(ContentError::MissingField("action")));
    assert_eq!(without("name"), Err(ContentError::MissingField("name")));
    assert_eq!(without("requesting_device_id"), Err(ContentError::MissingField("requesting_device_id")));
    assert_eq!(without("request_id"), Err(ContentError::MissingField("request_id")));
    assert_eq!(with("action", json!("share")), Err(ContentError::UnknownAction("share".into())));
    assert_eq!(with("action", json!(1)), Err(ContentError::NotAString("action")));
    assert_eq!(with("name", json!(null)), Err(ContentError::NotAString("name")));
    assert_eq!(with("request_id", json!(7)), Err(ContentError::NotAString("request_id")));
    // A cancellation needs no name.
    let cancel = cancellation_content("D", "r");
    assert!(parse_secret_request(&cancel).is_ok());
}

#[test]
fn secret_send_round_trip_and_errors() {
    let content = secret_send_content("req-1", "c2VjcmV0");
    assert_eq!(content, json!({"request_id": "req-1", "secret": "c2VjcmV0"}));
    let parsed = parse_secret_send(&content).unwrap();
    assert_eq!((parsed.request_id.as_str(), parsed.secret.as_str()), ("req-1", "c2VjcmV0"));
    assert_eq!(parse_secret_send(&json!([])), Err(ContentError::NotAnObject));
    assert_eq!(parse_secret_send(&json!({"secret": "s"})), Err(ContentError::MissingField("request_id")));
    assert_eq!(parse_secret_send(&json!({"request_id": "r"})), Err(ContentError::MissingField("secret")));
    assert_eq!(
        parse_secret_send(&json!({"request_id": "r", "secret": {"k": 1}})),
        Err(ContentError::NotAString("secret"))
    );
}
