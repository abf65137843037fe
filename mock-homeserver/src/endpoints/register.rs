//! `POST /_matrix/client/v3/register` with MSC2912 cross-signing keys (docs/protocol.md §8.2,
//! §9), `GET /register/available` and the registration-token validity check.
//!
//! Order of a `kind=user` round, as Synapse plus the project decisions of §9.2:
//! body → `username` type → registration switch → lowercase → `password` type →
//! username checks (`M_INVALID_USERNAME`, `M_USER_IN_USE`) → the named UIA session →
//! `device_signing` validation (a failure leaves the session untouched) → UIA 401 →
//! on completion: password present, username still free, then account, device and
//! keys are committed together.

use serde_json::{json, Map, Value};

use super::device_signing::{self, ValidatedKeys};
use super::login::{open_session, optional_string};
use super::route::{Auth, Route};
use super::uia::{self, PasswordOf};
use crate::context::Ctx;
use crate::state::State;
use crate::{MatrixError, Msc2912Support, Response};

/// Synapse's limit on `username`, `password` and `device_id` lengths.
const MAX_FIELD_LEN: usize = 512;
/// The longest user ID the spec allows.
const MAX_USER_ID_LEN: usize = 255;
/// The stable MSC2912 field.
const STABLE_FIELD: &str = "device_signing";
/// The unstable MSC2912 field.
const UNSTABLE_FIELD: &str = "org.matrix.msc2912.device_signing";

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new("POST", "/_matrix/client/v3/register", Auth::None, register),
        Route::new("GET", "/_matrix/client/v3/register/available", Auth::None, available),
        Route::new(
            "GET",
            "/_matrix/client/v1/register/m.login.registration_token/validity",
            Auth::None,
            token_validity,
        ),
    ]
}

fn disabled() -> MatrixError {
    MatrixError::forbidden("Registration has been disabled")
}

fn register(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let mut body = ctx.req.json_object()?;
    match ctx.req.query_param("kind").as_deref() {
        None | Some("user") => {}
        Some("guest") => return register_guest(ctx, &body),
        Some(other) => {
            return Err(MatrixError::new(
                400,
                "M_UNRECOGNIZED",
                format!("Do not understand membership kind: {other}"),
            ))
        }
    }
    let username = match body.get("username") {
        None => None,
        Some(Value::String(name)) if name.len() <= MAX_FIELD_LEN => Some(name.to_lowercase()),
        Some(_) => return Err(MatrixError::new(400, "M_UNKNOWN", "Invalid username")),
    };
    if !ctx.state.profile.registration_enabled {
        return Err(disabled());
    }
    if let Some(name) = &username {
        body.insert("username".to_owned(), json!(name));
    }
    match body.get("password") {
        None | Some(Value::Null) => {}
        Some(Value::String(p)) if p.len() <= MAX_FIELD_LEN => {}
        Some(_) => return Err(MatrixError::new(400, "M_UNKNOWN", "Invalid password")),
    }
    if let Some(name) = &username {
        check_username(ctx.state, name)?;
    }
    let stored = uia::named_session(ctx, &body)?;

    // MSC2912: the field that counts under this profile, validated before UIA.
    let keys = take_device_signing(ctx.state.profile.msc2912, &mut body)?;
    if let Some(keys) = &keys {
        let localpart = username.clone().or_else(|| {
            stored.as_ref().and_then(|p| p.get("username")).and_then(Value::as_str).map(str::to_owned)
        });
        validate_keys(ctx.state, localpart.as_deref(), keys)?;
        body.insert(STABLE_FIELD.to_owned(), Value::Object(keys.clone()));
    }

    let flows: &[&[&str]] = if ctx.state.profile.registration_token.is_some() {
        &[&["m.login.registration_token", "m.login.dummy"]]
    } else {
        &[&["m.login.dummy"]]
    };
    let params = uia::authenticate(ctx, &body, flows, PasswordOf::Nobody)?;
    complete(ctx.state, &params)
}

/// Synapse's `check_username`: allowed characters, not empty, no leading `_`, length,
/// not taken (case-insensitively).
fn check_username(state: &State, localpart: &str) -> Result<(), MatrixError> {
    let invalid = |error: &str| MatrixError::new(400, "M_INVALID_USERNAME", error);
    if localpart.chars().any(|c| !matches!(c, 'a'..='z' | '0'..='9' | '=' | '_' | '-' | '.' | '/' | '+')) {
        return Err(invalid("User ID can only contain characters a-z, 0-9, or '=_-./+'"));
    }
    if localpart.is_empty() {
        return Err(invalid("User ID cannot be empty"));
    }
    if localpart.starts_with('_') {
        return Err(invalid("User ID may not begin with _"));
    }
    let user_id = state.user_id_for(localpart);
    if user_id.len() > MAX_USER_ID_LEN {
        return Err(invalid(&format!("User ID may not be longer than {MAX_USER_ID_LEN} characters")));
    }
    if state.users.keys().any(|id| id.eq_ignore_ascii_case(&user_id)) {
        return Err(MatrixError::new(400, "M_USER_IN_USE", "User ID already taken."));
    }
    Ok(())
}

/// Removes both MSC2912 names from the body and returns the set that counts under
/// `support` (§9.2: stable wins when both count; `null` is absent).
fn take_device_signing(
    support: Msc2912Support,
    body: &mut Map<String, Value>,
) -> Result<Option<Map<String, Value>>, MatrixError> {
    let stable = body.remove(STABLE_FIELD).filter(|v| !v.is_null());
    let unstable = body.remove(UNSTABLE_FIELD).filter(|v| !v.is_null());
    let (name, value) = match support {
        Msc2912Support::Ignored => return Ok(None),
        Msc2912Support::Both => match (stable, unstable) {
            (Some(stable), _) => (STABLE_FIELD, stable),
            (None, Some(unstable)) => (UNSTABLE_FIELD, unstable),
            (None, None) => return Ok(None),
        },
        Msc2912Support::UnstableOnly => match unstable {
            Some(unstable) => (UNSTABLE_FIELD, unstable),
            None => return Ok(None),
        },
    };
    match value {
        Value::Object(keys) => Ok(Some(keys)),
        _ => Err(MatrixError::bad_json(format!("`{name}` must be an object"))),
    }
}

/// Validates a `device_signing` set for the user being registered. `{}` is valid and
/// stores nothing; without a username no key can name the right user (row a).
fn validate_keys(
    state: &State,
    localpart: Option<&str>,
    keys: &Map<String, Value>,
) -> Result<ValidatedKeys, MatrixError> {
    if keys.is_empty() {
        return Ok(ValidatedKeys::default());
    }
    let Some(localpart) = localpart else {
        return Err(MatrixError::invalid_param("Invalid master key"));
    };
    let user_id = state.user_id_for(localpart);
    device_signing::validate(&user_id, keys, None, state.profile.synapse_quirks)
}

/// The final round: checks the merged parameters again and commits the account, its
/// device and its cross-signing keys together.
fn complete(state: &mut State, params: &Map<String, Value>) -> Result<Response, MatrixError> {
    let Some(password) = params.get("password").and_then(Value::as_str).map(str::to_owned) else {
        return Err(MatrixError::missing_param("Missing params: password"));
    };
    let localpart = match params.get("username").and_then(Value::as_str) {
        Some(name) => {
            // Someone may have taken it while UIA was under way.
            check_username(state, name)?;
            name.to_owned()
        }
        None => random_localpart(state),
    };
    let keys = match params.get(STABLE_FIELD).and_then(Value::as_object) {
        Some(keys) => validate_keys(state, params.get("username").and_then(Value::as_str), keys)?,
        None => ValidatedKeys::default(),
    };
    let device_id = optional_string(params, "device_id")?;
    if device_id.as_ref().is_some_and(|id| id.is_empty() || id.len() > MAX_FIELD_LEN) {
        return Err(MatrixError::invalid_param("Bad parameter: device_id"));
    }
    let display_name = optional_string(params, "initial_device_display_name")?;
    let inhibit_login = params.get("inhibit_login").and_then(Value::as_bool).unwrap_or(false);

    let user_id = state.user_id_for(&localpart);
    state.create_user(&user_id, Some(&password));
    let answer = if inhibit_login {
        json!({ "user_id": user_id, "home_server": state.profile.server_name })
    } else {
        open_session(state, &user_id, device_id.as_deref(), display_name.as_deref())
    };
    device_signing::store(state, &user_id, keys);
    Ok(Response::ok(answer))
}

/// A free random localpart, lower case, as the server picks for guests and for
/// registrations without `username`.
fn random_localpart(state: &mut State) -> String {
    loop {
        let localpart = state.random_string(12).to_lowercase();
        if !state.users.contains_key(&state.user_id_for(&localpart)) {
            return localpart;
        }
    }
}

/// `kind=guest`: every field but `initial_device_display_name` is ignored; no UIA.
fn register_guest(ctx: &mut Ctx<'_>, body: &Map<String, Value>) -> Result<Response, MatrixError> {
    if !ctx.state.profile.registration_enabled {
        return Err(disabled());
    }
    let display_name = body.get("initial_device_display_name").and_then(Value::as_str).map(str::to_owned);
    let localpart = random_localpart(ctx.state);
    let user_id = ctx.state.user_id_for(&localpart);
    ctx.state.create_user(&user_id, None);
    Ok(Response::ok(open_session(ctx.state, &user_id, None, display_name.as_deref())))
}

/// `GET /register/available?username=`: `{"available": true}` or the username error.
fn available(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    if !ctx.state.profile.registration_enabled {
        return Err(disabled());
    }
    let Some(username) = ctx.req.query_param("username") else {
        return Err(MatrixError::missing_param("Missing string query parameter 'username'"));
    };
    check_username(ctx.state, &username.to_lowercase())?;
    Ok(Response::ok(json!({ "available": true })))
}

/// `GET /v1/register/m.login.registration_token/validity?token=`: `{"valid": bool}`.
fn token_validity(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let Some(token) = ctx.req.query_param("token") else {
        return Err(MatrixError::missing_param("Missing string query parameter 'token'"));
    };
    let valid = ctx.state.profile.registration_token.as_deref() == Some(token.as_str());
    Ok(Response::ok(json!({ "valid": valid })))
}
