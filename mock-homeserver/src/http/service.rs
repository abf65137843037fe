//! One HTTP request: read its body (bounded in size and time), hand it to the harness
//! API or the core, and long-poll `/sync`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::{Body as _, Incoming};

use super::body::TrackedBody;
use super::config::{HarnessAccess, HttpLimits};
use super::harness_api::{self, HarnessRequest};
use super::idle::Busy;
use super::reply::{self, HttpResponse};
use crate::core::{Answer, Homeserver, Outcome};
use crate::request::Request;
use crate::MatrixError;

/// The most the shell reads of any body; the core applies the profile's smaller limits.
pub(crate) const HARD_BODY_LIMIT: usize = 1 << 20;

/// What every connection of one server shares.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The core.
    pub core: Arc<Homeserver>,
    /// Timeouts and caps.
    pub limits: HttpLimits,
    /// Who may use `/_harness/`.
    pub access: HarnessAccess,
}

/// Answers one request; the connection counts as busy until the answer is written.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    busy: Busy,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<TrackedBody>, Infallible> {
    Ok(answer(&shared, req).await.map(|body| TrackedBody::new(body, busy)))
}

async fn answer(shared: &Arc<Shared>, req: hyper::Request<Incoming>) -> HttpResponse {
    let (parts, body) = req.into_parts();
    let body = if body.is_end_stream() {
        Ok(Ok(Vec::new()))
    } else {
        tokio::time::timeout(shared.limits.body_read_timeout, read_body(body)).await
    };
    let body = match body {
        Ok(Ok(body)) => body,
        Ok(Err(BodyError::TooLarge)) => {
            return reply::error_and_close(&MatrixError::too_large("Request body too large"));
        }
        Ok(Err(BodyError::Malformed(error))) => {
            let cause =
                std::error::Error::source(&error).map_or_else(|| error.to_string(), ToString::to_string);
            let error = MatrixError::new(400, "M_NOT_JSON", format!("Malformed request body: {cause}"));
            return reply::error_and_close(&error);
        }
        Err(_elapsed) => {
            let error = MatrixError::new(408, "M_UNKNOWN", "Timed out reading the request body");
            return reply::error_and_close(&error);
        }
    };
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    if shared.access != HarnessAccess::Closed && path.starts_with(harness_api::PREFIX) {
        let req = HarnessRequest {
            method: parts.method.as_str(),
            path,
            query,
            headers: &parts.headers,
            body: &body,
        };
        return harness_api::serve(&shared.core, &shared.access, &req);
    }
    let req = Request {
        method: parts.method.as_str().to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned())
            })
            .collect(),
        body,
    };
    reply::from_answer(answer_with_long_poll(&shared.core, &req).await)
}

/// Why a body could not be read.
enum BodyError {
    /// Longer than [`HARD_BODY_LIMIT`].
    TooLarge,
    /// The HTTP layer could not decode it (a bad chunk size, a missing CRLF, ...).
    Malformed(hyper::Error),
}

/// Reads a whole body into one buffer of exactly its declared length, reserved once
/// the first bytes arrive (so a large body is copied once and never grows by
/// doubling, and a client that only declares a length reserves nothing).
async fn read_body(mut body: Incoming) -> Result<Vec<u8>, BodyError> {
    let hint = body.size_hint();
    if hint.lower() > HARD_BODY_LIMIT as u64 {
        return Err(BodyError::TooLarge);
    }
    let expected = hint.exact().map_or(0, |n| n as usize);
    let mut buffer: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(BodyError::Malformed)?.into_data() else {
            continue; // trailers
        };
        if buffer.len() + data.len() > HARD_BODY_LIMIT {
            return Err(BodyError::TooLarge);
        }
        if buffer.is_empty() {
            buffer.reserve_exact(expected.max(data.len()));
        }
        buffer.extend_from_slice(&data);
    }
    Ok(buffer)
}

/// Handles a request; an empty `/sync` with a timeout waits until something arrives
/// for it or the timeout passes, then answers.
async fn answer_with_long_poll(core: &Homeserver, req: &Request) -> Answer {
    // Most requests answer at once: only a request that would wait registers for news.
    let timeout_ms = match core.answer(req, true) {
        Outcome::Answered(answer) => return answer,
        Outcome::WouldBlock(timeout_ms) => timeout_ms,
    };
    let changed = core.changed();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(timeout_ms);
    loop {
        // Registered before asking again, so news between the two is not missed.
        let notified = changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let allow_wait = tokio::time::Instant::now() < deadline;
        match core.answer(req, allow_wait) {
            Outcome::Answered(answer) => return answer,
            Outcome::WouldBlock(_) => {
                // Wake on news, at the deadline, or every 50 ms so that delayed
                // deliveries (a clock-driven fault) are picked up.
                let tick = tokio::time::Instant::now() + Duration::from_millis(50);
                tokio::select! {
                    _ = &mut notified => {}
                    _ = tokio::time::sleep_until(deadline.min(tick)) => {}
                }
            }
        }
    }
}
