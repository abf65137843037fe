//! `GET /_matrix/client/v3/user/{userId}/account_data/{type}` and
//! `GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}`: what
//! clients read at start-up, e.g. matrix-js-sdk and matrix-rust-sdk looking for
//! `m.secret_storage.default_key` before they set up cross-signing.
//!
//! The mock stores no account data (no endpoint writes it, and `/sync` reports none),
//! so every read of the caller's own data is 404 `M_NOT_FOUND` "Account data not
//! found", as Synapse answers for a type that was never set. Another user's data:
//! 403 `M_FORBIDDEN` "Cannot get account data for other users.".

use super::route::{Auth, Route};
use crate::context::Ctx;
use crate::{MatrixError, Response};

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new("GET", "/_matrix/client/v3/user/{userId}/account_data/{type}", Auth::Required, get),
        Route::new(
            "GET",
            "/_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}",
            Auth::Required,
            get,
        ),
    ]
}

fn get(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let caller = ctx.caller()?;
    if ctx.param(0) != caller.user_id {
        return Err(MatrixError::forbidden("Cannot get account data for other users."));
    }
    Err(MatrixError::not_found("Account data not found"))
}
