//! `conformance serve` with our own new device in place of the person's client: it
//! reads the homeserver URL and the QR payload from serve's output, scans, types its
//! check code into serve's input, and serve must say PASS, exit 0 and write the
//! transcript. The same with our own existing device, which shows the code: its QR
//! payload is pasted into serve's input and it approves by itself. And with our own
//! registrar, after which the person types `done`.

mod common;

use std::path::PathBuf;
use std::process::Command as Process;
use std::time::Duration;

use devices::qr_login::config::{ExistingDeviceConfig, NewDeviceConfig};
use devices::qr_login::{ExistingDevice, NewDevice};
use devices::registrar::{Registrar, RegistrarConfig};
use devices::shell::{self, HttpExecutor};
use devices::{Command, DeviceEvent, Role, RoleKind};

use common::Conversation;

/// Every wait of a test together stays below this.
const BOUND: Duration = Duration::from_secs(40);

/// The scenario the QR-login tests serve.
const SCENARIO: &str = "qr-login/happy/b-shows-code-v1";

/// The scenario the registrar test serves: an old server that drops the keys.
const REGISTER_SCENARIO: &str = "register/old-server-ignores-field";

/// Starts `conformance serve` on the QR-login scenario for a person playing `role`,
/// writing its transcript to a fresh file named after `tag`.
fn serve(role: &str, tag: &str) -> (Conversation, PathBuf) {
    serve_scenario(SCENARIO, role, tag, &[])
}

fn serve_scenario(scenario: &str, role: &str, tag: &str, extra: &[&str]) -> (Conversation, PathBuf) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let transcript =
        std::env::temp_dir().join(format!("serve-test-{tag}-{}.transcript.txt", std::process::id()));
    let _ = std::fs::remove_file(&transcript);
    let mut command = Process::new(env!("CARGO_BIN_EXE_conformance"));
    command
        .current_dir(&root)
        .args(["serve", "--scenario", &format!("scenarios/{scenario}.toml")])
        .args(["--role", role, "--listen", "127.0.0.1:0", "--poll-ms", "50", "--transcript"])
        .arg(&transcript)
        .args(extra);
    (Conversation::start(&mut command, BOUND), transcript)
}

/// Runs `device` in real time until it ends, within what is left of the bound;
/// `on_event` plays the person and may queue commands. Returns the outcome's name.
fn play(
    kind: RoleKind,
    device: &mut dyn Role,
    serve: &mut Conversation,
    first: Option<Command>,
    mut on_event: impl FnMut(&DeviceEvent, &mut Conversation, &tokio::sync::mpsc::Sender<Command>),
) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let left = serve.time_left();
    let outcome = runtime.block_on(async {
        let (commands_tx, mut commands) = tokio::sync::mpsc::channel(4);
        if let Some(first) = first {
            commands_tx.send(first).await.expect("command");
        }
        let executor = HttpExecutor::new(Duration::from_secs(10));
        shell::run(kind, device, &executor, &mut commands, left, None, |event| {
            on_event(event, serve, &commands_tx)
        })
        .await
    });
    format!("{}: {outcome:?}", outcome.name())
}

/// Serve's verdict and exit once our device is done, and the transcript it wrote.
fn expect_pass(serve: Conversation, transcript: &PathBuf) -> String {
    expect_verdict(serve, transcript, SCENARIO, true)
}

/// Serve's PASS for `scenario` and its exit, once our device is done; with `linger`,
/// `done` first ends the homeserver's wait for the person's client (without, the
/// person said `done` before the verdict, and serve must exit without waiting).
fn expect_verdict(mut serve: Conversation, transcript: &PathBuf, scenario: &str, linger: bool) -> String {
    let verdict = serve.wait_for("PASS ");
    assert_eq!(verdict, scenario);
    if linger {
        serve.say("done");
    }
    serve.expect_success();
    let text = std::fs::read_to_string(transcript).expect("transcript written");
    let _ = std::fs::remove_file(transcript);
    text
}

#[test]
fn serve_with_our_new_device_passes() {
    let (mut serve, transcript) = serve("new-device", "a");
    let homeserver = serve.wait_for("homeserver: ");
    assert!(homeserver.starts_with("http://127.0.0.1:"), "{homeserver}");
    let payload = serve.wait_for("qr: ");

    let mut config = NewDeviceConfig::new("NEWDEVICE");
    config.homeserver = homeserver;
    config.seed = 7;
    config.poll_ms = 100;
    let mut device = NewDevice::new(config);
    let outcome = play(
        RoleKind::NewDevice,
        &mut device,
        &mut serve,
        Some(Command::ScanQrCode(payload)),
        |event, serve, _| {
            // The person compares the codes: they type the code their client shows.
            if let DeviceEvent::ShowsCheckCode { code } = event {
                serve.say(code);
            }
        },
    );
    assert!(outcome.starts_with("verified:"), "our new device: {outcome}");

    let text = expect_pass(serve, &transcript);
    assert!(text.contains("A -> HS: POST /login 200"), "{text}");
}

#[test]
fn serve_with_our_existing_device_passes() {
    let (mut serve, transcript) = serve("existing-device", "b");
    let homeserver = serve.wait_for("homeserver: ");
    let username = serve.wait_for("username: ");
    let password = serve.wait_for("password: ");

    let mut config = ExistingDeviceConfig::new(&homeserver, &username, &password, "OLDDEVICE");
    config.shows_code = true;
    config.seed = 7;
    config.poll_ms = 100;
    let mut device = ExistingDevice::new(config);
    let outcome =
        play(RoleKind::ExistingDevice, &mut device, &mut serve, None, |event, serve, commands| match event {
            // The person pastes the code their client shows into serve.
            DeviceEvent::ShowsQrCode { payload } => serve.say(payload),
            DeviceEvent::ShowsCheckCode { .. } => {
                let _ = commands.try_send(Command::Approve);
            }
            _ => {}
        });
    assert!(outcome.starts_with("verified:"), "our existing device: {outcome}");

    let text = expect_pass(serve, &transcript);
    // Made before the run asked for the QR code, and still in the transcript.
    assert!(text.contains("B -> HS: POST /login 200"), "{text}");
    assert!(text.contains("B -> HS: POST /rendezvous 201"), "{text}");
}

#[test]
fn serve_with_our_registrar_passes_once_the_person_says_done() {
    // A linger longer than the test's bound: serve must not linger after `done`.
    let (mut serve, transcript) =
        serve_scenario(REGISTER_SCENARIO, "registrar", "r", &["--linger-ms", "600000"]);
    let homeserver = serve.wait_for("homeserver: ");
    let username = serve.wait_for("register username: ");
    let password = serve.wait_for("password: ");
    let server_name = serve.wait_for("server name: ");

    let mut config = RegistrarConfig::new(&homeserver, &username, &password, 7);
    config.server_name = server_name;
    let mut device = Registrar::new(config);
    let outcome = play(RoleKind::Registrar, &mut device, &mut serve, None, |_, _, _| {});
    assert!(outcome.starts_with("success:"), "our registrar: {outcome}");
    // Nothing simulated tells serve that the person's client is done: they say so.
    serve.say("done");

    let text = expect_verdict(serve, &transcript, REGISTER_SCENARIO, false);
    assert!(text.contains("R -> HS: POST /keys/device_signing/upload 200"), "{text}");
}
