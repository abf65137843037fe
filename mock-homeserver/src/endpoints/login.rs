//! `GET` and `POST /_matrix/client/v3/login`, `POST /logout` and `POST /logout/all`
//! (docs/protocol.md §5 "Redeeming", §10 D10).
//!
//! Errors follow Synapse: a body without `type` (or an `m.login.token` body without
//! `token`) is `400 M_UNKNOWN "Missing JSON keys."`; a wrong password or unknown user is
//! `403 M_FORBIDDEN "Invalid username or password"`; a reused, expired or unknown login
//! token is `403 M_FORBIDDEN "Invalid login token"`.

use serde_json::{json, Map, Value};

use super::route::{Auth, Route};
use crate::context::Ctx;
use crate::state::State;
use crate::{MatrixError, Response};

/// The longest `device_id` Synapse accepts on login and registration.
const MAX_DEVICE_ID_LEN: usize = 512;

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new("GET", "/_matrix/client/v3/login", Auth::None, flows),
        Route::new("POST", "/_matrix/client/v3/login", Auth::None, login),
        Route::new("POST", "/_matrix/client/v3/logout", Auth::Required, logout),
        Route::new("POST", "/_matrix/client/v3/logout/all", Auth::Required, logout_all),
    ]
}

/// `GET /login`: password login, and token login with the MSC3882 discovery flags.
fn flows(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let support = &ctx.state.profile.login_token;
    let mut token_flow = Map::new();
    token_flow.insert("type".to_owned(), json!("m.login.token"));
    if support.stable {
        token_flow.insert("get_login_token".to_owned(), json!(true));
    }
    if support.r1 {
        token_flow.insert("org.matrix.msc3882.get_login_token".to_owned(), json!(true));
    }
    Ok(Response::ok(json!({ "flows": [{ "type": "m.login.password" }, Value::Object(token_flow)] })))
}

/// `POST /login` with `m.login.password` or `m.login.token`.
fn login(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let body = ctx.req.json_object()?;
    let login_type = match body.get("type") {
        None => return Err(missing_json_keys()),
        Some(Value::String(t)) => t.clone(),
        Some(_) => return Err(MatrixError::invalid_param("Bad parameter: type")),
    };
    let device_id = optional_string(&body, "device_id")?;
    if device_id.as_ref().is_some_and(|id| id.is_empty() || id.len() > MAX_DEVICE_ID_LEN) {
        return Err(MatrixError::invalid_param("Bad parameter: device_id"));
    }
    let display_name = optional_string(&body, "initial_device_display_name")?;
    let user_id = match login_type.as_str() {
        "m.login.password" => check_password(ctx.state, &body)?,
        "m.login.token" => redeem_token(ctx, &body)?,
        other => return Err(MatrixError::new(400, "M_UNKNOWN", format!("Unknown login type {other}"))),
    };
    let answer = open_session(ctx.state, &user_id, device_id.as_deref(), display_name.as_deref());
    // The journal names the new device as the caller of its own login.
    if let Some(token) = answer["access_token"].as_str() {
        ctx.caller = ctx.state.caller_for_token(token);
    }
    Ok(Response::ok(answer))
}

/// Synapse's answer when a required key is absent from the login body.
fn missing_json_keys() -> MatrixError {
    MatrixError::new(400, "M_UNKNOWN", "Missing JSON keys.")
}

/// An optional string field; anything but a string or `null` is `M_INVALID_PARAM`.
pub(crate) fn optional_string(body: &Map<String, Value>, key: &str) -> Result<Option<String>, MatrixError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(MatrixError::invalid_param(format!("Bad parameter: {key}"))),
    }
}

/// Checks `m.login.password`: identifier `m.id.user` (or the deprecated `user`), a
/// localpart or a full user ID, matched case-insensitively as Synapse does.
fn check_password(state: &State, body: &Map<String, Value>) -> Result<String, MatrixError> {
    let password = match body.get("password") {
        Some(Value::String(p)) => p.clone(),
        _ => return Err(MatrixError::invalid_param("Bad parameter: password")),
    };
    let user = match (body.get("identifier"), body.get("user")) {
        (_, Some(Value::String(user))) => user.clone(),
        (Some(Value::Object(identifier)), _) => {
            match identifier.get("type") {
                None => {
                    return Err(MatrixError::missing_param("'identifier' dict has no key 'type'"));
                }
                Some(t) if t == "m.id.user" => {}
                Some(_) => return Err(MatrixError::new(400, "M_UNKNOWN", "Unknown login identifier type")),
            }
            match identifier.get("user") {
                Some(Value::String(user)) if !user.is_empty() => user.clone(),
                _ => {
                    return Err(MatrixError::new(400, "M_UNKNOWN", "User identifier is missing 'user' key"));
                }
            }
        }
        _ => return Err(missing_json_keys()),
    };
    let invalid = || MatrixError::forbidden("Invalid username or password");
    let user_id = find_user(state, &user).ok_or_else(invalid)?;
    let stored = state.users.get(&user_id).and_then(|u| u.password.as_deref());
    if stored == Some(password.as_str()) {
        Ok(user_id)
    } else {
        Err(invalid())
    }
}

/// The stored user ID for a localpart or full user ID: an exact match, else the only
/// case-insensitive match.
pub(crate) fn find_user(state: &State, user: &str) -> Option<String> {
    let wanted = if user.starts_with('@') { user.to_owned() } else { state.user_id_for(user) };
    if state.users.contains_key(&wanted) {
        return Some(wanted);
    }
    let mut matches = state.users.keys().filter(|id| id.eq_ignore_ascii_case(&wanted));
    match (matches.next(), matches.next()) {
        (Some(only), None) => Some(only.clone()),
        _ => None,
    }
}

/// Consumes an `m.login.token`: single use, valid until it expires by the server clock.
fn redeem_token(ctx: &mut Ctx<'_>, body: &Map<String, Value>) -> Result<String, MatrixError> {
    let invalid = || MatrixError::forbidden("Invalid login token");
    let token = match body.get("token") {
        None => return Err(missing_json_keys()),
        Some(Value::String(token)) => token.clone(),
        Some(_) => return Err(invalid()),
    };
    // Removed whether valid or not: a token is never accepted twice.
    let issued = ctx.state.login_tokens.remove(&token).ok_or_else(invalid)?;
    if ctx.now_ms >= issued.expires_at_ms || !ctx.state.users.contains_key(&issued.user_id) {
        return Err(invalid());
    }
    Ok(issued.user_id)
}

/// Opens a session for an existing user: reuses or creates the device, revokes the
/// device's earlier access tokens (spec: "the server will invalidate any access token
/// previously associated with that device"), and returns the login response body.
pub(crate) fn open_session(
    state: &mut State,
    user_id: &str,
    device_id: Option<&str>,
    display_name: Option<&str>,
) -> Value {
    if let Some(device_id) = device_id {
        state.access_tokens.retain(|_, caller| !(caller.user_id == user_id && caller.device_id == device_id));
    }
    let is_new =
        device_id.is_none_or(|id| !state.users.get(user_id).is_some_and(|u| u.devices.contains_key(id)));
    let (device_id, access_token) = state.login_device(user_id, device_id, display_name);
    if is_new {
        state.device_list_changed(user_id);
    }
    json!({
        "user_id": user_id,
        "access_token": access_token,
        "device_id": device_id,
        "home_server": state.profile.server_name,
    })
}

/// Removes a device and every access token of it, and signals the device list change.
fn remove_device(state: &mut State, user_id: &str, device_id: &str) {
    state.access_tokens.retain(|_, caller| !(caller.user_id == user_id && caller.device_id == device_id));
    if let Some(user) = state.users.get_mut(user_id) {
        user.devices.remove(device_id);
    }
    state.device_list_changed(user_id);
}

/// `POST /logout`: the access token stops working and its device is deleted.
fn logout(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let caller = ctx.caller()?;
    remove_device(ctx.state, &caller.user_id, &caller.device_id);
    Ok(Response::ok(json!({})))
}

/// `POST /logout/all`: every access token and device of the caller is removed.
fn logout_all(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let caller = ctx.caller()?;
    let devices: Vec<String> =
        ctx.state.users.get(&caller.user_id).map(|u| u.devices.keys().cloned().collect()).unwrap_or_default();
    ctx.state.access_tokens.retain(|_, c| c.user_id != caller.user_id);
    if let Some(user) = ctx.state.users.get_mut(&caller.user_id) {
        user.devices.clear();
    }
    if !devices.is_empty() {
        ctx.state.device_list_changed(&caller.user_id);
    }
    Ok(Response::ok(json!({})))
}
