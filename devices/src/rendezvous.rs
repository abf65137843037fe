//! The MSC3886 rendezvous client, sans-I/O: it builds the requests and reads the
//! answers; the role decides when to send them (docs/protocol.md §3).
//!
//! ```
//! use devices::rendezvous::RendezvousClient;
//! let create = RendezvousClient::create_request("http://127.0.0.1:8008", b"{}".to_vec());
//! assert_eq!(create.method, "POST");
//! assert!(create.url.ends_with("/_matrix/client/unstable/org.matrix.msc3886/rendezvous"));
//! ```

use crate::io::{HttpRequest, HttpResult};

/// The path of the create endpoint, below the homeserver's base URL.
pub const CREATE_PATH: &str = "/_matrix/client/unstable/org.matrix.msc3886/rendezvous";

/// Why a rendezvous operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RendezvousError {
    /// 404: the session expired or was deleted (or never existed).
    #[error("rendezvous session gone (404)")]
    Gone,
    /// 412 on a write: the peer wrote since we last read.
    #[error("rendezvous write conflict (412)")]
    ConcurrentWrite,
    /// The create answer had no usable `Location`.
    #[error("rendezvous create answer without a usable Location: {0}")]
    BadLocation(String),
    /// Any other status.
    #[error("rendezvous answered {status}")]
    Status {
        /// HTTP status.
        status: u16,
    },
    /// No answer at all.
    #[error("rendezvous transport error: {0}")]
    Transport(String),
}

/// One side's view of a rendezvous session: its URL and the last ETag seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RendezvousClient {
    uri: String,
    etag: Option<String>,
}

impl RendezvousClient {
    /// The `POST` that creates a session, with a JSON body.
    pub fn create_request(homeserver: &str, body: Vec<u8>) -> HttpRequest {
        let mut request =
            HttpRequest::new("POST", format!("{}{CREATE_PATH}", homeserver.trim_end_matches('/')))
                .header("content-type", "application/json");
        request.body = Some(body);
        request
    }

    /// Reads the create answer (201 with `Location` and `ETag`) and returns the client
    /// for the new session. A relative `Location` is resolved as js-sdk does: against
    /// the create URL plus `/`.
    pub fn on_created(create_url: &str, result: HttpResult) -> Result<Self, RendezvousError> {
        let response = result.map_err(|e| RendezvousError::Transport(e.0))?;
        match response.status {
            201 => {}
            404 => return Err(RendezvousError::Gone),
            status => return Err(RendezvousError::Status { status }),
        }
        let location =
            response.header("location").ok_or_else(|| RendezvousError::BadLocation("missing".to_owned()))?;
        let base = url::Url::parse(&format!("{}/", create_url.trim_end_matches('/')))
            .map_err(|e| RendezvousError::BadLocation(format!("{create_url}: {e}")))?;
        let uri =
            base.join(location).map_err(|e| RendezvousError::BadLocation(format!("{location}: {e}")))?;
        Ok(Self { uri: uri.to_string(), etag: response.header("etag").map(str::to_owned) })
    }

    /// A client for a session someone else created (the URL from a QR code).
    pub fn join(uri: &str) -> Self {
        Self { uri: uri.to_owned(), etag: None }
    }

    /// The absolute session URL.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The last ETag seen.
    pub fn etag(&self) -> Option<&str> {
        self.etag.as_deref()
    }

    /// A `PUT` of a JSON payload, with `If-Match` once an ETag is known. (A scanner's
    /// first write has none, exactly as deployed scanners send it, docs/protocol.md §3.4.)
    pub fn send_request(&self, body: Vec<u8>) -> HttpRequest {
        let mut request =
            HttpRequest::new("PUT", self.uri.clone()).header("content-type", "application/json");
        if let Some(etag) = &self.etag {
            request = request.header("if-match", etag.clone());
        }
        request.body = Some(body);
        request
    }

    /// Reads the answer to a `PUT`: 202 stores the new ETag.
    pub fn on_sent(&mut self, result: HttpResult) -> Result<(), RendezvousError> {
        let response = result.map_err(|e| RendezvousError::Transport(e.0))?;
        match response.status {
            202 | 200 | 204 => {
                if let Some(etag) = response.header("etag") {
                    self.etag = Some(etag.to_owned());
                }
                Ok(())
            }
            404 => Err(RendezvousError::Gone),
            412 => Err(RendezvousError::ConcurrentWrite),
            status => Err(RendezvousError::Status { status }),
        }
    }

    /// A `GET` with `If-None-Match` once an ETag is known.
    pub fn receive_request(&self) -> HttpRequest {
        let mut request = HttpRequest::new("GET", self.uri.clone());
        if let Some(etag) = &self.etag {
            request = request.header("if-none-match", etag.clone());
        }
        request
    }

    /// Reads the answer to a `GET`: `Ok(Some(body))` for new data from the peer,
    /// `Ok(None)` when nothing changed (304, or a payload that is not exactly
    /// `application/json`, as deployed clients treat it).
    pub fn on_received(&mut self, result: HttpResult) -> Result<Option<Vec<u8>>, RendezvousError> {
        let response = result.map_err(|e| RendezvousError::Transport(e.0))?;
        match response.status {
            200 => {
                let previous = self.etag.clone();
                if let Some(etag) = response.header("etag") {
                    self.etag = Some(etag.to_owned());
                }
                let is_json = response.header("content-type") == Some("application/json");
                // Our own last write reads back with the ETag we already hold.
                let unchanged = previous.is_some() && previous.as_deref() == response.header("etag");
                if is_json && !unchanged && !response.body.is_empty() {
                    Ok(Some(response.body))
                } else {
                    Ok(None)
                }
            }
            304 => {
                if let Some(etag) = response.header("etag") {
                    self.etag = Some(etag.to_owned());
                }
                Ok(None)
            }
            404 => Err(RendezvousError::Gone),
            status => Err(RendezvousError::Status { status }),
        }
    }

    /// A `DELETE` of the session.
    pub fn delete_request(&self) -> HttpRequest {
        HttpRequest::new("DELETE", self.uri.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::HttpResponse;

    fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> HttpResult {
        Ok(HttpResponse {
            status,
            headers: headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
            body: body.to_vec(),
        })
    }

    const CREATE: &str = "http://hs.test/_matrix/client/unstable/org.matrix.msc3886/rendezvous";

    #[test]
    fn relative_and_absolute_locations_resolve_to_the_same_session() {
        let bare = RendezvousClient::on_created(CREATE, response(201, &[("location", "abc")], b"")).unwrap();
        let absolute = RendezvousClient::on_created(
            CREATE,
            response(201, &[("location", &format!("{CREATE}/abc"))], b""),
        )
        .unwrap();
        assert_eq!(bare.uri(), format!("{CREATE}/abc"));
        assert_eq!(bare.uri(), absolute.uri());
    }

    #[test]
    fn create_without_location_or_with_404_is_an_error() {
        assert!(matches!(
            RendezvousClient::on_created(CREATE, response(201, &[], b"")),
            Err(RendezvousError::BadLocation(_))
        ));
        assert_eq!(RendezvousClient::on_created(CREATE, response(404, &[], b"")), Err(RendezvousError::Gone));
    }

    #[test]
    fn writes_carry_if_match_and_reads_if_none_match_once_an_etag_is_known() {
        let mut client = RendezvousClient::join(&format!("{CREATE}/abc"));
        assert_eq!(
            client.send_request(b"{}".to_vec()).headers.iter().filter(|(n, _)| n == "if-match").count(),
            0
        );
        client.on_sent(response(202, &[("etag", "\"e1\"")], b"")).unwrap();
        let put = client.send_request(b"{}".to_vec());
        assert!(put.headers.contains(&("if-match".to_owned(), "\"e1\"".to_owned())));
        let get = client.receive_request();
        assert!(get.headers.contains(&("if-none-match".to_owned(), "\"e1\"".to_owned())));
    }

    #[test]
    fn reads_distinguish_new_data_nothing_new_and_gone() {
        let mut client = RendezvousClient::join(&format!("{CREATE}/abc"));
        client.on_sent(response(202, &[("etag", "\"mine\"")], b"")).unwrap();
        // Our own write read back: nothing new.
        let own = response(200, &[("etag", "\"mine\""), ("content-type", "application/json")], b"{}");
        assert_eq!(client.on_received(own), Ok(None));
        assert_eq!(client.on_received(response(304, &[("etag", "\"mine\"")], b"")), Ok(None));
        // Not exactly application/json: deployed clients treat it as no data.
        let charset =
            response(200, &[("etag", "\"x\""), ("content-type", "application/json; charset=utf-8")], b"{}");
        assert_eq!(client.on_received(charset), Ok(None));
        let peer = response(200, &[("etag", "\"peer\""), ("content-type", "application/json")], b"{\"a\":1}");
        assert_eq!(client.on_received(peer), Ok(Some(b"{\"a\":1}".to_vec())));
        assert_eq!(client.etag(), Some("\"peer\""));
        assert_eq!(client.on_received(response(404, &[], b"")), Err(RendezvousError::Gone));
        assert_eq!(client.on_sent(response(412, &[], b"")), Err(RendezvousError::ConcurrentWrite));
    }
}
