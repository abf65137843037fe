//! The adapter as a child process: spawned fresh per scenario in a process group of
//! its own, JSON lines on its stdin and stdout (UTF-8, as the protocol says), stderr
//! kept as its log (its first and last parts), every wait bounded, and the whole
//! group ended with the run: a wrapper script's children go too.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::protocol::{AdapterCommand, AdapterEvent, EXIT_UNIMPLEMENTED, MAX_LINE_BYTES, PROTOCOL_VERSION};

/// Most bytes of the adapter's stderr kept from its start.
pub const STDERR_HEAD: usize = 16 * 1024;
/// Most bytes of the adapter's stderr kept from its end.
pub const STDERR_TAIL: usize = 48 * 1024;

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
    /// It printed a line that is not UTF-8.
    #[error("the adapter printed a line that is not UTF-8 ({len} bytes, the first invalid byte at {at})")]
    NotUtf8 {
        /// The line's length in bytes.
        len: usize,
        /// Where its first invalid byte is.
        at: usize,
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
    NotUtf8 { len: usize, at: usize },
    Eof,
}

/// The first and last parts of a stream, with a count of what was dropped between.
#[derive(Debug, Default)]
pub struct HeadTail {
    head: Vec<u8>,
    tail: std::collections::VecDeque<u8>,
    dropped: u64,
}

impl HeadTail {
    /// Appends bytes, keeping at most [`STDERR_HEAD`] + [`STDERR_TAIL`].
    pub fn push(&mut self, mut bytes: &[u8]) {
        let room = STDERR_HEAD.saturating_sub(self.head.len());
        let into_head = room.min(bytes.len());
        self.head.extend_from_slice(&bytes[..into_head]);
        bytes = &bytes[into_head..];
        self.tail.extend(bytes);
        let over = self.tail.len().saturating_sub(STDERR_TAIL);
        if over > 0 {
            self.tail.drain(..over);
            self.dropped += over as u64;
        }
    }

    /// The kept text, with a line saying how much was dropped between the parts.
    pub fn text(&self) -> String {
        let mut out = String::from_utf8_lossy(&self.head).into_owned();
        if self.dropped > 0 {
            out.push_str(&format!("\n[… {} bytes of stderr dropped …]\n", self.dropped));
        }
        let (a, b) = self.tail.as_slices();
        out.push_str(&String::from_utf8_lossy(&[a, b].concat()));
        out
    }
}

/// How an adapter ended when the run stopped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stopped {
    /// It was still running after `stop` and the grace period, and was killed.
    pub ignored_stop: bool,
    /// Processes it started were still running in its group, and were killed.
    pub left_processes: bool,
}

impl Stopped {
    /// What the report says about it, if anything.
    pub fn note(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.ignored_stop {
            parts.push("the adapter did not exit within the grace period after `stop`, and was killed");
        }
        if self.left_processes {
            parts.push("processes the adapter started were still running after it, and were killed");
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// A running adapter.
pub struct AdapterProcess {
    /// The child process; `None` for an adapter in this process ([`Self::in_process`]).
    child: Option<Child>,
    stdin: Option<Box<dyn AsyncWrite + Unpin + Send>>,
    lines: mpsc::Receiver<Line>,
    stderr: Arc<Mutex<HeadTail>>,
    /// The process group of the adapter and everything it starts.
    group: Option<nix::unistd::Pid>,
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
        // A group of its own: the whole group ends with the run.
        command.process_group(0);
        let mut child = command
            .spawn()
            .map_err(|e| AdapterError::Spawn { command: launch.command.clone(), reason: e.to_string() })?;
        let group = child.id().and_then(|id| i32::try_from(id).ok()).map(nix::unistd::Pid::from_raw);
        let stdin = child.stdin.take().map(|s| Box::new(s) as Box<dyn AsyncWrite + Unpin + Send>);
        let stdout = child.stdout.take();
        let stderr_pipe = child.stderr.take();
        let (tx, lines) = mpsc::channel(256);
        if let Some(stdout) = stdout {
            tokio::spawn(read_lines(stdout, tx));
        }
        let stderr = Arc::new(Mutex::new(HeadTail::default()));
        let mut stderr_reader = None;
        if let Some(mut pipe) = stderr_pipe {
            let keep = stderr.clone();
            stderr_reader = Some(tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    keep.lock().unwrap_or_else(|e| e.into_inner()).push(&buf[..n]);
                }
            }));
        }
        Ok(Self {
            child: Some(child),
            stdin,
            lines,
            stderr,
            group,
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
            stderr: Arc::new(Mutex::new(HeadTail::default())),
            group: None,
            stderr_reader: None,
            output_closed: None,
            finished: false,
        };
        (adapter, commands, events)
    }

    /// The adapter's stderr so far (its first [`STDERR_HEAD`] and last
    /// [`STDERR_TAIL`] bytes).
    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap_or_else(|e| e.into_inner()).text()
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
                Line::NotUtf8 { len, at } => return Err(AdapterError::NotUtf8 { len, at }),
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

    /// Sends `stop`, closes stdin, waits at most `grace` for the exit, then kills
    /// the adapter and whatever it left running in its process group.
    pub async fn stop(&mut self, grace: Duration) -> Stopped {
        let mut stopped = Stopped::default();
        if !self.finished {
            let _ = self.send(&AdapterCommand::Stop, grace).await;
            self.stdin = None;
            if self.child.is_none() {
                self.finished = true;
            } else if self.wait_exit(grace).await.is_none() {
                stopped.ignored_stop = true;
                self.kill_group();
                if let Some(child) = self.child.as_mut() {
                    let _ = child.start_kill();
                }
                let _ = self.wait_exit(Duration::from_secs(2)).await;
            }
        }
        // The adapter has exited; anything still in its group was left behind.
        if self.group_alive() {
            stopped.left_processes = !stopped.ignored_stop;
            self.kill_group();
        }
        // The adapter is gone, so its stderr ends: read it to the end, so that its
        // last words (e.g. why it crashed) are in the report. A process it left
        // behind may hold the pipe open; that wait is bounded too.
        if let Some(mut reader) = self.stderr_reader.take() {
            if tokio::time::timeout(Duration::from_secs(1), &mut reader).await.is_err() {
                reader.abort();
            }
        }
        stopped
    }

    /// Whether a process of the adapter's group still runs.
    fn group_alive(&self) -> bool {
        self.group.is_some_and(|group| nix::sys::signal::killpg(group, None).is_ok())
    }

    /// Kills every process of the adapter's group.
    fn kill_group(&self) {
        if let Some(group) = self.group {
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

impl Drop for AdapterProcess {
    fn drop(&mut self) {
        // However the run ended, nothing the adapter started outlives it.
        self.kill_group();
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
                match String::from_utf8(buf) {
                    Ok(text) => Line::Text(text),
                    Err(e) => Line::NotUtf8 { len: e.as_bytes().len(), at: e.utf8_error().valid_up_to() },
                }
            }
        };
        let end = matches!(line, Line::Eof | Line::TooLong(_) | Line::NotUtf8 { .. });
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
