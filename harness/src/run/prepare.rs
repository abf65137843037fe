//! From a scenario to a run ready to start: the one setup that `run`, `run --client`,
//! `serve` and the tests share.
//!
//! A prepared run has a fresh mock homeserver (its profile, faults and seed from the
//! scenario, the account the existing device signs in to), the simulated device of
//! every role the run simulates, the device IDs that name them, and the user.

use std::net::SocketAddr;
use std::sync::Arc;

use devices::engine::{Seat, User};
use devices::RoleKind;
use mock_homeserver::{Homeserver, ManualClock, MockHomeserver};

use crate::check::transcript::Names;
use crate::scenario::roles::{
    self, caller_of, device_id_of, Pace, RunContext, ACCOUNT_LOCALPART, ACCOUNT_PASSWORD,
};
use crate::scenario::{Scenario, ScenarioFault};

/// The base URL of a homeserver that only exists in process: every simulated device
/// reaches it through [`super::executor::InProcess`], and snapshots show it as `<hs>`.
pub const IN_PROCESS_URL: &str = "http://homeserver.invalid";

/// How a run is played.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Every role simulated, on a virtual clock, against the core in process.
    Virtual,
    /// On the wall clock, with the homeserver served over HTTP.
    RealTime(RealTime),
}

/// The settings of a real-time run.
#[derive(Debug, Clone)]
pub struct RealTime {
    /// Where the homeserver listens.
    pub listen: SocketAddr,
    /// The URL clients reach it at, when not the bound address.
    pub public_url: Option<String>,
    /// The pause between two polls of the simulated devices; their own pace when
    /// `None`.
    pub poll_ms: Option<u64>,
    /// Whether the scenario's timers follow the pace of `poll_ms` ([`Pace`]): yes for a
    /// client under test, no for a person.
    pub scale_timers: bool,
    /// The role played from outside (an adapter, or a person), if any.
    pub external: Option<RoleKind>,
}

/// Where the homeserver of a run lives.
pub enum Server {
    /// In process only, on this virtual clock.
    InProcess(ManualClock),
    /// Served over HTTP on the wall clock.
    Http(MockHomeserver),
}

/// A run ready to start.
pub struct Prepared {
    /// The homeserver's core.
    pub core: Arc<Homeserver>,
    /// Where it lives.
    pub server: Server,
    /// The base URL clients use.
    pub base_url: String,
    /// The simulated devices, in role order.
    pub seats: Vec<Seat<'static>>,
    /// Device IDs of the simulated roles.
    pub names: Names,
    /// The roles simulated.
    pub simulated: Vec<RoleKind>,
    /// The role played from outside, if any.
    pub external: Option<RoleKind>,
    /// The simulated user.
    pub user: User,
    /// What every simulated role was told about the run.
    pub context: RunContext,
    /// Faults that name the external role, to aim once its user and device are known.
    pub armed_faults: Vec<ScenarioFault>,
}

/// Prepares a run of `scenario`.
pub async fn prepare(scenario: &Scenario, mode: &Mode) -> Result<Prepared, String> {
    let (core, server, base_url, poll_ms, pace, external) = match mode {
        Mode::Virtual => {
            let clock = ManualClock::new();
            let core = Arc::new(Homeserver::with_clock(
                scenario.profile.clone(),
                scenario.seed,
                Arc::new(clock.clone()),
            ));
            core.set_base_url(IN_PROCESS_URL);
            (core, Server::InProcess(clock), IN_PROCESS_URL.to_owned(), None, None, None)
        }
        Mode::RealTime(real) => {
            let pace = Pace::of(real.poll_ms).filter(|_| real.scale_timers);
            let mut profile = scenario.profile.clone();
            if let Some(pace) = pace {
                pace.rendezvous(&mut profile);
            }
            let builder = MockHomeserver::builder().profile(profile).seed(scenario.seed).listen(real.listen);
            let server =
                builder.start().await.map_err(|e| format!("cannot start the mock homeserver: {e}"))?;
            let base_url =
                real.public_url.as_deref().unwrap_or(server.base_url()).trim_end_matches('/').to_owned();
            server.core().set_base_url(&base_url);
            (server.core().clone(), Server::Http(server), base_url, real.poll_ms, pace, real.external)
        }
    };
    core.create_account(ACCOUNT_LOCALPART, ACCOUNT_PASSWORD);
    if let Some(role) = external {
        if scenario.role(role).is_none() {
            return Err(format!("the scenario has no role {role} ({})", role.name()));
        }
    }
    // Faults that name a simulated role (its device, or its requests) are aimed now;
    // those that name the external role once the run learns its user and device (the
    // recorder arms them).
    let mut armed = Vec::new();
    for fault in &scenario.faults {
        let mut fault = fault.clone();
        for spec in scenario.roles.iter().filter(|spec| Some(spec.kind) != external) {
            fault = fault.aim(spec.kind, &caller_of(spec.kind, &scenario.profile.server_name));
        }
        if fault.is_aimed() {
            core.add_fault(fault.fault);
        } else {
            armed.push(fault);
        }
    }
    let context = RunContext {
        homeserver: base_url.clone(),
        server_name: scenario.profile.server_name.clone(),
        seed: scenario.seed,
        deadline_ms: scenario.deadline_ms,
        dialect: scenario.dialect,
        shows_code: scenario.shows_code,
        poll_ms,
        pace,
    };
    let mut seats = Vec::new();
    let mut names = Vec::new();
    let mut simulated = Vec::new();
    for spec in scenario.roles.iter().filter(|spec| Some(spec.kind) != external) {
        seats.push(Seat::new(spec.kind, roles::build(spec, &context)));
        names.push((device_id_of(spec.kind).to_owned(), spec.kind));
        simulated.push(spec.kind);
    }
    let approver = scenario.role(RoleKind::ExistingDevice).map(|spec| spec.kind);
    let user = User::new(scenario.approve, approver);
    Ok(Prepared {
        core,
        server,
        base_url,
        seats,
        names,
        simulated,
        external,
        user,
        context,
        armed_faults: armed,
    })
}
