//! Typed MSC3906 messages (the plaintexts M1–M8 of docs/protocol.md §1.1) in the
//! deployed v1 dialect and the MSC-head v2 dialect (§1.4).
//!
//! [`Message::to_json`] emits the exact wire shape of the tables;
//! [`Message::parse`] accepts what the simulated devices accept (§1.2, §10).

use serde_json::{json, Map, Value};

use super::Intent;

/// Which MSC3906 message vocabulary a flow speaks (docs/protocol.md §0, §1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Dialect {
    /// Deployed: `m.login.progress` / `m.login.finish` with `outcome`.
    #[default]
    V1,
    /// MSC head: one `type` per message, announced by the QR code `flow`.
    V2,
}

/// The new device's identity as reported in the E2EE success message (M7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginDevice {
    /// A's device ID (`device_id`).
    pub device_id: String,
    /// A's Ed25519 identity key, b64, exactly as uploaded (`device_key`).
    pub device_key: String,
}

/// One MSC3906 message, by meaning rather than by wire shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// M1: the sender's own `intent` is incompatible with the QR code's.
    IncompatibleIntent {
        /// The sender's own intent.
        intent: Intent,
    },
    /// Step 3: the empty `{"type":"m.login.progress"}` that hands the turn back.
    Progress,
    /// M2 (or A's answer to M3): the homeserver or the peer lacks support.
    Unsupported,
    /// M3: the protocols B offers.
    Protocols {
        /// Offered protocol names, e.g. `org.matrix.msc3906.login_token`.
        protocols: Vec<String>,
    },
    /// M4: the protocol A chose.
    Protocol {
        /// The chosen protocol name.
        protocol: String,
    },
    /// M5: the user declined on B.
    Declined,
    /// M6: the login token and B's homeserver base URL.
    Approved {
        /// The opaque MSC3882 login token.
        login_token: String,
        /// The Client-Server API base URL of B's homeserver.
        homeserver: String,
    },
    /// M7 (with a device) or M7′ (without E2EE, `device` is `None`).
    Success {
        /// A's device ID and Ed25519 key, present when A set up E2EE.
        device: Option<LoginDevice>,
    },
    /// M8: B verified A and identifies itself.
    Verified {
        /// B's device ID.
        verifying_device_id: String,
        /// B's Ed25519 identity key (b64).
        verifying_device_key: String,
        /// The public master cross-signing key (b64, no `ed25519:` prefix);
        /// omitted when B has no cross-signing.
        master_key: Option<String>,
    },
    /// A cancels (`outcome:"cancelled"` / `reason:"cancelled"`).
    Cancelled,
    /// An abort after a failed security check (`e2ee_security_error`, §1.6).
    SecurityError,
}

/// Why a plaintext is not an acceptable MSC3906 message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The plaintext is not a JSON object.
    #[error("message is not a JSON object")]
    NotAnObject,
    /// A required field is absent.
    #[error("message lacks the required field `{0}`")]
    MissingField(&'static str),
    /// A field has the wrong JSON type.
    #[error("field `{field}` must be {expected}")]
    InvalidField {
        /// The field name.
        field: &'static str,
        /// What it must be, e.g. "a string".
        expected: &'static str,
    },
    /// The `type` is not a message type of this dialect.
    #[error("unknown message type {0:?} for this dialect")]
    UnknownType(String),
    /// A v1 `outcome` that no deployed parser knows (e.g. a typo).
    #[error("unknown outcome {0:?}")]
    UnknownOutcome(String),
    /// A known `outcome` under a `type` that does not carry it (only
    /// `success` is allowed under `m.login.progress`, D5).
    #[error("outcome {outcome:?} is not allowed in a {message_type} message")]
    OutcomeNotAllowed {
        /// The message `type`.
        message_type: &'static str,
        /// The offending outcome.
        outcome: String,
    },
    /// A v2 `m.login.failure` `reason` that is not known.
    #[error("unknown failure reason {0:?}")]
    UnknownReason(String),
    /// An `intent` that is neither `login.start` nor `login.reciprocate`.
    #[error("unknown intent {0:?}")]
    UnknownIntent(String),
}

const PROGRESS: &str = "m.login.progress";
const FINISH: &str = "m.login.finish";
const FAILURE: &str = "m.login.failure";
const PROTOCOLS: &str = "m.login.protocols";
const PROTOCOL: &str = "m.login.protocol";
const DECLINED: &str = "m.login.declined";
const APPROVED: &str = "m.login.approved";
const SUCCESS: &str = "m.login.success";
const VERIFIED: &str = "m.login.verified";

impl Message {
    /// A short stable name of the variant, for journals and
    /// "unexpected message" errors (e.g. `"protocols"`).
    pub fn kind(&self) -> &'static str {
        match self {
            Message::IncompatibleIntent { .. } => "incompatible_intent",
            Message::Progress => "progress",
            Message::Unsupported => "unsupported",
            Message::Protocols { .. } => "protocols",
            Message::Protocol { .. } => "protocol",
            Message::Declined => "declined",
            Message::Approved { .. } => "approved",
            Message::Success { .. } => "success",
            Message::Verified { .. } => "verified",
            Message::Cancelled => "cancelled",
            Message::SecurityError => "e2ee_security_error",
        }
    }

    /// The exact wire shape of this message in `dialect` (§1.1, §1.4 table).
    pub fn to_json(&self, dialect: Dialect) -> Value {
        match dialect {
            Dialect::V1 => self.to_json_v1(),
            Dialect::V2 => self.to_json_v2(),
        }
    }

    fn to_json_v1(&self) -> Value {
        match self {
            Message::IncompatibleIntent { intent } => {
                json!({"type": FINISH, "intent": intent.as_str()})
            }
            Message::Progress => json!({"type": PROGRESS}),
            Message::Unsupported => json!({"type": FINISH, "outcome": "unsupported"}),
            Message::Protocols { protocols } => json!({"type": PROGRESS, "protocols": protocols}),
            Message::Protocol { protocol } => json!({"type": PROGRESS, "protocol": protocol}),
            Message::Declined => json!({"type": FINISH, "outcome": "declined"}),
            Message::Approved { login_token, homeserver } => {
                json!({"type": PROGRESS, "login_token": login_token, "homeserver": homeserver})
            }
            Message::Success { device: None } => json!({"type": FINISH, "outcome": "success"}),
            Message::Success { device: Some(device) } => json!({
                "type": PROGRESS,
                "outcome": "success",
                "device_id": device.device_id,
                "device_key": device.device_key,
            }),
            Message::Verified { .. } => {
                let mut value = self.verified_fields();
                value.insert("type".into(), FINISH.into());
                value.insert("outcome".into(), "verified".into());
                Value::Object(value)
            }
            Message::Cancelled => json!({"type": FINISH, "outcome": "cancelled"}),
            Message::SecurityError => json!({"type": FINISH, "outcome": "e2ee_security_error"}),
        }
    }

    fn to_json_v2(&self) -> Value {
        match self {
            Message::IncompatibleIntent { intent } => json!({
                "type": FAILURE,
                "reason": "incompatible_intent",
                "intent": intent.as_str(),
            }),
            Message::Progress => json!({"type": PROGRESS}),
            Message::Unsupported => json!({"type": FAILURE, "reason": "unsupported"}),
            Message::Protocols { protocols } => json!({"type": PROTOCOLS, "protocols": protocols}),
            Message::Protocol { protocol } => json!({"type": PROTOCOL, "protocol": protocol}),
            Message::Declined => json!({"type": DECLINED}),
            Message::Approved { login_token, homeserver } => {
                json!({"type": APPROVED, "login_token": login_token, "homeserver": homeserver})
            }
            Message::Success { device: None } => json!({"type": SUCCESS}),
            Message::Success { device: Some(device) } => json!({
                "type": SUCCESS,
                "device_id": device.device_id,
                "device_key": device.device_key,
            }),
            Message::Verified { .. } => {
                let mut value = self.verified_fields();
                value.insert("type".into(), VERIFIED.into());
                Value::Object(value)
            }
            Message::Cancelled => json!({"type": FAILURE, "reason": "cancelled"}),
            Message::SecurityError => json!({"type": FAILURE, "reason": "e2ee_security_error"}),
        }
    }

    fn verified_fields(&self) -> Map<String, Value> {
        let mut map = Map::new();
        if let Message::Verified { verifying_device_id, verifying_device_key, master_key } = self {
            map.insert("verifying_device_id".into(), verifying_device_id.as_str().into());
            map.insert("verifying_device_key".into(), verifying_device_key.as_str().into());
            if let Some(master_key) = master_key {
                map.insert("master_key".into(), master_key.as_str().into());
            }
        }
        map
    }

    /// Parses a decrypted plaintext in `dialect`.
    ///
    /// v1 follows the deployed parsers (§1.2): a success message is accepted
    /// under either `m.login.progress` or `m.login.finish` (D5); unknown
    /// fields are ignored; an unknown `type` or `outcome` is an error naming
    /// it. A v2 type in a v1 flow (and vice versa) is an unknown type.
    pub fn parse(value: &Value, dialect: Dialect) -> Result<Message, MessageError> {
        let object = value.as_object().ok_or(MessageError::NotAnObject)?;
        let message_type = required_str(object, "type")?;
        match dialect {
            Dialect::V1 => parse_v1(object, message_type),
            Dialect::V2 => parse_v2(object, message_type),
        }
    }
}

fn parse_v1(object: &Map<String, Value>, message_type: &str) -> Result<Message, MessageError> {
    match message_type {
        PROGRESS => {
            if let Some(outcome) = optional_str(object, "outcome")? {
                return match outcome {
                    "success" => parse_success(object),
                    "declined" | "unsupported" | "verified" | "cancelled" | "e2ee_security_error" => {
                        Err(MessageError::OutcomeNotAllowed {
                            message_type: PROGRESS,
                            outcome: outcome.to_owned(),
                        })
                    }
                    other => Err(MessageError::UnknownOutcome(other.to_owned())),
                };
            }
            if object.contains_key("protocols") {
                return parse_protocols(object);
            }
            if object.contains_key("protocol") {
                return parse_protocol(object);
            }
            if object.contains_key("login_token") || object.contains_key("homeserver") {
                return parse_approved(object);
            }
            Ok(Message::Progress)
        }
        FINISH => match optional_str(object, "outcome")? {
            Some("success") => parse_success(object),
            Some("declined") => Ok(Message::Declined),
            Some("unsupported") => Ok(Message::Unsupported),
            Some("verified") => parse_verified(object),
            Some("cancelled") => Ok(Message::Cancelled),
            Some("e2ee_security_error") => Ok(Message::SecurityError),
            Some(other) => Err(MessageError::UnknownOutcome(other.to_owned())),
            None if object.contains_key("intent") => parse_intent(object),
            None => Err(MessageError::MissingField("outcome")),
        },
        other => Err(MessageError::UnknownType(other.to_owned())),
    }
}

fn parse_v2(object: &Map<String, Value>, message_type: &str) -> Result<Message, MessageError> {
    match message_type {
        PROGRESS => Ok(Message::Progress),
        FAILURE => match required_str(object, "reason")? {
            "incompatible_intent" => parse_intent(object),
            "unsupported" => Ok(Message::Unsupported),
            "cancelled" => Ok(Message::Cancelled),
            "e2ee_security_error" => Ok(Message::SecurityError),
            other => Err(MessageError::UnknownReason(other.to_owned())),
        },
        PROTOCOLS => parse_protocols(object),
        PROTOCOL => parse_protocol(object),
        DECLINED => Ok(Message::Declined),
        APPROVED => parse_approved(object),
        SUCCESS => parse_success(object),
        VERIFIED => parse_verified(object),
        other => Err(MessageError::UnknownType(other.to_owned())),
    }
}

fn parse_intent(object: &Map<String, Value>) -> Result<Message, MessageError> {
    let intent = required_str(object, "intent")?;
    let intent = Intent::from_wire(intent).ok_or_else(|| MessageError::UnknownIntent(intent.to_owned()))?;
    Ok(Message::IncompatibleIntent { intent })
}

fn parse_protocols(object: &Map<String, Value>) -> Result<Message, MessageError> {
    let invalid = MessageError::InvalidField { field: "protocols", expected: "an array of strings" };
    let list = object
        .get("protocols")
        .ok_or(MessageError::MissingField("protocols"))?
        .as_array()
        .ok_or_else(|| invalid.clone())?;
    let protocols = list
        .iter()
        .map(|p| p.as_str().map(str::to_owned).ok_or_else(|| invalid.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Message::Protocols { protocols })
}

fn parse_protocol(object: &Map<String, Value>) -> Result<Message, MessageError> {
    Ok(Message::Protocol { protocol: required_str(object, "protocol")?.to_owned() })
}

fn parse_approved(object: &Map<String, Value>) -> Result<Message, MessageError> {
    Ok(Message::Approved {
        login_token: required_str(object, "login_token")?.to_owned(),
        homeserver: required_str(object, "homeserver")?.to_owned(),
    })
}

/// js-sdk takes `device_id` and `device_key`; without `device_key` it skips
/// verification (the no-E2EE case). A key without an ID is an error.
fn parse_success(object: &Map<String, Value>) -> Result<Message, MessageError> {
    let device = match optional_str(object, "device_key")? {
        None => None,
        Some(device_key) => Some(LoginDevice {
            device_id: required_str(object, "device_id")?.to_owned(),
            device_key: device_key.to_owned(),
        }),
    };
    Ok(Message::Success { device })
}

fn parse_verified(object: &Map<String, Value>) -> Result<Message, MessageError> {
    Ok(Message::Verified {
        verifying_device_id: required_str(object, "verifying_device_id")?.to_owned(),
        verifying_device_key: required_str(object, "verifying_device_key")?.to_owned(),
        master_key: optional_str(object, "master_key")?.map(str::to_owned),
    })
}

fn required_str<'a>(object: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, MessageError> {
    optional_str(object, field)?.ok_or(MessageError::MissingField(field))
}

fn optional_str<'a>(
    object: &'a Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'a str>, MessageError> {
    match object.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(MessageError::InvalidField { field, expected: "a string" }),
    }
}
