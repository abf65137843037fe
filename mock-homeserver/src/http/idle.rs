//! The header-read timeout of a connection, kept by a watchdog that looks every
//! quarter of the timeout, instead of a timer set and dropped for every request.
//!
//! A connection is *idle* from its start, and from the moment the answer to its last
//! request has been written (or dropped), until the service is called for its next
//! request, that is until that request's headers are in. Idle for longer than the
//! timeout, it is closed: this covers half-sent headers and idle keep-alive
//! connections alike, as hyper's own `header_read_timeout` does.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the watchdog of one connection sees.
#[derive(Debug)]
pub(crate) struct Activity {
    start: Instant,
    /// Milliseconds after `start` at which the connection last became idle.
    idle_since_ms: AtomicU64,
    /// Requests in the service or whose answer is still being written.
    busy: AtomicUsize,
}

impl Activity {
    /// A connection that starts now, idle.
    pub fn new() -> Arc<Self> {
        Arc::new(Self { start: Instant::now(), idle_since_ms: AtomicU64::new(0), busy: AtomicUsize::new(0) })
    }

    /// A request's headers are in: busy until the returned guard is dropped.
    pub fn begin(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }

    /// Whether the connection has been idle for longer than `timeout`.
    pub fn overdue(&self, timeout: Duration) -> bool {
        if self.busy.load(Ordering::Acquire) > 0 {
            return false;
        }
        let idle_since = Duration::from_millis(self.idle_since_ms.load(Ordering::Acquire));
        self.start.elapsed().saturating_sub(idle_since) > timeout
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// Marks a request as in progress; dropping it makes the connection idle again.
#[derive(Debug)]
pub(crate) struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        // The idle time first, so the watchdog never pairs "not busy" with an old one.
        self.0.idle_since_ms.store(self.0.now_ms(), Ordering::Release);
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How often the watchdog looks: a quarter of the timeout, at least every 10 ms.
pub(crate) fn check_interval(timeout: Duration) -> Duration {
    (timeout / 4).max(Duration::from_millis(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_connections_are_never_overdue_and_idle_ones_are_after_the_timeout() {
        let activity = Activity::new();
        assert!(!activity.overdue(Duration::from_secs(60)));
        assert!(activity.overdue(Duration::ZERO) || activity.start.elapsed().is_zero());
        let busy = activity.begin();
        assert!(!activity.overdue(Duration::ZERO), "a request in progress");
        let second = activity.begin();
        drop(busy);
        assert!(!activity.overdue(Duration::ZERO), "a pipelined request still in progress");
        drop(second);
        assert!(!activity.overdue(Duration::from_secs(60)), "idle again, from now");
        assert_eq!(check_interval(Duration::from_secs(10)), Duration::from_millis(2500));
        assert_eq!(check_interval(Duration::from_millis(1)), Duration::from_millis(10));
    }
}
