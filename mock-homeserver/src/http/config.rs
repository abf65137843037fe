//! What the HTTP shell is told: its limits and who may use the harness API.

use std::time::Duration;

/// Limits that keep a long-running server reachable whatever its clients do.
///
/// ```
/// use std::time::Duration;
/// use mock_homeserver::HttpLimits;
/// let limits = HttpLimits { header_read_timeout: Duration::from_secs(2), ..HttpLimits::default() };
/// assert_eq!(limits.max_connections, 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// How long a client may take to send a request's headers; a connection that
    /// sends none for this long (including an idle keep-alive connection) is closed.
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request's body, once its headers are in;
    /// after that it gets `408` and the connection is closed.
    pub body_read_timeout: Duration,
    /// The most connections served at once. A connection beyond it is answered `503`
    /// and closed at once, so that the listener keeps accepting. The server also
    /// keeps this below its open-file limit.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    /// 10 s for headers, 10 s for a body, 1,024 connections.
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

/// Who may use the harness API under `/_harness/` (the journal, faults): it holds
/// every password, access token and to-device payload the server has seen.
///
/// In every mode the API carries no CORS headers and refuses any request with an
/// `Origin` header, so a web page open in a browser on the same machine can neither
/// read it nor change it (see `docs/mock-homeserver.md`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HarnessAccess {
    /// Not served: every `/_harness/` path answers `404`. The library's default (a
    /// program that embeds the server reads its journal in-process).
    #[default]
    Closed,
    /// Served to requests with `Authorization: Bearer <token>`. The `mock-homeserver`
    /// binary's default, with a random token it prints at start.
    Token(String),
    /// Served to any local program (`--expose-journal`): requests must name a loopback
    /// or IP-literal host in `Host`, which stops a DNS-rebinding web page.
    Open,
}
