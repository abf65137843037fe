//! Dispatch: route matching, the generic checks (method, body size, access token),
//! injected errors, then the endpoint's handler.

use crate::context::Ctx;
use crate::endpoints::route::{Auth, PathSegments, Route};
use crate::endpoints::routes_with;
use crate::request::Response;
use crate::{Fault, MatrixError};

/// Route matching, the generic checks, faults, then the handler.
pub(crate) fn dispatch(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let req = ctx.req;
    let path = PathSegments::new(&req.path);
    let mut path_known = false;
    let mut matched: Option<(&Route, Vec<String>)> = None;
    let candidates = path.count().map_or(&[][..], routes_with);
    for route in candidates {
        if let Some(params) = route.match_segments(&path) {
            path_known = true;
            if route.method == ctx.req.method {
                matched = Some((route, params));
                break;
            }
        }
    }
    if !path_known {
        return Err(MatrixError::unrecognized());
    }
    if ctx.req.method == "OPTIONS" {
        return Ok(Response::empty(204));
    }
    let Some((route, params)) = matched else {
        return Err(MatrixError::method_not_allowed());
    };
    ctx.params = params;
    if route.is_rendezvous {
        if !ctx.state.profile.rendezvous.enabled {
            return Err(MatrixError::unrecognized());
        }
    } else if ctx.req.body.len() > ctx.state.profile.max_body_bytes {
        return Err(MatrixError::too_large("Request body too large"));
    }
    match ctx.req.access_token() {
        Some(token) => match ctx.state.caller_for_token(&token) {
            Some(caller) => ctx.caller = Some(caller),
            None if route.auth != Auth::None => return Err(MatrixError::unknown_token()),
            None => {}
        },
        None if route.auth == Auth::Required => return Err(MatrixError::missing_token()),
        None => {}
    }
    if let Err(answer) = injected_error(ctx) {
        return answer;
    }
    (route.handler)(ctx)
}

/// Applies a matching [`Fault::RespondWithError`], or a matching [`Fault::LoseWrite`]
/// (`Err` with the `200 {}` that stands in for the handler's answer).
fn injected_error(ctx: &mut Ctx<'_>) -> Result<(), Result<Response, MatrixError>> {
    let req = ctx.req;
    for i in 0..ctx.state.faults.len() {
        let fault = &ctx.state.faults[i].fault;
        if !fault.matches_request(&req.method, &req.path) || !fault.applies_to(ctx.caller.as_ref()) {
            continue;
        }
        if !ctx.state.faults[i].take() {
            continue;
        }
        let fault = ctx.state.faults[i].fault.clone();
        ctx.fire(&fault);
        match fault {
            Fault::RespondWithError { status, errcode, error, .. } => {
                return Err(Err(MatrixError::new(status, &errcode, error)))
            }
            Fault::LoseWrite { .. } => return Err(Ok(Response::ok(serde_json::json!({})))),
            _ => {}
        }
    }
    Ok(())
}
