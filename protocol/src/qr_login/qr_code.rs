//! The QR code JSON of MSC3906 as js-sdk emits it (docs/protocol.md §2) and the
//! scanner-side parser of the simulated new device.

use ::base64::Engine as _;
use serde_json::{Map, Value};

use super::{
    Dialect, Intent, ALGORITHM_V1_UNSTABLE, ALGORITHM_V2_STABLE, ALGORITHM_V2_UNSTABLE, B64, FLOW_V2_STABLE,
    FLOW_V2_UNSTABLE, TRANSPORT_HTTP_V1_STABLE, TRANSPORT_HTTP_V1_UNSTABLE,
};

/// Which names the scanner accepts in the QR code (D1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NameStrictness {
    /// Stable or unstable names (the harness default, as js-sdk accepts).
    #[default]
    AcceptStable,
    /// Profile `strict-deployed`: only the unstable names deployed clients
    /// send, as Element Android accepts.
    StrictDeployed,
}

/// The decoded MSC3906 QR code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrCode {
    /// `rendezvous.algorithm`, kept verbatim: this exact string goes into
    /// the HKDF info (§4.2).
    pub algorithm: String,
    /// `rendezvous.key`: the generator's X25519 public key.
    pub key: [u8; 32],
    /// `rendezvous.transport.type`.
    pub transport_type: String,
    /// `rendezvous.transport.uri`: the absolute rendezvous URL.
    pub uri: String,
    /// The generator's intent.
    pub intent: Intent,
    /// `flow`: present only in the v2 dialect.
    pub flow: Option<String>,
}

/// Why a QR code payload is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrCodeError {
    /// The payload is not JSON.
    #[error("QR code payload is not JSON: {0}")]
    NotJson(String),
    /// A required field is absent (dotted path, e.g. `rendezvous.key`).
    #[error("QR code lacks the field `{0}`")]
    MissingField(&'static str),
    /// A field has the wrong JSON type.
    #[error("QR code field `{field}` must be {expected}")]
    InvalidField {
        /// Dotted path of the field.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// `rendezvous.algorithm` is not a known channel algorithm.
    #[error("unknown rendezvous algorithm {0:?}")]
    UnknownAlgorithm(String),
    /// The retired MSC3903 v1 channel, which the harness does not speak.
    #[error("retired rendezvous algorithm {0:?} is not supported")]
    RetiredAlgorithm(String),
    /// `rendezvous.transport.type` is not a known transport.
    #[error("unknown rendezvous transport {0:?}")]
    UnknownTransport(String),
    /// A stable name where the `strict-deployed` profile requires the
    /// unstable one.
    #[error("stable name {value:?} in `{field}` rejected by the strict-deployed profile")]
    StableNameRejected {
        /// Dotted path of the field.
        field: &'static str,
        /// The stable name found.
        value: String,
    },
    /// `rendezvous.key` is not base64.
    #[error("rendezvous key is not base64")]
    KeyNotBase64,
    /// `rendezvous.key` does not decode to 32 bytes.
    #[error("rendezvous key has {0} bytes, expected 32")]
    KeyLength(usize),
    /// `rendezvous.transport.uri` is not an absolute http(s) URL.
    #[error("rendezvous uri {0:?} is not an absolute http(s) URL")]
    UriNotAbsolute(String),
    /// `intent` is neither `login.start` nor `login.reciprocate`.
    #[error("unknown intent {0:?}")]
    UnknownIntent(String),
    /// `flow` is present but names no known flow.
    #[error("unknown flow {0:?}")]
    UnknownFlow(String),
}

impl QrCode {
    /// The QR code a deployed generator shows: unstable names, no `flow`.
    pub fn deployed(key: [u8; 32], uri: impl Into<String>, intent: Intent) -> QrCode {
        QrCode {
            algorithm: ALGORITHM_V2_UNSTABLE.to_owned(),
            key,
            transport_type: TRANSPORT_HTTP_V1_UNSTABLE.to_owned(),
            uri: uri.into(),
            intent,
            flow: None,
        }
    }

    /// The same code with the stable names of the MSC text (simulated B's
    /// stable-names profile).
    pub fn with_stable_names(mut self) -> QrCode {
        self.algorithm = ALGORITHM_V2_STABLE.to_owned();
        self.transport_type = TRANSPORT_HTTP_V1_STABLE.to_owned();
        if self.flow.is_some() {
            self.flow = Some(FLOW_V2_STABLE.to_owned());
        }
        self
    }

    /// The same code announcing the v2 dialect (unstable flow name).
    pub fn with_v2_flow(mut self) -> QrCode {
        self.flow = Some(FLOW_V2_UNSTABLE.to_owned());
        self
    }

    /// The dialect the code announces: `flow` present means v2 (§1.4).
    pub fn dialect(&self) -> Dialect {
        if self.flow.is_some() {
            Dialect::V2
        } else {
            Dialect::V1
        }
    }

    /// `rendezvous.key` as unpadded b64.
    pub fn key_base64(&self) -> String {
        B64.encode(self.key)
    }

    /// The compact JSON text in js-sdk's key order:
    /// `{"rendezvous":{"algorithm","key","transport":{"type","uri"}},"intent"[,"flow"]}`.
    pub fn to_json_string(&self) -> String {
        let s = |v: &str| Value::String(v.to_owned()).to_string();
        let flow = match &self.flow {
            Some(flow) => format!(",\"flow\":{}", s(flow)),
            None => String::new(),
        };
        format!(
            "{{\"rendezvous\":{{\"algorithm\":{},\"key\":{},\"transport\":{{\"type\":{},\"uri\":{}}}}},\"intent\":{}{}}}",
            s(&self.algorithm),
            s(&self.key_base64()),
            s(&self.transport_type),
            s(&self.uri),
            s(self.intent.as_str()),
            flow,
        )
    }

    /// The code as a JSON value (key order not significant).
    pub fn to_json(&self) -> Value {
        serde_json::from_str(&self.to_json_string()).unwrap_or(Value::Null)
    }

    /// Parses the QR payload as the simulated new device does (§2, D1).
    ///
    /// The intent is only syntax-checked here; compatibility is checked
    /// after the channel is up (M1), as Element Android does.
    pub fn parse(text: &str, strictness: NameStrictness) -> Result<QrCode, QrCodeError> {
        let value: Value = serde_json::from_str(text).map_err(|e| QrCodeError::NotJson(e.to_string()))?;
        QrCode::from_json(&value, strictness)
    }

    /// Like [`QrCode::parse`], from an already decoded JSON value.
    pub fn from_json(value: &Value, strictness: NameStrictness) -> Result<QrCode, QrCodeError> {
        let root = object(value, "(root)")?;
        let rendezvous = object(field(root, "rendezvous", "rendezvous")?, "rendezvous")?;

        let algorithm = string(rendezvous, "algorithm", "rendezvous.algorithm")?;
        match algorithm {
            ALGORITHM_V2_UNSTABLE => {}
            ALGORITHM_V2_STABLE => {
                reject_stable(strictness, "rendezvous.algorithm", algorithm)?;
            }
            ALGORITHM_V1_UNSTABLE => {
                return Err(QrCodeError::RetiredAlgorithm(algorithm.to_owned()));
            }
            other => return Err(QrCodeError::UnknownAlgorithm(other.to_owned())),
        }

        let key_text = string(rendezvous, "key", "rendezvous.key")?;
        let key_bytes = B64.decode(key_text).map_err(|_| QrCodeError::KeyNotBase64)?;
        let key: [u8; 32] =
            key_bytes.as_slice().try_into().map_err(|_| QrCodeError::KeyLength(key_bytes.len()))?;

        let transport =
            object(field(rendezvous, "transport", "rendezvous.transport")?, "rendezvous.transport")?;
        let transport_type = string(transport, "type", "rendezvous.transport.type")?;
        match transport_type {
            TRANSPORT_HTTP_V1_UNSTABLE => {}
            TRANSPORT_HTTP_V1_STABLE => {
                reject_stable(strictness, "rendezvous.transport.type", transport_type)?;
            }
            other => return Err(QrCodeError::UnknownTransport(other.to_owned())),
        }
        let uri = string(transport, "uri", "rendezvous.transport.uri")?;
        if !is_absolute_http_url(uri) {
            return Err(QrCodeError::UriNotAbsolute(uri.to_owned()));
        }

        let intent = string(root, "intent", "intent")?;
        let intent =
            Intent::from_wire(intent).ok_or_else(|| QrCodeError::UnknownIntent(intent.to_owned()))?;

        let flow = match root.get("flow") {
            None => None,
            Some(Value::String(flow)) => match flow.as_str() {
                FLOW_V2_UNSTABLE => Some(flow.clone()),
                FLOW_V2_STABLE => {
                    reject_stable(strictness, "flow", flow)?;
                    Some(flow.clone())
                }
                other => return Err(QrCodeError::UnknownFlow(other.to_owned())),
            },
            Some(_) => return Err(QrCodeError::InvalidField { field: "flow", expected: "a string" }),
        };

        Ok(QrCode {
            algorithm: algorithm.to_owned(),
            key,
            transport_type: transport_type.to_owned(),
            uri: uri.to_owned(),
            intent,
            flow,
        })
    }
}

fn reject_stable(strictness: NameStrictness, field: &'static str, value: &str) -> Result<(), QrCodeError> {
    match strictness {
        NameStrictness::AcceptStable => Ok(()),
        NameStrictness::StrictDeployed => {
            Err(QrCodeError::StableNameRejected { field, value: value.to_owned() })
        }
    }
}

fn is_absolute_http_url(uri: &str) -> bool {
    ["https://", "http://"].iter().any(|scheme| {
        uri.len() > scheme.len()
            && uri.is_char_boundary(scheme.len())
            && uri[..scheme.len()].eq_ignore_ascii_case(scheme)
    })
}

fn field<'a>(
    object: &'a Map<String, Value>,
    name: &str,
    path: &'static str,
) -> Result<&'a Value, QrCodeError> {
    object.get(name).ok_or(QrCodeError::MissingField(path))
}

fn object<'a>(value: &'a Value, path: &'static str) -> Result<&'a Map<String, Value>, QrCodeError> {
    value.as_object().ok_or(QrCodeError::InvalidField { field: path, expected: "an object" })
}

fn string<'a>(
    object: &'a Map<String, Value>,
    name: &str,
    path: &'static str,
) -> Result<&'a str, QrCodeError> {
    field(object, name, path)?.as_str().ok_or(QrCodeError::InvalidField { field: path, expected: "a string" })
}
