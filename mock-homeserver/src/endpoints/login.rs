//! `GET`/`POST /_matrix/client/v3/login` (password and MSC3882 login token) and
//! `POST /_matrix/client/v3/logout` (protocol.md §5).

use serde_json::{json, Value};

use super::{Auth, Route};
use crate::core::Ctx;
use crate::{MatrixError, Response};

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new("GET", "/_matrix/client/v3/login", Auth::None, flows),
        Route::new("POST", "/_matrix/client/v3/login", Auth::None, login),
        Route::new("POST", "/_matrix/client/v3/logout", Auth::Required, logout),
    ]
}

/// The login flows; `m.login.token` says whether `get_token` is offered.
fn flows(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let tokens = &ctx.state.profile.login_token;
    let mut token_flow = json!({ "type": "m.login.token" });
    if tokens.stable {
        token_flow["get_login_token"] = json!(true);
    }
    if tokens.r1 {
        token_flow["org.matrix.msc3882.get_login_token"] = json!(true);
    }
    Ok(Response::ok(json!({ "flows": [{ "type": "m.login.password" }, token_flow] })))
}

fn invalid_password() -> MatrixError {
    MatrixError::forbidden("Invalid username or password")
}

fn login(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let body = ctx.req.json_object()?;
    let login_type = match body.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(_) => return Err(MatrixError::bad_json("`type` must be a string")),
        None => return Err(MatrixError::new(400, "M_UNKNOWN", "Missing JSON keys.")),
    };
    let device_id = optional_string(&body, "device_id")?;
    let display_name = optional_string(&body, "initial_device_display_name")?;
    let user_id = match login_type.as_str() {
        "m.login.password" => password_user(ctx, &body)?,
        "m.login.token" => {
            let token = match body.get("token") {
                Some(Value::String(t)) => t.clone(),
                Some(_) => return Err(MatrixError::bad_json("`token` must be a string")),
                // Also the answer to the MSC3906 v1 text's `login_token` (D10).
                None => return Err(MatrixError::new(400, "M_UNKNOWN", "Missing JSON keys.")),
            };
            let now = ctx.now_ms;
            match ctx.state.login_tokens.remove(&token) {
                Some(issued)
                    if now < issued.expires_at_ms && ctx.state.users.contains_key(&issued.user_id) =>
                {
                    issued.user_id
                }
                _ => return Err(MatrixError::forbidden("Invalid login token")),
            }
        }
        other => return Err(MatrixError::new(400, "M_UNKNOWN", format!("Unknown login type {other}"))),
    };
    let (device_id, access_token) =
        ctx.state.login_device(&user_id, device_id.as_deref(), display_name.as_deref());
    // The response's caller is the new device (for the journal).
    ctx.caller = ctx.state.caller_for_token(&access_token);
    Ok(Response::ok(json!({
        "user_id": user_id,
        "access_token": access_token,
        "device_id": device_id,
        "home_server": ctx.state.profile.server_name,
    })))
}

fn optional_string(
    body: &serde_json::Map<String, Value>,
    field: &str,
) -> Result<Option<String>, MatrixError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(MatrixError::bad_json(format!("`{field}` must be a non-empty string"))),
    }
}

/// The user of an `m.login.password` body, if the password is right.
fn password_user(ctx: &Ctx<'_>, body: &serde_json::Map<String, Value>) -> Result<String, MatrixError> {
    let user = match body.get("identifier") {
        Some(Value::Object(id)) => match id.get("type").and_then(Value::as_str) {
            Some("m.id.user") => id.get("user").and_then(Value::as_str),
            _ => return Err(MatrixError::new(400, "M_UNKNOWN", "Unknown login identifier type")),
        },
        Some(_) => return Err(MatrixError::bad_json("`identifier` must be an object")),
        None => body.get("user").and_then(Value::as_str),
    };
    let Some(user) = user else {
        return Err(MatrixError::new(400, "M_UNKNOWN", "Missing JSON keys."));
    };
    let user_id =
        if user.starts_with('@') { user.to_owned() } else { ctx.state.user_id_for(&user.to_lowercase()) };
    let password = body.get("password").and_then(Value::as_str);
    let stored = ctx.state.users.get(&user_id).and_then(|u| u.password.as_deref());
    match (password, stored) {
        (Some(given), Some(stored)) if given == stored => Ok(user_id),
        _ => Err(invalid_password()),
    }
}

/// Ends the session: the token stops working and the device is removed.
fn logout(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let caller = ctx.caller()?;
    ctx.state.access_tokens.retain(|_, c| *c != caller);
    if let Some(user) = ctx.state.users.get_mut(&caller.user_id) {
        user.devices.remove(&caller.device_id);
    }
    ctx.state.device_list_changed(&caller.user_id);
    Ok(Response::ok(json!({})))
}
