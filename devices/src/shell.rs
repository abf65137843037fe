//! The thin async shell: one role against any homeserver, over real HTTP, in real
//! time (what `conformance device` runs behind the adapter protocol).
//!
//! The loop itself is the engine's ([`crate::engine::real_time`]); this module adds
//! the reqwest [`HttpExecutor`] and the outcome of a lone role.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::engine::{self, Marking, Observer, RunEnd, Seat, User};
use crate::events::{Abort, DeviceEvent, Outcome};
use crate::io::{Command, HttpRequest, HttpResponse, HttpResult, TransportError};
use crate::role::{Role, RoleKind};

/// Performs [`HttpRequest`]s with reqwest, each bounded by a timeout.
#[derive(Debug, Clone)]
pub struct HttpExecutor {
    client: reqwest::Client,
}

impl HttpExecutor {
    /// An executor whose requests each time out after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .unwrap_or_default();
        Self { client }
    }

    /// Performs one request.
    pub async fn execute(&self, request: &HttpRequest) -> HttpResult {
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|e| TransportError(format!("bad method {}: {e}", request.method)))?;
        let mut builder = self.client.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let response = builder.send().await.map_err(|e| TransportError(e.to_string()))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let body = response.bytes().await.map_err(|e| TransportError(e.to_string()))?.to_vec();
        Ok(HttpResponse { status, headers, body })
    }
}

impl Default for HttpExecutor {
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

impl engine::Executor for HttpExecutor {
    fn execute(&self, request: &HttpRequest) -> impl std::future::Future<Output = HttpResult> + Send {
        HttpExecutor::execute(self, request)
    }
}

/// Passes every event on, and keeps the outcome.
struct Forward<F> {
    on_event: F,
    outcome: Option<Outcome>,
}

impl<F: FnMut(&DeviceEvent)> Observer for Forward<F> {
    type Report = ();

    fn device_event(&mut self, _role: RoleKind, event: &DeviceEvent) {
        if let DeviceEvent::Finished(outcome) = event {
            self.outcome = Some(outcome.clone());
        }
        (self.on_event)(event);
    }
}

/// Drives `role` (playing `kind`) in real time until it is done or `deadline` has
/// passed, each request after a random delay when `jitter` is given.
///
/// Every event is passed to `on_event` as it happens. Commands for
/// [`crate::Step::AwaitCommand`] come from `commands`. Returns the outcome: the
/// role's own, or a timeout error when the deadline passed first.
pub async fn run(
    kind: RoleKind,
    role: &mut dyn Role,
    executor: &HttpExecutor,
    commands: &mut mpsc::Receiver<Command>,
    deadline: Duration,
    jitter: Option<engine::real_time::Jitter>,
    on_event: impl FnMut(&DeviceEvent),
) -> Outcome {
    let mut observer = Forward { on_event, outcome: None };
    let options = engine::real_time::Options { deadline, marking: Marking::None, jitter };
    let end = engine::real_time::run(
        vec![Seat::borrowed(kind, role)],
        None::<engine::real_time::External<'_, engine::real_time::NoExternal>>,
        User::absent(),
        executor.clone(),
        &mut observer,
        Some(engine::real_time::Inbox { role: kind, commands }),
        options,
    )
    .await;
    match (observer.outcome, end) {
        (Some(outcome), _) => outcome,
        (None, RunEnd::Runaway(why)) => Outcome::Error { reason: Abort::Timeout { what: why } },
        (None, _) => Outcome::Error {
            reason: Abort::Timeout { what: format!("the role to finish within {} ms", deadline.as_millis()) },
        },
    }
}
