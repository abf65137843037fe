//! `GET /_matrix/client/v3/profile/{userId}` and its `displayname` and `avatar_url`
//! fields, which clients read for their own user at start-up.
//!
//! Every account's display name is its localpart (what Synapse sets when an account
//! is created) and it has no avatar, so `avatar_url` is absent. An unknown user:
//! 404 `M_NOT_FOUND` "Profile was not found". Authentication is optional, as in the
//! spec.

use serde_json::{json, Value};

use super::route::{Auth, Route};
use crate::context::Ctx;
use crate::{MatrixError, Response};

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new("GET", "/_matrix/client/v3/profile/{userId}", Auth::Optional, profile),
        Route::new("GET", "/_matrix/client/v3/profile/{userId}/displayname", Auth::Optional, displayname),
        Route::new("GET", "/_matrix/client/v3/profile/{userId}/avatar_url", Auth::Optional, avatar_url),
    ]
}

/// The display name of a known user: its localpart.
fn display_name(ctx: &Ctx<'_>) -> Result<String, MatrixError> {
    let user_id = ctx.param(0);
    if !ctx.state.users.contains_key(user_id) {
        return Err(MatrixError::not_found("Profile was not found"));
    }
    let localpart = user_id.trim_start_matches('@').split(':').next().unwrap_or_default();
    Ok(localpart.to_owned())
}

fn profile(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    Ok(Response::ok(json!({ "displayname": display_name(ctx)? })))
}

fn displayname(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    Ok(Response::ok(json!({ "displayname": display_name(ctx)? })))
}

fn avatar_url(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    display_name(ctx)?;
    Ok(Response::ok(Value::Object(serde_json::Map::new())))
}
