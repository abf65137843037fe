//! `GET /_matrix/client/v3/devices`, `GET` and `PUT /_matrix/client/v3/devices/{deviceId}`.
//!
//! A user only ever sees and changes their own devices: another user's device ID is
//! as unknown as one that does not exist (404 `M_NOT_FOUND` "Device not found").
//!
//! `last_seen_ts` is the server clock (milliseconds since start) of the device's last
//! request, read from the journal; `last_seen_ip` is the loopback address once the
//! device has been seen. Both are `null` for a device that never made a request.

use serde_json::{json, Value};

use super::route::{Auth, Route};
use crate::context::Ctx;
use crate::state::Device;
use crate::{Caller, MatrixError, Response};

/// Synapse's limit on device display names.
const MAX_DISPLAY_NAME_LEN: usize = 100;

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new("GET", "/_matrix/client/v3/devices", Auth::Required, list),
        Route::new("GET", "/_matrix/client/v3/devices/{deviceId}", Auth::Required, get),
        Route::new("PUT", "/_matrix/client/v3/devices/{deviceId}", Auth::Required, put),
    ]
}

fn device_not_found() -> MatrixError {
    MatrixError::not_found("Device not found")
}

fn list(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let caller = ctx.caller()?;
    let user = ctx.state.users.get(&caller.user_id).ok_or_else(MatrixError::unknown_token)?;
    let devices: Vec<Value> =
        user.devices.values().map(|device| describe(ctx, &caller.user_id, device)).collect();
    Ok(Response::ok(json!({ "devices": devices })))
}

fn get(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let caller = ctx.caller()?;
    let device = ctx
        .state
        .users
        .get(&caller.user_id)
        .and_then(|user| user.devices.get(ctx.param(0)))
        .ok_or_else(device_not_found)?;
    Ok(Response::ok(describe(ctx, &caller.user_id, device)))
}

/// Sets (or with `null`, clears) a device's display name; a change signals
/// `device_lists.changed`, since `/keys/query` shows the name.
fn put(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let caller = ctx.caller()?;
    let body = ctx.req.json_object()?;
    let device_id = ctx.param(0).to_owned();
    let exists = ctx.state.users.get(&caller.user_id).is_some_and(|u| u.devices.contains_key(&device_id));
    if !exists {
        return Err(device_not_found());
    }
    let new_name = match body.get("display_name") {
        None => return Ok(Response::ok(json!({}))),
        Some(Value::Null) => None,
        Some(Value::String(name)) if name.chars().count() > MAX_DISPLAY_NAME_LEN => {
            return Err(MatrixError::new(
                400,
                "M_TOO_LARGE",
                format!("Device display name is too long (max {MAX_DISPLAY_NAME_LEN})"),
            ));
        }
        Some(Value::String(name)) => Some(name.clone()),
        Some(_) => return Err(MatrixError::bad_json("`display_name` must be a string")),
    };
    let device = ctx.state.users.get_mut(&caller.user_id).and_then(|u| u.devices.get_mut(&device_id));
    if let Some(device) = device {
        if device.display_name != new_name {
            device.display_name = new_name;
            ctx.state.device_list_changed(&caller.user_id);
        }
    }
    Ok(Response::ok(json!({})))
}

/// The device as the devices API shows it.
fn describe(ctx: &Ctx<'_>, user_id: &str, device: &Device) -> Value {
    let last_seen = last_seen_ms(ctx, user_id, &device.device_id);
    json!({
        "device_id": device.device_id,
        "display_name": device.display_name,
        "last_seen_ip": last_seen.map(|_| "127.0.0.1"),
        "last_seen_ts": last_seen,
    })
}

/// When the device last made a request: now for the caller, else the time of its last
/// journaled request.
fn last_seen_ms(ctx: &Ctx<'_>, user_id: &str, device_id: &str) -> Option<u64> {
    if ctx.caller.as_ref().is_some_and(|c| c.user_id == user_id && c.device_id == device_id) {
        return Some(ctx.now_ms);
    }
    let caller = Caller { user_id: user_id.to_owned(), device_id: device_id.to_owned() };
    ctx.state.last_seen_ms.get(&caller).copied()
}
