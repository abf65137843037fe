//! Canonical JSON edge cases (docs/protocol.md §7.6).

use protocol::canonical_json::{signing_input, to_canonical_bytes, to_canonical_string, CanonicalJsonError};
use serde_json::{json, Value};

fn canon(text: &str) -> Result<String, CanonicalJsonError> {
    let value: Value = serde_json::from_str(text).unwrap();
    to_canonical_string(&value)
}

#[test]
fn floats_are_rejected() {
    assert_eq!(canon("1.5"), Err(CanonicalJsonError::Float(1.5)));
    assert_eq!(canon("1.0"), Err(CanonicalJsonError::Float(1.0)));
    assert_eq!(canon("1e3"), Err(CanonicalJsonError::Float(1000.0)));
    assert!(matches!(canon("-0.0"), Err(CanonicalJsonError::Float(f)) if f == 0.0 && f.is_sign_negative()));
    assert_eq!(canon(r#"{"a":[{"b":0.5}]}"#), Err(CanonicalJsonError::Float(0.5)));
}

#[test]
fn integer_range() {
    assert_eq!(canon("9007199254740991").unwrap(), "9007199254740991");
    assert_eq!(canon("-9007199254740991").unwrap(), "-9007199254740991");
    assert_eq!(
        canon("9007199254740992"),
        Err(CanonicalJsonError::IntegerOutOfRange("9007199254740992".into()))
    );
    assert_eq!(
        canon("-9007199254740992"),
        Err(CanonicalJsonError::IntegerOutOfRange("-9007199254740992".into()))
    );
    assert_eq!(
        canon("18446744073709551615"),
        Err(CanonicalJsonError::IntegerOutOfRange("18446744073709551615".into()))
    );
    // serde_json reads `-0` as the float -0.0, which canonical JSON forbids.
    assert!(matches!(canon("-0"), Err(CanonicalJsonError::Float(f)) if f.is_sign_negative()));
    assert_eq!(canon("[0,-1,42]").unwrap(), "[0,-1,42]");
}

#[test]
fn escapes() {
    let s = "\"\\\u{8}\t\n\u{c}\r\u{0}\u{1}\u{b}\u{1f} /";
    assert_eq!(to_canonical_string(&json!(s)).unwrap(), r#""\"\\\b\t\n\f\r\u0000\u0001\u000b\u001f /""#);
    // DEL, U+2028, U+2029, non-BMP and non-ASCII are raw UTF-8.
    let raw = "\u{7f}\u{2028}\u{2029}é日😀";
    assert_eq!(to_canonical_string(&json!(raw)).unwrap(), format!("\"{raw}\""));
    assert_eq!(to_canonical_bytes(&json!("\u{2028}")).unwrap(), vec![b'"', 0xe2, 0x80, 0xa8, b'"']);
    assert_eq!(to_canonical_string(&json!({"\n": 1})).unwrap(), r#"{"\n":1}"#);
}

#[test]
fn keys_sorted_by_code_point() {
    // U+FF21 (fullwidth A) sorts after U+00E9 and before U+1F600 (non-BMP):
    // code point order, not UTF-16 order.
    let v = json!({"😀": 1, "Ａ": 2, "é": 3, "b": 4, "B": 5, "a": 6, "": 7, "日": 8, "本": 9});
    assert_eq!(
        to_canonical_string(&v).unwrap(),
        r#"{"":7,"B":5,"a":6,"b":4,"é":3,"日":8,"本":9,"Ａ":2,"😀":1}"#
    );
    // Spec appendix example.
    assert_eq!(canon(r#"{"本": 2, "日": 1}"#).unwrap(), r#"{"日":1,"本":2}"#);
}

#[test]
fn nested_and_whitespace() {
    let text = r#"{
        "auth": {"success": true, "mxid": "@john.doe:example.com", "profile": {
            "display_name": "John Doe", "three_pids": [
                {"medium": "email", "address": "john.doe@example.org"},
                {"medium": "msisdn", "address": "123456789"}
            ]}},
        "b": null, "a": [[], {}, false]
    }"#;
    assert_eq!(
        canon(text).unwrap(),
        r#"{"a":[[],{},false],"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true},"b":null}"#
    );
}

#[test]
fn signing_input_rules() {
    let v = json!({"unsigned": {"x": 1.5}, "signatures": {"a": {}}, "z": {"unsigned": 1}, "m": 1});
    assert_eq!(signing_input(&v).unwrap(), r#"{"m":1,"z":{"unsigned":1}}"#);
    assert_eq!(signing_input(&json!("x")), Err(CanonicalJsonError::NotAnObject));
    assert_eq!(to_canonical_string(&json!("x")).unwrap(), r#""x""#);
}
