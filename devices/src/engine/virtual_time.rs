//! The deterministic scheduler: every role one step at a time in a fixed order, on a
//! virtual clock.
//!
//! Nothing here waits in real time. A role that asks to sleep is woken when every
//! other role is also waiting, by moving the clock to the earliest wake-up. The same
//! roles, seeds and homeserver therefore give the same sequence of requests, every
//! run.

use std::time::{Duration, Instant};

use super::conductor::{Conductor, Input, Marking, Observer, Pending, RunEnd, Seat};
use super::user::User;
use super::Executor;

/// The virtual clock a run moves (shared with the homeserver, so both read the same
/// time).
pub trait VirtualClock: Sync {
    /// The time now, in milliseconds.
    fn now_ms(&self) -> u64;
    /// Moves the clock to `ms` (never backwards).
    fn set_ms(&self, ms: u64);
}

/// What stops a run that would not end.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Virtual time after which the run stops.
    pub deadline_ms: u64,
    /// Most steps (answers, wake-ups, commands) all roles together may take.
    pub max_steps: usize,
    /// Real time after which the run stops (a guard against a stuck executor).
    pub wall_clock: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self { deadline_ms: 120_000, max_steps: 20_000, wall_clock: Duration::from_secs(60) }
    }
}

/// Runs `seats` until all are done or a limit is hit. Requests are performed one at
/// a time, in seat order, by `executor`; `observer` sees every event as it happens.
pub async fn run<E: Executor, O: Observer>(
    seats: Vec<Seat<'_>>,
    user: User,
    executor: &E,
    clock: &dyn VirtualClock,
    observer: &mut O,
    marking: Marking,
    limits: &Limits,
) -> RunEnd {
    let started = Instant::now();
    let mut conductor: Conductor<'_, '_, O> = Conductor::new(seats, user, observer, marking, None);
    conductor.start(clock.now_ms());
    let mut steps = 0usize;
    let end = loop {
        if conductor.all_done() {
            break RunEnd::AllDone;
        }
        if steps >= limits.max_steps {
            break RunEnd::Runaway(format!("more than {} steps", limits.max_steps));
        }
        if started.elapsed() > limits.wall_clock {
            break RunEnd::Runaway(format!("more than {} s of real time", limits.wall_clock.as_secs()));
        }
        let mut progressed = false;
        for i in 0..conductor.len() {
            let input = match conductor.pending(i) {
                Pending::Http(request) => {
                    let request = request.clone();
                    Some(Input::Http(executor.execute(&request).await))
                }
                Pending::Command => conductor.command_for(i).map(Input::Command),
                Pending::WakeAt(_) | Pending::Done => None,
            };
            if let Some(input) = input {
                steps += 1;
                progressed = true;
                conductor.feed(i, input, clock.now_ms());
            }
        }
        if progressed {
            continue;
        }
        let Some(wake) = conductor.next_wake() else {
            break RunEnd::Stuck(conductor.roles_where(|p| *p == Pending::Command));
        };
        if wake > limits.deadline_ms {
            break RunEnd::Deadline(conductor.roles_where(|p| *p != Pending::Done));
        }
        if wake > clock.now_ms() {
            clock.set_ms(wake);
        }
        for i in 0..conductor.len() {
            if matches!(conductor.pending(i), Pending::WakeAt(t) if *t <= wake) {
                steps += 1;
                conductor.feed(i, Input::Wake, clock.now_ms());
            }
        }
    };
    conductor.finish(end)
}
