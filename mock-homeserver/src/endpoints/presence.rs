//! `GET /_matrix/client/v3/presence/{userId}/status`.
//!
//! The mock keeps no presence (`/sync` reports none and nothing sets it), so every
//! known user is `offline`, the state of a user who never set one. An unknown user:
//! 404 `M_NOT_FOUND` "Unknown user".

use serde_json::json;

use super::route::{Auth, Route};
use crate::context::Ctx;
use crate::{MatrixError, Response};

pub(crate) fn routes() -> Vec<Route> {
    vec![Route::new("GET", "/_matrix/client/v3/presence/{userId}/status", Auth::Required, status)]
}

fn status(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    ctx.caller()?;
    if !ctx.state.users.contains_key(ctx.param(0)) {
        return Err(MatrixError::not_found("Unknown user"));
    }
    Ok(Response::ok(json!({ "presence": "offline" })))
}
