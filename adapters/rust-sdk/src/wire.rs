//! Adapter protocol 1 framing (`docs/adapter-protocol.md`): events as one JSON object
//! a line on stdout, flushed; commands as one JSON object a line on stdin.
//!
//! stdout carries events only: every log line goes to stderr (see `main.rs`).

use std::io::Write;

use serde_json::{json, Map, Value};
use tokio::io::{AsyncBufReadExt, BufReader, Lines, Stdin};

/// The longest command line read, in bytes (the protocol's limit for a line).
const MAX_LINE_BYTES: usize = 1 << 20;

/// Prints one event line on stdout and flushes it.
pub fn emit(event: &str, fields: Value) {
    let mut object = Map::new();
    object.insert("event".to_owned(), Value::String(event.to_owned()));
    if let Value::Object(fields) = fields {
        object.extend(fields);
    }
    let mut out = std::io::stdout().lock();
    // A closed stdout means the runner is gone: nothing is left to tell it.
    let _ = writeln!(out, "{}", Value::Object(object));
    let _ = out.flush();
}

/// A `decision` event: a note in the transcript, never checked by the runner.
pub fn decision(text: impl Into<String>) {
    let text = text.into();
    tracing::info!(decision = %text, "decision");
    emit("decision", json!({ "decision": text }));
}

/// How the flow ended for this device: the `outcome` event's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// One of the protocol's outcome names (`success`, `rejected`, `error`, …).
    pub outcome: &'static str,
    /// Free text for humans.
    pub detail: String,
    /// The failed check in the runner's names (`homeserver`, `timeout`, …), if known.
    pub reason: Option<&'static str>,
    /// `rejected`: the HTTP status and the `errcode` the homeserver answered.
    pub rejected_with: Option<(u16, String)>,
}

impl Outcome {
    /// `success`: registered, with what was done in `detail`.
    pub fn success(detail: impl Into<String>) -> Self {
        Self { outcome: "success", detail: detail.into(), reason: None, rejected_with: None }
    }

    /// `rejected`: the homeserver refused with a Matrix error.
    pub fn rejected(status: u16, errcode: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            outcome: "rejected",
            detail: detail.into(),
            reason: None,
            rejected_with: Some((status, errcode.into())),
        }
    }

    /// `unsupported`: the homeserver lacks something this client needs.
    pub fn unsupported(detail: impl Into<String>) -> Self {
        Self { outcome: "unsupported", detail: detail.into(), reason: None, rejected_with: None }
    }

    /// `error`, with the runner's name of what failed.
    pub fn error(reason: &'static str, detail: impl Into<String>) -> Self {
        Self { outcome: "error", detail: detail.into(), reason: Some(reason), rejected_with: None }
    }

    /// Prints the `outcome` event.
    pub fn emit(&self) {
        tracing::info!(outcome = self.outcome, detail = %self.detail, "outcome");
        let mut fields = json!({ "outcome": self.outcome, "detail": self.detail });
        if let Some(reason) = self.reason {
            fields["reason"] = json!(reason);
        }
        if let Some((status, errcode)) = &self.rejected_with {
            fields["status"] = json!(status);
            fields["errcode"] = json!(errcode);
        }
        emit("outcome", fields);
    }
}

/// What the next command line held.
#[derive(Debug)]
pub enum Command {
    /// A command other than `stop`, as its JSON object (unknown fields kept, and
    /// ignored by whoever reads it).
    Next(Map<String, Value>),
    /// `stop`, or the end of stdin: the run is over.
    Stop,
}

impl Command {
    /// The `command` field of a command object.
    pub fn name(object: &Map<String, Value>) -> &str {
        object.get("command").and_then(Value::as_str).unwrap_or("")
    }
}

/// Commands from stdin, one JSON object a line (blank lines skipped).
pub struct Commands {
    lines: Lines<BufReader<Stdin>>,
}

impl Commands {
    /// Reads commands from this process's stdin.
    pub fn from_stdin() -> Self {
        Self { lines: BufReader::new(tokio::io::stdin()).lines() }
    }

    /// The next command; an unreadable or malformed line is an error naming it.
    pub async fn next(&mut self) -> Result<Command, String> {
        loop {
            let line = match self.lines.next_line().await {
                Ok(Some(line)) => line,
                Ok(None) => return Ok(Command::Stop),
                Err(error) => return Err(format!("cannot read stdin: {error}")),
            };
            if line.len() > MAX_LINE_BYTES {
                return Err(format!("command line of {} bytes, over the protocol's 1 MiB", line.len()));
            }
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let shown: String = line.chars().take(200).collect();
            let object = match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(object)) => object,
                Ok(_) => return Err(format!("command `{shown}` is not a JSON object")),
                Err(error) => return Err(format!("command `{shown}` is not JSON: {error}")),
            };
            tracing::info!(command = Command::name(&object), "command");
            if Command::name(&object) == "stop" {
                return Ok(Command::Stop);
            }
            return Ok(Command::Next(object));
        }
    }
}
