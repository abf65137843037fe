//! The thin async shell: performs a role's steps over real HTTP in real time.
//!
//! The conformance runner has its own deterministic driver with a virtual clock; this
//! one is for running a simulated device against any homeserver, and for the adapter
//! protocol.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::events::{Abort, DeviceEvent, Outcome};
use crate::io::{Command, HttpRequest, HttpResponse, HttpResult, Step, TransportError};
use crate::role::Role;

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

/// Drives `role` in real time until it is done or `deadline` has passed.
///
/// Every event is passed to `on_event` as it happens. Commands for
/// [`Step::AwaitCommand`] come from `commands`. Returns the outcome: the role's own,
/// or a timeout error when the deadline passed first.
pub async fn run(
    role: &mut dyn Role,
    executor: &HttpExecutor,
    commands: &mut mpsc::Receiver<Command>,
    deadline: Duration,
    mut on_event: impl FnMut(&DeviceEvent),
) -> Outcome {
    let started = Instant::now();
    let now = |started: Instant| u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut outcome = None;
    let mut step = role.start(now(started));
    loop {
        for event in role.take_events() {
            if let DeviceEvent::Finished(o) = &event {
                outcome = Some(o.clone());
            }
            on_event(&event);
        }
        let remaining = deadline.saturating_sub(started.elapsed());
        if matches!(step, Step::Done) {
            break;
        }
        if remaining.is_zero() {
            break;
        }
        step = match step {
            Step::Done => break,
            Step::Http(request) => match tokio::time::timeout(remaining, executor.execute(&request)).await {
                Ok(result) => role.on_http(now(started), result),
                Err(_) => break,
            },
            Step::Sleep { ms } => {
                tokio::time::sleep(Duration::from_millis(ms).min(remaining)).await;
                role.on_wake(now(started))
            }
            Step::AwaitCommand => match tokio::time::timeout(remaining, commands.recv()).await {
                Ok(Some(command)) => role.on_command(now(started), command),
                Ok(None) | Err(_) => break,
            },
        };
    }
    outcome.unwrap_or(Outcome::Error {
        reason: Abort::Timeout { what: format!("the role to finish within {} ms", deadline.as_millis()) },
    })
}
