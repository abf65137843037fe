//! Running scenarios: one setup ([`prepare`]), one recorder ([`recorder`]), one ending
//! ([`ending`]), and the engine of the `devices` crate with its two clocks: in process
//! on a virtual clock ([`in_process`]), or in real time with an external client
//! ([`external`]).

pub mod ending;
pub mod executor;
pub mod external;
pub mod preflight;
pub mod prepare;
pub mod recorder;
pub mod result;
pub mod schedule;
pub mod select;
pub mod suite;

use std::time::{Duration, Instant};

use devices::engine::virtual_time::{self, Limits, VirtualClock};
use devices::engine::{Marking, RunEnd};
use mock_homeserver::ManualClock;

use crate::adapter::process::AdapterError;
use crate::scenario::Scenario;
use ending::{conclude, Outcome};
use executor::InProcess;
use prepare::{prepare, Mode, Prepared, Server};
use recorder::Recorder;
use result::ScenarioResult;

/// The homeserver's manual clock as the engine's virtual clock.
struct SharedClock<'c>(&'c ManualClock);

impl VirtualClock for SharedClock<'_> {
    fn now_ms(&self) -> u64 {
        mock_homeserver::Clock::now_ms(self.0)
    }
    fn set_ms(&self, ms: u64) {
        self.0.set_ms(ms);
    }
}

/// A run end of a run without an external role, as the ending reads it.
pub(crate) fn widen(end: RunEnd) -> RunEnd<AdapterError> {
    match end {
        RunEnd::AllDone => RunEnd::AllDone,
        RunEnd::Deadline(running) => RunEnd::Deadline(running),
        RunEnd::Stuck(waiting) => RunEnd::Stuck(waiting),
        RunEnd::Runaway(why) => RunEnd::Runaway(why),
        RunEnd::External(never) => match never {},
    }
}

/// Runs one scenario with every role simulated, on a virtual clock, against the mock
/// homeserver's core in process: the deterministic run whose transcript is the
/// scenario's snapshot.
pub async fn in_process(scenario: &Scenario) -> ScenarioResult {
    let started = Instant::now();
    let prepared = match prepare(scenario, &Mode::Virtual).await {
        Ok(prepared) => prepared,
        Err(message) => return ScenarioResult::broken(scenario, message, started),
    };
    let Prepared { core, server, base_url, seats, names, simulated, user, .. } = prepared;
    let Server::InProcess(clock) = server else {
        return ScenarioResult::broken(
            scenario,
            "a virtual run needs an in-process homeserver".into(),
            started,
        );
    };
    let mut recorder = Recorder::new(core.clone(), simulated, None, names);
    let limits =
        Limits { deadline_ms: scenario.deadline_ms, max_steps: 20_000, wall_clock: Duration::from_secs(60) };
    let executor = InProcess::new(core);
    let end = virtual_time::run(
        seats,
        user,
        &executor,
        &SharedClock(&clock),
        &mut recorder,
        Marking::Role,
        &limits,
    )
    .await;
    let (transcript, names) = recorder.finish();
    conclude(Outcome {
        scenario,
        expectations: scenario.expectations.clone(),
        transcript,
        names,
        end: widen(end),
        deadline: (scenario.deadline_ms, "virtual"),
        base_url,
        stderr: None,
        started,
    })
}
