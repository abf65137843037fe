use super::*;
use crate::cross_signing::CrossSigningKeys;

const USER: &str = "@u:hs";

fn keys() -> CrossSigningKeys {
    CrossSigningKeys::from_seeds(&[1; 32], &[2; 32], &[3; 32])
}

#[test]
fn usage_names() {
    assert_eq!(KeyUsage::Master.as_str(), "master");
    assert_eq!(KeyUsage::SelfSigning.as_str(), "self_signing");
    assert_eq!(KeyUsage::UserSigning.as_str(), "user_signing");
    assert_eq!(KeyUsage::UserSigning.secret_name(), "m.cross_signing.user_signing");
    for u in KeyUsage::ALL {
        assert_eq!(KeyUsage::parse(u.as_str()), Some(u));
    }
    assert_eq!(KeyUsage::parse("other"), None);
}

#[test]
fn body_passes_all_checks() {
    let k = keys();
    let body = k.device_signing_body(USER);
    let (master_id, master) = public_key(&body["master_key"]).unwrap();
    assert_eq!(master, k.master.public_key());
    assert_eq!(master_id, k.key_id(KeyUsage::Master));
    for usage in KeyUsage::ALL {
        let v = &body[usage.upload_field()];
        assert_eq!(check_shape(v, USER, usage), Ok(()));
        let parsed = CrossSigningKey::parse(v).unwrap();
        assert!(parsed.has_usage(usage));
        assert_eq!(parsed.public_key, k.public_key(usage));
        if usage != KeyUsage::Master {
            assert_eq!(verify_signed_by(v, USER, &master_id, &master), Ok(()));
        } else {
            assert!(v.get("signatures").is_none());
        }
    }
    // The SSK signature does not verify the USK.
    let mut usk = body["user_signing_key"].clone();
    usk["signatures"] = body["self_signing_key"]["signatures"].clone();
    assert_eq!(verify_signed_by(&usk, USER, &master_id, &master), Err(VerifyJsonError::Invalid));
}

#[test]
fn shape_rows_in_order() {
    use CrossSigningKeyError as E;
    let good = keys().key_json(USER, KeyUsage::SelfSigning);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        check_shape(&v, USER, KeyUsage::SelfSigning)
    };
    assert_eq!(check_shape(&json!("x"), USER, KeyUsage::Master), Err(E::NotAnObject));
    assert_eq!(
        with(&|v| v["user_id"] = json!("@x:hs")),
        Err(E::WrongUserId { expected: USER.into(), found: "@x:hs".into() })
    );
    assert_eq!(
        with(&|v| {
            v.as_object_mut().unwrap().remove("user_id");
        }),
        Err(E::MissingField("user_id"))
    );
    assert_eq!(with(&|v| v["usage"] = json!("self_signing")), Err(E::UsageNotArray));
    assert_eq!(with(&|v| v["usage"] = json!(["user_signing"])), Err(E::MissingUsage(KeyUsage::SelfSigning)));
    assert_eq!(with(&|v| v["keys"]["ed25519:B"] = json!("x")), Err(E::KeyCount(2)));
    assert_eq!(with(&|v| v["keys"] = json!({})), Err(E::KeyCount(0)));
    assert_eq!(with(&|v| v["keys"] = json!([])), Err(E::WrongType("keys")));
    // Wrong user wins over wrong usage.
    assert!(matches!(
        with(&|v| {
            v["user_id"] = json!("@x:hs");
            v["usage"] = json!([]);
        }),
        Err(E::WrongUserId { .. })
    ));
}

#[test]
fn public_key_rows() {
    use CrossSigningKeyError as E;
    let pk = |keys: Value| public_key(&json!({"user_id": USER, "usage": ["master"], "keys": keys}));
    let b64 = keys().master.public_key().to_base64();
    assert_eq!(
        pk(json!({ format!("curve25519:{b64}"): b64 })),
        Err(E::KeyIdNotEd25519(format!("curve25519:{b64}")))
    );
    assert_eq!(pk(json!({"ed25519:A": "not base64!"})), Err(E::KeyNotBase64));
    assert_eq!(pk(json!({"ed25519:A": 5})), Err(E::KeyNotBase64));
    let short = crate::base64::encode([0u8; 31]);
    assert_eq!(pk(json!({"ed25519:A": short})), Err(E::KeyWrongLength(31)));
    // The key ID suffix is taken verbatim, even if it differs from the value.
    let (id, key) = pk(json!({"ed25519:A": b64})).unwrap();
    assert_eq!(id.to_string(), "ed25519:A");
    assert_eq!(key.to_base64(), b64);
}

#[test]
fn parse_rejects_non_string_usage() {
    let mut v = keys().key_json(USER, KeyUsage::Master);
    v["usage"] = json!([1]);
    assert_eq!(CrossSigningKey::parse(&v), Err(CrossSigningKeyError::WrongType("usage")));
}

#[test]
fn sign_device_and_user() {
    let k = keys();
    let mut device = json!({"user_id": USER, "device_id": "D", "keys": {}});
    k.sign_device(USER, &mut device).unwrap();
    let id = k.key_id(KeyUsage::SelfSigning);
    assert_eq!(signing::verify_json(&device, USER, &id, &k.public_key(KeyUsage::SelfSigning)), Ok(()));
    let other = CrossSigningKeys::from_seeds(&[7; 32], &[8; 32], &[9; 32]);
    let mut other_master = other.key_json("@o:hs", KeyUsage::Master);
    k.sign_user(USER, &mut other_master).unwrap();
    let id = k.key_id(KeyUsage::UserSigning);
    assert_eq!(signing::verify_json(&other_master, USER, &id, &k.public_key(KeyUsage::UserSigning)), Ok(()));
}
