//! `POST /_matrix/client/v3/keys/upload` (docs/protocol.md §7.1).
//!
//! * `device_keys` must name the caller's user and device (Synapse's exact
//!   `M_BAD_JSON` messages, checked before the shape), then carry `user_id`,
//!   `device_id`, `algorithms`, `keys` and `signatures` with the right types. The
//!   self-signature is not verified, as Synapse does not.
//! * One-time and fallback keys are `<algorithm>:<id>` to a string or a key object
//!   `{"key", "signatures"}` (fallback keys may add `"fallback": true`). Re-uploading
//!   a one-time key ID with different content is refused as Synapse does.
//! * Nothing is stored unless the whole body is valid. New or changed device keys
//!   signal `device_lists.changed`.

use serde_json::{json, Map, Value};

use super::common::{algorithm_of, one_time_key_counts};
use crate::context::Ctx;
use crate::state::Device;
use crate::{MatrixError, Response};

pub(super) fn upload(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let caller = ctx.caller()?;
    let body = ctx.req.json_object()?;

    let device_keys = match body.get("device_keys") {
        None | Some(Value::Null) => None,
        Some(Value::Object(keys)) => {
            check_identity(keys, &caller.user_id, &caller.device_id)?;
            check_device_keys_shape(keys)?;
            Some(keys.clone())
        }
        Some(_) => return Err(MatrixError::bad_json("`device_keys` must be an object")),
    };
    let one_time_keys = key_map(&body, "one_time_keys")?;
    let fallback_keys = key_map(&body, "fallback_keys")?;

    let user_id = caller.user_id.as_str();
    let device_id = caller.device_id.as_str();
    let Some(user) = ctx.state.users.get_mut(user_id) else {
        return Err(MatrixError::unknown_token());
    };
    let device = user
        .devices
        .entry(device_id.to_owned())
        .or_insert_with(|| Device { device_id: device_id.to_owned(), ..Default::default() });

    for (key_id, key) in &one_time_keys {
        if let Some(old) = device.one_time_keys.get(key_id) {
            if old != key {
                return Err(MatrixError::new(
                    400,
                    "M_UNKNOWN",
                    format!("One time key {key_id} already exists. Old key: {old}; new key: {key}"),
                ));
            }
        }
    }
    device.one_time_keys.extend(one_time_keys);
    for (key_id, key) in fallback_keys {
        // One fallback key per algorithm: a new one replaces the old.
        let algorithm = algorithm_of(&key_id).to_owned();
        device.fallback_keys.retain(|id, _| algorithm_of(id) != algorithm);
        device.fallback_keys.insert(key_id, key);
    }

    let mut changed = false;
    if let Some(keys) = device_keys {
        let merged = merge_cross_signatures(Value::Object(keys), device.keys.as_ref(), device_id);
        if device.keys.as_ref() != Some(&merged) {
            device.keys = Some(merged);
            changed = true;
        }
    }
    let counts = one_time_key_counts(device);
    if changed {
        ctx.state.device_list_changed(user_id);
    }
    Ok(Response::ok(json!({ "one_time_key_counts": counts })))
}

/// Synapse compares `user_id` and `device_id` before anything else (a missing one
/// does not match either).
fn check_identity(keys: &Map<String, Value>, user_id: &str, device_id: &str) -> Result<(), MatrixError> {
    if keys.get("user_id").and_then(Value::as_str) != Some(user_id) {
        return Err(MatrixError::bad_json(
            "Provided `user_id` in `device_keys` does not match that of the authenticated user",
        ));
    }
    if keys.get("device_id").and_then(Value::as_str) != Some(device_id) {
        return Err(MatrixError::bad_json(
            "Provided `device_id` in `device_keys` does not match that of the authenticated user device",
        ));
    }
    Ok(())
}

fn check_device_keys_shape(keys: &Map<String, Value>) -> Result<(), MatrixError> {
    let algorithms_ok = keys
        .get("algorithms")
        .and_then(Value::as_array)
        .is_some_and(|list| list.iter().all(Value::is_string));
    if !algorithms_ok {
        return Err(MatrixError::bad_json("`device_keys.algorithms` must be a list of strings"));
    }
    if !keys.get("keys").is_some_and(is_string_map) {
        return Err(MatrixError::bad_json("`device_keys.keys` must be an object of strings"));
    }
    if !keys.get("signatures").is_some_and(is_signatures) {
        return Err(MatrixError::bad_json(
            "`device_keys.signatures` must be an object of objects of strings",
        ));
    }
    Ok(())
}

/// `one_time_keys` or `fallback_keys`: absent or null is empty.
fn key_map(body: &Map<String, Value>, field: &str) -> Result<Vec<(String, Value)>, MatrixError> {
    let keys = match body.get(field) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(keys)) => keys,
        Some(_) => return Err(MatrixError::bad_json(format!("`{field}` must be an object"))),
    };
    let mut out = Vec::new();
    for (key_id, key) in keys {
        let well_formed_id =
            key_id.split_once(':').is_some_and(|(alg, id)| !alg.is_empty() && !id.is_empty());
        if !well_formed_id {
            return Err(MatrixError::bad_json(format!(
                "Key ID `{key_id}` in `{field}` must have the form `<algorithm>:<key id>`"
            )));
        }
        if !is_key_value(key) {
            return Err(MatrixError::bad_json(format!(
                "`{field}.{key_id}` must be a string or an object with `key` and `signatures`"
            )));
        }
        out.push((key_id.clone(), key.clone()));
    }
    Ok(out)
}

/// A bare key string, or `{"key": str, "signatures": {...}}` with an optional boolean
/// `fallback`.
fn is_key_value(value: &Value) -> bool {
    match value {
        Value::String(_) => true,
        Value::Object(object) => {
            object.get("key").is_some_and(Value::is_string)
                && object.get("signatures").is_some_and(is_signatures)
                && object.get("fallback").is_none_or(Value::is_boolean)
        }
        _ => false,
    }
}

fn is_string_map(value: &Value) -> bool {
    value.as_object().is_some_and(|map| map.values().all(Value::is_string))
}

fn is_signatures(value: &Value) -> bool {
    value.as_object().is_some_and(|map| map.values().all(is_string_map))
}

/// The new device keys with the cross-signing signatures already stored on the old
/// ones carried over (Synapse keeps those apart from the uploaded JSON, so they
/// survive a re-upload). The device's own `ed25519:<device_id>` signature always
/// comes from the new upload.
fn merge_cross_signatures(mut new: Value, old: Option<&Value>, device_id: &str) -> Value {
    let own_key_id = format!("ed25519:{device_id}");
    let Some(old_signatures) = old.and_then(|o| o.get("signatures")).and_then(Value::as_object) else {
        return new;
    };
    let Some(new_signatures) = new.get_mut("signatures").and_then(Value::as_object_mut) else {
        return new;
    };
    for (signer, by_key) in old_signatures {
        let Some(by_key) = by_key.as_object() else { continue };
        for (key_id, signature) in by_key {
            if *key_id == own_key_id {
                continue;
            }
            let entry = new_signatures.entry(signer.clone()).or_insert_with(|| json!({}));
            if let Some(entry) = entry.as_object_mut() {
                entry.entry(key_id.clone()).or_insert_with(|| signature.clone());
            }
        }
    }
    new
}
