//! The MSC3886 rendezvous (docs/protocol.md §3): `POST` creates a session, `PUT` replaces
//! its payload, `GET` reads it (or `304`), `DELETE` ends it. No authentication.
//!
//! Behaviour follows [`crate::RendezvousProfile`]:
//! * `ETag`: `"` + base64url-with-padding SHA-256 of the payload + `"` (RHRS), or a
//!   fresh value per write with `unique_etags`.
//! * `If-Match` on `PUT`: optional (RHRS; `*` and lists are understood), or required,
//!   strong and single-valued with `require_if_match` (400 otherwise).
//! * `Expires` / `Last-Modified` are HTTP dates of the server clock's readings,
//!   dated from the clock's calendar origin ([`crate::Clock::origin_unix_ms`]): the
//!   wall clock's dates in real time (clients compare `Expires` with their own
//!   clock), fixed dates from 2024-01-01 under a manual clock, so a virtual run
//!   stays deterministic.
//! * The writer's `Content-Type` is stored per write and echoed unchanged on `200`.
//! * Every rendezvous answer carries `X-Max-Bytes` (added by [`max_bytes_header`], which the
//!   core calls for every response on a rendezvous path, including 405 and `OPTIONS`).
//!
//! Not checked: a missing `Content-Length` (400 `M_MISSING_PARAM` in the text). The
//! HTTP layer hands the core a complete body, and a chunked request is
//! indistinguishable from one with a length by the time it arrives here.
//!
//! The [`Fault::ExpireRendezvous`] fault counts the requests reaching these handlers
//! (or, with `after_writes`, only the `POST`s and `PUT`s); on the request after the
//! last counted one it expires every live session once, before that request is
//! handled, and names itself in that request's journal entry. It waits for a live
//! session: with nothing to expire it stays armed.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::route::{Auth, Handler, Route};
use crate::context::Ctx;
use crate::state::RendezvousSession;
use crate::{Fault, MatrixError, Profile, RendezvousLocation, Response};

/// The create path (the unstable prefix every deployed client uses).
pub(crate) const CREATE_PATH: &str = "/_matrix/client/unstable/org.matrix.msc3886/rendezvous";

/// The content type assumed when a writer sends none.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

pub(crate) fn routes() -> Vec<Route> {
    const SESSION_PATH: &str = "/_matrix/client/unstable/org.matrix.msc3886/rendezvous/{sessionId}";
    vec![
        rendezvous_route("POST", CREATE_PATH, create),
        rendezvous_route("PUT", SESSION_PATH, update),
        rendezvous_route("GET", SESSION_PATH, read),
        rendezvous_route("DELETE", SESSION_PATH, delete),
    ]
}

fn rendezvous_route(method: &'static str, pattern: &'static str, handler: Handler) -> Route {
    Route::new(method, pattern, Auth::None, handler).on_rendezvous()
}

/// The `X-Max-Bytes` every answer on a rendezvous path carries while the rendezvous is
/// on, unless the handler set it: `None` when the header is not to be added.
pub(crate) fn max_bytes_header(profile: &Profile, path: &str, response: &Response) -> Option<String> {
    let on_rendezvous =
        path == CREATE_PATH || path.strip_prefix(CREATE_PATH).is_some_and(|rest| rest.starts_with('/'));
    if !on_rendezvous || !profile.rendezvous.enabled || response.header("x-max-bytes").is_some() {
        return None;
    }
    Some(profile.rendezvous.max_bytes.to_string())
}

fn create(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    before_request(ctx);
    check_size(ctx)?;
    let profile = ctx.state.profile.rendezvous.clone();
    let id = ctx.state.random_string(26);
    let mut session = RendezvousSession {
        data: Vec::new(),
        content_type: String::new(),
        etag: String::new(),
        last_modified_ms: ctx.now_ms,
        expires_at_ms: ctx.now_ms.saturating_add(profile.ttl_ms),
        writes: 0,
    };
    write(ctx, &mut session);
    let location = match profile.location {
        RendezvousLocation::Absolute => format!("{}{CREATE_PATH}/{id}", ctx.base_url),
        RendezvousLocation::BareId => id.clone(),
    };
    let response = with_session_headers(Response::empty(201), &session, ctx.origin_unix_ms)
        .with_header("location", location);
    ctx.state.rendezvous.insert(id, session);
    Ok(response)
}

fn update(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    before_request(ctx);
    check_size(ctx)?;
    let id = ctx.param(0).to_owned();
    let mut session = live_session(ctx, &id)?;
    let if_match = ctx.req.header("if-match").map(str::trim);
    if ctx.state.profile.rendezvous.require_if_match {
        match if_match {
            None => return Err(MatrixError::missing_param("Missing If-Match header")),
            Some(value) if !is_strong_single_etag(value) => {
                return Err(MatrixError::invalid_param("If-Match must be a single strong ETag"));
            }
            Some(_) => {}
        }
    }
    if let Some(value) = if_match {
        let matches = value == "*" || value.split(',').any(|tag| tag.trim() == session.etag);
        if !matches {
            let error = MatrixError::new(412, "M_CONCURRENT_WRITE", "The rendezvous session has changed");
            return Ok(with_session_headers(Response::from(error), &session, ctx.origin_unix_ms));
        }
    }
    write(ctx, &mut session);
    if ctx.state.profile.rendezvous.extend_on_put {
        session.expires_at_ms = ctx.now_ms.saturating_add(ctx.state.profile.rendezvous.ttl_ms);
    }
    let response = with_session_headers(Response::empty(202), &session, ctx.origin_unix_ms);
    ctx.state.rendezvous.insert(id, session);
    Ok(response)
}

fn read(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    before_request(ctx);
    let id = ctx.param(0).to_owned();
    let session = live_session(ctx, &id)?;
    let not_modified = ctx.req.header("if-none-match").is_some_and(|value| {
        value.split(',').map(str::trim).any(|tag| tag == "*" || weak_eq(tag, &session.etag))
    });
    let response = if not_modified {
        Response::empty(304)
    } else {
        Response {
            status: 200,
            headers: Vec::new(),
            body: crate::Body::Bytes {
                content_type: session.content_type.clone(),
                data: session.data.clone(),
            },
        }
    };
    Ok(with_session_headers(response, &session, ctx.origin_unix_ms))
}

fn delete(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    before_request(ctx);
    let id = ctx.param(0).to_owned();
    live_session(ctx, &id)?;
    ctx.state.rendezvous.remove(&id);
    Ok(Response::empty(204))
}

/// Counts the request for [`Fault::ExpireRendezvous`] and drops expired sessions.
fn before_request(ctx: &mut Ctx<'_>) {
    for i in 0..ctx.state.faults.len() {
        let active = &mut ctx.state.faults[i];
        let Fault::ExpireRendezvous { after_requests, after_writes } = active.fault else {
            continue;
        };
        if active.remaining == Some(0) {
            continue;
        }
        let limit = after_writes.unwrap_or(after_requests);
        if active.seen < limit {
            let counted = after_writes.is_none() || matches!(ctx.req.method.as_str(), "POST" | "PUT");
            if counted {
                active.seen += 1;
            }
            continue;
        }
        let now = ctx.now_ms;
        if !ctx.state.rendezvous.values().any(|session| session.expires_at_ms > now) {
            // Nothing to expire yet (e.g. with a count of 0, the creating POST):
            // the fault stays armed for the next request.
            continue;
        }
        active.remaining = Some(0);
        let fault = active.fault.clone();
        for session in ctx.state.rendezvous.values_mut() {
            session.expires_at_ms = session.expires_at_ms.min(ctx.now_ms);
        }
        ctx.fire(&fault);
    }
    let now = ctx.now_ms;
    ctx.state.rendezvous.retain(|_, session| session.expires_at_ms > now);
}

/// 413 when the payload is larger than the profile allows.
fn check_size(ctx: &Ctx<'_>) -> Result<(), MatrixError> {
    let max = ctx.state.profile.rendezvous.max_bytes;
    if ctx.req.body.len() > max {
        return Err(MatrixError::too_large(format!("Payload too large: the limit is {max} bytes")));
    }
    Ok(())
}

/// A copy of a live session, or 404.
fn live_session(ctx: &Ctx<'_>, id: &str) -> Result<RendezvousSession, MatrixError> {
    ctx.state
        .rendezvous
        .get(id)
        .filter(|session| session.expires_at_ms > ctx.now_ms)
        .cloned()
        .ok_or_else(|| MatrixError::not_found("Rendezvous session not found"))
}

/// Stores this request's payload and content type in the session and renews its ETag.
fn write(ctx: &mut Ctx<'_>, session: &mut RendezvousSession) {
    session.data = ctx.req.body.clone();
    session.content_type = ctx.req.header("content-type").unwrap_or(DEFAULT_CONTENT_TYPE).to_owned();
    session.last_modified_ms = ctx.now_ms;
    session.writes += 1;
    session.etag = if ctx.state.profile.rendezvous.unique_etags {
        format!("\"{}-{}\"", ctx.state.random_string(12), session.writes)
    } else {
        let digest = Sha256::digest(&session.data);
        format!("\"{}\"", base64::engine::general_purpose::URL_SAFE.encode(digest))
    };
}

fn with_session_headers(response: Response, session: &RendezvousSession, origin_unix_ms: u64) -> Response {
    let date = |clock_ms: u64| http_date(origin_unix_ms.saturating_add(clock_ms) / 1000);
    response
        .with_header("etag", session.etag.clone())
        .with_header("expires", date(session.expires_at_ms))
        .with_header("last-modified", date(session.last_modified_ms))
}

/// A strong, single entity tag: `"..."` with no `W/`, no list, no `*`.
fn is_strong_single_etag(value: &str) -> bool {
    value.len() >= 2
        && value.starts_with('"')
        && value.ends_with('"')
        && !value[1..value.len() - 1].contains('"')
}

/// Weak comparison (RFC 9110 §8.8.3.2): equal once any `W/` is removed.
fn weak_eq(a: &str, b: &str) -> bool {
    a.strip_prefix("W/").unwrap_or(a) == b.strip_prefix("W/").unwrap_or(b)
}

/// The IMF-fixdate (`Mon, 01 Jan 2024 00:00:00 GMT`) of a Unix time in seconds.
pub(crate) fn http_date(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {day:02} {} {year:04} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31) (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::http_date;

    const JAN_2024: u64 = 1_704_067_200;

    #[test]
    fn http_dates_are_imf_fixdates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(JAN_2024), "Mon, 01 Jan 2024 00:00:00 GMT");
        assert_eq!(http_date(JAN_2024 + 60), "Mon, 01 Jan 2024 00:01:00 GMT");
        // 2024 is a leap year: day 59 is 29 February.
        assert_eq!(http_date(JAN_2024 + 59 * 86_400 + 3_723), "Thu, 29 Feb 2024 01:02:03 GMT");
        assert_eq!(http_date(JAN_2024 + 366 * 86_400), "Wed, 01 Jan 2025 00:00:00 GMT");
    }
}
