//! MSC3882 login tokens (protocol.md §5): the stable `POST /_matrix/client/v1/login/get_token`
//! and the unstable r1 (`.../org.matrix.msc3882/login/get_token`, `expires_in_ms`) and
//! r0 (`.../org.matrix.msc3882/login/token`, `expires_in` in seconds) forms.
//!
//! Every request needs user-interactive authentication with the caller's password,
//! never skipped; a token is good for one login until it expires.

use serde_json::json;

use super::uia::{self, PasswordOf};
use super::{Auth, Route};
use crate::core::state::LoginToken;
use crate::core::Ctx;
use crate::{MatrixError, Response};

const STABLE: &str = "/_matrix/client/v1/login/get_token";
const R1: &str = "/_matrix/client/unstable/org.matrix.msc3882/login/get_token";
const R0: &str = "/_matrix/client/unstable/org.matrix.msc3882/login/token";

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new("POST", STABLE, Auth::Required, stable),
        Route::new("POST", R1, Auth::Required, r1),
        Route::new("POST", R0, Auth::Required, r0),
    ]
}

/// Which form answered, which decides the lifetime field.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Stable,
    R1,
    R0,
}

fn stable(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    get_token(ctx, Form::Stable)
}

fn r1(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    get_token(ctx, Form::R1)
}

fn r0(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    get_token(ctx, Form::R0)
}

fn get_token(ctx: &mut Ctx<'_>, form: Form) -> Result<Response, MatrixError> {
    let support = ctx.state.profile.login_token.clone();
    let offered = match form {
        Form::Stable => support.stable,
        Form::R1 => support.r1,
        Form::R0 => support.r0,
    };
    if !offered {
        return Err(MatrixError::unrecognized());
    }
    let caller = ctx.caller()?;
    let body = ctx.req.json_object()?;
    uia::authenticate(ctx, &body, &[&["m.login.password"]], PasswordOf::User(&caller.user_id))?;
    let token = format!("lt_{}", ctx.state.random_string(24));
    let expires_at_ms = ctx.now_ms.saturating_add(support.lifetime_ms);
    ctx.state.login_tokens.insert(token.clone(), LoginToken { user_id: caller.user_id, expires_at_ms });
    Ok(Response::ok(match form {
        Form::R0 => json!({ "login_token": token, "expires_in": support.lifetime_ms / 1000 }),
        Form::Stable | Form::R1 => json!({ "login_token": token, "expires_in_ms": support.lifetime_ms }),
    }))
}
