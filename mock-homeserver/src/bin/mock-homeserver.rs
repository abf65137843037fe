//! `mock-homeserver`: serve the mock homeserver until interrupted.

use std::net::SocketAddr;

use clap::Parser;
use mock_homeserver::{MockHomeserver, Profile};

/// An in-memory Matrix homeserver for conformance tests of QR sign-in (MSC3906) and
/// cross-signing at registration (MSC2912).
///
/// Prints its base URL on stdout, then serves until interrupted. The journal of every
/// exchange is at `GET /_harness/journal`.
#[derive(Debug, Parser)]
#[command(name = "mock-homeserver", version)]
struct Args {
    /// Address to listen on. Loopback by default; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8008")]
    listen: SocketAddr,
    /// Server profile: default, msc2912, msc2912-unstable or legacy.
    #[arg(long, default_value = "default")]
    profile: String,
    /// Profile overrides as a JSON object, e.g. '{"rendezvous":{"ttl_ms":30000}}'.
    #[arg(long)]
    profile_overrides: Option<String>,
    /// Seed for tokens and IDs, so runs are repeatable.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Create an account `LOCALPART:PASSWORD` at start (repeatable).
    #[arg(long = "account", value_name = "LOCALPART:PASSWORD")]
    accounts: Vec<String>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    if let Err(message) = run(args).await {
        eprintln!("mock-homeserver: {message}");
        std::process::exit(2);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let mut profile = Profile::named(&args.profile).map_err(|e| e.to_string())?;
    if let Some(overrides) = &args.profile_overrides {
        let overrides: serde_json::Value =
            serde_json::from_str(overrides).map_err(|e| format!("--profile-overrides is not JSON: {e}"))?;
        profile = profile.with_overrides(&overrides).map_err(|e| e.to_string())?;
    }
    let server = MockHomeserver::builder()
        .profile(profile)
        .seed(args.seed)
        .listen(args.listen)
        .start()
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    for account in &args.accounts {
        let (localpart, password) = account
            .split_once(':')
            .ok_or_else(|| format!("--account `{account}` is not LOCALPART:PASSWORD"))?;
        server
            .core()
            .create_account(localpart, password)
            .ok_or_else(|| format!("account `{localpart}` exists twice"))?;
    }
    println!("{}", server.base_url());
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    server.shutdown().await;
    Ok(())
}
