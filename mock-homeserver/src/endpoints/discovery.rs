//! What a client asks a server about itself before or right after signing in:
//! `GET /.well-known/matrix/client` (server discovery: the base URL clients reach
//! this server at) and `GET /_matrix/client/v3/voip/turnServer` (`{}`: no TURN
//! server is configured, as Synapse answers then).

use serde_json::json;

use super::route::{Auth, Route};
use crate::context::Ctx;
use crate::{MatrixError, Response};

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new("GET", "/.well-known/matrix/client", Auth::None, well_known),
        Route::new("GET", "/_matrix/client/v3/voip/turnServer", Auth::Required, turn_server),
    ]
}

fn well_known(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    Ok(Response::ok(json!({ "m.homeserver": { "base_url": &*ctx.base_url } })))
}

fn turn_server(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    ctx.caller()?;
    Ok(Response::ok(json!({})))
}
