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
    /// The path pattern as written, e.g. `/_matrix/client/v3/sendToDevice/{eventType}/{txnId}`.
    pub pattern: &'static str,
    /// The path pattern split at `/`, once.
    segments: Vec<&'static str>,
    pub auth: Auth,
    pub handler: Handler,
    /// Rendezvous routes have their own size limit and switch.
    pub is_rendezvous: bool,
}

impl Route {
    /// A route that is not part of the rendezvous.
    pub fn new(method: &'static str, pattern: &'static str, auth: Auth, handler: Handler) -> Self {
        Self { method, pattern, segments: pattern.split('/').collect(), auth, handler, is_rendezvous: false }
    }

    /// How many `/`-separated segments its pattern has.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The same route as part of the rendezvous (its own size limit and switch).
    pub fn on_rendezvous(self) -> Self {
        Self { is_rendezvous: true, ..self }
    }

    /// Matches a request path, given split at `/` ([`PathSegments`]); returns the
    /// percent-decoded parameters. The literal segments are compared first, so a path
    /// of another route costs no allocation.
    pub fn match_segments(&self, path: &PathSegments<'_>) -> Option<Vec<String>> {
        let got = path.get()?;
        if got.len() != self.segments.len() {
            return None;
        }
        let mut params = 0;
        for (want, got) in self.segments.iter().zip(got) {
            if want.starts_with('{') {
                if got.is_empty() {
                    return None;
                }
                params += 1;
            } else if want != got {
                return None;
            }
        }
        let mut decoded = Vec::with_capacity(params);
        for (want, got) in self.segments.iter().zip(got) {
            if want.starts_with('{') {
                decoded.push(percent_decode(got)?);
            }
        }
        Some(decoded)
    }
}

/// The most segments a path may have to match any route (more: no route matches).
const MAX_SEGMENTS: usize = 16;

/// A request path split at `/` once, for matching against every route.
pub(crate) struct PathSegments<'a> {
    segments: [&'a str; MAX_SEGMENTS],
    /// `None` when the path has more than [`MAX_SEGMENTS`] segments.
    len: Option<usize>,
}

impl<'a> PathSegments<'a> {
    /// Splits a path.
    pub fn new(path: &'a str) -> Self {
        let mut segments = [""; MAX_SEGMENTS];
        let mut len = 0;
        for segment in path.split('/') {
            if len == MAX_SEGMENTS {
                return Self { segments, len: None };
            }
            segments[len] = segment;
            len += 1;
        }
        Self { segments, len: Some(len) }
    }

    fn get(&self) -> Option<&[&'a str]> {
        self.len.map(|len| &self.segments[..len])
    }

    /// How many segments the path has (`None`: more than any route has).
    pub fn count(&self) -> Option<usize> {
        self.len
    }
}

/// Decodes a path parameter as `application/x-www-form-urlencoded` decodes a value,
/// `+` kept literal. Without `%` or `&` that is the segment itself.
fn percent_decode(segment: &str) -> Option<String> {
    if !segment.contains(['%', '&']) {
        return Some(segment.to_owned());
    }
    let decoded: Vec<u8> =
        url::form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned().into_bytes())?;
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handler(_: &mut Ctx<'_>) -> Result<Response, MatrixError> {
        Ok(Response::empty(200))
    }

    fn params(pattern: &'static str, path: &str) -> Option<Vec<String>> {
        Route::new("GET", pattern, Auth::None, handler).match_segments(&PathSegments::new(path))
    }

    #[test]
    fn literal_segments_and_decoded_parameters() {
        let pattern = "/_matrix/client/v3/sendToDevice/{eventType}/{txnId}";
        let path = "/_matrix/client/v3/sendToDevice/m.room.encrypted/t1";
        assert_eq!(params(pattern, path), Some(vec!["m.room.encrypted".to_owned(), "t1".to_owned()]));
        let escaped = "/_matrix/client/v3/sendToDevice/m.x%2Fy/a+b%20c";
        assert_eq!(params(pattern, escaped), Some(vec!["m.x/y".to_owned(), "a+b c".to_owned()]));
        assert_eq!(params(pattern, "/_matrix/client/v3/sendToDevice/m.x/"), None, "an empty parameter");
        assert_eq!(params(pattern, "/_matrix/client/v3/sendToDevice/m.x"), None, "too short");
        assert_eq!(params(pattern, "/_matrix/client/v3/sendToDevice/m.x/1/2"), None, "too long");
        let lossy = Some(vec!["\u{FFFD}".to_owned(), "1".to_owned()]);
        assert_eq!(params(pattern, "/_matrix/client/v3/sendToDevice/%FF/1"), lossy, "not UTF-8: replaced");
        assert_eq!(params("/_matrix/client/versions", "/_matrix/client/versions"), Some(vec![]));
        let deep = "/a".repeat(40);
        assert_eq!(params("/_matrix/client/versions", &deep), None);
    }

    #[test]
    fn the_fast_path_decodes_as_the_form_decoder_does() {
        for segment in ["plain", "a+b", "with%20space", "a&b", "a=b", "%2B", "ü"] {
            let slow = url::form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned());
            assert_eq!(percent_decode(segment), slow, "{segment}");
        }
    }
}
