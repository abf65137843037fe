//! The faults that make `/keys/query` lie: [`Fault::HideDevice`],
//! [`Fault::TamperDeviceKey`] and [`Fault::TamperCrossSigningKey`].
//!
//! They edit the answer only. A fault fires (and is named in the journal) only when
//! it changed something: hiding takes one unit of the fault's budget per answer that
//! would have listed the device; tampering applies to every answer that holds the
//! target. Without an explicit `value`, the replacement is a fixed, valid-looking
//! wrong value derived from the original: a real Ed25519 public key, 32 bytes for a
//! Curve25519 key, or a well-formed Ed25519 signature by an unrelated key.
//!
//! A fault aimed at one caller (`seen_by`) edits only that caller's answers, and only
//! those take from a hiding fault's budget.

use protocol::keys::Ed25519Keypair;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::context::Ctx;
use crate::{CrossSigningKeyKind, Fault, FaultField};

/// Applies every matching fault to a `/keys/query` answer: hiding first, then
/// tampering (a hidden device is not tampered with).
pub(super) fn apply(ctx: &mut Ctx<'_>, answer: &mut Value) {
    for i in 0..ctx.state.faults.len() {
        let fault = ctx.state.faults[i].fault.clone();
        let Fault::HideDevice { user_id, device_id, .. } = &fault else { continue };
        if !fault.applies_to(ctx.caller.as_ref()) {
            continue;
        }
        let Some(devices) = answer["device_keys"].get_mut(user_id.as_str()).and_then(Value::as_object_mut)
        else {
            continue;
        };
        if devices.contains_key(device_id) && ctx.state.faults[i].take() {
            devices.remove(device_id);
            ctx.fire(&fault);
        }
    }
    for i in 0..ctx.state.faults.len() {
        let fault = ctx.state.faults[i].fault.clone();
        if !fault.applies_to(ctx.caller.as_ref()) {
            continue;
        }
        let changed = match &fault {
            Fault::TamperDeviceKey { user_id, device_id, field, value, .. } => answer["device_keys"]
                .get_mut(user_id.as_str())
                .and_then(|devices| devices.get_mut(device_id.as_str()))
                .is_some_and(|keys| tamper_device(keys, device_id, *field, value.as_deref())),
            Fault::TamperCrossSigningKey { user_id, key, field, value, .. } => answer[map_name(*key)]
                .get_mut(user_id.as_str())
                .is_some_and(|object| tamper_cross_signing(object, *field, value.as_deref())),
            _ => false,
        };
        if changed {
            ctx.fire(&fault);
        }
    }
}

fn map_name(kind: CrossSigningKeyKind) -> &'static str {
    match kind {
        CrossSigningKeyKind::Master => "master_keys",
        CrossSigningKeyKind::SelfSigning => "self_signing_keys",
        CrossSigningKeyKind::UserSigning => "user_signing_keys",
    }
}

fn tamper_device(keys: &mut Value, device_id: &str, field: FaultField, value: Option<&str>) -> bool {
    let key_id = match field {
        FaultField::Signature => return tamper_signatures(keys, value),
        FaultField::Ed25519 => format!("ed25519:{device_id}"),
        FaultField::Curve25519 => format!("curve25519:{device_id}"),
    };
    let Some(slot) = keys.get_mut("keys").and_then(|k| k.get_mut(&key_id)) else {
        return false;
    };
    let old = slot.as_str().unwrap_or_default().to_owned();
    let new = match (value, field) {
        (Some(v), _) => v.to_owned(),
        (None, FaultField::Curve25519) => wrong_curve25519(&old),
        (None, _) => wrong_ed25519(&old),
    };
    *slot = json!(new);
    true
}

/// Replaces the public key of a cross-signing key object: the key ID suffix and the
/// value, consistently (`ed25519:<new>` -> `<new>`). Curve25519 does not apply.
fn tamper_cross_signing(object: &mut Value, field: FaultField, value: Option<&str>) -> bool {
    match field {
        FaultField::Signature => tamper_signatures(object, value),
        FaultField::Curve25519 => false,
        FaultField::Ed25519 => {
            let Some(keys) = object.get_mut("keys").and_then(Value::as_object_mut) else {
                return false;
            };
            let Some(old_id) = keys.keys().find(|id| id.starts_with("ed25519:")).cloned() else {
                return false;
            };
            let old = keys.remove(&old_id).and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            let new = value.map_or_else(|| wrong_ed25519(&old), str::to_owned);
            keys.insert(format!("ed25519:{new}"), json!(new));
            true
        }
    }
}

/// Replaces every signature on the object. False when it has none.
fn tamper_signatures(object: &mut Value, value: Option<&str>) -> bool {
    let Some(signatures) = object.get_mut("signatures").and_then(Value::as_object_mut) else {
        return false;
    };
    let mut changed = false;
    for by_key in signatures.values_mut().filter_map(Value::as_object_mut) {
        let replaced: Map<String, Value> = by_key
            .iter()
            .map(|(key_id, old)| {
                let new =
                    value.map_or_else(|| wrong_signature(old.as_str().unwrap_or_default()), str::to_owned);
                (key_id.clone(), json!(new))
            })
            .collect();
        changed |= !replaced.is_empty();
        *by_key = replaced;
    }
    changed
}

fn derived_seed(purpose: &str, original: &str) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"mock-homeserver tamper ")
        .chain_update(purpose.as_bytes())
        .chain_update([0])
        .chain_update(original.as_bytes())
        .finalize()
        .into()
}

/// A real Ed25519 public key that differs from `original`.
pub(crate) fn wrong_ed25519(original: &str) -> String {
    Ed25519Keypair::from_seed(&derived_seed("ed25519", original)).public_key().to_base64()
}

/// 32 bytes, valid as a Curve25519 public key, that differ from `original`.
pub(crate) fn wrong_curve25519(original: &str) -> String {
    protocol::base64::encode(derived_seed("curve25519", original))
}

/// A well-formed Ed25519 signature that does not verify for the original signer.
pub(crate) fn wrong_signature(original: &str) -> String {
    let keypair = Ed25519Keypair::from_seed(&derived_seed("signature", original));
    keypair.sign(b"tampered by mock-homeserver").to_base64()
}
