//! Building the HTTP answers: the core's answers with their CORS headers, and the
//! shell's own (harness API, refusals) without.

use hyper::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_TYPE};
use hyper::StatusCode;
use serde_json::Value;

use super::body::ResponseBody;
use crate::core::Answer;
use crate::cors::CORS_HEADERS;
use crate::request::Body;
use crate::MatrixError;

/// An HTTP answer as the shell sends it.
pub(crate) type HttpResponse = hyper::Response<ResponseBody>;

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// The core's answer on the wire: the same status, headers (`Content-Type` from the
/// body, the handler's headers, the CORS headers, `X-Max-Bytes`; each name once, the
/// first wins) and body bytes as [`crate::Response::into_wire`] of what
/// [`crate::Homeserver::handle_request`] returns.
pub(crate) fn from_answer(answer: Answer) -> HttpResponse {
    let Answer { response, wire_body, x_max_bytes } = answer;
    let mut out = hyper::Response::new(ResponseBody::full(wire_body));
    *out.status_mut() = status(response.status);
    let headers = out.headers_mut();
    match &response.body {
        Body::Empty => {}
        Body::Json(_) => {
            headers.insert(CONTENT_TYPE, APPLICATION_JSON);
        }
        Body::Bytes { content_type, .. } => {
            if let Ok(value) = HeaderValue::from_str(content_type) {
                headers.insert(CONTENT_TYPE, value);
            }
        }
    }
    for (name, value) in response.headers {
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::try_from(value))
        else {
            continue;
        };
        if !headers.contains_key(&name) {
            headers.insert(name, value);
        }
    }
    for (name, value) in CORS_HEADERS {
        let name = HeaderName::from_static(name);
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    if let Some(value) = x_max_bytes.and_then(|v| HeaderValue::try_from(v).ok()) {
        headers.entry(HeaderName::from_static("x-max-bytes")).or_insert(value);
    }
    out
}

/// A JSON answer of the shell itself: no CORS headers.
pub(crate) fn json(status_code: u16, value: &Value) -> HttpResponse {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let mut out = hyper::Response::new(ResponseBody::full(bytes));
    *out.status_mut() = status(status_code);
    out.headers_mut().insert(CONTENT_TYPE, APPLICATION_JSON);
    out
}

/// A Matrix error of the shell itself: no CORS headers.
pub(crate) fn error(error: &MatrixError) -> HttpResponse {
    json(error.status, &error.body())
}

/// A Matrix error of the Matrix API (with its CORS headers) after which the
/// connection is closed: the request was not read to its end.
pub(crate) fn error_and_close(matrix_error: &MatrixError) -> HttpResponse {
    let mut out = error(matrix_error);
    let headers = out.headers_mut();
    for (name, value) in CORS_HEADERS {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    out
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
