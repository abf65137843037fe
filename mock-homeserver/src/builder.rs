//! Starting a server on a loopback port, and the handle that controls it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::http::{self, Shared};
use crate::{
    Clock, Fault, HarnessAccess, Homeserver, HttpLimits, JournalEntry, JournalLimit, Profile, SystemClock,
};

/// Configures a [`MockHomeserver`] before it starts.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use mock_homeserver::{Fault, MockHomeserver, Profile};
/// let server = MockHomeserver::builder()
///     .profile(Profile::legacy())
///     .seed(42)
///     .fault(Fault::DropToDevice { event_type: "m.secret.request".into(), seen_by: None })
///     .start()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Builder {
    profile: Profile,
    seed: u64,
    clock: Arc<dyn Clock>,
    faults: Vec<Fault>,
    listen: SocketAddr,
    journal_limit: JournalLimit,
    limits: HttpLimits,
    access: HarnessAccess,
}

impl Builder {
    /// The server profile (default: [`Profile::default`]).
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// The seed of the server's randomness (tokens, device and session IDs).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The clock the server reads (default: the wall clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A fault active from the first request.
    pub fn fault(mut self, fault: Fault) -> Self {
        self.faults.push(fault);
        self
    }

    /// The address to bind (default `127.0.0.1:0`, a free loopback port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// How much journal to keep (default: everything, [`JournalLimit::UNLIMITED`]).
    /// A server that runs for long should keep less, e.g. [`JournalLimit::STANDALONE`].
    pub fn journal_limit(mut self, limit: JournalLimit) -> Self {
        self.journal_limit = limit;
        self
    }

    /// How long a client may take to send a request's headers (default 10 s); an idle
    /// keep-alive connection is closed after the same time.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.limits.header_read_timeout = timeout;
        self
    }

    /// How long a client may take to send a request's body (default 10 s).
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.limits.body_read_timeout = timeout;
        self
    }

    /// The most connections served at once (default 1,024); more are refused with `503`.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.limits.max_connections = max;
        self
    }

    /// Who may use the harness API under `/_harness/` (default: nobody,
    /// [`HarnessAccess::Closed`]; the journal is read in-process with
    /// [`MockHomeserver::journal`]).
    pub fn harness_access(mut self, access: HarnessAccess) -> Self {
        self.access = access;
        self
    }

    /// Binds the socket and starts serving on the current tokio runtime.
    pub async fn start(self) -> std::io::Result<MockHomeserver> {
        let core = Arc::new(Homeserver::with_clock(self.profile, self.seed, self.clock));
        core.set_journal_limit(self.journal_limit);
        for fault in self.faults {
            core.add_fault(fault);
        }
        let listener = tokio::net::TcpListener::bind(self.listen).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        core.set_base_url(&base_url);
        let (stop, stopped) = watch::channel(());
        let shared = Arc::new(Shared { core: core.clone(), limits: self.limits, access: self.access });
        let task = tokio::spawn(http::serve(listener, shared, stopped));
        Ok(MockHomeserver { core, base_url, addr, stop: Some(stop), task })
    }
}

/// A running mock homeserver. Dropping it stops the server.
#[derive(Debug)]
pub struct MockHomeserver {
    core: Arc<Homeserver>,
    base_url: String,
    addr: SocketAddr,
    stop: Option<watch::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl MockHomeserver {
    /// A builder with the default profile, seed 0 and the wall clock on `127.0.0.1:0`.
    pub fn builder() -> Builder {
        Builder {
            profile: Profile::default(),
            seed: 0,
            clock: Arc::new(SystemClock::new()),
            faults: Vec::new(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            journal_limit: JournalLimit::UNLIMITED,
            limits: HttpLimits::default(),
            access: HarnessAccess::Closed,
        }
    }

    /// The base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The core, to drive or inspect directly.
    pub fn core(&self) -> &Arc<Homeserver> {
        &self.core
    }

    /// A copy of the journal so far.
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.core.journal()
    }

    /// Adds a fault from now on.
    pub fn add_fault(&self, fault: Fault) {
        self.core.add_fault(fault);
    }

    /// Expires every rendezvous session now.
    pub fn expire_rendezvous_now(&self) {
        self.core.expire_rendezvous_now();
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.core.clear_faults();
    }

    /// Stops serving and waits for the server task to end (open connections get a
    /// second to finish their request).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for MockHomeserver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}
