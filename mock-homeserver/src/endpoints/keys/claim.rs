//! `POST /_matrix/client/v3/keys/claim` (docs/protocol.md §7.3).
//!
//! Each one-time key is handed out once (lowest key ID first); when a device has none
//! of the algorithm left, its fallback key of that algorithm is returned and kept;
//! with neither, the device (and a user left without devices) is left out. Users of
//! other servers go to `failures` under their server name. A missing
//! `one_time_keys` is an empty query, as in Synapse.

use serde_json::{json, Map, Value};

use super::common::{algorithm_of, remote_failure, server_name_of};
use crate::context::Ctx;
use crate::{MatrixError, Response};

/// A device ID and the algorithm of the key claimed for it.
type DeviceAlgorithm = (String, String);

pub(super) fn claim(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    ctx.caller()?;
    let body = ctx.req.json_object()?;
    let query = match body.get("one_time_keys") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(query)) => query.clone(),
        Some(_) => return Err(MatrixError::bad_json("'one_time_keys' must be a JSON object")),
    };
    // Validate everything before consuming anything.
    let mut wanted: Vec<(String, &str, Vec<DeviceAlgorithm>)> = Vec::new();
    for (user_id, by_device) in &query {
        let server = server_name_of(user_id)?;
        let Some(by_device) = by_device.as_object() else {
            return Err(MatrixError::bad_json("'one_time_keys' values must be JSON objects"));
        };
        let mut devices = Vec::new();
        for (device_id, algorithm) in by_device {
            let Some(algorithm) = algorithm.as_str() else {
                return Err(MatrixError::bad_json("Algorithms in 'one_time_keys' must be strings"));
            };
            devices.push((device_id.clone(), algorithm.to_owned()));
        }
        wanted.push((user_id.clone(), server, devices));
    }

    let mut one_time_keys = Map::new();
    let mut failures = Map::new();
    for (user_id, server, devices) in wanted {
        if server != ctx.state.profile.server_name {
            failures.insert(server.to_owned(), remote_failure());
            continue;
        }
        let Some(user) = ctx.state.users.get_mut(&user_id) else { continue };
        let mut claimed = Map::new();
        for (device_id, algorithm) in devices {
            let Some(device) = user.devices.get_mut(&device_id) else { continue };
            let one_time = device.one_time_keys.keys().find(|id| algorithm_of(id) == algorithm).cloned();
            let key = match one_time {
                Some(key_id) => device.one_time_keys.remove_entry(&key_id),
                None => device
                    .fallback_keys
                    .iter()
                    .find(|(id, _)| algorithm_of(id) == algorithm)
                    .map(|(id, key)| (id.clone(), key.clone())),
            };
            if let Some((key_id, key)) = key {
                claimed.insert(device_id, json!({ key_id: key }));
            }
        }
        if !claimed.is_empty() {
            one_time_keys.insert(user_id, Value::Object(claimed));
        }
    }
    Ok(Response::ok(json!({ "one_time_keys": one_time_keys, "failures": failures })))
}
