//! Safety: trust only after the checks of MSC3906 steps 16–21a passed against what
//! the homeserver publishes; no secret to a device not verified; a registrar ends
//! `success` only with keys the homeserver holds.

use serde_json::Value;

use devices::{OutcomeKind, RoleKind};

use super::wire::{self, Effect};
use super::{Observed, Violation};
use crate::check::transcript::{Entry, TranscriptEntry};

/// What the channel announced about the peer, and where.
struct Announcement {
    index: usize,
    device_id: String,
    device_key: String,
    master_key: Option<String>,
}

fn text(message: &Value, field: &str) -> Option<String> {
    message.get(field).and_then(Value::as_str).map(str::to_owned)
}

/// M7 of the new device (its device ID and key), the last one before `before`.
fn m7(transcript: &[TranscriptEntry], before: usize) -> Option<Announcement> {
    wire::channel_from(transcript, RoleKind::NewDevice)
        .filter(|(i, _)| *i < before)
        .filter_map(|(index, message)| {
            Some(Announcement {
                index,
                device_id: text(message, "device_id")?,
                device_key: text(message, "device_key")?,
                master_key: None,
            })
        })
        .last()
}

/// M8 of the existing device (its device ID, key and the master key), the last one
/// before `before`.
fn m8(transcript: &[TranscriptEntry], before: usize) -> Option<Announcement> {
    wire::channel_from(transcript, RoleKind::ExistingDevice)
        .filter(|(i, _)| *i < before)
        .filter_map(|(index, message)| {
            if !wire::is_verified_message(message) {
                return None;
            }
            Some(Announcement {
                index,
                device_id: text(message, "verifying_device_id")?,
                device_key: text(message, "verifying_device_key")?,
                master_key: text(message, "master_key"),
            })
        })
        .last()
}

/// Whether `role`'s checks passed before `before`: the peer's announcement and a
/// `/keys/query` answer of `role` that confirms it. `Err` says what is missing.
fn checked_before(observed: &Observed<'_>, before: usize) -> Result<(), (String, Vec<usize>)> {
    let t = observed.transcript;
    let (announced, step) = match observed.role {
        RoleKind::ExistingDevice => (m7(t, before), "16–17"),
        _ => (m8(t, before), "20–21a"),
    };
    let peer = observed.role.peer().map(|p| p.letter()).unwrap_or("?");
    let Some(announced) = announced else {
        let what = if observed.role == RoleKind::ExistingDevice { "M7 with its device" } else { "M8" };
        return Err((
            format!("{peer} had not sent {what} on the channel yet (MSC3906 steps {step})"),
            vec![],
        ));
    };
    let queries: Vec<(usize, &Value)> = wire::key_queries(t, observed.role, before).collect();
    let confirms = |answer: &Value| {
        wire::publishes_device(answer, &announced.device_id, &announced.device_key)
            && announced.master_key.as_deref().is_none_or(|key| wire::publishes_master_key(answer, key))
    };
    if queries.iter().any(|(_, answer)| confirms(answer)) {
        return Ok(());
    }
    let mut lines = vec![announced.index];
    lines.extend(queries.last().map(|(i, _)| *i));
    let master = if announced.master_key.is_some() { " and that master key" } else { "" };
    Err((
        format!(
            "no /keys/query answer it had by then published device {} with the key {peer} announced{master} \
             (MSC3906 steps {step})",
            announced.device_id
        ),
        lines,
    ))
}

/// The safety invariants of the new or the existing device.
pub fn qr_login(observed: &Observed<'_>, out: &mut Vec<Violation>) {
    let role = observed.role;
    let t = observed.transcript;
    let Some(peer) = role.peer() else { return };
    let announced_id = match role {
        RoleKind::ExistingDevice => m7(t, t.len()).map(|a| a.device_id),
        _ => m8(t, t.len()).map(|a| a.device_id),
    };
    let peer_ids = wire::device_ids(observed.names, peer, announced_id.as_deref());
    let effects = wire::trust_effects(t, observed.names, role, &peer_ids);
    for secret in [false, true] {
        let name =
            if secret { "safety.secret-to-unverified-device" } else { "safety.trust-after-failed-check" };
        let first = effects.iter().filter(|e| e.secret == secret).find_map(|effect: &Effect| {
            checked_before(observed, effect.index).err().map(|why| (effect, why))
        });
        if let Some((effect, (why, context))) = first {
            let what = wire::line(t, observed.names, effect.index);
            let mut lines: Vec<usize> = context;
            lines.push(effect.index);
            out.push(
                Violation::new(name, format!("{what}, but {why}"), observed, &lines).never(&effect.pattern),
            );
        }
    }
    if let Some((index, ending)) = wire::finished(t, role) {
        if ending.outcome == OutcomeKind::Verified {
            if let Err((why, mut lines)) = checked_before(observed, index) {
                lines.push(index);
                let message = format!("{} ended verified, but {why}", role.letter());
                out.push(
                    Violation::new("safety.verified-without-check", message, observed, &lines)
                        .banning(OutcomeKind::Verified),
                );
            }
        }
    }
}

/// Secrets travel encrypted: the existing device never sends `m.secret.send` as a
/// plaintext to-device event (MSC3906 step 23 over the Olm channel of the Matrix
/// spec's secret sharing).
pub fn secrets_encrypted(observed: &Observed<'_>, out: &mut Vec<Violation>) {
    let t = observed.transcript;
    let me = crate::check::transcript::Actor::Role(observed.role);
    let clear = t.iter().position(|e| match &e.entry {
        Entry::Http { actor, method, path, .. } => {
            *actor == me && method == "PUT" && path.contains("/sendToDevice/m.secret.send/")
        }
        _ => false,
    });
    if let Some(index) = clear {
        let message =
            format!("{} sent a secret as a plaintext m.secret.send to-device event", observed.role.letter());
        let pattern = format!("{} -> HS: PUT /sendToDevice/m.secret.send/*", observed.role.letter());
        out.push(Violation::new("safety.secret-sent-in-clear", message, observed, &[index]).never(&pattern));
    }
}

/// The master keys the registrar sent, in any request body.
fn sent_master_keys(transcript: &[TranscriptEntry]) -> Vec<String> {
    fn collect(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    if key == "master_key" {
                        if let Some(keys) = inner.get("keys").and_then(Value::as_object) {
                            out.extend(keys.values().filter_map(Value::as_str).map(str::to_owned));
                        }
                    }
                    collect(inner, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    let mut keys = Vec::new();
    for entry in transcript {
        if let Entry::Http { actor, request, .. } = &entry.entry {
            if *actor == crate::check::transcript::Actor::Role(RoleKind::Registrar) {
                if let Some(body) = request.json() {
                    collect(body, &mut keys);
                }
            }
        }
    }
    keys
}

/// A registrar that ends `success` (or `verified`) does so with a master key the
/// homeserver holds, one the registrar sent.
pub fn registrar(observed: &Observed<'_>, out: &mut Vec<Violation>) {
    let t = observed.transcript;
    let Some((index, ending)) = wire::finished(t, RoleKind::Registrar) else { return };
    if !matches!(ending.outcome, OutcomeKind::Success | OutcomeKind::Verified) {
        return;
    }
    let Some(held) = &observed.registrar_master_key else { return };
    let sent = sent_master_keys(t);
    let problem = match held {
        None => Some("the homeserver holds no master key for the registered user".to_owned()),
        Some(key) if !sent.contains(key) => {
            Some(format!("the homeserver's master key {key} is none the registrar sent"))
        }
        Some(_) => None,
    };
    if let Some(problem) = problem {
        let message = format!("R ended {}, but {problem} (MSC2912)", ending.outcome.name());
        out.push(
            Violation::new("safety.registrar-keys-not-held", message, observed, &[index])
                .banning(OutcomeKind::Success)
                .banning(OutcomeKind::Verified),
        );
    }
}
