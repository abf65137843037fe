//! The HTTP shell: axum in front of the core, plus the long-poll of `/sync`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body as AxumBody;
use axum::extract::State as AxumState;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::Router;

use crate::core::Handled;
use crate::cors::CORS_HEADERS;
use crate::{Homeserver, MatrixError, Request, Response};

/// The most the shell reads of any body; the core applies the profile's smaller limits.
const HARD_BODY_LIMIT: usize = 1 << 20;

/// The path of the journal for out-of-process users of the binary.
pub(crate) const JOURNAL_PATH: &str = "/_harness/journal";

/// The axum router serving a core.
pub(crate) fn router(core: Arc<Homeserver>) -> Router {
    Router::new().fallback(serve).with_state(core)
}

async fn serve(
    AxumState(core): AxumState<Arc<Homeserver>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, HARD_BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => return to_axum(MatrixError::too_large("Request body too large").into()),
    };
    let mut req = Request::new(parts.method.as_str(), parts.uri.path());
    req.query = parts.uri.query().unwrap_or("").to_owned();
    req.headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned())
        })
        .collect();
    req.body = bytes.to_vec();

    if req.path == JOURNAL_PATH && req.method == "GET" {
        let journal = serde_json::to_value(core.journal()).unwrap_or_default();
        return to_axum(Response::ok(serde_json::json!({ "journal": journal })));
    }
    to_axum(handle_with_long_poll(&core, &req).await)
}

/// Handles a request; an empty `/sync` with a timeout waits until something arrives
/// for it or the timeout passes, then answers.
pub(crate) async fn handle_with_long_poll(core: &Homeserver, req: &Request) -> Response {
    let changed = core.changed();
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let notified = changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let allow_wait = deadline.is_none_or(|d| tokio::time::Instant::now() < d);
        match core.handle_request(req, allow_wait) {
            Handled::Response(response) => return response,
            Handled::WouldBlock { timeout_ms } => {
                let until = *deadline
                    .get_or_insert_with(|| tokio::time::Instant::now() + Duration::from_millis(timeout_ms));
                // Wake on news, at the deadline, or every 50 ms so that delayed
                // deliveries (a clock-driven fault) are picked up.
                let tick = tokio::time::Instant::now() + Duration::from_millis(50);
                tokio::select! {
                    _ = &mut notified => {}
                    _ = tokio::time::sleep_until(until.min(tick)) => {}
                }
            }
        }
    }
}

fn to_axum(response: Response) -> axum::response::Response {
    let wire = response.into_wire();
    let status = StatusCode::from_u16(wire.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = axum::response::Response::new(AxumBody::from(wire.body));
    *out.status_mut() = status;
    let headers = out.headers_mut();
    let extra = wire.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    for (name, value) in extra.chain(CORS_HEADERS) {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::from_str(value)) {
            if !headers.contains_key(&name) {
                headers.insert(name, value);
            }
        }
    }
    out
}
