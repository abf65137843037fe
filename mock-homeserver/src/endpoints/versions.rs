//! `GET /_matrix/client/versions`, `GET /capabilities`, `GET /account/whoami`.

use serde_json::{json, Map, Value};

use super::route::{Auth, Route};
use crate::context::Ctx;
use crate::{MatrixError, Response};

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new("GET", "/_matrix/client/versions", Auth::Optional, versions),
        Route::new("GET", "/_matrix/client/v3/capabilities", Auth::Required, capabilities),
        Route::new("GET", "/_matrix/client/v3/account/whoami", Auth::Required, whoami),
    ]
}

/// The spec versions the mock claims.
const VERSIONS: [&str; 11] =
    ["v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11"];

fn versions(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let profile = &ctx.state.profile;
    let mut unstable = Map::new();
    if profile.login_token.r0 {
        unstable.insert("org.matrix.msc3882".to_owned(), json!(true));
    }
    if profile.rendezvous.enabled {
        unstable.insert("org.matrix.msc3886".to_owned(), json!(true));
    }
    if profile.advertise_msc2912 {
        unstable.insert("org.matrix.msc2912".to_owned(), json!(true));
    }
    let versions: Vec<&str> = if profile.msc3967 { VERSIONS.to_vec() } else { VERSIONS[..10].to_vec() };
    Ok(Response::ok(json!({ "versions": versions, "unstable_features": unstable })))
}

fn capabilities(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let profile = &ctx.state.profile;
    let mut capabilities = Map::new();
    capabilities.insert("m.change_password".to_owned(), json!({ "enabled": true }));
    capabilities
        .insert("m.room_versions".to_owned(), json!({ "default": "10", "available": { "10": "stable" } }));
    if profile.login_token.stable {
        capabilities.insert("m.get_login_token".to_owned(), json!({ "enabled": true }));
    }
    if profile.login_token.r1 {
        capabilities.insert("org.matrix.msc3882.get_login_token".to_owned(), json!({ "enabled": true }));
    }
    Ok(Response::ok(json!({ "capabilities": Value::Object(capabilities) })))
}

fn whoami(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let caller = ctx.caller()?;
    Ok(Response::ok(json!({ "user_id": caller.user_id, "device_id": caller.device_id, "is_guest": false })))
}
