//! Time as the server sees it: a clock the caller controls.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The calendar origin of a virtual clock: 2024-01-01T00:00:00Z as Unix milliseconds.
/// Fixed, so that the dates a virtual run shows are the same on every run.
pub const FIXED_ORIGIN_UNIX_MS: u64 = 1_704_067_200_000;

/// A source of the current time in milliseconds since the server started.
///
/// The server reads time only through this trait, so a runner can make expiry
/// (login tokens, rendezvous sessions) and journal timestamps deterministic.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds elapsed since the clock's origin.
    fn now_ms(&self) -> u64;

    /// The clock's origin as a calendar date (Unix milliseconds), for the dates the
    /// server writes in headers (`Expires`, `Last-Modified`): the date of a reading
    /// `t` is `origin_unix_ms() + t`. By default [`FIXED_ORIGIN_UNIX_MS`].
    fn origin_unix_ms(&self) -> u64 {
        FIXED_ORIGIN_UNIX_MS
    }
}

/// The wall clock: milliseconds since the clock was created, and calendar dates
/// that are the wall clock's (clients compare them with their own clock).
#[derive(Debug)]
pub struct SystemClock {
    origin: Instant,
    origin_unix_ms: u64,
}

impl SystemClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let origin_unix_ms = u64::try_from(since_epoch.as_millis()).unwrap_or(FIXED_ORIGIN_UNIX_MS);
        Self { origin: Instant::now(), origin_unix_ms }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn origin_unix_ms(&self) -> u64 {
        self.origin_unix_ms
    }
}

/// A clock that only moves when told to. Clones share the same time. Its calendar
/// origin is [`FIXED_ORIGIN_UNIX_MS`].
///
/// ```
/// use mock_homeserver::{Clock, ManualClock};
/// let clock = ManualClock::new();
/// clock.advance_ms(1500);
/// assert_eq!(clock.now_ms(), 1500);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    now: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward.
    pub fn advance_ms(&self, ms: u64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock to an absolute value (it may go backwards; use with care).
    pub fn set_ms(&self, ms: u64) {
        self.now.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
}
