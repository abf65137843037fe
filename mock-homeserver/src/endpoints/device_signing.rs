//! `POST /_matrix/client/v3/keys/device_signing/upload` (docs/protocol.md §7.4) and the
//! cross-signing key validation that `/register` (MSC2912, §9.2) shares with it.
//!
//! CONTRACT (used by `register.rs`; keep these signatures):
//! * [`validate`] runs the validation table of docs/protocol.md §7.4, rows a–h, in order,
//!   atomically, and returns the keys to store or the exact Matrix error.
//! * [`store`] stores validated keys and signals `device_lists.changed`.
//!
//! The upload runs Synapse's pipeline: access token (dispatch), body (`M_NOT_JSON`,
//! `M_BAD_JSON`), the identical-keys shortcut, UIA when a master key is stored (or
//! always, in a profile without MSC3967), the validation table, then the store.
//!
//! Harness choices beyond Synapse (§7.4 "Harness choices"):
//! * atomic: nothing is stored unless every row passed, row h included;
//! * a non-array `usage` fails that key's row a, d or f;
//! * an undecodable user-signing public key fails with `Invalid user_signing key`
//!   unless the profile has `synapse_quirks`, which accepts it as Synapse does;
//! * a key field whose value is `null` counts as absent;
//! * `/keys/signatures/upload` merges signatures into the stored objects, so the
//!   identical-keys shortcut also accepts a key that equals the stored one except
//!   that the stored one carries extra signatures (what Synapse, which keeps those
//!   signatures in a separate table, sees as the same key);
//! * a profile without MSC3967 (`legacy`) demands password UIA for every upload,
//!   before the shortcut, as Dendrite and pre-MSC3967 servers do.

use protocol::cross_signing::{self, KeyUsage};
use serde_json::{json, Map, Value};

use super::route::{Auth, Route};
use super::uia::{self, PasswordOf};
use crate::context::Ctx;
use crate::state::State;
use crate::{MatrixError, Response};

pub(crate) fn routes() -> Vec<Route> {
    vec![Route::new("POST", "/_matrix/client/v3/keys/device_signing/upload", Auth::Required, upload)]
}

/// Cross-signing keys that passed validation, ready to store.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ValidatedKeys {
    pub master_key: Option<Value>,
    pub self_signing_key: Option<Value>,
    pub user_signing_key: Option<Value>,
}

fn upload(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let caller = ctx.caller()?;
    let mut body = ctx.req.json_object()?;
    let legacy = !ctx.state.profile.msc3967;
    let user = ctx.state.users.get(&caller.user_id).ok_or_else(MatrixError::unknown_token)?;
    let stored_master = user.master_key.clone();

    if !legacy && is_identical_to_stored(&body, user) {
        return Ok(Response::ok(json!({})));
    }
    if legacy || stored_master.is_some() {
        uia::authenticate(ctx, &body, &[&["m.login.password"]], PasswordOf::User(&caller.user_id))?;
    }
    body.remove("auth");
    let synapse_quirks = ctx.state.profile.synapse_quirks;
    let keys = validate(&caller.user_id, &body, stored_master.as_ref(), synapse_quirks)?;
    store(ctx.state, &caller.user_id, keys);
    Ok(Response::ok(json!({})))
}

/// Step 3 of the pipeline: every key present in the body (Python truthiness, as
/// Synapse tests it) equals the stored one. `{}` is trivially identical.
fn is_identical_to_stored(body: &Map<String, Value>, user: &crate::state::User) -> bool {
    let stored = [
        ("master_key", &user.master_key),
        ("self_signing_key", &user.self_signing_key),
        ("user_signing_key", &user.user_signing_key),
    ];
    stored.into_iter().all(|(field, stored)| match body.get(field) {
        Some(sent) if is_truthy(sent) => stored.as_ref().is_some_and(|stored| same_key(sent, stored)),
        _ => true,
    })
}

fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Equal as a whole, or equal apart from signatures the stored copy gained later
/// through `/keys/signatures/upload` (every signature sent is also stored).
fn same_key(sent: &Value, stored: &Value) -> bool {
    if sent == stored {
        return true;
    }
    if without_signatures(sent) != without_signatures(stored) {
        return false;
    }
    let Some(sent_signatures) = sent.get("signatures") else {
        return true;
    };
    let Some(sent_signatures) = sent_signatures.as_object() else {
        return false;
    };
    sent_signatures.iter().all(|(entity, by_key)| {
        let Some(by_key) = by_key.as_object() else {
            return false;
        };
        by_key.iter().all(|(key_id, signature)| stored["signatures"][entity].get(key_id) == Some(signature))
    })
}

fn without_signatures(value: &Value) -> Value {
    let mut value = value.clone();
    if let Some(object) = value.as_object_mut() {
        object.remove("signatures");
    }
    value
}

/// A key field of the body; `null` counts as absent.
fn field(body: &Map<String, Value>, usage: KeyUsage) -> Option<&Value> {
    body.get(usage.upload_field()).filter(|v| !v.is_null())
}

fn invalid_key(usage: KeyUsage) -> MatrixError {
    MatrixError::invalid_param(format!("Invalid {usage} key"))
}

fn invalid_signature(usage: KeyUsage) -> MatrixError {
    MatrixError::new(400, "M_INVALID_SIGNATURE", format!("Invalid signature on {usage} key"))
}

/// Validates a `/keys/device_signing/upload` body (or an MSC2912 `device_signing`
/// value) for `user_id`, given the master key already stored, if any.
///
/// Rows of §7.4 in check order: a (master shape), b (no master at all), c (master
/// key unusable; 500 if the bad one came from storage), d/e (self-signing shape and
/// signature by the master), f/g (the same for the user-signing key), h (the
/// self-signing public key cannot be decoded), then, without `synapse_quirks`, an
/// undecodable user-signing public key (`Invalid user_signing key`).
pub(crate) fn validate(
    user_id: &str,
    body: &Map<String, Value>,
    stored_master: Option<&Value>,
    synapse_quirks: bool,
) -> Result<ValidatedKeys, MatrixError> {
    let sent_master = field(body, KeyUsage::Master);
    let self_signing = field(body, KeyUsage::SelfSigning);
    let user_signing = field(body, KeyUsage::UserSigning);

    // Rows a, b, c.
    if let Some(master) = sent_master {
        cross_signing::check_shape(master, user_id, KeyUsage::Master)
            .map_err(|_| invalid_key(KeyUsage::Master))?;
    }
    let master =
        sent_master.or(stored_master).ok_or_else(|| MatrixError::missing_param("No master key available"))?;
    let (master_key_id, master_public) = cross_signing::public_key(master).map_err(|_| {
        if sent_master.is_some() {
            invalid_key(KeyUsage::Master)
        } else {
            MatrixError::new(500, "M_UNKNOWN", "Invalid master key")
        }
    })?;

    // Rows d/e, then f/g: shape, then the master's signature.
    for (key, usage) in [(self_signing, KeyUsage::SelfSigning), (user_signing, KeyUsage::UserSigning)] {
        let Some(key) = key else { continue };
        cross_signing::check_shape(key, user_id, usage).map_err(|_| invalid_key(usage))?;
        cross_signing::verify_signed_by(key, user_id, &master_key_id, &master_public)
            .map_err(|_| invalid_signature(usage))?;
    }

    // Row h, and its user-signing counterpart outside the Synapse-quirks profile.
    if let Some(key) = self_signing {
        cross_signing::public_key(key).map_err(|_| MatrixError::invalid_param("Invalid self-signing key"))?;
    }
    if let (Some(key), false) = (user_signing, synapse_quirks) {
        cross_signing::public_key(key).map_err(|_| invalid_key(KeyUsage::UserSigning))?;
    }

    Ok(ValidatedKeys {
        master_key: sent_master.cloned(),
        self_signing_key: self_signing.cloned(),
        user_signing_key: user_signing.cloned(),
    })
}

/// Stores validated keys for an existing user and signals the change.
///
/// A master key re-sent with the same content keeps the signatures that
/// `/keys/signatures/upload` had merged into the stored copy (Synapse keeps those in
/// a separate table, so re-sending the key does not drop them).
pub(crate) fn store(state: &mut State, user_id: &str, keys: ValidatedKeys) {
    let Some(user) = state.users.get_mut(user_id) else {
        return;
    };
    let mut changed = false;
    if let Some(mut master) = keys.master_key {
        if let Some(old) = &user.master_key {
            if without_signatures(old) == without_signatures(&master) {
                keep_signatures(&mut master, old);
            }
        }
        changed |= user.master_key.as_ref() != Some(&master);
        user.master_key = Some(master);
    }
    if let Some(ssk) = keys.self_signing_key {
        changed |= user.self_signing_key.as_ref() != Some(&ssk);
        user.self_signing_key = Some(ssk);
    }
    if let Some(usk) = keys.user_signing_key {
        changed |= user.user_signing_key.as_ref() != Some(&usk);
        user.user_signing_key = Some(usk);
    }
    // A master or self-signing change reaches the user and everyone sharing a room
    // with them; a user-signing change only the user. The mock has no rooms, so both
    // are the same signal to the user's own devices.
    if changed {
        state.device_list_changed(user_id);
    }
}

/// Copies into `new` the signatures of `old` that `new` lacks.
fn keep_signatures(new: &mut Value, old: &Value) {
    let Some(old_signatures) = old.get("signatures").and_then(Value::as_object) else {
        return;
    };
    let Some(object) = new.as_object_mut() else {
        return;
    };
    let signatures = object.entry("signatures").or_insert_with(|| json!({}));
    let Some(signatures) = signatures.as_object_mut() else {
        return;
    };
    for (entity, by_key) in old_signatures {
        let Some(by_key) = by_key.as_object() else { continue };
        let slot = signatures.entry(entity.clone()).or_insert_with(|| json!({}));
        let Some(slot) = slot.as_object_mut() else { continue };
        for (key_id, signature) in by_key {
            slot.entry(key_id.clone()).or_insert_with(|| signature.clone());
        }
    }
}
