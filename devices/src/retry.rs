//! Rate limits: a layer that repeats a request after a `429` with `retry_after_ms`.

use serde_json::Value;

use crate::events::DeviceEvent;
use crate::io::{Command, HttpRequest, HttpResult, Step};
use crate::role::Role;

/// How many times one request is repeated after a 429.
const MAX_RETRIES: u32 = 3;
/// The longest `retry_after_ms` honoured; a longer one is passed to the role as is.
const MAX_RETRY_AFTER_MS: u64 = 5_000;

/// Wraps a role: a `429 M_LIMIT_EXCEEDED` answer is not shown to the role; the layer
/// sleeps `retry_after_ms` (default 1 s, at most 5 s) and sends the same request
/// again, up to three times. Then the role sees the 429 and decides.
#[derive(Debug)]
pub struct RetryOn429<R> {
    inner: R,
    last_request: Option<HttpRequest>,
    retries: u32,
    retrying: bool,
}

impl<R: Role> RetryOn429<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Self { inner, last_request: None, retries: 0, retrying: false }
    }

    /// The wrapped role.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    fn track(&mut self, step: Step) -> Step {
        if let Step::Http(request) = &step {
            self.last_request = Some(request.clone());
            self.retries = 0;
        }
        step
    }
}

impl<R: Role> Role for RetryOn429<R> {
    fn start(&mut self, now_ms: u64) -> Step {
        let step = self.inner.start(now_ms);
        self.track(step)
    }

    fn on_http(&mut self, now_ms: u64, result: HttpResult) -> Step {
        if let Ok(response) = &result {
            if response.status == 429 && self.retries < MAX_RETRIES && self.last_request.is_some() {
                let wait = response
                    .json_body()
                    .and_then(|b| b.get("retry_after_ms").and_then(Value::as_u64))
                    .unwrap_or(1_000);
                if wait <= MAX_RETRY_AFTER_MS {
                    self.retries += 1;
                    self.retrying = true;
                    return Step::Sleep { ms: wait };
                }
            }
        }
        let step = self.inner.on_http(now_ms, result);
        self.track(step)
    }

    fn on_wake(&mut self, now_ms: u64) -> Step {
        if std::mem::take(&mut self.retrying) {
            if let Some(request) = self.last_request.clone() {
                return Step::Http(request);
            }
        }
        let step = self.inner.on_wake(now_ms);
        self.track(step)
    }

    fn on_command(&mut self, now_ms: u64, command: Command) -> Step {
        let step = self.inner.on_command(now_ms, command);
        self.track(step)
    }

    fn take_events(&mut self) -> Vec<DeviceEvent> {
        self.inner.take_events()
    }
}
