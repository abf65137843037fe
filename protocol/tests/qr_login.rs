//! MSC3906 messages (docs/protocol.md §1.1–§1.4, D5) and the QR code JSON (§2, D1).

use protocol::qr_login::{
    is_login_token_protocol, Dialect, Intent, LoginDevice, Message, MessageError, NameStrictness, QrCode,
    QrCodeError, ALGORITHM_V1_UNSTABLE, ALGORITHM_V2_STABLE, ALGORITHM_V2_UNSTABLE, FLOW_V2_STABLE,
    FLOW_V2_UNSTABLE, PROTOCOL_LOGIN_TOKEN, TRANSPORT_HTTP_V1_STABLE, TRANSPORT_HTTP_V1_UNSTABLE,
};
use serde_json::{json, Value};

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/secure-channel.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).expect("vector file is JSON")
}

fn vector_qr_value() -> Value {
    vectors()["rendezvous_cleartext_payloads"]["qr_code_json"].clone()
}

const URI: &str =
    "https://rz.example.test/_matrix/client/unstable/org.matrix.msc3886/rendezvous/01HZZZZZZZZZZZZZZZZZZZZZZZ";
const KEY_HEX: &str = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";

fn key() -> [u8; 32] {
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&KEY_HEX[2 * i..2 * i + 2], 16).unwrap();
    }
    key
}

// ---- QR code (§2) ----

/// §2: js-sdk's exact text, byte for byte, and the vector's JSON value.
#[test]
fn qr_code_matches_vector_and_js_sdk_text() {
    let code = QrCode::deployed(key(), URI, Intent::LoginReciprocate);
    let text = code.to_json_string();
    let expected = r#"{"rendezvous":{"algorithm":"org.matrix.msc3903.rendezvous.v2.curve25519-aes-sha256","key":"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo","transport":{"type":"org.matrix.msc3886.http.v1","uri":"https://rz.example.test/_matrix/client/unstable/org.matrix.msc3886/rendezvous/01HZZZZZZZZZZZZZZZZZZZZZZZ"}},"intent":"login.reciprocate"}"#;
    assert_eq!(text, expected);
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), vector_qr_value());
    assert_eq!(code.to_json(), vector_qr_value());
    assert_eq!(code.dialect(), Dialect::V1);
}

#[test]
fn qr_code_round_trips_from_vector() {
    let text = vector_qr_value().to_string();
    for strictness in [NameStrictness::AcceptStable, NameStrictness::StrictDeployed] {
        let code = QrCode::parse(&text, strictness).unwrap();
        assert_eq!(code, QrCode::deployed(key(), URI, Intent::LoginReciprocate));
        assert_eq!(code.key_base64(), "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo");
        let again = QrCode::parse(&code.to_json_string(), strictness).unwrap();
        assert_eq!(again, code);
    }
}

/// §2: the MSC text's example key is padded; accept both forms.
#[test]
fn qr_code_accepts_padded_key() {
    let mut value = vector_qr_value();
    value["rendezvous"]["key"] = json!("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=");
    let code = QrCode::parse(&value.to_string(), NameStrictness::default()).unwrap();
    assert_eq!(code.key, key());
}

/// §1.4: `flow` present means v2; the key goes last in js-sdk order.
#[test]
fn qr_code_v2_flow() {
    let code = QrCode::deployed(key(), URI, Intent::LoginStart).with_v2_flow();
    assert_eq!(code.dialect(), Dialect::V2);
    let text = code.to_json_string();
    assert!(
        text.ends_with(r#""intent":"login.start","flow":"org.matrix.msc3906.setup.additional_device.v2"}"#)
    );
    let parsed = QrCode::parse(&text, NameStrictness::StrictDeployed).unwrap();
    assert_eq!(parsed, code);
    assert_eq!(parsed.flow.as_deref(), Some(FLOW_V2_UNSTABLE));
}

/// D1: stable names are accepted by default and rejected by strict-deployed.
#[test]
fn stable_names_depend_on_strictness() {
    let code = QrCode::deployed(key(), URI, Intent::LoginReciprocate).with_v2_flow().with_stable_names();
    assert_eq!(code.algorithm, ALGORITHM_V2_STABLE);
    assert_eq!(code.transport_type, TRANSPORT_HTTP_V1_STABLE);
    assert_eq!(code.flow.as_deref(), Some(FLOW_V2_STABLE));
    let text = code.to_json_string();
    assert_eq!(QrCode::parse(&text, NameStrictness::AcceptStable).unwrap(), code);
    assert_eq!(
        QrCode::parse(&text, NameStrictness::StrictDeployed),
        Err(QrCodeError::StableNameRejected {
            field: "rendezvous.algorithm",
            value: ALGORITHM_V2_STABLE.into()
        })
    );

    let mut value = vector_qr_value();
    value["rendezvous"]["transport"]["type"] = json!(TRANSPORT_HTTP_V1_STABLE);
    assert_eq!(
        QrCode::parse(&value.to_string(), NameStrictness::StrictDeployed),
        Err(QrCodeError::StableNameRejected {
            field: "rendezvous.transport.type",
            value: TRANSPORT_HTTP_V1_STABLE.into()
        })
    );
    let mut value = vector_qr_value();
    value["flow"] = json!(FLOW_V2_STABLE);
    assert_eq!(
        QrCode::parse(&value.to_string(), NameStrictness::StrictDeployed),
        Err(QrCodeError::StableNameRejected { field: "flow", value: FLOW_V2_STABLE.into() })
    );
}

fn qr_error(edit: impl FnOnce(&mut Value)) -> QrCodeError {
    let mut value = vector_qr_value();
    edit(&mut value);
    QrCode::parse(&value.to_string(), NameStrictness::AcceptStable).unwrap_err()
}

#[test]
fn qr_code_errors_are_precise() {
    assert!(matches!(QrCode::parse("{not json", NameStrictness::default()), Err(QrCodeError::NotJson(_))));
    assert_eq!(
        QrCode::parse("[]", NameStrictness::default()),
        Err(QrCodeError::InvalidField { field: "(root)", expected: "an object" })
    );
    assert_eq!(
        qr_error(|v| v["rendezvous"]["algorithm"] = json!("m.rendezvous.v9")),
        QrCodeError::UnknownAlgorithm("m.rendezvous.v9".into())
    );
    assert_eq!(
        qr_error(|v| v["rendezvous"]["algorithm"] = json!(ALGORITHM_V1_UNSTABLE)),
        QrCodeError::RetiredAlgorithm(ALGORITHM_V1_UNSTABLE.into())
    );
    assert_eq!(
        qr_error(|v| v["rendezvous"]["transport"]["type"] = json!("org.matrix.msc4108")),
        QrCodeError::UnknownTransport("org.matrix.msc4108".into())
    );
    assert_eq!(qr_error(|v| v["rendezvous"]["key"] = json!("not base64!")), QrCodeError::KeyNotBase64);
    assert_eq!(qr_error(|v| v["rendezvous"]["key"] = json!("AAECAw")), QrCodeError::KeyLength(4));
    assert_eq!(
        qr_error(|v| v["rendezvous"]["key"] = json!(5)),
        QrCodeError::InvalidField { field: "rendezvous.key", expected: "a string" }
    );
    assert_eq!(
        qr_error(|v| {
            v["rendezvous"].as_object_mut().unwrap().remove("key");
        }),
        QrCodeError::MissingField("rendezvous.key")
    );
    assert_eq!(
        qr_error(|v| {
            v.as_object_mut().unwrap().remove("rendezvous");
        }),
        QrCodeError::MissingField("rendezvous")
    );
    assert_eq!(
        qr_error(|v| {
            v["rendezvous"]["transport"].as_object_mut().unwrap().remove("uri");
        }),
        QrCodeError::MissingField("rendezvous.transport.uri")
    );
    assert_eq!(
        qr_error(|v| v["rendezvous"]["transport"]["uri"] = json!("/rendezvous/abc")),
        QrCodeError::UriNotAbsolute("/rendezvous/abc".into())
    );
    assert_eq!(
        qr_error(|v| {
            v.as_object_mut().unwrap().remove("intent");
        }),
        QrCodeError::MissingField("intent")
    );
    assert_eq!(
        qr_error(|v| v["intent"] = json!("login.maybe")),
        QrCodeError::UnknownIntent("login.maybe".into())
    );
    assert_eq!(
        qr_error(|v| v["flow"] = json!("m.setup.other")),
        QrCodeError::UnknownFlow("m.setup.other".into())
    );
    assert_eq!(
        qr_error(|v| v["flow"] = json!(true)),
        QrCodeError::InvalidField { field: "flow", expected: "a string" }
    );
}

// ---- Messages (§1.1, §1.4) ----

fn every_message() -> Vec<Message> {
    vec![
        Message::IncompatibleIntent { intent: Intent::LoginStart },
        Message::IncompatibleIntent { intent: Intent::LoginReciprocate },
        Message::Progress,
        Message::Unsupported,
        Message::Protocols { protocols: vec![PROTOCOL_LOGIN_TOKEN.into()] },
        Message::Protocol { protocol: PROTOCOL_LOGIN_TOKEN.into() },
        Message::Declined,
        Message::Approved {
            login_token: "t0k3n".into(),
            homeserver: "https://matrix-client.example.test".into(),
        },
        Message::Success { device: None },
        Message::Success {
            device: Some(LoginDevice { device_id: "ADEVICE".into(), device_key: "aKey".into() }),
        },
        Message::Verified {
            verifying_device_id: "BDEVICE".into(),
            verifying_device_key: "bKey".into(),
            master_key: Some("mKey".into()),
        },
        Message::Verified {
            verifying_device_id: "BDEVICE".into(),
            verifying_device_key: "bKey".into(),
            master_key: None,
        },
        Message::Cancelled,
        Message::SecurityError,
    ]
}

#[test]
fn every_message_round_trips_in_both_dialects() {
    for dialect in [Dialect::V1, Dialect::V2] {
        for message in every_message() {
            let wire = message.to_json(dialect);
            assert_eq!(Message::parse(&wire, dialect).as_ref(), Ok(&message), "{dialect:?} {wire}");
        }
    }
}

/// The exact wire shapes of §1.1 (v1) and the §1.4 table (v2).
#[test]
fn wire_shapes_match_the_tables() {
    let m = every_message();
    let v1: Vec<Value> = m.iter().map(|m| m.to_json(Dialect::V1)).collect();
    let v2: Vec<Value> = m.iter().map(|m| m.to_json(Dialect::V2)).collect();
    let expected_v1 = vec![
        json!({"type":"m.login.finish","intent":"login.start"}),
        json!({"type":"m.login.finish","intent":"login.reciprocate"}),
        json!({"type":"m.login.progress"}),
        json!({"type":"m.login.finish","outcome":"unsupported"}),
        json!({"type":"m.login.progress","protocols":["org.matrix.msc3906.login_token"]}),
        json!({"type":"m.login.progress","protocol":"org.matrix.msc3906.login_token"}),
        json!({"type":"m.login.finish","outcome":"declined"}),
        json!({"type":"m.login.progress","login_token":"t0k3n","homeserver":"https://matrix-client.example.test"}),
        json!({"type":"m.login.finish","outcome":"success"}),
        json!({"type":"m.login.progress","outcome":"success","device_id":"ADEVICE","device_key":"aKey"}),
        json!({"type":"m.login.finish","outcome":"verified","verifying_device_id":"BDEVICE","verifying_device_key":"bKey","master_key":"mKey"}),
        json!({"type":"m.login.finish","outcome":"verified","verifying_device_id":"BDEVICE","verifying_device_key":"bKey"}),
        json!({"type":"m.login.finish","outcome":"cancelled"}),
        json!({"type":"m.login.finish","outcome":"e2ee_security_error"}),
    ];
    let expected_v2 = vec![
        json!({"type":"m.login.failure","reason":"incompatible_intent","intent":"login.start"}),
        json!({"type":"m.login.failure","reason":"incompatible_intent","intent":"login.reciprocate"}),
        json!({"type":"m.login.progress"}),
        json!({"type":"m.login.failure","reason":"unsupported"}),
        json!({"type":"m.login.protocols","protocols":["org.matrix.msc3906.login_token"]}),
        json!({"type":"m.login.protocol","protocol":"org.matrix.msc3906.login_token"}),
        json!({"type":"m.login.declined"}),
        json!({"type":"m.login.approved","login_token":"t0k3n","homeserver":"https://matrix-client.example.test"}),
        json!({"type":"m.login.success"}),
        json!({"type":"m.login.success","device_id":"ADEVICE","device_key":"aKey"}),
        json!({"type":"m.login.verified","verifying_device_id":"BDEVICE","verifying_device_key":"bKey","master_key":"mKey"}),
        json!({"type":"m.login.verified","verifying_device_id":"BDEVICE","verifying_device_key":"bKey"}),
        json!({"type":"m.login.failure","reason":"cancelled"}),
        json!({"type":"m.login.failure","reason":"e2ee_security_error"}),
    ];
    assert_eq!(v1, expected_v1);
    assert_eq!(v2, expected_v2);
}

/// The vector's M3 plaintext parses as the offer.
#[test]
fn vector_plaintext_is_m3() {
    let plaintext = vectors()["encryption_32_byte_iv"]["plaintext_utf8"].as_str().unwrap().to_owned();
    let value: Value = serde_json::from_str(&plaintext).unwrap();
    let message = Message::parse(&value, Dialect::V1).unwrap();
    assert_eq!(message, Message::Protocols { protocols: vec![PROTOCOL_LOGIN_TOKEN.into()] });
    assert!(is_login_token_protocol("login_token"));
    assert!(!is_login_token_protocol("org.matrix.msc4108.device_authorization_grant"));
}

/// D5: step-15 success accepted as `m.login.progress` or `m.login.finish`.
#[test]
fn d5_success_under_either_type() {
    let device = Some(LoginDevice { device_id: "A".into(), device_key: "k".into() });
    for ty in ["m.login.progress", "m.login.finish"] {
        let wire = json!({"type": ty, "outcome": "success", "device_id": "A", "device_key": "k"});
        assert_eq!(Message::parse(&wire, Dialect::V1), Ok(Message::Success { device: device.clone() }));
    }
    // js-sdk: without device_key, verification is skipped (no E2EE).
    let wire = json!({"type":"m.login.progress","outcome":"success","device_id":"A"});
    assert_eq!(Message::parse(&wire, Dialect::V1), Ok(Message::Success { device: None }));
    let wire = json!({"type":"m.login.finish","outcome":"success","device_key":"k"});
    assert_eq!(Message::parse(&wire, Dialect::V1), Err(MessageError::MissingField("device_id")));
}

#[test]
fn unknown_fields_are_ignored() {
    let wire = json!({"type":"m.login.finish","outcome":"declined","extra":[1,2]});
    assert_eq!(Message::parse(&wire, Dialect::V1), Ok(Message::Declined));
    let wire = json!({"type":"m.login.declined","extra":{}});
    assert_eq!(Message::parse(&wire, Dialect::V2), Ok(Message::Declined));
}

fn v1_err(wire: Value) -> MessageError {
    Message::parse(&wire, Dialect::V1).unwrap_err()
}

fn v2_err(wire: Value) -> MessageError {
    Message::parse(&wire, Dialect::V2).unwrap_err()
}

#[test]
fn malformed_v1_messages_are_precise_errors() {
    assert_eq!(v1_err(json!([1])), MessageError::NotAnObject);
    assert_eq!(v1_err(json!({"outcome":"success"})), MessageError::MissingField("type"));
    assert_eq!(v1_err(json!({"type":7})), MessageError::InvalidField { field: "type", expected: "a string" });
    assert_eq!(
        v1_err(json!({"type":"m.login.verified"})),
        MessageError::UnknownType("m.login.verified".into())
    );
    assert_eq!(
        v1_err(json!({"type":"m.login.failure","reason":"cancelled"})),
        MessageError::UnknownType("m.login.failure".into())
    );
    assert_eq!(
        v1_err(json!({"type":"m.login.finish","outcome":"sucess"})),
        MessageError::UnknownOutcome("sucess".into())
    );
    assert_eq!(
        v1_err(json!({"type":"m.login.progress","outcome":"bogus"})),
        MessageError::UnknownOutcome("bogus".into())
    );
    assert_eq!(
        v1_err(json!({"type":"m.login.progress","outcome":"declined"})),
        MessageError::OutcomeNotAllowed { message_type: "m.login.progress", outcome: "declined".into() }
    );
    assert_eq!(v1_err(json!({"type":"m.login.finish"})), MessageError::MissingField("outcome"));
    assert_eq!(
        v1_err(json!({"type":"m.login.finish","intent":"login.later"})),
        MessageError::UnknownIntent("login.later".into())
    );
    assert_eq!(
        v1_err(json!({"type":"m.login.progress","protocols":"org.matrix.msc3906.login_token"})),
        MessageError::InvalidField { field: "protocols", expected: "an array of strings" }
    );
    assert_eq!(
        v1_err(json!({"type":"m.login.progress","protocols":[1]})),
        MessageError::InvalidField { field: "protocols", expected: "an array of strings" }
    );
    assert_eq!(
        v1_err(json!({"type":"m.login.progress","protocol":null})),
        MessageError::InvalidField { field: "protocol", expected: "a string" }
    );
    // Android: while waiting for the token both fields must be present.
    assert_eq!(
        v1_err(json!({"type":"m.login.progress","login_token":"t"})),
        MessageError::MissingField("homeserver")
    );
    assert_eq!(
        v1_err(json!({"type":"m.login.progress","homeserver":"https://hs"})),
        MessageError::MissingField("login_token")
    );
    // Android: M8 needs a verifying_device_id.
    assert_eq!(
        v1_err(json!({"type":"m.login.finish","outcome":"verified","verifying_device_key":"k"})),
        MessageError::MissingField("verifying_device_id")
    );
    assert_eq!(
        v1_err(json!({"type":"m.login.finish","outcome":"verified","verifying_device_id":"B"})),
        MessageError::MissingField("verifying_device_key")
    );
    assert_eq!(
        v1_err(
            json!({"type":"m.login.finish","outcome":"verified","verifying_device_id":"B","verifying_device_key":"k","master_key":1})
        ),
        MessageError::InvalidField { field: "master_key", expected: "a string" }
    );
}

#[test]
fn malformed_v2_messages_are_precise_errors() {
    assert_eq!(v2_err(json!("m.login.declined")), MessageError::NotAnObject);
    assert_eq!(
        v2_err(json!({"type":"m.login.finish","outcome":"declined"})),
        MessageError::UnknownType("m.login.finish".into())
    );
    assert_eq!(v2_err(json!({"type":"m.login.failure"})), MessageError::MissingField("reason"));
    assert_eq!(
        v2_err(json!({"type":"m.login.failure","reason":"user_cancelled"})),
        MessageError::UnknownReason("user_cancelled".into())
    );
    assert_eq!(
        v2_err(json!({"type":"m.login.failure","reason":"incompatible_intent"})),
        MessageError::MissingField("intent")
    );
    assert_eq!(v2_err(json!({"type":"m.login.protocols"})), MessageError::MissingField("protocols"));
    assert_eq!(v2_err(json!({"type":"m.login.protocol"})), MessageError::MissingField("protocol"));
    assert_eq!(
        v2_err(json!({"type":"m.login.approved","login_token":"t"})),
        MessageError::MissingField("homeserver")
    );
    assert_eq!(
        v2_err(json!({"type":"m.login.verified","verifying_device_id":"B"})),
        MessageError::MissingField("verifying_device_key")
    );
}

#[test]
fn intents_and_constants() {
    assert_eq!(Intent::LoginStart.as_str(), "login.start");
    assert_eq!("login.reciprocate".parse::<Intent>(), Ok(Intent::LoginReciprocate));
    assert!("login".parse::<Intent>().is_err());
    assert!(Intent::LoginStart.is_compatible_with(Intent::LoginReciprocate));
    assert!(!Intent::LoginReciprocate.is_compatible_with(Intent::LoginReciprocate));
    assert_eq!(ALGORITHM_V2_UNSTABLE, vectors()["algorithm"]);
    assert_eq!(TRANSPORT_HTTP_V1_UNSTABLE, "org.matrix.msc3886.http.v1");
    assert_eq!(Message::SecurityError.kind(), "e2ee_security_error");
}
