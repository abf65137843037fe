//! The adapter as a child process: spawned fresh per scenario, JSON lines on its
//! stdin and stdout, stderr kept as its log, every wait bounded, killed on drop.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::protocol::{AdapterCommand, AdapterEvent, EXIT_UNIMPLEMENTED, MAX_LINE_BYTES, PROTOCOL_VERSION};

/// Most bytes of the adapter's stderr kept (the tail).
pub const STDERR_KEPT: usize = 64 * 1024;

/// How the adapter is started for one scenario.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The command line, run by `sh -c "exec <command>"` (so quoting works as in a shell).
    pub command: String,
    /// `CONFORMANCE_HOMESERVER`.
    pub homeserver: String,
    /// `CONFORMANCE_ROLE`: `new-device`, `existing-device` or `registrar`.
    pub role: String,
    /// `CONFORMANCE_SCENARIO`.
    pub scenario: String,
    /// `CONFORMANCE_POLL_MS`: the pause between two polls the adapter should use,
    /// when the run sets one (an adapter may ignore it).
    pub poll_ms: Option<u64>,
}

/// What went wrong with the adapter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdapterError {
    /// It could not be started.
    #[error("cannot start the adapter `{command}`: {reason}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why.
        reason: String,
    },
    /// It exited with 89 or printed an `unimplemented` event.
    #[error("the adapter does not implement this: {0}")]
    Unimplemented(String),
    /// It closed stdout (exited or crashed) before the run was over.
    #[error("the adapter exited ({status}) before the run was over")]
    Exited {
        /// Its exit status, as text.
        status: String,
    },
    /// It printed a line that is not a valid event.
    #[error("{0}")]
    Malformed(#[from] super::protocol::MalformedLine),
    /// It said nothing for too long.
    #[error("the adapter said nothing for {waited_ms} ms while the runner waited for {what}")]
    Silent {
        /// How long.
        waited_ms: u64,
        /// What the runner waited for.
        what: String,
    },
    /// Its stdin could not be written.
    #[error("cannot write to the adapter: {0}")]
    Write(String),
}

enum Line {
    Text(String),
    TooLong(usize),
    Eof,
}

/// A running adapter.
pub struct AdapterProcess {
    /// The child process; `None` for an adapter in this process ([`Self::in_process`]).
    child: Option<Child>,
    stdin: Option<Box<dyn AsyncWrite + Unpin + Send>>,
    lines: mpsc::Receiver<Line>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// The task that reads stderr until the adapter closes it.
    stderr_reader: Option<tokio::task::JoinHandle<()>>,
    /// When the adapter's output ended: the wait for its exit after that is
    /// counted from here, so that a caller that drops [`Self::next_event`] (e.g. in
    /// a `select!`) and calls it again does not start the wait over.
    output_closed: Option<Instant>,
    finished: bool,
}

impl AdapterProcess {
    /// Starts the adapter with the protocol's environment.
    pub fn spawn(launch: &Launch) -> Result<Self, AdapterError> {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("exec {}", launch.command))
            .env("CONFORMANCE_HOMESERVER", &launch.homeserver)
            .env("CONFORMANCE_ROLE", &launch.role)
            .env("CONFORMANCE_SCENARIO", &launch.scenario)
            .env("CONFORMANCE_PROTOCOL_VERSION", PROTOCOL_VERSION.to_string())
            .env_remove("CONFORMANCE_POLL_MS");
        if let Some(ms) = launch.poll_ms {
            command.env("CONFORMANCE_POLL_MS", ms.to_string());
        }
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| AdapterError::Spawn { command: launch.command.clone(), reason: e.to_string() })?;
        let stdin = child.stdin.take().map(|s| Box::new(s) as Box<dyn AsyncWrite + Unpin + Send>);
        let stdout = child.stdout.take();
        let stderr_pipe = child.stderr.take();
        let (tx, lines) = mpsc::channel(256);
        if let Some(stdout) = stdout {
            tokio::spawn(read_lines(stdout, tx));
        }
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut stderr_reader = None;
        if let Some(mut pipe) = stderr_pipe {
            let keep = stderr.clone();
            stderr_reader = Some(tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let mut kept = keep.lock().unwrap_or_else(|e| e.into_inner());
                    kept.extend_from_slice(&buf[..n]);
                    if kept.len() > STDERR_KEPT {
                        let cut = kept.len() - STDERR_KEPT;
                        kept.drain(..cut);
                    }
                }
            }));
        }
        Ok(Self {
            child: Some(child),
            stdin,
            lines,
            stderr,
            stderr_reader,
            output_closed: None,
            finished: false,
        })
    }

    /// An adapter that lives in this process (e.g. the bridge to a client a person
    /// drives by hand): it reads the commands from the first stream returned and
    /// writes its event lines to the second, speaking the same protocol.
    pub fn in_process() -> (Self, DuplexStream, DuplexStream) {
        let (stdin, commands) = tokio::io::duplex(MAX_LINE_BYTES);
        let (events, stdout) = tokio::io::duplex(MAX_LINE_BYTES);
        let (tx, lines) = mpsc::channel(256);
        tokio::spawn(read_lines(stdout, tx));
        let adapter = Self {
            child: None,
            stdin: Some(Box::new(stdin)),
            lines,
            stderr: Arc::new(Mutex::new(Vec::new())),
            stderr_reader: None,
            output_closed: None,
            finished: false,
        };
        (adapter, commands, events)
    }

    /// The adapter's stderr so far (its last [`STDERR_KEPT`] bytes).
    pub fn stderr_text(&self) -> String {
        let kept = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&kept).into_owned()
    }

    /// Writes one command line, waiting at most `timeout`.
    pub async fn send(&mut self, command: &AdapterCommand, timeout: Duration) -> Result<(), AdapterError> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(AdapterError::Write("stdin is closed".into()));
        };
        let mut line = command.to_line();
        line.push('\n');
        let write = async {
            stdin.write_all(line.as_bytes()).await?;
            stdin.flush().await
        };
        let error = match tokio::time::timeout(timeout, write).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => AdapterError::Write(e.to_string()),
            Err(_) => AdapterError::Write(format!("blocked for {} ms", timeout.as_millis())),
        };
        // A closed pipe usually means the adapter has exited: say how.
        Err(match self.wait_exit(Duration::from_secs(1)).await {
            Some(EXIT_UNIMPLEMENTED) => {
                AdapterError::Unimplemented(format!("the adapter exited with status {EXIT_UNIMPLEMENTED}"))
            }
            Some(code) => AdapterError::Exited { status: format!("exit status {code}") },
            None => error,
        })
    }

    /// The next event, waiting until `deadline`; `what` names what the runner waits for.
    ///
    /// Blank lines are skipped. End of output is [`AdapterError::Unimplemented`] when
    /// the exit status is 89, [`AdapterError::Exited`] otherwise; an `unimplemented`
    /// event is returned as [`AdapterError::Unimplemented`].
    pub async fn next_event(&mut self, deadline: Instant, what: &str) -> Result<AdapterEvent, AdapterError> {
        let started = Instant::now();
        loop {
            let line = match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => line,
                Ok(None) => Line::Eof,
                Err(_) => {
                    return Err(AdapterError::Silent {
                        waited_ms: started.elapsed().as_millis() as u64,
                        what: what.to_owned(),
                    })
                }
            };
            match line {
                Line::Text(text) if text.trim().is_empty() => continue,
                Line::Text(text) => {
                    return match AdapterEvent::parse(text.trim_end_matches('\r')) {
                        Ok(AdapterEvent::Unimplemented { detail }) => {
                            Err(AdapterError::Unimplemented(detail))
                        }
                        Ok(event) => Ok(event),
                        Err(e) => Err(AdapterError::Malformed(e)),
                    }
                }
                Line::TooLong(n) => {
                    return Err(AdapterError::Malformed(super::protocol::MalformedLine {
                        line: format!("<{n} bytes>"),
                        reason: format!("longer than {MAX_LINE_BYTES} bytes"),
                    }))
                }
                Line::Eof => {
                    let closed = *self.output_closed.get_or_insert_with(Instant::now);
                    let status =
                        self.wait_exit(Duration::from_secs(2).saturating_sub(closed.elapsed())).await;
                    return Err(match status {
                        Some(code) if code == EXIT_UNIMPLEMENTED => AdapterError::Unimplemented(format!(
                            "the adapter exited with status {EXIT_UNIMPLEMENTED}"
                        )),
                        Some(code) => AdapterError::Exited { status: format!("exit status {code}") },
                        None => AdapterError::Exited { status: "closed its output".into() },
                    });
                }
            }
        }
    }

    /// Waits at most `timeout` for the process to exit; its exit code if it did
    /// (`-1` when killed by a signal).
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let child = self.child.as_mut()?;
        match tokio::time::timeout(timeout, child.wait()).await {
            Ok(Ok(status)) => {
                self.finished = true;
                Some(status.code().unwrap_or(-1))
            }
            _ => None,
        }
    }

    /// Sends `stop`, closes stdin, waits at most `grace` for the exit, then kills.
    pub async fn stop(&mut self, grace: Duration) {
        if !self.finished {
            let _ = self.send(&AdapterCommand::Stop, grace).await;
            self.stdin = None;
            if self.child.is_none() {
                self.finished = true;
            } else if self.wait_exit(grace).await.is_none() {
                if let Some(child) = self.child.as_mut() {
                    let _ = child.start_kill();
                }
                let _ = self.wait_exit(Duration::from_secs(2)).await;
            }
        }
        // The adapter is gone, so its stderr ends: read it to the end, so that its
        // last words (e.g. why it crashed) are in the report. A process it left
        // behind may hold the pipe open; that wait is bounded too.
        if let Some(mut reader) = self.stderr_reader.take() {
            if tokio::time::timeout(Duration::from_secs(1), &mut reader).await.is_err() {
                reader.abort();
            }
        }
    }
}

async fn read_lines(stdout: impl AsyncRead + Unpin, tx: mpsc::Sender<Line>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut buf = Vec::new();
        let read = (&mut reader).take(MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut buf).await;
        let line = match read {
            Ok(0) | Err(_) => Line::Eof,
            Ok(n) if n > MAX_LINE_BYTES => Line::TooLong(n),
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                Line::Text(String::from_utf8_lossy(&buf).into_owned())
            }
        };
        let end = matches!(line, Line::Eof | Line::TooLong(_));
        if tx.send(line).await.is_err() || end {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch(command: &str) -> Launch {
        Launch {
            command: command.to_owned(),
            homeserver: "http://127.0.0.1:1".into(),
            role: "registrar".into(),
            scenario: "test".into(),
            poll_ms: None,
        }
    }

    /// A caller in a `select!` drops `next_event` whenever another branch is ready;
    /// the wait for the exit after the output ended must still end.
    #[tokio::test]
    async fn closed_output_is_reported_even_when_each_wait_is_cut_short() {
        let mut adapter = AdapterProcess::spawn(&launch("sleep 30 >&-")).expect("spawns");
        let until = Instant::now() + Duration::from_secs(10);
        let error = loop {
            assert!(Instant::now() < until, "the closed output was never reported");
            let far = Instant::now() + Duration::from_secs(60);
            if let Ok(result) =
                tokio::time::timeout(Duration::from_millis(100), adapter.next_event(far, "an event")).await
            {
                break result.expect_err("no event can come");
            }
        };
        assert!(
            matches!(&error, AdapterError::Exited { status } if status == "closed its output"),
            "{error:?}"
        );
        adapter.stop(Duration::from_millis(100)).await;
    }
}
