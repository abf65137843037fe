//! One route of the table: method, path pattern, authentication and handler.

use crate::context::Ctx;
use crate::{MatrixError, Response};

/// Whether a route needs an access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// Never looks at a token (a token that is sent is still resolved if valid).
    None,
    /// Uses the caller when a valid token is sent.
    Optional,
    /// `M_MISSING_TOKEN` / `M_UNKNOWN_TOKEN` without a valid token.
    Required,
}

/// A handler: the request context in, a response or a Matrix error out.
pub(crate) type Handler = fn(&mut Ctx<'_>) -> Result<Response, MatrixError>;

/// One route: method, path pattern with `{param}` segments, authentication, handler.
pub(crate) struct Route {
    pub method: &'static str,
    pub pattern: &'static str,
    pub auth: Auth,
    pub handler: Handler,
    /// Rendezvous routes have their own size limit and switch.
    pub is_rendezvous: bool,
}

impl Route {
    /// A route that is not part of the rendezvous.
    pub const fn new(method: &'static str, pattern: &'static str, auth: Auth, handler: Handler) -> Self {
        Self { method, pattern, auth, handler, is_rendezvous: false }
    }

    /// Matches a request path; returns the percent-decoded parameters.
    pub fn match_path(&self, path: &str) -> Option<Vec<String>> {
        let mut params = Vec::new();
        let mut want = self.pattern.split('/');
        let mut got = path.split('/');
        loop {
            match (want.next(), got.next()) {
                (None, None) => return Some(params),
                (Some(w), Some(g)) if w.starts_with('{') => {
                    if g.is_empty() {
                        return None;
                    }
                    params.push(percent_decode(g)?);
                }
                (Some(w), Some(g)) if w == g => {}
                _ => return None,
            }
        }
    }
}

fn percent_decode(segment: &str) -> Option<String> {
    let decoded: Vec<u8> =
        url::form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned().into_bytes())?;
    String::from_utf8(decoded).ok()
}
