//! Event patterns: one short line per event, in the same grammar as the transcript.
//!
//! | kind | example |
//! |---|---|
//! | HTTP exchange | `B -> HS: POST /keys/signatures/upload` (any status) or `... 200` |
//! | channel message | `B -> A: m.login.finish outcome=verified` (named fields must match) |
//! | decision | `A: marked B verified`, `B: checked A's device key: mismatch` |
//! | display | `B: shows QR code`, `A: shows check code` |
//! | ending | `A: finished security_error` or `A: finished security_error (master_key_mismatch)` |
//!
//! `*` in a path, a field value or a decision matches any run of characters.

use crate::transcript::{channel_summary, decision_line, outcome_line, short_path, DeviceNames, Entry};

/// The roles a pattern may name.
pub const ROLES: [&str; 3] = ["A", "B", "R"];

/// Decision phrases a pattern may use; `{role}` is a role name, `{any}` free text.
const DECISIONS: &[&str] = &[
    "checked login token support: {yes-no}",
    "checked intents: {compat}",
    "user approved",
    "user declined",
    "logged in",
    "uploaded device keys",
    "checked {role}'s device key: {match}",
    "checked master key: {match}",
    "trusted master key",
    "marked {role} verified",
    "cross-signed {role}",
    "cross-signature of {role} rejected: {any}",
    "requested secret {any}",
    "shared secret {any} with {role}",
    "refused secret request {any}",
    "accepted secret {any}",
    "ignored secret {any}",
    "checked msc2912 support: {yes-no}",
    "sent device_signing as {field}",
    "checked own keys: {own}",
    "re-uploaded keys {reupload}",
    "signed own device",
    "server accepted invalid keys: {any}",
    "aborted: {any}",
];

/// A parsed event pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// An HTTP exchange.
    Http {
        /// Requesting role.
        actor: String,
        /// Method.
        method: String,
        /// Short path glob.
        path: String,
        /// Status, when given.
        status: Option<u16>,
    },
    /// A secure-channel message.
    Channel {
        /// Sender.
        from: String,
        /// Receiver.
        to: String,
        /// Message type (glob).
        message_type: String,
        /// `field=value` pairs that must match (value glob).
        fields: Vec<(String, String)>,
    },
    /// Something shown.
    Shows {
        /// Role.
        actor: String,
        /// `QR code` or `check code`.
        what: String,
    },
    /// A decision (phrase glob).
    Decision {
        /// Role.
        actor: String,
        /// The phrase.
        phrase: String,
    },
    /// An ending.
    Finished {
        /// Role.
        actor: String,
        /// Outcome name, optionally with `(abort_kind)`.
        outcome: String,
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

/// Outcome names a pattern may use.
pub const OUTCOMES: [&str; 10] = [
    "verified",
    "success",
    "security_error",
    "declined",
    "cancelled",
    "unsupported",
    "incompatible_intent",
    "expired",
    "rejected",
    "error",
];

fn err(pattern: &str, reason: impl Into<String>) -> PatternError {
    PatternError { pattern: pattern.to_owned(), reason: reason.into() }
}

fn check_role(pattern: &str, role: &str) -> Result<String, PatternError> {
    if ROLES.contains(&role) {
        Ok(role.to_owned())
    } else {
        Err(err(pattern, format!("unknown role `{role}` (roles are A, B, R)")))
    }
}

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
                if !["GET", "POST", "PUT", "DELETE", "OPTIONS"].contains(&method) {
                    return Err(err(text, format!("unknown method `{method}`")));
                }
                let path = words.next().ok_or_else(|| err(text, "missing path"))?;
                if !path.starts_with('/') {
                    return Err(err(text, "the path must start with `/`"));
                }
                let status = match words.next() {
                    Some(s) => {
                        Some(s.parse::<u16>().map_err(|_| err(text, format!("`{s}` is not a status")))?)
                    }
                    None => None,
                };
                if let Some(extra) = words.next() {
                    return Err(err(text, format!("unexpected `{extra}` after the status")));
                }
                return Ok(Pattern::Http {
                    actor: from,
                    method: method.to_owned(),
                    path: path.to_owned(),
                    status,
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
            let name = outcome.split_whitespace().next().unwrap_or("");
            if !OUTCOMES.contains(&name) {
                return Err(err(text, format!("unknown outcome `{name}` (known: {})", OUTCOMES.join(", "))));
            }
            return Ok(Pattern::Finished { actor, outcome: outcome.trim().to_owned() });
        }
        if let Some(what) = body.strip_prefix("shows ") {
            if what != "QR code" && what != "check code" {
                return Err(err(text, "a device shows `QR code` or `check code`"));
            }
            return Ok(Pattern::Shows { actor, what: what.to_owned() });
        }
        if DECISIONS.iter().any(|template| template_accepts(template, body)) {
            return Ok(Pattern::Decision { actor, phrase: body.to_owned() });
        }
        Err(err(text, "not a known decision, display or ending (see docs/scenario-format.md)"))
    }

    /// The role a pattern is about (the requester, the sender, the decider).
    pub fn actor(&self) -> &str {
        match self {
            Pattern::Http { actor, .. }
            | Pattern::Shows { actor, .. }
            | Pattern::Decision { actor, .. }
            | Pattern::Finished { actor, .. } => actor,
            Pattern::Channel { from, .. } => from,
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
                Pattern::Http { actor, method, path, status },
                Entry::Http { actor: a, method: m, path: p, status: s, .. },
            ) => actor == a && method == m && glob(path, &short_path(p)) && status.is_none_or(|st| st == *s),
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
            (Pattern::Finished { actor, outcome }, Entry::Finished { actor: a, outcome: o }) => {
                let line = outcome_line(o);
                actor == a
                    && (glob(outcome, &line) || line.split_whitespace().next() == Some(outcome.as_str()))
            }
            _ => false,
        }
    }
}

/// Whether a decision phrase fits a template.
fn template_accepts(template: &str, phrase: &str) -> bool {
    let parts: Vec<&str> = template.split(['{', '}']).collect();
    let mut rest = phrase;
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else {
            let next_literal = parts.get(i + 1).copied().unwrap_or("");
            let end = if next_literal.is_empty() {
                rest.len()
            } else {
                rest.find(next_literal).unwrap_or(usize::MAX)
            };
            if end == usize::MAX {
                return false;
            }
            let value = &rest[..end];
            let ok = match *part {
                "role" => ROLES.contains(&value) || value == "*",
                "yes-no" => ["yes", "no", "*"].contains(&value),
                "match" => ["matched", "mismatch", "*"].contains(&value),
                "compat" => ["compatible", "incompatible", "*"].contains(&value),
                "own" => ["matched", "missing or different", "*"].contains(&value),
                "reupload" => ["with password", "without uia", "*"].contains(&value),
                "field" => ["device_signing", "org.matrix.msc2912.device_signing", "*"].contains(&value),
                _ => !value.is_empty(),
            };
            if !ok {
                return false;
            }
            rest = &rest[end..];
        }
    }
    rest.is_empty()
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
