//! What the key endpoints share: key-ID parsing, one-time key counts, the server name
//! of a user ID and the `failures` entry for other servers.

use serde_json::{json, Map, Value};

use crate::state::Device;
use crate::MatrixError;

/// The one-time key algorithm every client uses, always counted (even as 0).
pub(crate) const SIGNED_CURVE25519: &str = "signed_curve25519";

/// The unclaimed one-time keys of a device counted by algorithm, always with
/// `signed_curve25519` (as `/keys/upload` answers and `/sync` reports them).
pub(crate) fn one_time_key_counts(device: &Device) -> Value {
    let mut counts = Map::new();
    counts.insert(SIGNED_CURVE25519.to_owned(), json!(0));
    for key_id in device.one_time_keys.keys() {
        let algorithm = algorithm_of(key_id);
        let count = counts.get(algorithm).and_then(Value::as_u64).unwrap_or(0);
        counts.insert(algorithm.to_owned(), json!(count + 1));
    }
    Value::Object(counts)
}

/// `signed_curve25519:AAAAAQ` -> `signed_curve25519`.
pub(crate) fn algorithm_of(key_id: &str) -> &str {
    key_id.split_once(':').map_or(key_id, |(algorithm, _)| algorithm)
}

/// The server name of a user ID, with Synapse's `UserID.from_string` errors.
pub(crate) fn server_name_of(user_id: &str) -> Result<&str, MatrixError> {
    let Some(rest) = user_id.strip_prefix('@') else {
        return Err(MatrixError::invalid_param("Expected UserID string to start with '@'"));
    };
    match rest.split_once(':') {
        Some((_, server)) => Ok(server),
        None => Err(MatrixError::invalid_param("Expected UserID of the form '@localname:domain'")),
    }
}

/// The `failures` entry for a server the mock cannot reach (every other server).
pub(crate) fn remote_failure() -> Value {
    json!({ "status": 503, "message": "Not ready for retry" })
}
