//! Helpers the harness's integration tests share: loading a scenario from text,
//! running it with an external client, reporting a result, and driving a child
//! process (`conformance serve`) through its standard input and output.
//!
//! Each test binary uses a part of it.
#![allow(dead_code)]

pub mod cli;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use harness::run::external::{run_external, ExternalClient};
use harness::run::result::ScenarioResult;
use harness::scenario::Scenario;

/// A registrar scenario on a server with MSC2912: the keys go in `/register`, then
/// the registrar checks them, uploads its device keys and signs its device.
pub const REGISTER_MSC2912: &str = r#"title = "R registers with its cross-signing keys in /register"
flow = "register"
[server]
profile = "msc2912"
[roles.R]
kind = "registrar"
[expect]
outcomes = { R = "success" }
order = [
  "R -> HS: GET /versions 200",
  "R -> HS: POST /register 200",
  "R -> HS: POST /keys/query 200",
  "R -> HS: POST /keys/upload 200",
  "R -> HS: POST /keys/signatures/upload 200",
]
never = ["R -> HS: POST /keys/device_signing/upload"]
"#;

/// Loads a scenario from its text, as if it were `scenarios/<name>.toml`.
pub fn load(name: &str, text: &str) -> Scenario {
    Scenario::parse(text, Path::new(&format!("scenarios/{name}.toml")), name)
        .unwrap_or_else(|e| panic!("the test scenario {name} loads: {e}"))
}

/// A runtime for the real-time runs: several threads, since the driver, the server
/// and the adapter's pipes all wait at once.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime")
}

/// Runs `scenario` with `client` in place of one role.
pub fn run_with_client(scenario: &Scenario, client: &ExternalClient) -> ScenarioResult {
    runtime().block_on(run_external(scenario, client))
}

/// The verdict, the explanation and the transcript of a result, for assertion messages.
pub fn report(result: &ScenarioResult) -> String {
    format!("{} {}\n{}\n{}", result.verdict, result.name, result.explain(), result.transcript_text())
}

/// A child process driven line by line: what it prints is read on a thread of its
/// own, every wait is bounded by one instant, and the child is killed on drop.
pub struct Conversation {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    /// Every line read so far, for assertion messages.
    pub seen: Vec<String>,
    until: Instant,
}

impl Conversation {
    /// Starts `command` with piped input and output (stderr is inherited); every
    /// later wait ends by `bound` from now.
    pub fn start(command: &mut Command, bound: Duration) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the child starts");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take().expect("stdin");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Self { child, stdin, lines, seen: Vec::new(), until: Instant::now() + bound }
    }

    /// What is left of the bound.
    pub fn time_left(&self) -> Duration {
        self.until.saturating_duration_since(Instant::now())
    }

    /// The rest of the next line that starts with `prefix`; panics with everything
    /// the child said when none comes in time.
    pub fn wait_for(&mut self, prefix: &str) -> String {
        loop {
            match self.lines.recv_timeout(self.time_left()) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.trim().to_owned();
                    }
                }
                Err(_) => panic!("no line starting with `{prefix}`; the child said:\n{}", self.said()),
            }
        }
    }

    /// Writes one line to the child's input.
    pub fn say(&mut self, line: &str) {
        let _ = writeln!(self.stdin, "{line}");
        let _ = self.stdin.flush();
    }

    /// Waits for the child to exit and asserts that it succeeded.
    pub fn expect_success(&mut self) {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(Instant::now() < self.until, "the child did not exit; it said:\n{}", self.said());
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "the child exited with {status}; it said:\n{}", self.said());
    }

    fn said(&self) -> String {
        self.seen.join("\n")
    }
}

impl Drop for Conversation {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
