//! The CORS headers of the Matrix API.

/// The CORS headers every Matrix API answer carries (MSC3886 2023 text, docs/protocol.md §3.3). The
/// harness API under `/_harness/` carries none, so that no web page can read it.
pub(crate) const CORS_HEADERS: [(&str, &str); 4] = [
    ("access-control-allow-origin", "*"),
    ("access-control-allow-methods", "GET,PUT,POST,DELETE,OPTIONS"),
    ("access-control-allow-headers", "Authorization,Content-Type,If-Match,If-None-Match,X-Requested-With"),
    ("access-control-expose-headers", "ETag,Location,X-Max-Bytes"),
];
