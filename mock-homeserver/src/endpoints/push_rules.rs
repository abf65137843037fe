//! `GET /_matrix/client/v3/pushrules/` and `GET /_matrix/client/v3/pushrules/global/`:
//! the push rules a client fetches at start-up (matrix-js-sdk's `startClient()` does
//! before its first `/sync`, and retries until it gets them).
//!
//! The mock has no rooms and sends no notifications, so every user has the empty
//! global ruleset: the five kinds, each an empty list (a valid `PushRuleset`; the
//! spec makes every kind optional).

use serde_json::{json, Value};

use super::route::{Auth, Route};
use crate::context::Ctx;
use crate::{MatrixError, Response};

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new("GET", "/_matrix/client/v3/pushrules/", Auth::Required, all),
        Route::new("GET", "/_matrix/client/v3/pushrules/global/", Auth::Required, global),
    ]
}

/// The global ruleset: every kind present and empty.
fn ruleset() -> Value {
    json!({ "content": [], "override": [], "room": [], "sender": [], "underride": [] })
}

fn all(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    ctx.caller()?;
    Ok(Response::ok(json!({ "global": ruleset() })))
}

fn global(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    ctx.caller()?;
    Ok(Response::ok(ruleset()))
}
