//! `POST /_matrix/client/v3/keys/signatures/upload` (docs/protocol.md §7.5), following
//! Synapse's handler step by step.
//!
//! * The body maps user ID → key ID → the whole signed object. A user value or an
//!   entry that is not an object fails the whole request (400 `M_INVALID_PARAM`
//!   "Invalid parameter") before anything is checked or stored.
//! * The uploader's own entries: a device (key ID = device ID) must be signed by the
//!   current self-signing key; the master key (key ID = bare public key) by the
//!   uploader's devices. Another user's entries: their master key, signed by the
//!   uploader's user-signing key.
//! * Everything else answers `200 {"failures": {user: {key ID: entry}}}` with
//!   Synapse's `{status, errcode, message}` entries.
//! * Skip rule: an entry already signed by the key that would sign it (own device by
//!   the self-signing key, another user's master by the user-signing key) is neither
//!   a failure nor stored again.
//! * Accepted signatures are merged into the stored objects: `Device.keys`, the
//!   uploader's `User.master_key`, and for another user the target's
//!   `User.master_key` under the uploader's entity. `/keys/query` shows each object
//!   with only the owner's and the requester's signatures, so a user-signing
//!   signature is visible to its signer alone (§7.2).
//! * Signals: a new own signature puts the uploader in their own
//!   `device_lists.changed`; a new signature of another user's master key puts that
//!   user in the uploader's `device_lists.changed` only (Synapse's
//!   `notify_user_signature_update`: the target is not told).

use protocol::cross_signing;
use protocol::key_id::KeyId;
use protocol::keys::Ed25519PublicKey;
use protocol::signing::verify_json;
use serde_json::{json, Map, Value};

use super::route::{Auth, Route};
use crate::context::Ctx;
use crate::state::State;
use crate::{MatrixError, Response};

pub(crate) fn routes() -> Vec<Route> {
    vec![Route::new("POST", "/_matrix/client/v3/keys/signatures/upload", Auth::Required, upload)]
}

/// A signature that passed every check, to be merged once the whole body is done.
enum Accepted {
    /// The self-signing key's signature on one of the uploader's devices.
    Device { device_id: String, key_id: String, signature: Value },
    /// A device's signature on the uploader's master key.
    OwnMaster { key_id: String, signature: Value },
    /// The uploader's user-signing signature on another user's master key.
    OtherMaster { target: String, key_id: String, signature: Value },
}

/// `failures` of the answer: user → key ID → entry.
type Failures = Map<String, Value>;

/// A Synapse failure entry: `{"status", "errcode", "message": "<status>: <msg>"}`.
fn failure(status: u16, errcode: &str, message: &str) -> Value {
    json!({ "status": status, "errcode": errcode, "message": format!("{status}: {message}") })
}

fn invalid_signature() -> Value {
    failure(400, "M_INVALID_SIGNATURE", "Invalid signature")
}

fn unknown_device() -> Value {
    failure(404, "M_NOT_FOUND", "Unknown device")
}

fn not_found(what: &str, user_id: &str) -> Value {
    failure(404, "M_NOT_FOUND", &format!("No {what} key found for {user_id}"))
}

fn set_failure(failures: &mut Failures, user_id: &str, key_id: &str, entry: Value) {
    let by_key = failures.entry(user_id.to_owned()).or_insert_with(|| json!({}));
    if let Some(by_key) = by_key.as_object_mut() {
        by_key.insert(key_id.to_owned(), entry);
    }
}

/// The same failure for every entry of `entries` (an empty map gives `{}`, as Synapse).
fn fail_all(failures: &mut Failures, user_id: &str, entries: &Map<String, Value>, entry: &Value) {
    let all: Map<String, Value> = entries.keys().map(|k| (k.clone(), entry.clone())).collect();
    failures.insert(user_id.to_owned(), Value::Object(all));
}

fn upload(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let caller = ctx.caller()?;
    let body = ctx.req.json_object()?;
    let mut by_user: Vec<(&String, &Map<String, Value>)> = Vec::new();
    for (user_id, entries) in &body {
        let Value::Object(entries) = entries else {
            return Err(MatrixError::invalid_param("Invalid parameter"));
        };
        if !entries.values().all(Value::is_object) {
            return Err(MatrixError::invalid_param("Invalid parameter"));
        }
        by_user.push((user_id, entries));
    }

    let signer = caller.user_id.as_str();
    let mut failures = Failures::new();
    let mut accepted = Vec::new();
    if let Some((_, own)) = by_user.iter().find(|(user_id, _)| *user_id == signer) {
        own_signatures(ctx.state, signer, own, &mut accepted, &mut failures);
    }
    let others: Vec<_> = by_user.into_iter().filter(|(user_id, _)| *user_id != signer).collect();
    if !others.is_empty() {
        other_signatures(ctx.state, signer, &others, &mut accepted, &mut failures);
    }
    apply(ctx.state, signer, accepted);
    Ok(Response::ok(json!({ "failures": failures })))
}

/// The public key and key ID of a stored cross-signing key, if usable.
fn stored_key(key: Option<&Value>) -> Option<(KeyId, Ed25519PublicKey)> {
    cross_signing::public_key(key?).ok()
}

/// `signatures[entity]` of an object, if it is an object.
fn signatures_by<'a>(value: &'a Value, entity: &str) -> Option<&'a Map<String, Value>> {
    value.get("signatures")?.as_object()?.get(entity)?.as_object()
}

fn without_signatures(value: &Value) -> Value {
    let mut value = value.clone();
    if let Some(object) = value.as_object_mut() {
        object.remove("signatures");
        object.remove("unsigned");
    }
    value
}

/// Synapse's `_check_device_signature`: the object without `signatures`/`unsigned`
/// equals the stored one, then the signature by `key_id` verifies.
fn check_signature(
    entity: &str,
    key_id: &KeyId,
    public_key: &Ed25519PublicKey,
    signed: &Value,
    stored: &Value,
) -> Result<(), Value> {
    if without_signatures(signed) != without_signatures(stored) {
        return Err(failure(400, "M_UNKNOWN", "Key does not match"));
    }
    verify_json(signed, entity, key_id, public_key).map_err(|_| invalid_signature())
}

/// The uploader's own entries: devices signed by the self-signing key, the master key
/// signed by devices.
fn own_signatures(
    state: &State,
    user_id: &str,
    entries: &Map<String, Value>,
    accepted: &mut Vec<Accepted>,
    failures: &mut Failures,
) {
    if entries.is_empty() {
        return;
    }
    let Some(user) = state.users.get(user_id) else {
        return;
    };
    let Some((ssk_id, ssk)) = stored_key(user.self_signing_key.as_ref()) else {
        return fail_all(failures, user_id, entries, &not_found("self_signing", user_id));
    };
    let (Some(master), Some((master_id, _))) = (&user.master_key, stored_key(user.master_key.as_ref()))
    else {
        return fail_all(failures, user_id, entries, &not_found("master", user_id));
    };
    let devices: Map<String, Value> =
        user.devices.iter().filter_map(|(id, d)| Some((id.clone(), d.keys.clone()?))).collect();
    if devices.is_empty() {
        let entry = failure(404, "M_NOT_FOUND", "No device keys found");
        return fail_all(failures, user_id, entries, &entry);
    }

    let ssk_key_id = ssk_id.to_string();
    for (key_id, signed) in entries {
        let result = (|| {
            let Some(sent) = signatures_by(signed, user_id) else {
                return Err(invalid_signature());
            };
            if *key_id == master_id.key_name {
                return master_signatures(user_id, signed, sent, master, &devices);
            }
            let Some(signature) = sent.get(&ssk_key_id) else {
                return Err(invalid_signature());
            };
            let Some(stored) = devices.get(key_id) else {
                return Err(unknown_device());
            };
            if signatures_by(stored, user_id).is_some_and(|s| s.contains_key(&ssk_key_id)) {
                return Ok(Vec::new());
            }
            check_signature(user_id, &ssk_id, &ssk, signed, stored)?;
            Ok(vec![Accepted::Device {
                device_id: key_id.clone(),
                key_id: ssk_key_id.clone(),
                signature: signature.clone(),
            }])
        })();
        match result {
            Ok(list) => accepted.extend(list),
            Err(entry) => set_failure(failures, user_id, key_id, entry),
        }
    }
}

/// Synapse's `_check_master_key_signature`: every signature under the user's entity
/// must be by one of their devices, whose ed25519 key verifies it.
fn master_signatures(
    user_id: &str,
    signed: &Value,
    sent: &Map<String, Value>,
    stored_master: &Value,
    devices: &Map<String, Value>,
) -> Result<Vec<Accepted>, Value> {
    let mut list = Vec::new();
    for (signing_key_id, signature) in sent {
        let (algorithm, device_id) = signing_key_id.split_once(':').ok_or_else(invalid_signature)?;
        let device_key = devices
            .get(device_id)
            .and_then(|device| device.get("keys"))
            .and_then(|keys| keys.get(signing_key_id))
            .ok_or_else(invalid_signature)?;
        if algorithm != "ed25519" {
            return Err(invalid_signature());
        }
        let public_key = device_key
            .as_str()
            .and_then(|key| Ed25519PublicKey::from_base64(key).ok())
            .ok_or_else(invalid_signature)?;
        let key_id = KeyId::new("ed25519", device_id);
        check_signature(user_id, &key_id, &public_key, signed, stored_master)?;
        list.push(Accepted::OwnMaster { key_id: signing_key_id.clone(), signature: signature.clone() });
    }
    Ok(list)
}

/// Other users' entries: their master key signed by the uploader's user-signing key.
fn other_signatures(
    state: &State,
    signer: &str,
    others: &[(&String, &Map<String, Value>)],
    accepted: &mut Vec<Accepted>,
    failures: &mut Failures,
) {
    let usk = state.users.get(signer).and_then(|u| stored_key(u.user_signing_key.as_ref()));
    let Some((usk_id, usk)) = usk else {
        for (target, entries) in others {
            fail_all(failures, target, entries, &not_found("user_signing", signer));
        }
        return;
    };
    let usk_key_id = usk_id.to_string();
    for (target, entries) in others {
        let target = target.as_str();
        if !looks_like_user_id(target) {
            let entry = failure(400, "M_INVALID_PARAM", "Invalid user id");
            fail_all(failures, target, entries, &entry);
            continue;
        }
        let master = state.users.get(target).and_then(|u| u.master_key.as_ref());
        let (Some(master), Some((master_id, _))) = (master, stored_key(master)) else {
            fail_all(failures, target, entries, &not_found("master", target));
            continue;
        };
        let name = master_id.key_name.as_str();
        let Some(signed) = entries.get(name) else {
            fail_all(failures, target, entries, &unknown_device());
            continue;
        };
        let others: Map<String, Value> =
            entries.keys().filter(|k| *k != name).map(|k| (k.clone(), unknown_device())).collect();
        if !others.is_empty() {
            failures.insert(target.to_owned(), Value::Object(others));
        }
        if signatures_by(master, signer).is_some_and(|s| s.contains_key(&usk_key_id)) {
            continue;
        }
        match check_signature(signer, &usk_id, &usk, signed, master) {
            Ok(()) => {
                let signature = signed["signatures"][signer][&usk_key_id].clone();
                accepted.push(Accepted::OtherMaster {
                    target: target.to_owned(),
                    key_id: usk_key_id.clone(),
                    signature,
                });
            }
            Err(entry) => set_failure(failures, target, name, entry),
        }
    }
}

/// `@localpart:server`, as Synapse's `UserID.from_string` demands.
fn looks_like_user_id(user_id: &str) -> bool {
    user_id.strip_prefix('@').and_then(|rest| rest.split_once(':')).is_some()
}

/// Stores `signatures[entity][key_id] = signature` in an object.
fn add_signature(object: &mut Value, entity: &str, key_id: &str, signature: Value) {
    let Some(object) = object.as_object_mut() else {
        return;
    };
    let signatures = object.entry("signatures").or_insert_with(|| json!({}));
    if !signatures.is_object() {
        *signatures = json!({});
    }
    let by_entity = &mut signatures[entity];
    if !by_entity.is_object() {
        *by_entity = json!({});
    }
    by_entity[key_id] = signature;
}

/// Merges the accepted signatures and sends the `device_lists` signals.
fn apply(state: &mut State, signer: &str, accepted: Vec<Accepted>) {
    let mut own_changed = false;
    let mut signed_users: Vec<String> = Vec::new();
    for item in accepted {
        match item {
            Accepted::Device { device_id, key_id, signature } => {
                let keys = state
                    .users
                    .get_mut(signer)
                    .and_then(|u| u.devices.get_mut(&device_id))
                    .and_then(|d| d.keys.as_mut());
                if let Some(keys) = keys {
                    add_signature(keys, signer, &key_id, signature);
                    own_changed = true;
                }
            }
            Accepted::OwnMaster { key_id, signature } => {
                if let Some(master) = state.users.get_mut(signer).and_then(|u| u.master_key.as_mut()) {
                    add_signature(master, signer, &key_id, signature);
                    own_changed = true;
                }
            }
            Accepted::OtherMaster { target, key_id, signature } => {
                if let Some(master) = state.users.get_mut(&target).and_then(|u| u.master_key.as_mut()) {
                    add_signature(master, signer, &key_id, signature);
                    if !signed_users.contains(&target) {
                        signed_users.push(target);
                    }
                }
            }
        }
    }
    if own_changed {
        state.device_list_changed(signer);
    }
    for target in signed_users {
        let pos = state.next_pos();
        if let Some(user) = state.users.get_mut(signer) {
            for device in user.devices.values_mut() {
                device.device_list_changes.push((pos, target.clone()));
            }
        }
        state.wake = true;
    }
}
