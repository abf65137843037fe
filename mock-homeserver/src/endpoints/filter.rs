//! `POST /_matrix/client/v3/user/{userId}/filter` and
//! `GET /_matrix/client/v3/user/{userId}/filter/{filterId}`: the sync filter a client
//! uploads at start-up (matrix-js-sdk's `startClient()` does before its first
//! `/sync`; `/sync` accepts the filter ID and ignores it).
//!
//! The filter ID is `f` plus the unpadded base64url of the filter's JSON text, so
//! the server keeps no filter store and `GET` gives back exactly what was uploaded;
//! it never starts with `{`, which the spec reserves for inline filters.
//!
//! Rows, in order (Synapse's answers):
//! * `userId` is not the caller: 403 `M_FORBIDDEN` "Cannot create filters for other
//!   users" (`GET`: "Cannot get filters for other users");
//! * the body is not a JSON object: 400 `M_NOT_JSON` / `M_BAD_JSON`;
//! * `GET` of an ID this server did not make: 404 `M_NOT_FOUND` "No such filter".

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::route::{Auth, Route};
use crate::context::Ctx;
use crate::{MatrixError, Response};

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new("POST", "/_matrix/client/v3/user/{userId}/filter", Auth::Required, create),
        Route::new("GET", "/_matrix/client/v3/user/{userId}/filter/{filterId}", Auth::Required, get),
    ]
}

fn create(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let caller = ctx.caller()?;
    if ctx.param(0) != caller.user_id {
        return Err(MatrixError::forbidden("Cannot create filters for other users"));
    }
    let filter = Value::Object(ctx.req.json_object()?);
    let text = serde_json::to_string(&filter).map_err(|e| MatrixError::bad_json(e.to_string()))?;
    Ok(Response::ok(json!({ "filter_id": format!("f{}", URL_SAFE_NO_PAD.encode(text)) })))
}

fn get(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let caller = ctx.caller()?;
    if ctx.param(0) != caller.user_id {
        return Err(MatrixError::forbidden("Cannot get filters for other users"));
    }
    decode(ctx.param(1)).map(Response::ok).ok_or_else(|| MatrixError::not_found("No such filter"))
}

/// The filter an ID names, if this server made it.
fn decode(filter_id: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(filter_id.strip_prefix('f')?).ok()?;
    serde_json::from_slice::<Value>(&bytes).ok().filter(Value::is_object)
}
