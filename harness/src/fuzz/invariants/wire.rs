//! Reading a transcript the way the invariants need it: the role's effects that
//! extend trust, the channel's announcements (M7, M8), and what the homeserver's
//! `/keys/query` answers published.

use serde_json::Value;

use devices::RoleKind;
use protocol::device_keys::DeviceKeys;

use crate::check::transcript::{short_path, Actor, Entry, Names, TranscriptEntry};

/// An effect that extends trust: on the wire, or (for our own devices) a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    /// Its index in the transcript.
    pub index: usize,
    /// Whether it sends a secret (a to-device message to the peer's device).
    pub secret: bool,
    /// The pattern that matches it in a scenario file.
    pub pattern: String,
}

/// The one-line form of entry `index`, numbered as in transcripts: `#12 B -> A: ...`.
pub fn line(transcript: &[TranscriptEntry], names: &Names, index: usize) -> String {
    let entry = &transcript[index];
    format!("#{} {}", entry.seq, entry.entry.line(names))
}

/// The device IDs a role is known by: the names of the run, and what the channel
/// announced for it.
pub fn device_ids(names: &Names, role: RoleKind, announced: Option<&str>) -> Vec<String> {
    let mut ids: Vec<String> = names.iter().filter(|(_, r)| *r == role).map(|(id, _)| id.clone()).collect();
    ids.extend(announced.map(str::to_owned));
    ids
}

/// Whether `value` has one of `keys` as an object key, at any depth.
pub fn names_key(value: &Value, keys: &[String]) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| keys.contains(k) || names_key(v, keys)),
        Value::Array(items) => items.iter().any(|v| names_key(v, keys)),
        _ => false,
    }
}

/// A path as a scenario pattern: IDs of transactions and rendezvous sessions as `*`.
pub fn path_pattern(path: &str) -> String {
    let short = short_path(path);
    if let Some(rest) = short.strip_prefix("/sendToDevice/") {
        let event_type = rest.split('/').next().unwrap_or("*");
        return format!("/sendToDevice/{event_type}/*");
    }
    if short.starts_with("/rendezvous/") {
        return "/rendezvous/*".into();
    }
    short
}

/// Whether a channel message is M8: the existing device verified the new one.
pub fn is_verified_message(message: &Value) -> bool {
    let kind = message.get("type").and_then(Value::as_str);
    kind == Some("m.login.verified")
        || (kind == Some("m.login.finish")
            && message.get("outcome").and_then(Value::as_str) == Some("verified"))
}

/// Whether a channel message ends the flow with anything but success.
pub fn is_abort_message(message: &Value) -> bool {
    const ABORTS: [&str; 5] =
        ["e2ee_security_error", "cancelled", "declined", "unsupported", "incompatible_intent"];
    let field = |name: &str| message.get(name).and_then(Value::as_str);
    field("type").is_some_and(|t| t == "m.login.failure" || t == "m.login.declined")
        || field("outcome").is_some_and(|o| ABORTS.contains(&o))
        || (field("type") == Some("m.login.finish") && message.get("intent").is_some())
}

/// Whether a channel message reports a security error.
pub fn is_security_error_message(message: &Value) -> bool {
    let field = |name: &str| message.get(name).and_then(Value::as_str);
    field("outcome") == Some("e2ee_security_error") || field("reason") == Some("e2ee_security_error")
}

/// The channel messages `from` sent, with their index.
pub fn channel_from(transcript: &[TranscriptEntry], from: RoleKind) -> impl Iterator<Item = (usize, &Value)> {
    transcript.iter().enumerate().filter_map(move |(i, e)| match &e.entry {
        Entry::Channel { from: f, message, .. } if *f == from => Some((i, message)),
        _ => None,
    })
}

/// The answers to the `/keys/query` requests `role` made before `before`, with their
/// index.
pub fn key_queries(
    transcript: &[TranscriptEntry],
    role: RoleKind,
    before: usize,
) -> impl Iterator<Item = (usize, &Value)> {
    transcript[..before].iter().enumerate().filter_map(move |(i, e)| match &e.entry {
        Entry::Http { actor, path, status: 200, response, .. }
            if *actor == Actor::Role(role) && path.ends_with("/keys/query") =>
        {
            response.json().map(|v| (i, v))
        }
        _ => None,
    })
}

/// Whether a `/keys/query` answer publishes device `device_id` with Ed25519 key
/// `key`, validly self-signed, for some user.
pub fn publishes_device(answer: &Value, device_id: &str, key: &str) -> bool {
    let Some(users) = answer.get("device_keys").and_then(Value::as_object) else { return false };
    users.iter().any(|(user_id, devices)| {
        let Some(object) = devices.get(device_id) else { return false };
        let Ok(keys) = DeviceKeys::parse(object) else { return false };
        keys.ed25519.to_base64() == key
            && keys.verify_self_signature().is_ok()
            && keys.check_identity(user_id, device_id).is_ok()
    })
}

/// Whether a `/keys/query` answer publishes `key` as some user's master key.
pub fn publishes_master_key(answer: &Value, key: &str) -> bool {
    let Some(users) = answer.get("master_keys").and_then(Value::as_object) else { return false };
    users.values().any(|master| {
        master.get("keys").and_then(Value::as_object).is_some_and(|keys| keys.values().any(|v| v == key))
    })
}

/// The trust effects of `role` in the transcript, in order. `peer_ids` are the
/// device IDs of its peer.
pub fn trust_effects(
    transcript: &[TranscriptEntry],
    names: &Names,
    role: RoleKind,
    peer_ids: &[String],
) -> Vec<Effect> {
    let peer = role.peer().map(|p| p.letter()).unwrap_or("?");
    let me = role.letter();
    let mut effects = Vec::new();
    for (index, entry) in transcript.iter().enumerate() {
        let effect = match &entry.entry {
            Entry::Http { actor, method, path, request, .. } if *actor == Actor::Role(role) => {
                let body = request.json();
                let about_peer = body.is_some_and(|b| names_key(b, peer_ids));
                let pattern = format!("{me} -> HS: {method} {}", path_pattern(path));
                if method == "POST" && path.ends_with("/keys/signatures/upload") {
                    match role {
                        RoleKind::ExistingDevice if about_peer => {
                            Some((false, format!("{pattern} about {peer}")))
                        }
                        RoleKind::NewDevice => Some((false, pattern)),
                        _ => None,
                    }
                } else if method == "PUT" && path.contains("/sendToDevice/") {
                    let requests = path.contains("/sendToDevice/m.secret.request/")
                        && body.is_some_and(|b| b.to_string().contains("\"action\":\"request\""));
                    let sends = path.contains("/sendToDevice/m.room.encrypted/")
                        || path.contains("/sendToDevice/m.secret.send/");
                    match role {
                        RoleKind::NewDevice if requests => Some((false, format!("{pattern} action=request"))),
                        RoleKind::ExistingDevice if sends && about_peer => {
                            Some((true, format!("{pattern} about {peer}")))
                        }
                        _ => None,
                    }
                } else {
                    None
                }
            }
            Entry::Channel { from, message, .. } if *from == role && is_verified_message(message) => {
                Some((false, entry.entry.line(names)))
            }
            Entry::Decision { actor, .. } if *actor == role => {
                let text = entry.entry.line(names);
                let rest = text.split_once(": ").map(|(_, r)| r).unwrap_or("");
                let trusts = (rest.starts_with("marked ") && rest.ends_with(" verified"))
                    || rest.starts_with("cross-signed ")
                    || rest == "trusted master key"
                    || rest.starts_with("requested secret ")
                    || rest.starts_with("accepted secret ");
                let shares = rest.starts_with("shared secret ");
                (trusts || shares).then_some((shares, text))
            }
            _ => None,
        };
        if let Some((secret, pattern)) = effect {
            effects.push(Effect { index, secret, pattern });
        }
    }
    effects
}

/// The index and ending line of the last `Finished` entry of `role`.
pub fn finished(
    transcript: &[TranscriptEntry],
    role: RoleKind,
) -> Option<(usize, &crate::check::transcript::Ending)> {
    transcript.iter().enumerate().rev().find_map(|(i, e)| match &e.entry {
        Entry::Finished { actor, ending } if *actor == role => Some((i, ending)),
        _ => None,
    })
}
