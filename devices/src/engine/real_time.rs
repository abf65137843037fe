//! The wall-clock scheduler: every simulated role's request or pause runs at once,
//! next to an external role and commands from outside the run.
//!
//! The roles' state machines, the user and the observer all live on the caller's
//! task: only the leaves (a request, a sleep) run as tasks of their own, and their
//! answers come back here one at a time. So the order in which the observer sees
//! things is the order in which they happened.

use std::future::Future;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::conductor::{Conductor, ExternalEvent, Input, Marking, Observer, Pending, RunEnd, Seat};
use super::user::User;
use super::Executor;
use crate::io::Command;
use crate::role::RoleKind;

/// A role played from outside the run: a real client behind an adapter, or a person.
pub trait ExternalSeat {
    /// What the external side reports when it says something or ends.
    type Report;
    /// What ends its part early (a crash, a protocol breach, "unimplemented").
    type Error;

    /// The next thing it did. Must be cancel-safe: the scheduler may drop the future
    /// when something else happens first, and call again.
    fn next(&mut self) -> impl Future<Output = Result<ExternalEvent<Self::Report>, Self::Error>> + Send;

    /// A user command for it (scan this code, approve, decline).
    fn command(&mut self, command: Command) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// No external role.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoExternal;

impl ExternalSeat for NoExternal {
    type Report = ();
    type Error = std::convert::Infallible;

    async fn next(&mut self) -> Result<ExternalEvent<()>, Self::Error> {
        std::future::pending().await
    }

    async fn command(&mut self, _command: Command) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The external role of a run.
pub struct External<'x, X> {
    /// Which role it plays.
    pub kind: RoleKind,
    /// Its side of the run.
    pub seat: &'x mut X,
    /// Whether it reports its ending (a client a person drives by hand does not: the
    /// run then ends when the simulated roles are done).
    pub reports_outcome: bool,
}

/// Commands from outside the run for one role (the runner's `approve` to a device
/// behind an adapter, say), delivered as the user's own.
pub struct Inbox<'i> {
    /// The role they are for.
    pub role: RoleKind,
    /// Where they come from; the run stops reading when it closes.
    pub commands: &'i mut mpsc::Receiver<Command>,
}

/// How a real-time run is set up.
pub struct Options {
    /// The whole run's bound.
    pub deadline: Duration,
    /// Whether requests carry their role ([`Marking`]).
    pub marking: Marking,
    /// Random delays before the simulated roles' requests, if any.
    pub jitter: Option<Jitter>,
}

/// Random delays before every request of a simulated role: each waits between 0 and
/// `max_ms` milliseconds, drawn from a generator seeded with `seed`, before it is
/// sent. A real network and a loaded machine reorder the requests of two devices in
/// ways a quiet machine never shows; the delays bring those orders out on purpose,
/// so that an expectation that holds only by timing fails now rather than one run
/// in a hundred in someone's CI. The delays are reproducible, the run is not: what
/// the external side does meanwhile depends on the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jitter {
    /// The longest delay, in milliseconds.
    pub max_ms: u64,
    /// The seed of the delays (the scenario's seed, say).
    pub seed: u64,
}

impl Jitter {
    /// Jitter of up to `max_ms` from `seed`, or none without a bound (as a command
    /// line's `--jitter-ms` and `--jitter-seed` give them).
    pub fn of(max_ms: Option<u64>, seed: u64) -> Option<Self> {
        max_ms.map(|max_ms| Self { max_ms, seed })
    }
}

/// Runs the simulated `seats` (and the external role, if any) until every role is
/// done, the deadline passes, or the external side fails. Requests are performed by
/// `executor`, each as a task of its own; `inbox` brings commands from outside the
/// run (e.g. the runner's `approve` to a device behind an adapter).
pub async fn run<E, O, X>(
    seats: Vec<Seat<'_>>,
    mut external: Option<External<'_, X>>,
    user: User,
    executor: E,
    observer: &mut O,
    mut inbox: Option<Inbox<'_>>,
    options: Options,
) -> RunEnd<X::Error>
where
    E: Executor + Clone + Send + Sync + 'static,
    O: Observer<Report = X::Report>,
    X: ExternalSeat,
{
    let started = Instant::now();
    let deadline = started + options.deadline;
    let now = move || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let external_kind = external.as_ref().map(|x| x.kind);
    let mut conductor: Conductor<'_, '_, O> =
        Conductor::new(seats, user, observer, options.marking, external_kind);
    // Whether the run waits for the external role's ending, and whether its events
    // are still read.
    let mut external_awaited = external.as_ref().is_some_and(|x| x.reports_outcome);
    let mut external_open = external.is_some();
    let mut in_flight = vec![false; conductor.len()];
    let mut leaves: JoinSet<(usize, Input)> = JoinSet::new();
    let mut delays = options.jitter.map(|j| (j.max_ms, ChaCha20Rng::seed_from_u64(j.seed)));
    conductor.start(now());
    let end = loop {
        // Hand the user's commands over, then start what the seats wait for.
        if let Some(x) = external.as_mut().filter(|_| external_open) {
            let mut failed = None;
            for command in conductor.commands_for_external() {
                if let Err(error) = x.seat.command(command).await {
                    failed = Some(error);
                    break;
                }
            }
            if let Some(error) = failed {
                break RunEnd::External(error);
            }
        }
        let mut fed = true;
        while fed {
            fed = false;
            for i in 0..conductor.len() {
                if let Some(command) = conductor.command_for(i) {
                    conductor.feed(i, Input::Command(command), now());
                    fed = true;
                }
            }
        }
        for (i, busy) in in_flight.iter_mut().enumerate() {
            if *busy {
                continue;
            }
            match conductor.pending(i).clone() {
                Pending::Http(request) => {
                    let executor = executor.clone();
                    let delay = delays.as_mut().map_or(0, |(max_ms, rng)| rng.gen_range(0..=*max_ms));
                    *busy = true;
                    leaves.spawn(async move {
                        if delay > 0 {
                            tokio::time::sleep(Duration::from_millis(delay)).await;
                        }
                        (i, Input::Http(executor.execute(&request).await))
                    });
                }
                Pending::WakeAt(at) => {
                    let until = started + Duration::from_millis(at);
                    *busy = true;
                    leaves.spawn(async move {
                        tokio::time::sleep_until(until).await;
                        (i, Input::Wake)
                    });
                }
                Pending::Command | Pending::Done => {}
            }
        }
        if conductor.all_done() && !external_awaited {
            break RunEnd::AllDone;
        }
        if leaves.is_empty() && external.is_none() && inbox.is_none() {
            break RunEnd::Stuck(conductor.roles_where(|p| *p == Pending::Command));
        }
        tokio::select! {
            joined = leaves.join_next(), if !leaves.is_empty() => {
                if let Some(Ok((i, input))) = joined {
                    in_flight[i] = false;
                    conductor.feed(i, input, now());
                }
            }
            event = next_external(&mut external), if external_open => {
                match event {
                    Ok(event) => {
                        if matches!(event, ExternalEvent::Finished(_)) {
                            external_awaited = false;
                            external_open = false;
                        }
                        conductor.external_event(&event);
                    }
                    Err(error) => break RunEnd::External(error),
                }
            }
            command = next_command(&mut inbox), if inbox.is_some() => match (command, inbox.as_ref()) {
                (Some(command), Some(inbox)) => conductor.give(inbox.role, command),
                _ => inbox = None,
            },
            _ = tokio::time::sleep_until(deadline) => {
                let mut running = conductor.roles_where(|p| *p != Pending::Done);
                if external_awaited {
                    running.extend(external_kind);
                }
                running.sort();
                break RunEnd::Deadline(running);
            }
        }
    };
    leaves.abort_all();
    while leaves.join_next().await.is_some() {}
    conductor.finish(end)
}

async fn next_external<X: ExternalSeat>(
    external: &mut Option<External<'_, X>>,
) -> Result<ExternalEvent<X::Report>, X::Error> {
    match external {
        Some(x) => x.seat.next().await,
        None => std::future::pending().await,
    }
}

async fn next_command(inbox: &mut Option<Inbox<'_>>) -> Option<Command> {
    match inbox {
        Some(inbox) => inbox.commands.recv().await,
        None => std::future::pending().await,
    }
}
