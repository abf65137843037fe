//! Running the built `conformance` binary as a user would: in a directory of the
//! test's choosing, with a controlled environment, its output on pipes or on a
//! pseudo-terminal, every wait bounded.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a command of these tests may take before it is killed.
pub const BOUND: Duration = Duration::from_secs(240);

/// The repository's root (the `scenarios/` of the checkout under test is below it).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("the repository root")
}

/// The `conformance` binary, to start in `dir`, with none of the caller's colour and
/// terminal settings.
pub fn conformance(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_conformance"));
    command.current_dir(dir).env_remove("NO_COLOR").env_remove("COLUMNS").env("TERM", "xterm-256color");
    command
}

/// The path of the binary, for adapter command lines.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_conformance")
}

/// An empty scratch directory of this test process.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("conformance-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

/// What a finished command did.
#[derive(Debug)]
pub struct Ran {
    /// Its exit code.
    pub code: i32,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl Ran {
    /// Both outputs, for assertion messages.
    pub fn said(&self) -> String {
        format!("exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Kills `child` unless it has exited by `until`, and returns its exit code.
fn wait_bounded(child: &mut Child, until: Instant) -> i32 {
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the command did not end within {BOUND:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_all(mut from: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        // A pseudo-terminal's master reads EIO once the child is gone: that is its end.
        let mut chunk = [0u8; 4096];
        loop {
            match from.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            }
        }
        let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    rx
}

/// Runs `command` to its end with its output on pipes (no terminal).
pub fn run(command: &mut Command) -> Ran {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("conformance starts");
    let stdout = read_all(child.stdout.take().expect("stdout"));
    let stderr = read_all(child.stderr.take().expect("stderr"));
    let code = wait_bounded(&mut child, Instant::now() + BOUND);
    let text = |rx: mpsc::Receiver<String>| rx.recv_timeout(BOUND).expect("the output ends");
    Ran { code, stdout: text(stdout), stderr: text(stderr) }
}

/// `conformance ARGS` in `dir`, output on pipes.
pub fn run_in(dir: &Path, args: &[&str]) -> Ran {
    run(conformance(dir).args(args))
}

/// A command whose standard output and error are one pseudo-terminal, as in a
/// person's shell.
pub struct OnTerminal {
    child: Child,
    output: mpsc::Receiver<Vec<u8>>,
    /// Everything it wrote so far.
    pub seen: String,
    until: Instant,
}

impl OnTerminal {
    /// Starts `command` on a new pseudo-terminal 200 columns wide.
    pub fn start(mut command: Command) -> Self {
        let size = nix::pty::Winsize { ws_row: 40, ws_col: 200, ws_xpixel: 0, ws_ypixel: 0 };
        let pty = nix::pty::openpty(Some(&size), None).expect("a pseudo-terminal");
        let out = pty.slave.try_clone().expect("a second descriptor of the terminal");
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(pty.slave))
            .spawn()
            .expect("conformance starts");
        // The command kept the terminal's descriptors: drop them, so that the
        // terminal ends when the child does.
        drop(command);
        let mut master = std::fs::File::from(pty.master);
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            loop {
                match master.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(chunk[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        OnTerminal { child, output, seen: String::new(), until: Instant::now() + BOUND }
    }

    fn take(&mut self, wait: Duration) -> bool {
        match self.output.recv_timeout(wait) {
            Ok(bytes) => {
                self.seen.push_str(&String::from_utf8_lossy(&bytes));
                true
            }
            Err(_) => false,
        }
    }

    /// Waits until the terminal shows `text`; panics with what it showed when it
    /// does not in time.
    pub fn wait_for(&mut self, text: &str) {
        while !self.seen.contains(text) {
            let left = self.until.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "the terminal never showed {text:?}; it showed:\n{:?}", self.seen);
            if !self.take(left.min(Duration::from_millis(200)))
                && self.child.try_wait().ok().flatten().is_some()
            {
                // Gone: read what is left, then judge.
                while self.take(Duration::from_millis(200)) {}
                assert!(
                    self.seen.contains(text),
                    "the terminal never showed {text:?}; it showed:\n{:?}",
                    self.seen
                );
            }
        }
    }

    /// Waits for the end and returns the exit code, with everything shown.
    pub fn finish(mut self) -> (i32, String) {
        let code = wait_bounded(&mut self.child, self.until);
        while self.take(Duration::from_millis(200)) {}
        (code, std::mem::take(&mut self.seen))
    }
}

impl Drop for OnTerminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
