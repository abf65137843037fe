//! The invariants checked on every fuzz run, whatever its outcome, over the
//! transcript and the outcome the role under test reported. Each has a name; a
//! violation names it, says why, and quotes the transcript lines that break it.
//!
//! | invariant | what must hold |
//! |---|---|
//! | `safety.trust-after-failed-check` | every trust effect (a cross-signing upload about the peer, `m.secret.request`, M8 `verified` on the channel, a decision to mark verified or trust) comes after the peer's announcement (M7 or M8) and a `/keys/query` answer that publishes the announced device key, validly self-signed, and the announced master key (MSC3906 steps 16–21a) |
//! | `safety.secret-to-unverified-device` | the existing device sends no secret to a device it has not verified so |
//! | `safety.secret-sent-in-clear` | no secret goes out as a plaintext `m.secret.send` |
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
pub const ALL: [&str; 12] = [
    "safety.trust-after-failed-check",
    "safety.secret-to-unverified-device",
    "safety.secret-sent-in-clear",
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
        _ => {
            safety::qr_login(observed, &mut out);
            safety::secrets_encrypted(observed, &mut out);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::transcript::Ending;
    use serde_json::json;

    fn http(seq: usize, actor: RoleKind, path: &str, body: serde_json::Value) -> TranscriptEntry {
        let method = if path.contains("/sendToDevice/") { "PUT" } else { "POST" };
        TranscriptEntry {
            seq,
            at_ms: 0,
            entry: Entry::Http {
                actor: Actor::Role(actor),
                method: method.into(),
                path: path.into(),
                query: None,
                status: 200,
                request: JournalBody::Json(body),
                response: JournalBody::Json(json!({})),
                faults: vec![],
            },
        }
    }

    fn finished(seq: usize, actor: RoleKind, outcome: OutcomeKind) -> TranscriptEntry {
        let ending = Ending { outcome, reason: None, rejected: None, detail: None };
        TranscriptEntry { seq, at_ms: 0, entry: Entry::Finished { actor, ending } }
    }

    fn observed<'a>(
        t: &'a [TranscriptEntry],
        names: &'a Names,
        role: RoleKind,
        held: Option<Option<String>>,
    ) -> Observed<'a> {
        Observed {
            role,
            transcript: t,
            names,
            run_problem: None,
            waiting_for_user: false,
            registrar_master_key: held,
        }
    }

    #[test]
    fn a_registrar_ending_success_needs_a_master_key_it_sent_on_the_homeserver() {
        let r = RoleKind::Registrar;
        let upload = json!({"master_key": {"keys": {"ed25519:K": "K"}, "usage": ["master"]}});
        let t = vec![
            http(1, r, "/_matrix/client/v3/keys/device_signing/upload", upload),
            finished(2, r, OutcomeKind::Success),
        ];
        let names = Names::new();
        let held = |key: Option<&str>| Some(key.map(str::to_owned));
        assert!(check(&observed(&t, &names, r, held(Some("K")))).is_empty());
        for wrong in [None, Some("OTHER")] {
            let found = check(&observed(&t, &names, r, held(wrong)));
            assert_eq!(found.len(), 1, "{found:?}");
            assert_eq!(found[0].invariant, "safety.registrar-keys-not-held");
            assert_eq!(found[0].lines, ["#2 R: finished success"]);
            assert!(found[0].banned.contains(&OutcomeKind::Success));
        }
        let failed = vec![t[0].clone(), finished(2, r, OutcomeKind::Error)];
        assert!(check(&observed(&failed, &names, r, held(None))).is_empty(), "an honest error is fine");
    }

    #[test]
    fn a_secret_request_before_m8_breaks_the_check_invariant_and_names_its_line() {
        let a = RoleKind::NewDevice;
        let request = json!({"messages": {"@alice:test": {"*": {"action": "request", "name": "m.cross_signing.master"}}}});
        let t = vec![
            http(1, a, "/_matrix/client/v3/sendToDevice/m.secret.request/t1", request),
            finished(2, a, OutcomeKind::Error),
        ];
        let names = Names::new();
        let found = check(&observed(&t, &names, a, None));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].invariant, "safety.trust-after-failed-check");
        assert!(
            found[0].lines[0].starts_with("#1 A -> HS: PUT /sendToDevice/m.secret.request/"),
            "{:?}",
            found[0].lines
        );
        assert_eq!(found[0].never, ["A -> HS: PUT /sendToDevice/m.secret.request/* action=request"]);
        assert!(found[0].message.contains("M8"), "{}", found[0].message);
        let silent = vec![finished(1, a, OutcomeKind::Error)];
        assert!(check(&observed(&silent, &names, a, None)).is_empty());
        let none: Vec<TranscriptEntry> = Vec::new();
        assert_eq!(check(&observed(&none, &names, a, None))[0].invariant, "liveness.no-outcome");
    }
}
