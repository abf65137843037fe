//! Sign in with QR code: the MSC3906 messages (both dialects, docs/protocol.md §1)
//! and the QR code JSON (§2) that bootstraps the MSC3903 secure channel.
//!
//! This module is pure data: it builds and parses wire shapes and never
//! performs I/O or cryptography. The channel itself lives in the `devices`
//! crate (`devices::secure_channel`).

pub mod messages;
pub mod qr_code;

pub use messages::{Dialect, LoginDevice, Message, MessageError};
pub use qr_code::{NameStrictness, QrCode, QrCodeError};

use std::fmt;
use std::str::FromStr;

/// MSC3903 v2 channel algorithm, unstable name. Deployed clients send it and
/// put it into the HKDF info (docs/protocol.md §4.2, D1).
pub const ALGORITHM_V2_UNSTABLE: &str = "org.matrix.msc3903.rendezvous.v2.curve25519-aes-sha256";
/// MSC3903 v2 channel algorithm, stable name from the MSC text (D1).
pub const ALGORITHM_V2_STABLE: &str = "m.rendezvous.v2.curve25519-aes-sha256";
/// The retired MSC3903 v1 channel (padded base64 in the HKDF info). Element
/// Android still lists it; the harness does not implement it (§4.2).
pub const ALGORITHM_V1_UNSTABLE: &str = "org.matrix.msc3903.rendezvous.v1.curve25519-aes-sha256";

/// MSC3886 simple HTTP rendezvous transport, unstable (deployed) name.
pub const TRANSPORT_HTTP_V1_UNSTABLE: &str = "org.matrix.msc3886.http.v1";
/// MSC3886 simple HTTP rendezvous transport, stable name from the MSC text.
pub const TRANSPORT_HTTP_V1_STABLE: &str = "http.v1";

/// The MSC3882 login-token protocol as offered in `protocols` (deployed name).
pub const PROTOCOL_LOGIN_TOKEN: &str = "org.matrix.msc3906.login_token";
/// The stable login-token protocol name; js-sdk accepts it as a choice (§1.2).
pub const PROTOCOL_LOGIN_TOKEN_STABLE: &str = "login_token";

/// The v2 flow name carried in the QR code `flow` field, unstable name (§1.4).
pub const FLOW_V2_UNSTABLE: &str = "org.matrix.msc3906.setup.additional_device.v2";
/// The v2 flow name, stable name from the MSC text (§1.4).
pub const FLOW_V2_STABLE: &str = "m.setup.additional_device";

/// Whether `algorithm` names the MSC3903 v2 channel (stable or unstable).
pub fn is_v2_algorithm(algorithm: &str) -> bool {
    algorithm == ALGORITHM_V2_UNSTABLE || algorithm == ALGORITHM_V2_STABLE
}

/// Whether `protocol` names the login-token protocol under either name.
pub fn is_login_token_protocol(protocol: &str) -> bool {
    protocol == PROTOCOL_LOGIN_TOKEN || protocol == PROTOCOL_LOGIN_TOKEN_STABLE
}

/// The sender's role in the sign-in, as carried in the QR code and in the
/// incompatible-intent message (docs/protocol.md §0, §1.3).
///
/// Its serde form is the wire string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Intent {
    /// `login.start`: the new device A, which wants to sign in.
    #[serde(rename = "login.start")]
    LoginStart,
    /// `login.reciprocate`: the existing device B, which signs A in.
    #[serde(rename = "login.reciprocate")]
    LoginReciprocate,
}

impl Intent {
    /// The wire string (`login.start` or `login.reciprocate`).
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::LoginStart => "login.start",
            Intent::LoginReciprocate => "login.reciprocate",
        }
    }

    /// Parses a wire string; `None` for anything but the two intents.
    pub fn from_wire(value: &str) -> Option<Intent> {
        match value {
            "login.start" => Some(Intent::LoginStart),
            "login.reciprocate" => Some(Intent::LoginReciprocate),
            _ => None,
        }
    }

    /// The only compatible pair is one of each (§0).
    pub fn is_compatible_with(self, other: Intent) -> bool {
        self != other
    }
}

impl fmt::Display for Intent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error of [`Intent::from_str`]: the string is not a known intent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown intent {0:?}")]
pub struct UnknownIntent(pub String);

impl FromStr for Intent {
    type Err = UnknownIntent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Intent::from_wire(s).ok_or_else(|| UnknownIntent(s.to_owned()))
    }
}

/// The base64 engine of docs/protocol.md's conventions: standard alphabet,
/// unpadded on output, padding optional and trailing bits tolerated on input.
pub(crate) const B64: ::base64::engine::GeneralPurpose = ::base64::engine::GeneralPurpose::new(
    &::base64::alphabet::STANDARD,
    ::base64::engine::GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(::base64::engine::DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);
