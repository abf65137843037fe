//! Key backup versions (docs/protocol.md §8.4): `GET /room_keys/version`,
//! `GET /room_keys/version/{version}` and `POST /room_keys/version`.
//!
//! Versions belong to one user and are numbered `"1"`, `"2"`, ... per user; the
//! current version is the highest. A stored version is
//! `{algorithm, auth_data, count: 0, etag: "0", version}` (the mock keeps no room keys).

use serde_json::{json, Value};

use super::route::{Auth, Route};
use crate::context::Ctx;
use crate::{MatrixError, Response};

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new("GET", "/_matrix/client/v3/room_keys/version", Auth::Required, current),
        Route::new("POST", "/_matrix/client/v3/room_keys/version", Auth::Required, create),
        Route::new("GET", "/_matrix/client/v3/room_keys/version/{version}", Auth::Required, by_version),
    ]
}

fn current(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let caller = ctx.caller()?;
    ctx.state
        .users
        .get(&caller.user_id)
        .and_then(|user| user.backup_versions.values().max_by_key(|v| version_number(v)))
        .map(|version| Response::ok(version.clone()))
        .ok_or_else(|| MatrixError::not_found("No current backup version"))
}

fn by_version(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let caller = ctx.caller()?;
    ctx.state
        .users
        .get(&caller.user_id)
        .and_then(|user| user.backup_versions.get(ctx.param(0)))
        .map(|version| Response::ok(version.clone()))
        .ok_or_else(|| MatrixError::not_found("Unknown backup version"))
}

fn create(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let caller = ctx.caller()?;
    let body = ctx.req.json_object()?;
    let missing: Vec<&str> =
        ["algorithm", "auth_data"].into_iter().filter(|f| !body.contains_key(*f)).collect();
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|f| format!("'{f}'")).collect();
        return Err(MatrixError::missing_param(format!("Missing params: [{}]", list.join(", "))));
    }
    let Some(algorithm) = body.get("algorithm").and_then(Value::as_str) else {
        return Err(MatrixError::bad_json("`algorithm` must be a string"));
    };
    let Some(auth_data) = body.get("auth_data").filter(|a| a.is_object()) else {
        return Err(MatrixError::bad_json("`auth_data` must be an object"));
    };
    let user = ctx.state.users.get_mut(&caller.user_id).ok_or_else(MatrixError::unknown_token)?;
    let next = user.backup_versions.values().map(version_number).max().unwrap_or(0) + 1;
    let version = next.to_string();
    user.backup_versions.insert(
        version.clone(),
        json!({
            "algorithm": algorithm,
            "auth_data": auth_data,
            "count": 0,
            "etag": "0",
            "version": version,
        }),
    );
    Ok(Response::ok(json!({ "version": version })))
}

fn version_number(stored: &Value) -> u64 {
    stored.get("version").and_then(Value::as_str).and_then(|v| v.parse().ok()).unwrap_or(0)
}
