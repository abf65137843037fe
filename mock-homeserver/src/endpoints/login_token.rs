//! MSC3882 login tokens (docs/protocol.md §5): the stable `POST /v1/login/get_token`, the
//! r1 `.../org.matrix.msc3882/login/get_token` and the r0 `.../org.matrix.msc3882/login/token`.
//!
//! A form the profile switches off is an unknown endpoint (404 `M_UNRECOGNIZED`), even
//! without an access token. Every request goes through UIA with the caller's password
//! (the server never skips it on the strength of a recent authentication). A token is
//! valid for one login, until `profile.login_token.lifetime_ms` has passed on the
//! server's clock.

use std::collections::HashMap;

use serde_json::{json, Map};

use super::route::{Auth, Route};
use super::uia::{self, PasswordOf};
use crate::context::Ctx;
use crate::state::LoginToken;
use crate::{MatrixError, Response};

/// The stable endpoint.
const STABLE: &str = "/_matrix/client/v1/login/get_token";
/// Unstable revision 1 (`expires_in_ms`).
const R1: &str = "/_matrix/client/unstable/org.matrix.msc3882/login/get_token";
/// Unstable revision 0 (`expires_in`, in seconds).
const R0: &str = "/_matrix/client/unstable/org.matrix.msc3882/login/token";

pub(crate) fn routes() -> Vec<Route> {
    // `Auth::None`: a switched-off form must answer 404 before any token check, so
    // the handlers check the profile first and then the caller themselves.
    vec![
        Route::new("POST", STABLE, Auth::None, get_token_stable),
        Route::new("POST", R1, Auth::None, get_token_r1),
        Route::new("POST", R0, Auth::None, get_token_r0),
    ]
}

/// Which form a request used: decides the switch and the response shape.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Stable,
    R1,
    R0,
}

fn get_token_stable(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    get_token(ctx, Form::Stable)
}

fn get_token_r1(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    get_token(ctx, Form::R1)
}

fn get_token_r0(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    get_token(ctx, Form::R0)
}

fn get_token(ctx: &mut Ctx<'_>, form: Form) -> Result<Response, MatrixError> {
    let support = ctx.state.profile.login_token.clone();
    let enabled = match form {
        Form::Stable => support.stable,
        Form::R1 => support.r1,
        Form::R0 => support.r0,
    };
    if !enabled {
        return Err(MatrixError::unrecognized());
    }
    let caller = match (&ctx.caller, ctx.req.access_token()) {
        (Some(caller), _) => caller.clone(),
        (None, Some(_)) => return Err(MatrixError::unknown_token()),
        (None, None) => return Err(MatrixError::missing_token()),
    };
    // js-sdk sends `{}`; an empty body is taken as `{}` too.
    let body = if ctx.req.body.is_empty() { Map::new() } else { ctx.req.json_object()? };
    uia::authenticate(ctx, &body, &[&["m.login.password"]], PasswordOf::User(&caller.user_id))?;

    prune_expired(&mut ctx.state.login_tokens, ctx.now_ms);
    let token = format!("syl_{}", ctx.state.random_string(32));
    let expires_at_ms = ctx.now_ms.saturating_add(support.lifetime_ms);
    ctx.state.login_tokens.insert(token.clone(), LoginToken { user_id: caller.user_id, expires_at_ms });
    let answer = match form {
        Form::R0 => json!({ "login_token": token, "expires_in": support.lifetime_ms / 1000 }),
        Form::Stable | Form::R1 => json!({ "login_token": token, "expires_in_ms": support.lifetime_ms }),
    };
    Ok(Response::ok(answer))
}

/// Drops the tokens that have expired by `now_ms` (keeps the table small).
fn prune_expired(tokens: &mut HashMap<String, LoginToken>, now_ms: u64) {
    tokens.retain(|_, token| now_ms < token.expires_at_ms);
}
