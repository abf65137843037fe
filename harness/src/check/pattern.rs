//! Event patterns: one short line per event, in the same grammar as the transcript.
//!
//! | kind | example |
//! |---|---|
//! | HTTP exchange | `B -> HS: POST /keys/signatures/upload` (any status) or `... 200`; then `key=value` pairs one object of the request body must hold (`action=request name=m.cross_signing.master`), and `about ROLE` for a request whose body names that role's device |
//! | channel message | `B -> A: m.login.finish outcome=verified` (named fields must match) |
//! | decision | `A: marked B verified`, `B: checked A's device key: mismatch` |
//! | display | `B: shows QR code`, `A: shows check code` |
//! | ending | `A: finished security_error` or `A: finished security_error (master_key_mismatch)` |
//!
//! `*` in a path, a field value or a decision matches any run of characters. An HTTP
//! pattern must fit an endpoint the mock homeserver serves ([`super::served`]), so a
//! typo in its method or path does not parse.

use devices::{AbortKind, Decision, OutcomeKind, RoleKind};

use super::transcript::{channel_summary, decision_line, short_path, Actor, DeviceNames, Display, Entry};

/// A parsed event pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// An HTTP exchange.
    Http {
        /// Requesting role.
        actor: RoleKind,
        /// Method.
        method: String,
        /// Short path glob.
        path: String,
        /// Status, when given.
        status: Option<u16>,
        /// `key=value` pairs (value glob) that one JSON object of the request body
        /// must all hold.
        fields: Vec<(String, String)>,
        /// A role whose device the request body must name (as an object key).
        about: Option<RoleKind>,
    },
    /// A secure-channel message.
    Channel {
        /// Sender.
        from: RoleKind,
        /// Receiver.
        to: RoleKind,
        /// Message type (glob).
        message_type: String,
        /// `field=value` pairs that must match (value glob).
        fields: Vec<(String, String)>,
    },
    /// Something shown.
    Shows {
        /// Role.
        actor: RoleKind,
        /// What.
        what: Display,
    },
    /// A decision (phrase glob).
    Decision {
        /// Role.
        actor: RoleKind,
        /// The phrase.
        phrase: String,
    },
    /// An ending.
    Finished {
        /// Role.
        actor: RoleKind,
        /// The outcome's name.
        outcome: OutcomeKind,
        /// The rest as written, e.g. `(master_key_mismatch)`: compared only when given.
        detail: Option<String>,
    },
}

/// Why a pattern was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event pattern `{pattern}`: {reason}")]
pub struct PatternError {
    /// The pattern text.
    pub pattern: String,
    /// What is wrong with it.
    pub reason: String,
}

fn err(pattern: &str, reason: impl Into<String>) -> PatternError {
    PatternError { pattern: pattern.to_owned(), reason: reason.into() }
}

fn check_role(pattern: &str, role: &str) -> Result<RoleKind, PatternError> {
    RoleKind::from_letter(role)
        .ok_or_else(|| err(pattern, format!("unknown role `{role}` (roles are A, B, R)")))
}

/// The methods a pattern may name.
pub const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "OPTIONS"];

impl Pattern {
    /// Parses one pattern line.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let text = text.trim();
        let (head, body) =
            text.split_once(": ").ok_or_else(|| err(text, "expected `ROLE: ...` or `ROLE -> PEER: ...`"))?;
        let body = body.trim();
        if let Some((from, to)) = head.split_once(" -> ") {
            let from = check_role(text, from.trim())?;
            let to = to.trim();
            if to == "HS" {
                let mut words = body.split_whitespace();
                let method = words.next().ok_or_else(|| err(text, "missing method"))?;
                if !METHODS.contains(&method) {
                    return Err(err(text, format!("unknown method `{method}`")));
                }
                let path = words.next().ok_or_else(|| err(text, "missing path"))?;
                if !path.starts_with('/') {
                    return Err(err(text, "the path must start with `/`"));
                }
                super::served::check(method, path).map_err(|reason| err(text, reason))?;
                let mut words = words.peekable();
                let status = match words.peek() {
                    Some(s) if s.chars().all(|c| c.is_ascii_digit()) => {
                        let s = words.next().unwrap_or_default();
                        Some(s.parse::<u16>().map_err(|_| err(text, format!("`{s}` is not a status")))?)
                    }
                    Some(s) if !s.contains('=') && *s != "about" => {
                        return Err(err(text, format!("`{s}` is not a status")))
                    }
                    _ => None,
                };
                let mut fields = Vec::new();
                let mut about = None;
                while let Some(word) = words.next() {
                    if word == "about" {
                        let role = words.next().ok_or_else(|| err(text, "`about` needs a role"))?;
                        about = Some(check_role(text, role)?);
                        if let Some(extra) = words.next() {
                            return Err(err(text, format!("unexpected `{extra}` after `about {role}`")));
                        }
                        break;
                    }
                    let (k, v) = word.split_once('=').ok_or_else(|| {
                        err(text, format!("unexpected `{word}`: expected key=value or `about ROLE`"))
                    })?;
                    fields.push((k.to_owned(), v.to_owned()));
                }
                return Ok(Pattern::Http {
                    actor: from,
                    method: method.to_owned(),
                    path: path.to_owned(),
                    status,
                    fields,
                    about,
                });
            }
            let to = check_role(text, to)?;
            let mut words = body.split_whitespace();
            let message_type = words.next().ok_or_else(|| err(text, "missing message type"))?.to_owned();
            let known_type =
                message_type.starts_with("m.login.") || ["key", "algorithm", "*"].contains(&&*message_type);
            if !known_type {
                return Err(err(text, format!("unknown message type `{message_type}`")));
            }
            let mut fields = Vec::new();
            for word in words {
                let (k, v) =
                    word.split_once('=').ok_or_else(|| err(text, format!("`{word}` is not field=value")))?;
                fields.push((k.to_owned(), v.to_owned()));
            }
            return Ok(Pattern::Channel { from, to, message_type, fields });
        }
        let actor = check_role(text, head.trim())?;
        if let Some(outcome) = body.strip_prefix("finished ") {
            let (outcome, detail) = parse_ending(outcome).map_err(|reason| err(text, reason))?;
            return Ok(Pattern::Finished { actor, outcome, detail });
        }
        if let Some(what) = body.strip_prefix("shows ") {
            let what =
                Display::parse(what).ok_or_else(|| err(text, "a device shows `QR code` or `check code`"))?;
            return Ok(Pattern::Shows { actor, what });
        }
        if Decision::TEMPLATES.iter().any(|template| Decision::template_accepts(template, body)) {
            return Ok(Pattern::Decision { actor, phrase: body.to_owned() });
        }
        Err(err(text, "not a known decision, display or ending (see docs/scenario-format.md)"))
    }

    /// The role a pattern is about (the requester, the sender, the decider).
    pub fn actor(&self) -> RoleKind {
        match self {
            Pattern::Http { actor, .. }
            | Pattern::Shows { actor, .. }
            | Pattern::Decision { actor, .. }
            | Pattern::Finished { actor, .. } => *actor,
            Pattern::Channel { from, .. } => *from,
        }
    }

    /// Whether this is a wire-level pattern (HTTP or channel), which the runner can
    /// check whatever client plays the role.
    pub fn is_wire_level(&self) -> bool {
        matches!(self, Pattern::Http { .. } | Pattern::Channel { .. })
    }

    /// Whether a transcript entry matches.
    pub fn matches(&self, entry: &Entry, names: &dyn DeviceNames) -> bool {
        match (self, entry) {
            (
                Pattern::Http { actor, method, path, status, fields, about },
                Entry::Http { actor: a, method: m, path: p, status: s, request, .. },
            ) => {
                Actor::Role(*actor) == *a
                    && method == m
                    && glob(path, &short_path(p))
                    && status.is_none_or(|st| st == *s)
                    && (fields.is_empty() || request.json().is_some_and(|body| holds_fields(body, fields)))
                    && about.is_none_or(|role| {
                        request.json().is_some_and(|body| names_device_of(body, role, names))
                    })
            }
            (
                Pattern::Channel { from, to, message_type, fields },
                Entry::Channel { from: f, to: t, message, .. },
            ) => {
                let summary = channel_summary(message);
                let actual_type = summary.split_whitespace().next().unwrap_or("");
                from == f
                    && to == t
                    && glob(message_type, actual_type)
                    && fields.iter().all(|(k, v)| {
                        summary
                            .split_whitespace()
                            .any(|w| w.split_once('=').is_some_and(|(ak, av)| ak == k && glob(v, av)))
                    })
            }
            (Pattern::Shows { actor, what }, Entry::Shows { actor: a, what: w, .. }) => {
                actor == a && what == w
            }
            (Pattern::Decision { actor, phrase }, Entry::Decision { actor: a, decision }) => {
                actor == a && glob(phrase, &decision_line(decision, names))
            }
            (Pattern::Finished { actor, outcome, detail }, Entry::Finished { actor: a, ending }) => {
                actor == a
                    && *outcome == ending.outcome
                    && detail.as_ref().is_none_or(|d| glob(&format!("{outcome} {d}"), &ending.line()))
            }
            _ => false,
        }
    }
}

/// Whether some object in `value` holds every `key=value` pair (string values, glob).
fn holds_fields(value: &serde_json::Value, fields: &[(String, String)]) -> bool {
    match value {
        serde_json::Value::Object(map) => {
            let here = fields.iter().all(|(k, v)| {
                map.get(k).is_some_and(|actual| match actual {
                    serde_json::Value::String(s) => glob(v, s),
                    other => glob(v, &other.to_string()),
                })
            });
            here || map.values().any(|child| holds_fields(child, fields))
        }
        serde_json::Value::Array(items) => items.iter().any(|child| holds_fields(child, fields)),
        _ => false,
    }
}

/// Whether some object in `value` has a key that is a device ID of `role`.
fn names_device_of(value: &serde_json::Value, role: RoleKind, names: &dyn DeviceNames) -> bool {
    match value {
        serde_json::Value::Object(map) => map
            .iter()
            .any(|(key, child)| names.name_of(key) == role.letter() || names_device_of(child, role, names)),
        serde_json::Value::Array(items) => items.iter().any(|child| names_device_of(child, role, names)),
        _ => false,
    }
}

/// Splits an ending as a pattern or an `[expect] outcomes` entry writes it
/// (`security_error (master_key_mismatch)`) into the outcome and the rest, checking
/// the names: an unknown outcome or abort name is an error.
pub fn parse_ending(text: &str) -> Result<(OutcomeKind, Option<String>), String> {
    let text = text.trim();
    let (name, rest) = match text.split_once(' ') {
        Some((name, rest)) => (name, Some(rest.trim().to_owned())),
        None => (text, None),
    };
    let known = || OutcomeKind::ALL.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ");
    let outcome =
        OutcomeKind::parse(name).ok_or_else(|| format!("unknown outcome `{name}` (known: {})", known()))?;
    if let Some(rest) = &rest {
        let inner = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')'));
        let Some(inner) = inner else {
            return Err(format!("after the outcome comes `(reason)`, not `{rest}`"));
        };
        let is_reason = matches!(outcome, OutcomeKind::SecurityError | OutcomeKind::Error);
        if is_reason && inner != "*" && AbortKind::parse(inner).is_none() {
            let known: Vec<&str> = AbortKind::ALL.iter().map(|k| k.name()).collect();
            return Err(format!("unknown reason `{inner}` (known: {})", known.join(", ")));
        }
    }
    Ok((outcome, rest))
}

/// Glob match where `*` matches any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind() {
        assert!(matches!(
            Pattern::parse("B -> HS: POST /keys/signatures/upload").unwrap(),
            Pattern::Http { status: None, .. }
        ));
        assert!(matches!(
            Pattern::parse("B -> HS: POST /keys/query 200").unwrap(),
            Pattern::Http { status: Some(200), .. }
        ));
        assert!(matches!(
            Pattern::parse("B -> A: m.login.finish outcome=verified").unwrap(),
            Pattern::Channel { .. }
        ));
        assert!(matches!(Pattern::parse("A: marked B verified").unwrap(), Pattern::Decision { .. }));
        assert!(matches!(
            Pattern::parse("A: finished security_error (master_key_mismatch)").unwrap(),
            Pattern::Finished { .. }
        ));
        assert!(matches!(Pattern::parse("B: shows QR code").unwrap(), Pattern::Shows { .. }));
        assert!(matches!(
            Pattern::parse("B: checked A's device key: mismatch").unwrap(),
            Pattern::Decision { .. }
        ));
    }

    #[test]
    fn rejects_what_it_does_not_understand() {
        for bad in [
            "C: marked B verified",
            "A: marked C verified",
            "A: marked B as verified",
            "B -> HS: FETCH /keys/query",
            "B -> HS: POST keys/query",
            "B -> X: m.login.finish",
            "B -> A: hello",
            "A: finished happily",
            "A marked B verified",
            "B -> HS: POST /keys/query 2OO",
        ] {
            assert!(Pattern::parse(bad).is_err(), "accepted {bad}");
        }
    }

    #[test]
    fn glob_matches() {
        assert!(glob("/sendToDevice/m.secret.request/*", "/sendToDevice/m.secret.request/txn1"));
        assert!(glob("*", "anything"));
        assert!(glob("a*c*e", "abcde"));
        assert!(!glob("a*c", "abd"));
        assert!(glob("exact", "exact"));
    }
}
