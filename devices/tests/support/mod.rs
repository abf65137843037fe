//! A small deterministic driver for the QR-login tests: runs A and B together against
//! a mock homeserver over real HTTP, with a virtual clock shared with the server.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::Arc;

use devices::qr_login::{ExistingDevice, ExistingDeviceConfig, NewDevice, NewDeviceConfig};
use devices::shell::HttpExecutor;
use devices::{Command, Decision, DeviceEvent, Outcome, Role, Step};
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

struct Slot<'r> {
    role: &'r mut dyn Role,
    step: Step,
    wake_at: Option<u64>,
    events: Vec<DeviceEvent>,
    commands: VecDeque<Command>,
    code: Option<String>,
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
    let mut slots = [
        Slot {
            role: &mut new_device,
            step: Step::Done,
            wake_at: None,
            events: vec![],
            commands: VecDeque::new(),
            code: None,
        },
        Slot {
            role: &mut existing_device,
            step: Step::Done,
            wake_at: None,
            events: vec![],
            commands: VecDeque::new(),
            code: None,
        },
    ];
    let now = || env.clock_now();
    for slot in slots.iter_mut() {
        slot.step = slot.role.start(now());
    }
    let mut approved_sent = false;
    let limit_ms = 600_000;
    let mut rounds = 0u32;
    loop {
        rounds += 1;
        assert!(rounds < 200_000, "driver made no progress");
        let mut progressed = false;
        for i in 0..2 {
            let step = slots[i].step.clone();
            let next = match step {
                Step::Done => None,
                Step::Http(request) => {
                    let result = executor.execute(&request).await;
                    Some(slots[i].role.on_http(now(), result))
                }
                Step::Sleep { ms } => {
                    let at = *slots[i].wake_at.get_or_insert(now() + ms);
                    if now() >= at {
                        slots[i].wake_at = None;
                        Some(slots[i].role.on_wake(now()))
                    } else {
                        None
                    }
                }
                Step::AwaitCommand => {
                    slots[i].commands.pop_front().map(|c| slots[i].role.on_command(now(), c))
                }
            };
            if let Some(next) = next {
                slots[i].step = next;
                progressed = true;
            }
            for event in slots[i].role.take_events() {
                match &event {
                    DeviceEvent::ShowsQrCode { payload } => {
                        slots[1 - i].commands.push_back(Command::ScanQrCode(payload.clone()));
                    }
                    DeviceEvent::ShowsCheckCode { code } => slots[i].code = Some(code.clone()),
                    _ => {}
                }
                slots[i].events.push(event);
            }
            if !approved_sent {
                if let (Some(x), Some(y)) = (&slots[0].code, &slots[1].code) {
                    let equal = x == y;
                    slots[1].commands.push_back(if equal && approve {
                        Command::Approve
                    } else {
                        Command::Decline
                    });
                    approved_sent = true;
                }
            }
        }
        if slots.iter().all(|s| s.step == Step::Done) {
            break;
        }
        if !progressed {
            let next_wake = slots.iter().filter_map(|s| s.wake_at).min();
            match next_wake {
                Some(at) if at > now() => env.clock.set_ms(at),
                Some(_) => {}
                None => break,
            }
            if now() > limit_ms {
                break;
            }
        }
    }
    let [a, b] = slots;
    let (a_events, b_events) = (a.events, b.events);
    Run { a: a_events, b: b_events, a_secrets: new_device.secrets().clone() }
}

impl Env {
    pub fn clock_now(&self) -> u64 {
        use mock_homeserver::Clock;
        self.clock.now_ms()
    }
}
