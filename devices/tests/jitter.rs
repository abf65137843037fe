//! The real-time scheduler's jitter: random delays before the simulated roles'
//! requests, drawn from a seed. Tokio's paused clock makes every delay exact, so the
//! moments at which the requests leave are facts, not measurements.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use devices::engine::real_time::{self, External, Jitter, NoExternal, Options};
use devices::engine::{Executor, Marking, Observer, RunEnd, Seat, User};
use devices::{Command, DeviceEvent, HttpRequest, HttpResponse, HttpResult, Outcome, Role, RoleKind, Step};
use tokio::time::Instant;

const REQUESTS: usize = 8;

/// A role that sends `REQUESTS` requests one after the other, then ends.
struct Sequential {
    sent: usize,
    events: Vec<DeviceEvent>,
}

impl Sequential {
    fn request(&mut self) -> Step {
        self.sent += 1;
        Step::Http(HttpRequest::new("GET", format!("http://hs.invalid/{}", self.sent)))
    }
}

impl Role for Sequential {
    fn start(&mut self, _now_ms: u64) -> Step {
        self.request()
    }

    fn on_http(&mut self, _now_ms: u64, _result: HttpResult) -> Step {
        if self.sent < REQUESTS {
            return self.request();
        }
        self.events.push(DeviceEvent::Finished(Outcome::Success));
        Step::Done
    }

    fn on_wake(&mut self, _now_ms: u64) -> Step {
        Step::Done
    }

    fn on_command(&mut self, _now_ms: u64, _command: Command) -> Step {
        Step::Done
    }

    fn take_events(&mut self) -> Vec<DeviceEvent> {
        std::mem::take(&mut self.events)
    }
}

/// Answers every request at once with an empty 200, noting when it arrived.
#[derive(Clone)]
struct Clocked {
    started: Instant,
    arrivals: Arc<Mutex<Vec<Duration>>>,
}

impl Executor for Clocked {
    fn execute(&self, _request: &HttpRequest) -> impl std::future::Future<Output = HttpResult> + Send {
        let arrivals = self.arrivals.clone();
        let at = self.started.elapsed();
        async move {
            arrivals.lock().unwrap().push(at);
            Ok(HttpResponse { status: 200, headers: Vec::new(), body: b"{}".to_vec() })
        }
    }
}

struct Ignore;

impl Observer for Ignore {
    type Report = ();
    fn device_event(&mut self, _role: RoleKind, _event: &DeviceEvent) {}
}

/// The moments (ms since the start) at which the role's requests reached the
/// executor, under `jitter`.
async fn arrivals(jitter: Option<Jitter>) -> Vec<u128> {
    let executor = Clocked { started: Instant::now(), arrivals: Arc::default() };
    let mut role = Sequential { sent: 0, events: Vec::new() };
    let options = Options { deadline: Duration::from_secs(60), marking: Marking::None, jitter };
    let end = real_time::run(
        vec![Seat::borrowed(RoleKind::Registrar, &mut role)],
        None::<External<'_, NoExternal>>,
        User::absent(),
        executor.clone(),
        &mut Ignore,
        None,
        options,
    )
    .await;
    assert_eq!(end, RunEnd::AllDone);
    let arrivals = executor.arrivals.lock().unwrap().iter().map(Duration::as_millis).collect::<Vec<_>>();
    assert_eq!(arrivals.len(), REQUESTS);
    arrivals
}

#[tokio::test(start_paused = true)]
async fn without_jitter_every_request_leaves_at_once() {
    assert_eq!(arrivals(None).await, vec![0; REQUESTS]);
}

#[tokio::test(start_paused = true)]
async fn jitter_delays_each_request_by_at_most_its_bound_and_the_seed_fixes_the_delays() {
    let jitter = Jitter { max_ms: 100, seed: 7 };
    let first = arrivals(Some(jitter)).await;
    let delays: Vec<u128> =
        first.iter().scan(0, |last, at| Some(at - std::mem::replace(last, *at))).collect();
    assert!(delays.iter().all(|d| *d <= 100), "a delay beyond 100 ms: {delays:?}");
    assert!(delays.iter().filter(|d| **d > 0).count() >= REQUESTS / 2, "hardly delayed: {delays:?}");
    assert_eq!(arrivals(Some(jitter)).await, first, "the same seed gives the same delays");
    let other = arrivals(Some(Jitter { seed: 8, ..jitter })).await;
    assert_ne!(other, first, "another seed gives other delays");
}
