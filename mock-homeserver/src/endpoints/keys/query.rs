//! `POST /_matrix/client/v3/keys/query` (docs/protocol.md §7.2).
//!
//! * The answer always has `device_keys`, `failures`, `master_keys`,
//!   `self_signing_keys` and `user_signing_keys`.
//! * Every queried local user appears in `device_keys` (an unknown one as `{}`);
//!   devices without uploaded keys are not listed. Users of other servers go to
//!   `failures` under their server name.
//! * Each device carries `unsigned`: `{}` or `{"device_display_name": ...}`.
//! * `user_signing_keys` holds only the requester's own key.
//! * Visibility: on every object served, only signatures by the owner and by the
//!   requester are kept, so nobody sees another user's user-signing signatures.
//! * Faults ([`super::tamper`]) change the answer, never the stored state.

use serde_json::{json, Map, Value};

use super::common::{remote_failure, server_name_of};
use super::tamper;
use crate::context::Ctx;
use crate::state::User;
use crate::{MatrixError, Response};

pub(super) fn query(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let caller = ctx.caller()?;
    let body = ctx.req.json_object()?;
    let Some(Value::Object(wanted)) = body.get("device_keys") else {
        return Err(MatrixError::bad_json("'device_keys' must be a JSON object"));
    };
    let is_list_of_strings = |v: &Value| v.as_array().is_some_and(|list| list.iter().all(Value::is_string));
    if !wanted.values().all(is_list_of_strings) {
        return Err(MatrixError::bad_json("'device_keys' values must be a list of strings"));
    }
    let mut queried: Vec<(&str, &str, Vec<&str>)> = Vec::new();
    for (user_id, device_ids) in wanted {
        let server = server_name_of(user_id)?;
        let device_ids = device_ids.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        queried.push((user_id, server, device_ids));
    }

    let requester = caller.user_id.as_str();
    let mut answer = json!({
        "device_keys": {},
        "failures": {},
        "master_keys": {},
        "self_signing_keys": {},
        "user_signing_keys": {},
    });
    for (user_id, server, device_ids) in queried {
        if server != ctx.state.profile.server_name {
            answer["failures"][server] = remote_failure();
            continue;
        }
        let Some(user) = ctx.state.users.get(user_id) else {
            answer["device_keys"][user_id] = json!({});
            continue;
        };
        answer["device_keys"][user_id] = Value::Object(devices_of(user, &device_ids, requester));
        let cross_signing = [
            ("master_keys", &user.master_key),
            ("self_signing_keys", &user.self_signing_key),
            ("user_signing_keys", &user.user_signing_key),
        ];
        for (field, key) in cross_signing {
            if field == "user_signing_keys" && user_id != requester {
                continue;
            }
            if let Some(key) = key {
                answer[field][user_id] = visible(key, user_id, requester);
            }
        }
    }
    tamper::apply(ctx, &mut answer);
    Ok(Response::ok(answer))
}

/// The requested devices of a user that have keys (all of them for an empty list).
fn devices_of(user: &User, device_ids: &[&str], requester: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for (device_id, device) in &user.devices {
        if !device_ids.is_empty() && !device_ids.contains(&device_id.as_str()) {
            continue;
        }
        let Some(keys) = &device.keys else { continue };
        let mut keys = visible(keys, &user.user_id, requester);
        let unsigned = match &device.display_name {
            Some(name) => json!({ "device_display_name": name }),
            None => json!({}),
        };
        if let Some(object) = keys.as_object_mut() {
            object.insert("unsigned".to_owned(), unsigned);
        }
        out.insert(device_id.clone(), keys);
    }
    out
}

/// A copy of a stored key object with only the signatures `requester` may see: those
/// made by the owner and those made by the requester.
fn visible(stored: &Value, owner: &str, requester: &str) -> Value {
    let mut value = stored.clone();
    if let Some(signatures) = value.get_mut("signatures").and_then(Value::as_object_mut) {
        signatures.retain(|signer, _| signer == owner || signer == requester);
    }
    value
}
