//! `POST /keys/device_signing/upload` and the cross-signing key validation that
//! `/register` (MSC2912) shares with it.
//!
//! CONTRACT (used by `register.rs`; keep these signatures):
//! * [`validate`] runs the validation table of protocol.md §7.4, rows a–h, in order,
//!   atomically, and returns the keys to store or the exact Matrix error.
//! * [`store`] stores validated keys and signals `device_lists.changed`.

use serde_json::{Map, Value};

use super::Route;
use crate::core::State;
use crate::MatrixError;

pub(crate) fn routes() -> Vec<Route> {
    Vec::new()
}

/// Cross-signing keys that passed validation, ready to store.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ValidatedKeys {
    pub master_key: Option<Value>,
    pub self_signing_key: Option<Value>,
    pub user_signing_key: Option<Value>,
}

/// Validates a `/keys/device_signing/upload` body (or an MSC2912 `device_signing`
/// value) for `user_id`, given the master key already stored, if any.
pub(crate) fn validate(
    user_id: &str,
    body: &Map<String, Value>,
    stored_master: Option<&Value>,
    synapse_quirks: bool,
) -> Result<ValidatedKeys, MatrixError> {
    // Placeholder until the validation table is implemented: accepts shapes only.
    let _ = (user_id, stored_master, synapse_quirks);
    Ok(ValidatedKeys {
        master_key: body.get("master_key").cloned(),
        self_signing_key: body.get("self_signing_key").cloned(),
        user_signing_key: body.get("user_signing_key").cloned(),
    })
}

/// Stores validated keys for an existing user and signals the change.
pub(crate) fn store(state: &mut State, user_id: &str, keys: ValidatedKeys) {
    let Some(user) = state.users.get_mut(user_id) else {
        return;
    };
    let mut changed = false;
    if let Some(master) = keys.master_key {
        user.master_key = Some(master);
        changed = true;
    }
    if let Some(ssk) = keys.self_signing_key {
        user.self_signing_key = Some(ssk);
        changed = true;
    }
    if let Some(usk) = keys.user_signing_key {
        user.user_signing_key = Some(usk);
        changed = true;
    }
    if changed {
        state.device_list_changed(user_id);
    }
}
