//! Matrix user IDs and localpart rules.

use std::fmt;

/// The maximum length of a user ID in bytes (spec: 255).
pub const MAX_USER_ID_LENGTH: usize = 255;

/// Why a string is not an acceptable user ID or localpart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The user ID does not start with `@`.
    #[error("user ID must start with '@'")]
    MissingSigil,
    /// There is no `:` between localpart and server name.
    #[error("user ID has no ':' before the server name")]
    MissingColon,
    /// The localpart is empty.
    #[error("localpart is empty")]
    EmptyLocalpart,
    /// The server name is empty.
    #[error("server name is empty")]
    EmptyServerName,
    /// The user ID is longer than 255 bytes.
    #[error("user ID is {0} bytes long, the maximum is 255")]
    TooLong(usize),
    /// The localpart contains a character outside `a-z 0-9 = _ - . / +`.
    #[error("localpart contains the forbidden character {0:?}")]
    InvalidLocalpartChar(char),
}

/// A user ID `@localpart:server_name`.
///
/// Parsing splits at the first `:` (server names may contain a port).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId {
    full: String,
    colon: usize,
}

impl UserId {
    /// Parses `@localpart:server`. Both parts must be non-empty and the whole
    /// at most 255 bytes. Historical localparts (any non-colon characters) are
    /// accepted; use [`validate_localpart`] for the registration rule.
    pub fn parse(s: &str) -> Result<UserId, IdError> {
        let rest = s.strip_prefix('@').ok_or(IdError::MissingSigil)?;
        let (localpart, server) = rest.split_once(':').ok_or(IdError::MissingColon)?;
        if localpart.is_empty() {
            return Err(IdError::EmptyLocalpart);
        }
        if server.is_empty() {
            return Err(IdError::EmptyServerName);
        }
        if s.len() > MAX_USER_ID_LENGTH {
            return Err(IdError::TooLong(s.len()));
        }
        Ok(UserId { full: s.to_owned(), colon: 1 + localpart.len() })
    }

    /// Builds `@<localpart>:<server_name>` without validation.
    pub fn new(localpart: &str, server_name: &str) -> UserId {
        UserId { full: format!("@{localpart}:{server_name}"), colon: 1 + localpart.len() }
    }

    /// The part between `@` and the first `:`.
    pub fn localpart(&self) -> &str {
        &self.full[1..self.colon]
    }

    /// The part after the first `:`.
    pub fn server_name(&self) -> &str {
        &self.full[self.colon + 1..]
    }

    /// The whole ID as a string.
    pub fn as_str(&self) -> &str {
        &self.full
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({})", self.full)
    }
}

impl std::str::FromStr for UserId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UserId::parse(s)
    }
}

impl AsRef<str> for UserId {
    fn as_ref(&self) -> &str {
        &self.full
    }
}

impl serde::Serialize for UserId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.full)
    }
}

impl<'de> serde::Deserialize<'de> for UserId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        UserId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Synapse's rule for new registrations: a non-empty localpart made only of
/// `a-z`, `0-9`, `=`, `_`, `-`, `.`, `/` and `+`.
pub fn validate_localpart(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::EmptyLocalpart);
    }
    match s.chars().find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '=' | '_' | '-' | '.' | '/' | '+')) {
        Some(c) => Err(IdError::InvalidLocalpartChar(c)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_user_ids() {
        let id = UserId::parse("@boris:test").unwrap();
        assert_eq!(id.localpart(), "boris");
        assert_eq!(id.server_name(), "test");
        assert_eq!(id.to_string(), "@boris:test");
        assert_eq!(id, UserId::new("boris", "test"));
        let id = UserId::parse("@a:hs.example:8448").unwrap();
        assert_eq!(id.localpart(), "a");
        assert_eq!(id.server_name(), "hs.example:8448");
        assert_eq!(UserId::parse("boris:test"), Err(IdError::MissingSigil));
        assert_eq!(UserId::parse("@boris"), Err(IdError::MissingColon));
        assert_eq!(UserId::parse("@:test"), Err(IdError::EmptyLocalpart));
        assert_eq!(UserId::parse("@boris:"), Err(IdError::EmptyServerName));
        let long = format!("@{}:test", "a".repeat(250));
        assert_eq!(UserId::parse(&long), Err(IdError::TooLong(256)));
    }

    #[test]
    fn serde_and_order() {
        let id: UserId = serde_json::from_str("\"@alice:hs\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"@alice:hs\"");
        assert!(serde_json::from_str::<UserId>("\"alice\"").is_err());
        assert!(UserId::new("alice", "hs") < UserId::new("bob", "hs"));
    }

    #[test]
    fn localparts() {
        assert_eq!(validate_localpart("a.b_c-d=e/f+g09"), Ok(()));
        assert_eq!(validate_localpart(""), Err(IdError::EmptyLocalpart));
        assert_eq!(validate_localpart("Alice"), Err(IdError::InvalidLocalpartChar('A')));
        assert_eq!(validate_localpart("a b"), Err(IdError::InvalidLocalpartChar(' ')));
        assert_eq!(validate_localpart("a:b"), Err(IdError::InvalidLocalpartChar(':')));
        assert_eq!(validate_localpart("é"), Err(IdError::InvalidLocalpartChar('é')));
    }
}
