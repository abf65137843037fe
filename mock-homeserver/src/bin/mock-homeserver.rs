//! `mock-homeserver`: serve the mock homeserver until interrupted.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use mock_homeserver::{Fault, HarnessAccess, JournalLimit, MockHomeserver, Profile};
use rand::Rng;

/// An in-memory Matrix homeserver for conformance tests of QR sign-in (MSC3906) and
/// cross-signing at registration (MSC2912).
///
/// Prints its base URL on the first line of stdout and the harness token on the
/// second, then serves until interrupted. The harness API under `/_harness/` (the
/// journal of every exchange, the faults) answers only requests that carry
/// `Authorization: Bearer <harness token>`, or any local program with
/// `--expose-journal`; never a web page. See docs/mock-homeserver.md.
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
    /// A fault active from the start, as JSON, exactly as in scenario files, e.g.
    /// '{"kind":"drop-to-device","event_type":"m.secret.request"}' (repeatable). A
    /// `"seen_by": {"user_id": ..., "device_id": ...}` aims it at one caller.
    #[arg(long = "fault", value_name = "JSON")]
    faults: Vec<String>,
    /// Journal entries to keep; beyond it the oldest are dropped and counted. 0 keeps
    /// everything (for a test that wants every exchange).
    #[arg(long, value_name = "ENTRIES", default_value_t = JournalLimit::STANDALONE.max_entries)]
    journal_limit: usize,
    /// Journal bytes to keep (bodies and bookkeeping), whichever cap comes first.
    /// 0: no cap on bytes. Ignored with `--journal-limit 0`.
    #[arg(long, value_name = "BYTES", default_value_t = JournalLimit::STANDALONE.max_bytes)]
    journal_max_bytes: usize,
    /// The longest body the journal keeps; a longer one is recorded as a note of its
    /// length and type. 0: no cap. Ignored with `--journal-limit 0`.
    #[arg(long, value_name = "BYTES", default_value_t = JournalLimit::STANDALONE.max_body_bytes)]
    journal_max_body_bytes: usize,
    /// Serve the harness API to any local program without a token. Web pages are
    /// still refused.
    #[arg(long)]
    expose_journal: bool,
    /// Also write the harness token to this file (created readable by its owner only).
    #[arg(long, value_name = "PATH")]
    harness_token_file: Option<PathBuf>,
    /// Milliseconds a client may take to send a request's headers; idle keep-alive
    /// connections are closed after the same time.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    header_timeout_ms: u64,
    /// Milliseconds a client may take to send a request's body.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    body_timeout_ms: u64,
    /// The most connections served at once; more are answered 503.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    max_connections: usize,
    /// Worker threads; 1 serves everything on one thread.
    #[arg(long, value_name = "N", default_value_t = 1)]
    threads: usize,
}

/// Task polls between two looks for I/O events (tokio's default is 61).
const EVENT_INTERVAL: u32 = 4;

fn main() {
    let args = Args::parse();
    let mut builder = match args.threads {
        0 | 1 => tokio::runtime::Builder::new_current_thread(),
        n => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(n);
            builder
        }
    };
    // Look for new I/O every few task polls, not every 61: a journal being written
    // frame by frame is always ready to run, and must not keep a waiting `/versions`
    // from being read for tens of milliseconds.
    let runtime = builder.event_interval(EVENT_INTERVAL).enable_all().build();
    let result = match runtime {
        Ok(runtime) => runtime.block_on(run(args)),
        Err(error) => Err(format!("cannot start the runtime: {error}")),
    };
    if let Err(message) = result {
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
    let faults = args.faults.iter().map(|json| parse_fault(json)).collect::<Result<Vec<_>, _>>()?;
    let journal_limit = match args.journal_limit {
        0 => JournalLimit::UNLIMITED,
        entries => JournalLimit {
            max_entries: entries,
            max_bytes: args.journal_max_bytes,
            max_body_bytes: args.journal_max_body_bytes,
        },
    };
    let token = (!args.expose_journal).then(new_token);
    let access = match &token {
        Some(token) => HarnessAccess::Token(token.clone()),
        None => HarnessAccess::Open,
    };
    if let (Some(path), Some(token)) = (&args.harness_token_file, &token) {
        write_private(path, token).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let mut builder = MockHomeserver::builder()
        .profile(profile)
        .seed(args.seed)
        .listen(args.listen)
        .journal_limit(journal_limit)
        .harness_access(access)
        .header_read_timeout(Duration::from_millis(args.header_timeout_ms.max(1)))
        .body_read_timeout(Duration::from_millis(args.body_timeout_ms.max(1)))
        .max_connections(args.max_connections.max(1));
    for fault in faults {
        builder = builder.fault(fault);
    }
    let server = builder.start().await.map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
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
    match &token {
        Some(token) => println!("harness token: {token}"),
        None => println!("harness token: none (--expose-journal)"),
    }
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    server.shutdown().await;
    Ok(())
}

fn parse_fault(json: &str) -> Result<Fault, String> {
    let fault: Fault =
        serde_json::from_str(json).map_err(|e| format!("--fault `{json}` is not a fault: {e}"))?;
    fault.check().map_err(|e| format!("--fault `{json}`: {e}"))?;
    Ok(fault)
}

/// 32 random letters and digits from the operating system's generator: the harness
/// token must not follow from `--seed`.
fn new_token() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..32).map(|_| ALPHABET[rand::rngs::OsRng.gen_range(0..ALPHABET.len())] as char).collect()
}

/// Writes the token to a file only its owner can read.
fn write_private(path: &std::path::Path, token: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    writeln!(file, "{token}")
}
