//! `conformance serve` with our own new device in place of the person's client: it
//! reads the homeserver URL and the QR payload from serve's output, scans, types its
//! check code into serve's input, and serve must say PASS, exit 0 and write the
//! transcript. The same with our own existing device, which shows the code: its QR
//! payload is pasted into serve's input and it approves by itself.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command as Process, Stdio};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use devices::qr_login::config::{ExistingDeviceConfig, NewDeviceConfig};
use devices::qr_login::{ExistingDevice, NewDevice};
use devices::shell::{self, HttpExecutor};
use devices::{Command, DeviceEvent};

/// Every wait of the test together stays below this.
const BOUND: Duration = Duration::from_secs(40);

/// The next stdout line that starts with `prefix` (the rest of it), before `until`.
fn wait_for(
    lines: &std_mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    prefix: &str,
    until: Instant,
) -> String {
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if let Some(rest) = line.strip_prefix(prefix) {
                    return rest.trim().to_owned();
                }
            }
            Err(_) => panic!("no line starting with `{prefix}`; serve said:\n{}", seen.join("\n")),
        }
    }
}

/// Kills the child if the test ends early.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_with_our_new_device_passes() {
    let until = Instant::now() + BOUND;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let transcript = std::env::temp_dir().join(format!("serve-test-{}.transcript.txt", std::process::id()));
    let _ = std::fs::remove_file(&transcript);
    let child = Process::new(env!("CARGO_BIN_EXE_conformance"))
        .current_dir(&root)
        .args(["serve", "--scenario", "scenarios/qr-login/happy/b-shows-code-v1.toml"])
        .args(["--role", "new-device", "--listen", "127.0.0.1:0", "--transcript"])
        .arg(&transcript)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("serve starts");
    let mut child = Guard(child);
    let stdout = child.0.stdout.take().expect("stdout");
    let mut stdin = child.0.stdin.take().expect("stdin");
    let (tx, lines) = std_mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut seen = Vec::new();
    let homeserver = wait_for(&lines, &mut seen, "homeserver: ", until);
    assert!(homeserver.starts_with("http://127.0.0.1:"), "{homeserver}");
    let payload = wait_for(&lines, &mut seen, "qr: ", until);

    let mut config = NewDeviceConfig::new("NEWDEVICE");
    config.homeserver = homeserver;
    config.seed = 7;
    config.poll_ms = 100;
    let mut device = NewDevice::new(config);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let outcome = runtime.block_on(async {
        let (commands_tx, mut commands) = tokio::sync::mpsc::channel(4);
        commands_tx.send(Command::ScanQrCode(payload)).await.expect("command");
        let executor = HttpExecutor::new(Duration::from_secs(10));
        let left = until.saturating_duration_since(Instant::now());
        shell::run(&mut device, &executor, &mut commands, left, |event| {
            // The person compares the codes: they type the code their client shows.
            if let DeviceEvent::ShowsCheckCode { code } = event {
                let _ = writeln!(stdin, "{code}");
                let _ = stdin.flush();
            }
        })
        .await
    });
    assert_eq!(outcome.name(), "verified", "our new device: {outcome:?}");

    let verdict = wait_for(&lines, &mut seen, "PASS ", until);
    assert_eq!(verdict, "qr-login/happy/b-shows-code-v1");
    // The homeserver lingers for the person's client; our device is done.
    let _ = writeln!(stdin, "done");
    let _ = stdin.flush();
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < until, "serve did not exit; it said:\n{}", seen.join("\n"));
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "serve exited with {status}; it said:\n{}", seen.join("\n"));
    let text = std::fs::read_to_string(&transcript).expect("transcript written");
    assert!(text.contains("A -> HS: POST /login 200"), "{text}");
    let _ = std::fs::remove_file(&transcript);
}

#[test]
fn serve_with_our_existing_device_passes() {
    let until = Instant::now() + BOUND;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let transcript = std::env::temp_dir().join(format!("serve-test-b-{}.transcript.txt", std::process::id()));
    let _ = std::fs::remove_file(&transcript);
    let child = Process::new(env!("CARGO_BIN_EXE_conformance"))
        .current_dir(&root)
        .args(["serve", "--scenario", "scenarios/qr-login/happy/b-shows-code-v1.toml"])
        .args(["--role", "existing-device", "--transcript"])
        .arg(&transcript)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("serve starts");
    let mut child = Guard(child);
    let stdout = child.0.stdout.take().expect("stdout");
    let mut stdin = child.0.stdin.take().expect("stdin");
    let (tx, lines) = std_mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut seen = Vec::new();
    let homeserver = wait_for(&lines, &mut seen, "homeserver: ", until);
    let username = wait_for(&lines, &mut seen, "username: ", until);
    let password = wait_for(&lines, &mut seen, "password: ", until);

    let mut config = ExistingDeviceConfig::new(&homeserver, &username, &password, "OLDDEVICE");
    config.shows_code = true;
    config.seed = 7;
    config.poll_ms = 100;
    let mut device = ExistingDevice::new(config);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let outcome = runtime.block_on(async {
        let (commands_tx, mut commands) = tokio::sync::mpsc::channel(4);
        let executor = HttpExecutor::new(Duration::from_secs(10));
        let left = until.saturating_duration_since(Instant::now());
        shell::run(&mut device, &executor, &mut commands, left, |event| match event {
            // The person pastes the code their client shows into serve.
            DeviceEvent::ShowsQrCode { payload } => {
                let _ = writeln!(stdin, "{payload}");
                let _ = stdin.flush();
            }
            DeviceEvent::ShowsCheckCode { .. } => {
                let _ = commands_tx.try_send(Command::Approve);
            }
            _ => {}
        })
        .await
    });
    assert_eq!(outcome.name(), "verified", "our existing device: {outcome:?}");

    let verdict = wait_for(&lines, &mut seen, "PASS ", until);
    assert_eq!(verdict, "qr-login/happy/b-shows-code-v1");
    // The homeserver lingers for the person's client; our device is done.
    let _ = writeln!(stdin, "done");
    let _ = stdin.flush();
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < until, "serve did not exit; it said:\n{}", seen.join("\n"));
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "serve exited with {status}; it said:\n{}", seen.join("\n"));
    let text = std::fs::read_to_string(&transcript).expect("transcript written");
    assert!(text.contains("B -> HS: POST /rendezvous 201"), "{text}");
    let _ = std::fs::remove_file(&transcript);
}
