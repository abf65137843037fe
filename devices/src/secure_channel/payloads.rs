//! The cleartext rendezvous bodies of the channel set-up (C1, C3; docs/protocol.md §4.1).

use base64::Engine as _;
use protocol::qr_login::is_v2_algorithm;
use serde_json::{json, Map, Value};

use super::{KeyBodyError, B64};

/// C1: the initiator's create body `{"algorithm":ALG}` (no key: the
/// initiator's key travels only in the QR code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitiatorCreateBody {
    /// The channel algorithm.
    pub algorithm: String,
}

impl InitiatorCreateBody {
    /// The wire body.
    pub fn to_json(&self) -> Value {
        json!({"algorithm": self.algorithm})
    }

    /// Parses a create body; the algorithm must be a v2 name.
    pub fn parse(value: &Value) -> Result<InitiatorCreateBody, KeyBodyError> {
        let object = value.as_object().ok_or(KeyBodyError::NotAnObject)?;
        Ok(InitiatorCreateBody { algorithm: algorithm(object)? })
    }
}

/// C3: the recipient's key body `{"algorithm":ALG,"key":b64}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientKeyBody {
    /// The channel algorithm the recipient names.
    pub algorithm: String,
    /// The recipient's X25519 public key.
    pub key: [u8; 32],
}

impl RecipientKeyBody {
    /// The wire body, key as unpadded b64.
    pub fn to_json(&self) -> Value {
        json!({"algorithm": self.algorithm, "key": B64.encode(self.key)})
    }

    /// Parses the first payload the initiator reads (js-sdk's check): the
    /// algorithm must be the stable or unstable v2 name and a 32-byte key
    /// must be present, padded or not.
    pub fn parse(value: &Value) -> Result<RecipientKeyBody, KeyBodyError> {
        let object = value.as_object().ok_or(KeyBodyError::NotAnObject)?;
        let algorithm = algorithm(object)?;
        let key_text =
            object.get("key").ok_or(KeyBodyError::MissingKey)?.as_str().ok_or(KeyBodyError::KeyNotString)?;
        let bytes = B64.decode(key_text).map_err(|_| KeyBodyError::KeyNotBase64)?;
        let key = bytes.as_slice().try_into().map_err(|_| KeyBodyError::KeyLength(bytes.len()))?;
        Ok(RecipientKeyBody { algorithm, key })
    }
}

fn algorithm(object: &Map<String, Value>) -> Result<String, KeyBodyError> {
    let algorithm = object.get("algorithm").and_then(Value::as_str).ok_or(KeyBodyError::MissingAlgorithm)?;
    if !is_v2_algorithm(algorithm) {
        return Err(KeyBodyError::UnsupportedAlgorithm(algorithm.to_owned()));
    }
    Ok(algorithm.to_owned())
}
