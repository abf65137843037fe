//! A small deterministic driver for the QR-login tests: runs A and B together against
//! a mock homeserver over real HTTP, with a virtual clock shared with the server.
#![allow(dead_code)]

use std::sync::Arc;

use devices::engine::virtual_time::{self, Limits, VirtualClock};
use devices::engine::{Marking, Observer, Seat, User};
use devices::qr_login::{ExistingDevice, ExistingDeviceConfig, NewDevice, NewDeviceConfig};
use devices::shell::HttpExecutor;
use devices::{Decision, DeviceEvent, Outcome, RoleKind};
use mock_homeserver::{Fault, JournalEntry, ManualClock, MockHomeserver, Profile};

/// The password of the test account.
pub const PASSWORD: &str = "correct horse";
/// The test account's localpart.
pub const USER: &str = "alice";

/// A started server with its clock and the test account.
pub struct Env {
    pub server: MockHomeserver,
    pub clock: ManualClock,
}

impl Env {
    pub async fn start(profile: Profile, faults: Vec<Fault>) -> Env {
        let clock = ManualClock::new();
        let mut builder = MockHomeserver::builder().profile(profile).seed(1).clock(Arc::new(clock.clone()));
        for fault in faults {
            builder = builder.fault(fault);
        }
        let server = builder.start().await.expect("server starts");
        server.core().create_account(USER, PASSWORD).expect("account");
        Env { server, clock }
    }

    pub async fn default() -> Env {
        Env::start(Profile::default(), Vec::new()).await
    }

    pub fn user_id(&self) -> String {
        format!("@{USER}:{}", self.server.core().profile().server_name)
    }

    pub fn b_config(&self) -> ExistingDeviceConfig {
        let mut config = ExistingDeviceConfig::new(self.server.base_url(), USER, PASSWORD, "BBBBBBBB");
        config.seed = 2;
        config
    }

    pub fn a_config(&self) -> NewDeviceConfig {
        let mut config = NewDeviceConfig::new("AAAAAAAA");
        config.seed = 3;
        config.homeserver = self.server.base_url().to_owned();
        config
    }

    /// Journal entries of one caller device matching `method` and a path fragment.
    pub fn requests_by(&self, device: &str, method: &str, path_part: &str) -> Vec<JournalEntry> {
        self.server
            .journal()
            .into_iter()
            .filter(|e| e.method == method && e.path.contains(path_part))
            .filter(|e| e.caller.as_ref().is_some_and(|c| c.device_id == device))
            .collect()
    }
}

/// Collects each role's events.
#[derive(Default)]
struct Events {
    a: Vec<DeviceEvent>,
    b: Vec<DeviceEvent>,
}

impl Observer for Events {
    type Report = ();

    fn device_event(&mut self, role: RoleKind, event: &DeviceEvent) {
        match role {
            RoleKind::NewDevice => self.a.push(event.clone()),
            _ => self.b.push(event.clone()),
        }
    }
}

/// The server's manual clock as the engine's virtual clock.
struct Clock<'c>(&'c ManualClock);

impl VirtualClock for Clock<'_> {
    fn now_ms(&self) -> u64 {
        mock_homeserver::Clock::now_ms(self.0)
    }
    fn set_ms(&self, ms: u64) {
        self.0.set_ms(ms);
    }
}

/// What a run produced for each role.
#[derive(Debug)]
pub struct Run {
    pub a: Vec<DeviceEvent>,
    pub b: Vec<DeviceEvent>,
    pub a_secrets: std::collections::BTreeMap<String, String>,
}

impl Run {
    pub fn outcome_a(&self) -> Option<Outcome> {
        outcome(&self.a)
    }
    pub fn outcome_b(&self) -> Option<Outcome> {
        outcome(&self.b)
    }
}

pub fn outcome(events: &[DeviceEvent]) -> Option<Outcome> {
    events.iter().find_map(|e| match e {
        DeviceEvent::Finished(o) => Some(o.clone()),
        _ => None,
    })
}

pub fn decisions(events: &[DeviceEvent]) -> Vec<Decision> {
    events
        .iter()
        .filter_map(|e| match e {
            DeviceEvent::Decision(d) => Some(d.clone()),
            _ => None,
        })
        .collect()
}

pub fn has_decision(events: &[DeviceEvent], pred: impl Fn(&Decision) -> bool) -> bool {
    decisions(events).iter().any(pred)
}

/// Runs A and B until both are done (or `limit_ms` of virtual time passed).
/// B approves when both check codes are equal, declines otherwise, unless `approve`
/// is false (then it always declines).
pub async fn run(env: &Env, a: NewDeviceConfig, b: ExistingDeviceConfig, approve: bool) -> Run {
    let executor = HttpExecutor::default();
    let mut new_device = NewDevice::new(a);
    let mut existing_device = ExistingDevice::new(b);
    let seats = vec![
        Seat::borrowed(RoleKind::NewDevice, &mut new_device),
        Seat::borrowed(RoleKind::ExistingDevice, &mut existing_device),
    ];
    let mut events = Events::default();
    let limits = Limits { deadline_ms: 600_000, ..Limits::default() };
    let user = User::new(approve, Some(RoleKind::ExistingDevice));
    virtual_time::run(seats, user, &executor, &Clock(&env.clock), &mut events, Marking::None, &limits).await;
    Run { a: events.a, b: events.b, a_secrets: new_device.secrets().clone() }
}

impl Env {
    pub fn clock_now(&self) -> u64 {
        use mock_homeserver::Clock;
        self.clock.now_ms()
    }
}
