//! The misbehaviour knob `mangle-message`: one channel message of a device sent
//! broken on purpose, so that a test (or `conformance fuzz`) can ask how the peer
//! copes with a message that is malformed, repeated, replayed, oversized, or whose
//! envelope is broken.
//!
//! Each way changes exactly one thing of one message: a plaintext field, the whole
//! plaintext, or the encrypted envelope (`{iv, ciphertext}`, docs/protocol.md §4.3).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How the message is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mangling {
    /// One field of the plaintext is left out (`field` picks which, `type` included).
    MissingField,
    /// One field of the plaintext has a value of the wrong JSON type.
    WrongType,
    /// The plaintext carries a field no MSC defines.
    ExtraField,
    /// The plaintext's `type` is one no MSC defines.
    UnknownType,
    /// The message is written twice in a row.
    Repeat,
    /// The previous message is written again instead of this one (out of order:
    /// this one is never sent). The first message is sent unchanged.
    ReplayPrevious,
    /// The plaintext carries a padding field of [`OVERSIZED_PADDING`] characters.
    Oversized,
    /// The envelope's `ciphertext` is not base64.
    InvalidBase64,
    /// The envelope's ciphertext lacks its last bytes (its tag is cut).
    TruncatedCiphertext,
    /// The envelope's ciphertext has bytes appended after the tag.
    ExtendedCiphertext,
    /// The envelope's IV is 12 bytes long, neither of the 16 or 32 the channel allows.
    WrongIvLength,
}

impl Mangling {
    /// Every way, in declaration order.
    pub const ALL: [Mangling; 11] = [
        Mangling::MissingField,
        Mangling::WrongType,
        Mangling::ExtraField,
        Mangling::UnknownType,
        Mangling::Repeat,
        Mangling::ReplayPrevious,
        Mangling::Oversized,
        Mangling::InvalidBase64,
        Mangling::TruncatedCiphertext,
        Mangling::ExtendedCiphertext,
        Mangling::WrongIvLength,
    ];

    /// The kebab-case name scenario files use.
    pub fn name(self) -> &'static str {
        match self {
            Mangling::MissingField => "missing-field",
            Mangling::WrongType => "wrong-type",
            Mangling::ExtraField => "extra-field",
            Mangling::UnknownType => "unknown-type",
            Mangling::Repeat => "repeat",
            Mangling::ReplayPrevious => "replay-previous",
            Mangling::Oversized => "oversized",
            Mangling::InvalidBase64 => "invalid-base64",
            Mangling::TruncatedCiphertext => "truncated-ciphertext",
            Mangling::ExtendedCiphertext => "extended-ciphertext",
            Mangling::WrongIvLength => "wrong-iv-length",
        }
    }

    /// Whether the way breaks the envelope rather than the plaintext.
    pub fn breaks_envelope(self) -> bool {
        matches!(
            self,
            Mangling::InvalidBase64
                | Mangling::TruncatedCiphertext
                | Mangling::ExtendedCiphertext
                | Mangling::WrongIvLength
        )
    }
}

/// The characters of the padding field of [`Mangling::Oversized`]: the envelope
/// stays below the rendezvous's default limit of 4096 bytes only for short messages.
pub const OVERSIZED_PADDING: usize = 2_800;

/// The knob's value: which encrypted message (counted from 0 among the channel
/// messages the device sends) and how; `field` picks the field for the ways that
/// change one (modulo the number of fields, in name order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct MangleMessage {
    /// The message, from 0.
    pub message: u32,
    /// How it is broken.
    pub how: Mangling,
    /// Which field, for `missing-field` and `wrong-type`.
    #[serde(default)]
    pub field: u32,
}

/// The name of the field [`Mangling::ExtraField`] adds.
pub const EXTRA_FIELD: &str = "org.example.unknown_field";

impl MangleMessage {
    /// Breaks the plaintext `message` (ways that change the plaintext; the others
    /// leave it alone). `previous` is the message sent before, for
    /// [`Mangling::ReplayPrevious`].
    pub fn plaintext(&self, message: &mut Value, previous: Option<&Value>) {
        let Some(object) = message.as_object_mut() else { return };
        match self.how {
            Mangling::MissingField => {
                if let Some(name) = pick(object, self.field) {
                    object.remove(&name);
                }
            }
            Mangling::WrongType => {
                if let Some(name) = pick(object, self.field) {
                    let wrong = match &object[&name] {
                        Value::String(_) => Value::from(42),
                        Value::Number(_) | Value::Bool(_) | Value::Null => Value::from("42"),
                        Value::Array(_) => Value::Object(Map::new()),
                        Value::Object(_) => Value::Array(Vec::new()),
                    };
                    object.insert(name, wrong);
                }
            }
            Mangling::ExtraField => {
                object.insert(EXTRA_FIELD.into(), Value::from("unexpected"));
            }
            Mangling::UnknownType => {
                object.insert("type".into(), Value::from("org.example.unknown_type"));
            }
            Mangling::Oversized => {
                object.insert("org.example.padding".into(), Value::from("x".repeat(OVERSIZED_PADDING)));
            }
            Mangling::ReplayPrevious => {
                if let Some(previous) = previous {
                    *message = previous.clone();
                }
            }
            _ => {}
        }
    }

    /// Breaks the encrypted `envelope` (ways that change the envelope).
    pub fn envelope(&self, envelope: &mut Value) {
        let text = |key: &str| envelope.get(key).and_then(Value::as_str).map(str::to_owned);
        match self.how {
            Mangling::InvalidBase64 => {
                envelope["ciphertext"] = Value::from("!!! this is not base64 !!!");
            }
            Mangling::TruncatedCiphertext | Mangling::ExtendedCiphertext => {
                let Some(bytes) = text("ciphertext").and_then(|t| protocol::base64::decode(&t).ok()) else {
                    return;
                };
                let mut bytes = bytes;
                if self.how == Mangling::TruncatedCiphertext {
                    bytes.truncate(bytes.len().saturating_sub(4));
                } else {
                    bytes.extend_from_slice(&[0xA5; 4]);
                }
                envelope["ciphertext"] = Value::from(protocol::base64::encode(bytes));
            }
            Mangling::WrongIvLength => {
                envelope["iv"] = Value::from(protocol::base64::encode([7u8; 12]));
            }
            _ => {}
        }
    }
}

/// The name of field number `index` (modulo their count), in name order.
fn pick(object: &Map<String, Value>, index: u32) -> Option<String> {
    let mut names: Vec<&String> = object.keys().collect();
    names.sort();
    let count = names.len();
    (count > 0).then(|| names[index as usize % count].clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mangle(how: Mangling, field: u32) -> MangleMessage {
        MangleMessage { message: 0, how, field }
    }

    #[test]
    fn each_plaintext_way_changes_exactly_what_it_names() {
        let message = json!({"type": "m.login.progress", "outcome": "success", "device_id": "A"});
        let mut missing = message.clone();
        mangle(Mangling::MissingField, 0).plaintext(&mut missing, None);
        assert_eq!(missing, json!({"type": "m.login.progress", "outcome": "success"}), "device_id first");
        let mut wrong = message.clone();
        mangle(Mangling::WrongType, 2).plaintext(&mut wrong, None);
        assert_eq!(wrong["type"], json!(42));
        let mut extra = message.clone();
        mangle(Mangling::ExtraField, 0).plaintext(&mut extra, None);
        assert_eq!(extra[EXTRA_FIELD], json!("unexpected"));
        assert_eq!(extra.as_object().unwrap().len(), 4);
        let mut unknown = message.clone();
        mangle(Mangling::UnknownType, 0).plaintext(&mut unknown, None);
        assert_eq!(unknown["type"], json!("org.example.unknown_type"));
        let mut replay = message.clone();
        let previous = json!({"type": "m.login.protocol"});
        mangle(Mangling::ReplayPrevious, 0).plaintext(&mut replay, Some(&previous));
        assert_eq!(replay, previous);
        let mut first = message.clone();
        mangle(Mangling::ReplayPrevious, 0).plaintext(&mut first, None);
        assert_eq!(first, message, "nothing to replay before the first message");
        let mut big = message.clone();
        mangle(Mangling::Oversized, 0).plaintext(&mut big, None);
        assert!(big.to_string().len() > OVERSIZED_PADDING);
        let mut envelope_only = message.clone();
        mangle(Mangling::InvalidBase64, 0).plaintext(&mut envelope_only, None);
        assert_eq!(envelope_only, message);
    }

    #[test]
    fn each_envelope_way_breaks_the_envelope_as_named() {
        let envelope = json!({"iv": protocol::base64::encode([1u8; 32]), "ciphertext": protocol::base64::encode([2u8; 40])});
        let decoded = |v: &Value, k: &str| protocol::base64::decode(v[k].as_str().unwrap());
        let mut bad = envelope.clone();
        mangle(Mangling::InvalidBase64, 0).envelope(&mut bad);
        assert!(decoded(&bad, "ciphertext").is_err());
        let mut short = envelope.clone();
        mangle(Mangling::TruncatedCiphertext, 0).envelope(&mut short);
        assert_eq!(decoded(&short, "ciphertext").unwrap().len(), 36);
        let mut long = envelope.clone();
        mangle(Mangling::ExtendedCiphertext, 0).envelope(&mut long);
        assert_eq!(decoded(&long, "ciphertext").unwrap().len(), 44);
        let mut iv = envelope.clone();
        mangle(Mangling::WrongIvLength, 0).envelope(&mut iv);
        assert_eq!(decoded(&iv, "iv").unwrap().len(), 12);
        assert!(Mangling::ALL.iter().filter(|m| m.breaks_envelope()).count() == 4);
        let names: std::collections::HashSet<_> = Mangling::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names.len(), Mangling::ALL.len());
        for how in Mangling::ALL {
            assert_eq!(serde_json::to_value(how).unwrap(), json!(how.name()));
        }
    }
}
