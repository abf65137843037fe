//! Matrix canonical JSON (spec appendix "Canonical JSON").
//!
//! Canonical JSON is the shortest UTF-8 encoding with object keys sorted by
//! code point and no insignificant whitespace. Only the short escapes
//! `\b \t \n \f \r \" \\` are used; other control characters are written as
//! `\u00XX` with lowercase hex; everything else (including U+2028 and DEL) is
//! raw UTF-8. Numbers must be integers in `[-(2^53)+1, 2^53-1]`.

use serde_json::{Map, Number, Value};

/// The largest integer allowed in canonical JSON, `2^53 - 1`.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Why a value cannot be written as canonical JSON.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CanonicalJsonError {
    /// The value contains a non-integer number (any float, including `1.0`
    /// and `-0.0`).
    #[error("floating-point number {0} is not allowed in canonical JSON")]
    Float(f64),
    /// The value contains an integer outside `[-(2^53)+1, 2^53-1]`.
    #[error("integer {0} is outside the canonical JSON range")]
    IntegerOutOfRange(String),
    /// A signing input was requested for something that is not a JSON object.
    #[error("the value is not a JSON object")]
    NotAnObject,
}

/// Writes `value` as a canonical JSON string.
pub fn to_canonical_string(value: &Value) -> Result<String, CanonicalJsonError> {
    let mut out = String::new();
    write_value(&mut out, value)?;
    Ok(out)
}

/// Writes `value` as canonical JSON bytes (UTF-8).
pub fn to_canonical_bytes(value: &Value) -> Result<Vec<u8>, CanonicalJsonError> {
    to_canonical_string(value).map(String::into_bytes)
}

/// The string that is signed for `value`: the object without its top-level
/// `signatures` and `unsigned` members, in canonical form.
pub fn signing_input(value: &Value) -> Result<String, CanonicalJsonError> {
    let object = value.as_object().ok_or(CanonicalJsonError::NotAnObject)?;
    let mut out = String::new();
    write_object(&mut out, object, |key| key != "signatures" && key != "unsigned")?;
    Ok(out)
}

fn write_value(out: &mut String, value: &Value) -> Result<(), CanonicalJsonError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => write_number(out, number)?,
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item)?;
            }
            out.push(']');
        }
        Value::Object(object) => write_object(out, object, |_| true)?,
    }
    Ok(())
}

fn write_object(
    out: &mut String,
    object: &Map<String, Value>,
    keep: impl Fn(&str) -> bool,
) -> Result<(), CanonicalJsonError> {
    // `String`'s `Ord` compares UTF-8 bytes, which is code point order.
    let mut entries: Vec<(&String, &Value)> = object.iter().filter(|(k, _)| keep(k)).collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, key);
        out.push(':');
        write_value(out, value)?;
    }
    out.push('}');
    Ok(())
}

fn write_number(out: &mut String, number: &Number) -> Result<(), CanonicalJsonError> {
    if let Some(i) = number.as_i64() {
        if !(-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i) {
            return Err(CanonicalJsonError::IntegerOutOfRange(i.to_string()));
        }
        out.push_str(&i.to_string());
        Ok(())
    } else if number.is_u64() {
        Err(CanonicalJsonError::IntegerOutOfRange(number.to_string()))
    } else {
        Err(CanonicalJsonError::Float(number.as_f64().unwrap_or(f64::NAN)))
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{0c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signing_input_strips_only_top_level() {
        let v =
            json!({"b": {"signatures": 1, "unsigned": 2}, "signatures": {}, "unsigned": {"x": 1}, "a": 1});
        assert_eq!(signing_input(&v).unwrap(), r#"{"a":1,"b":{"signatures":1,"unsigned":2}}"#);
        assert_eq!(signing_input(&json!([1])), Err(CanonicalJsonError::NotAnObject));
    }

    #[test]
    fn control_characters() {
        let v = json!("\u{0}\u{1f}\u{7f}\u{2028}é");
        assert_eq!(to_canonical_string(&v).unwrap(), "\"\\u0000\\u001f\u{7f}\u{2028}é\"");
    }
}
