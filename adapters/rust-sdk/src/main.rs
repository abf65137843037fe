//! matrix-rust-sdk (`matrix-sdk` 0.18.0) behind the conformance harness's adapter
//! protocol 1 (`docs/adapter-protocol.md`).
//!
//! * `registrar`: registers through UIA and sets up cross-signing with the SDK
//!   (`registrar.rs`). matrix-sdk 0.18 has no MSC2912.
//! * `new-device`, `existing-device`: `unimplemented` (exit 89). matrix-sdk 0.18's
//!   only QR login is MSC4108 over OAuth 2.0 (`authentication::oauth::qrcode`), not
//!   MSC3906 over an MSC3886 rendezvous with the MSC3903 channel.
//!
//! Events go to stdout, one JSON line each; logs (the adapter's and the SDK's
//! `tracing` output) go to stderr only.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod registrar;
mod uia;
mod wire;

use std::process::ExitCode;
use std::time::Duration;

use matrix_sdk::config::RequestConfig;
use matrix_sdk::Client;
use serde_json::{json, Map, Value};

use crate::registrar::Account;
use crate::wire::{Command, Commands, Outcome};

/// The implementation under test, as `ready` names it (the exact version
/// `Cargo.toml` pins; a test checks it against `Cargo.lock`).
const IMPLEMENTATION: &str = "matrix-sdk 0.18.0 (matrix-rust-sdk, in-memory stores)";

/// The exit status for "this adapter does not implement that" (BoGo's 89).
const EXIT_UNIMPLEMENTED: u8 = 89;

/// Timeout of one HTTP request; the SDK retries a transient failure at most 3 times
/// (`RequestConfig::short_retry`), so every request ends.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Bound on the whole registration, below the scenarios' default deadline (120 s).
const REGISTRATION_BOUND: Duration = Duration::from_secs(100);

/// Why the QR-login roles cannot be played.
const NO_MSC3906: &str = "matrix-sdk 0.18 has no MSC3906 sign in with QR code: no MSC3886 rendezvous, no MSC3903 \
channel, no m.login.progress/m.login.finish messages. Its QR login (both devices, OAuth::login_with_qr_code and \
OAuth::grant_login_with_qr_code, matrix-sdk src/authentication/oauth/mod.rs:382,391) is MSC4108: an MSC4108 \
rendezvous session (src/authentication/oauth/qrcode/rendezvous_channel/mod.rs:38), vodozemac's ECIES channel \
(src/authentication/oauth/qrcode/secure_channel/mod.rs:22) and an OAuth 2.0 device authorization grant";

/// The environment the runner sets.
struct Env {
    homeserver: String,
    role: String,
    scenario: String,
}

impl Env {
    fn read() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
        Ok(Self {
            homeserver: var("CONFORMANCE_HOMESERVER")?.trim_end_matches('/').to_owned(),
            role: var("CONFORMANCE_ROLE")?,
            scenario: std::env::var("CONFORMANCE_SCENARIO").unwrap_or_default(),
        })
    }
}

/// Logs to stderr, at `CONFORMANCE_RUST_SDK_LOG` (`error`…`trace`; `info` unset).
fn init_logging() {
    let level = std::env::var("CONFORMANCE_RUST_SDK_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing_subscriber::filter::LevelFilter>().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(level).with_ansi(false).init();
}

fn main() -> ExitCode {
    init_logging();
    let version = std::env::var("CONFORMANCE_PROTOCOL_VERSION").unwrap_or_default();
    if version != "1" {
        tracing::error!(%version, "this adapter speaks adapter protocol 1 only");
        return ExitCode::from(EXIT_UNIMPLEMENTED);
    }
    let env = match Env::read() {
        Ok(env) => env,
        Err(message) => {
            tracing::error!("{message}: run this adapter through `conformance run --client`");
            return ExitCode::from(2);
        }
    };
    tracing::info!(scenario = %env.scenario, role = %env.role, homeserver = %env.homeserver,
        poll_ms = ?std::env::var("CONFORMANCE_POLL_MS").ok(), "start (the registrar never polls)");
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the tokio runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(env))
}

async fn run(env: Env) -> ExitCode {
    wire::emit("ready", json!({ "implementation": IMPLEMENTATION }));
    if env.role != "registrar" {
        let detail = if matches!(env.role.as_str(), "new-device" | "existing-device") {
            NO_MSC3906.to_owned()
        } else {
            format!("unknown role `{}`", env.role)
        };
        wire::emit("unimplemented", json!({ "detail": detail }));
        return ExitCode::from(EXIT_UNIMPLEMENTED);
    }
    let mut commands = Commands::from_stdin();
    match play_registrar(&env, &mut commands).await {
        Ok(None) => return ExitCode::SUCCESS,
        Ok(Some(outcome)) => outcome.emit(),
        Err(message) => {
            // A runner that breaks the protocol: fail loudly (the runner shows stderr).
            tracing::error!("adapter protocol: {message}");
            return ExitCode::FAILURE;
        }
    }
    // The outcome is out: wait for `stop` (or the end of stdin), then exit 0.
    loop {
        match commands.next().await {
            Ok(Command::Stop) => return ExitCode::SUCCESS,
            Ok(Command::Next(object)) => {
                tracing::warn!(command = Command::name(&object), "ignored after the outcome")
            }
            Err(message) => {
                tracing::error!("{message}");
                return ExitCode::FAILURE;
            }
        }
    }
}

/// `setup`, then `register`: the outcome (`None` when the runner stopped first), or
/// a protocol error.
async fn play_registrar(env: &Env, commands: &mut Commands) -> Result<Option<Outcome>, String> {
    let Command::Next(setup) = commands.next().await? else { return Ok(None) };
    if Command::name(&setup) != "setup" {
        return Err(format!("expected `setup`, got `{}`", Command::name(&setup)));
    }
    let account = Account {
        username: string_field(&setup, "username")?,
        password: string_field(&setup, "password")?,
        server_name: string_field(&setup, "server_name")?,
    };
    let Command::Next(register) = commands.next().await? else { return Ok(None) };
    if Command::name(&register) != "register" {
        return Err(format!("expected `register`, got `{}`", Command::name(&register)));
    }
    let token = register.get("registration_token").and_then(Value::as_str).map(str::to_owned);

    let client = match Client::builder()
        .homeserver_url(&env.homeserver)
        .request_config(RequestConfig::short_retry().timeout(REQUEST_TIMEOUT))
        .build()
        .await
    {
        Ok(client) => client,
        Err(error) => {
            return Ok(Some(Outcome::error("homeserver", format!("cannot build the client: {error}"))))
        }
    };
    let outcome =
        tokio::time::timeout(REGISTRATION_BOUND, registrar::register_and_bootstrap(&client, &account, token))
            .await
            .unwrap_or_else(|_| {
                Outcome::error("timeout", format!("registration unfinished after {REGISTRATION_BOUND:?}"))
            });
    Ok(Some(outcome))
}

fn string_field(command: &Map<String, Value>, field: &str) -> Result<String, String> {
    command
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("`{}` has no string field `{field}`", Command::name(command)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ready_names_the_locked_sdk_version() {
        let lock = include_str!("../Cargo.lock");
        let version = super::IMPLEMENTATION.split(' ').nth(1).unwrap();
        assert!(
            lock.contains(&format!("name = \"matrix-sdk\"\nversion = \"{version}\"\n")),
            "Cargo.lock has another matrix-sdk"
        );
    }
}
