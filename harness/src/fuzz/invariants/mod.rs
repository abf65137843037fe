//! The invariants checked on every fuzz run, whatever its outcome, over the
//! transcript and the outcome the role under test reported. Each has a name; a
//! violation names it, says why, and quotes the transcript lines that break it.
//!
//! | invariant | what must hold |
//! |---|---|
//! | `safety.trust-after-failed-check` | every trust effect (a cross-signing upload about the peer, `m.secret.request`, M8 `verified` on the channel, a decision to mark verified or trust) comes after the peer's announcement (M7 or M8) and a `/keys/query` answer that publishes the announced device key, validly self-signed, and the announced master key (MSC3906 steps 16–21a) |
//! | `safety.secret-to-unverified-device` | the existing device sends no secret to a device it has not verified so |
//! | `safety.verified-without-check` | a role that ends `verified` has made those checks |
//! | `safety.registrar-keys-not-held` | a registrar ends `success` only when the homeserver holds a master key it sent (MSC2912) |
//! | `liveness.deadline`, `liveness.progress`, `liveness.adapter` | the run ends within the deadline, never stalls, the adapter never exits early or breaks the protocol |
//! | `liveness.no-outcome` | the role under test reports an outcome |
//! | `liveness.malformed-json` | every request body of the role under test is JSON |
//! | `honesty.security-error-stopped` | a role that reports `security_error` has no trust effect after its abort |
//! | `honesty.verified-without-abort` | a role that reports `verified` sent no abort on the channel |

pub mod safety;
pub mod wire;

use devices::{OutcomeKind, RoleKind};
use mock_homeserver::JournalBody;

use crate::check::transcript::{Actor, Entry, Names, TranscriptEntry};

/// Every invariant's name.
pub const ALL: [&str; 11] = [
    "safety.trust-after-failed-check",
    "safety.secret-to-unverified-device",
    "safety.verified-without-check",
    "safety.registrar-keys-not-held",
    "liveness.deadline",
    "liveness.progress",
    "liveness.adapter",
    "liveness.no-outcome",
    "liveness.malformed-json",
    "honesty.security-error-stopped",
    "honesty.verified-without-abort",
];

/// What one run showed.
pub struct Observed<'a> {
    /// The role under test.
    pub role: RoleKind,
    /// The transcript.
    pub transcript: &'a [TranscriptEntry],
    /// Device IDs and roles.
    pub names: &'a Names,
    /// A problem of the run itself, named by its liveness invariant, when it had one.
    pub run_problem: Option<(&'static str, String)>,
    /// Whether the run ended with the role under test waiting for its user (a QR
    /// code to scan, an answer) whom the run could not make act: then it reported no
    /// outcome, and that is no hang.
    pub waiting_for_user: bool,
    /// For a registrar: the master key the homeserver holds for it (`None` inside:
    /// none at all).
    pub registrar_master_key: Option<Option<String>>,
}

/// A broken invariant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// The invariant's name.
    pub invariant: &'static str,
    /// Why it is broken.
    pub message: String,
    /// The transcript lines that break it.
    pub lines: Vec<String>,
    /// Patterns of the offending events, for a scenario's `never`.
    #[serde(skip)]
    pub never: Vec<String>,
    /// Outcomes of the role under test that this violation rules out.
    #[serde(skip)]
    pub banned: Vec<OutcomeKind>,
}

impl Violation {
    /// A violation of `invariant`, quoting entries `lines` of the transcript.
    pub fn new(invariant: &'static str, message: String, observed: &Observed<'_>, lines: &[usize]) -> Self {
        let mut lines: Vec<usize> = lines.to_vec();
        lines.sort_unstable();
        lines.dedup();
        let lines =
            lines.into_iter().map(|i| wire::line(observed.transcript, observed.names, i)).collect::<Vec<_>>();
        Violation { invariant, message, lines, never: Vec::new(), banned: Vec::new() }
    }

    /// Also names the pattern of the offending event.
    pub fn never(mut self, pattern: &str) -> Self {
        self.never.push(pattern.to_owned());
        self
    }

    /// Also rules out an outcome.
    pub fn banning(mut self, outcome: OutcomeKind) -> Self {
        self.banned.push(outcome);
        self
    }
}

/// Every violation of one run, in the order of [`ALL`] (at most one per invariant).
pub fn check(observed: &Observed<'_>) -> Vec<Violation> {
    let mut out = Vec::new();
    match observed.role {
        RoleKind::Registrar => safety::registrar(observed, &mut out),
        _ => safety::qr_login(observed, &mut out),
    }
    liveness(observed, &mut out);
    honesty(observed, &mut out);
    out.sort_by_key(|v| ALL.iter().position(|n| *n == v.invariant));
    out.dedup_by(|a, b| a.invariant == b.invariant);
    out
}

fn tail(observed: &Observed<'_>) -> Vec<usize> {
    let len = observed.transcript.len();
    (len.saturating_sub(3)..len).collect()
}

fn liveness(observed: &Observed<'_>, out: &mut Vec<Violation>) {
    let role = observed.role;
    let t = observed.transcript;
    if let Some((name, message)) = &observed.run_problem {
        out.push(Violation::new(name, message.clone(), observed, &tail(observed)));
    } else if wire::finished(t, role).is_none() && !observed.waiting_for_user {
        let message = format!("{} never reported an outcome", role.letter());
        out.push(Violation::new("liveness.no-outcome", message, observed, &tail(observed)));
    }
    let malformed = t.iter().position(|e| match &e.entry {
        Entry::Http { actor, request: JournalBody::Note { .. }, .. } => *actor == Actor::Role(role),
        _ => false,
    });
    if let Some(index) = malformed {
        let message = format!("{} sent a request body that is not JSON", role.letter());
        out.push(Violation::new("liveness.malformed-json", message, observed, &[index]));
    }
}

fn honesty(observed: &Observed<'_>, out: &mut Vec<Violation>) {
    let role = observed.role;
    let t = observed.transcript;
    let Some((end, ending)) = wire::finished(t, role) else { return };
    match ending.outcome {
        OutcomeKind::SecurityError => {
            let aborted = t.iter().position(|e| match &e.entry {
                Entry::Channel { from, message, .. } => {
                    *from == role && wire::is_security_error_message(message)
                }
                Entry::Decision { actor, .. } => {
                    *actor == role && e.entry.line(observed.names).contains(": aborted: ")
                }
                _ => false,
            });
            let stop = aborted.unwrap_or(end).min(end);
            let peer_ids = role.peer().map(|p| wire::device_ids(observed.names, p, None)).unwrap_or_default();
            let later =
                wire::trust_effects(t, observed.names, role, &peer_ids).into_iter().find(|e| e.index > stop);
            if let Some(effect) = later {
                let message = format!(
                    "{} reported security_error, yet after its abort it went on: {}",
                    role.letter(),
                    wire::line(t, observed.names, effect.index)
                );
                out.push(
                    Violation::new(
                        "honesty.security-error-stopped",
                        message,
                        observed,
                        &[stop, effect.index],
                    )
                    .never(&effect.pattern),
                );
            }
        }
        OutcomeKind::Verified => {
            let abort = wire::channel_from(t, role).find(|(_, m)| wire::is_abort_message(m));
            if let Some((index, _)) = abort {
                let message = format!(
                    "{} reported verified, but it aborted on the channel: {}",
                    role.letter(),
                    wire::line(t, observed.names, index)
                );
                out.push(
                    Violation::new("honesty.verified-without-abort", message, observed, &[index, end])
                        .banning(OutcomeKind::Verified),
                );
            }
        }
        _ => {}
    }
}
