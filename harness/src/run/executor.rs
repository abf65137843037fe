//! Requests of the simulated devices handed to the mock homeserver's core in process.
//!
//! The core answers exactly what its HTTP shell would send (the same
//! [`mock_homeserver::Response::into_wire`]), and the path and query are taken from the
//! URL as an HTTP client would send them, so the journal, and every snapshot, is the
//! same as over loopback TCP, only faster.

use std::future::Future;
use std::sync::Arc;

use devices::engine::Executor;
use devices::{HttpRequest, HttpResponse, HttpResult, TransportError};
use mock_homeserver::{Handled, Homeserver, Request};

/// An [`Executor`] that calls a [`Homeserver`] core directly.
#[derive(Debug, Clone)]
pub struct InProcess {
    core: Arc<Homeserver>,
}

impl InProcess {
    /// An executor for `core`.
    pub fn new(core: Arc<Homeserver>) -> Self {
        Self { core }
    }

    /// Performs one request at once (a `/sync` never waits).
    pub fn perform(&self, request: &HttpRequest) -> HttpResult {
        let url = url::Url::parse(&request.url)
            .map_err(|e| TransportError(format!("bad URL {}: {e}", request.url)))?;
        let mut req = Request::new(&request.method, url.path());
        req.query = url.query().unwrap_or("").to_owned();
        req.headers = request.headers.clone();
        req.body = request.body.clone().unwrap_or_default();
        let response = match self.core.handle_request(&req, false) {
            Handled::Response(response) => response,
            Handled::WouldBlock { .. } => {
                return Err(TransportError("the homeserver asked to wait on a request that may not".into()))
            }
        };
        let wire = response.into_wire();
        Ok(HttpResponse { status: wire.status, headers: wire.headers, body: wire.body })
    }
}

impl Executor for InProcess {
    fn execute(&self, request: &HttpRequest) -> impl Future<Output = HttpResult> + Send {
        std::future::ready(self.perform(request))
    }
}
