//! `conformance`: run the scenarios of the Matrix E2EE onboarding conformance suite.

mod fuzz;
mod run;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use devices::RoleKind;
use harness::report::console::ColourChoice;
use harness::report::summary::{exit_status_help, ExitStatus};
use harness::run::select::{self, Filters};
use harness::scenario::{self, Scenario};

/// A role, as the command line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Role(RoleKind);

impl ValueEnum for Role {
    fn value_variants<'a>() -> &'a [Self] {
        &[Role(RoleKind::NewDevice), Role(RoleKind::ExistingDevice), Role(RoleKind::Registrar)]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let help = match self.0 {
            RoleKind::NewDevice => "A: the device that signs in by QR code",
            RoleKind::ExistingDevice => "B: the signed-in device that lets A in",
            RoleKind::Registrar => "R: registers with cross-signing keys (MSC2912)",
        };
        Some(clap::builder::PossibleValue::new(self.0.name()).help(help))
    }
}

/// When to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Colour {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Conformance harness for Matrix E2EE onboarding: sign in with QR code (MSC3906)
/// and cross-signing keys at registration (MSC2912).
#[derive(Debug, Parser)]
#[command(name = "conformance", version, after_help = exit_status_help())]
struct Cli {
    /// Colour the verdicts: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, default_value_t = Colour::Auto, value_name = "WHEN")]
    color: Colour,
    #[command(subcommand)]
    command: Cmd,
}

/// The options of `conformance run`.
#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Scenario files or directories (default: ./scenarios).
    paths: Vec<PathBuf>,
    /// Only scenarios whose name matches: a glob over the whole name when it has `*`
    /// (as in an expectations file), else text the name contains. Repeat it to run
    /// the scenarios any of them matches.
    #[arg(long, value_name = "PATTERN")]
    filter: Vec<String>,
    /// Scenarios run at once (default: one per core; at least 1).
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    jobs: Option<usize>,
    /// Exit 0 even when nothing was verified (no scenario matched, or every one was
    /// skipped or unimplemented).
    #[arg(long)]
    allow_empty: bool,
    /// Write the JSON report (docs/report-format.md) to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write a JUnit XML report to this file.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write a Mermaid sequence diagram of every scenario to DIR/<name>.mmd.
    #[arg(long, value_name = "DIR")]
    diagrams: Option<PathBuf>,
    /// Write the full transcript of every failing scenario to DIR/<name>.txt.
    #[arg(long, value_name = "DIR")]
    transcripts: Option<PathBuf>,
    /// The implementation's expectations file (TOML): scenarios to skip and
    /// expected failures.
    #[arg(long, value_name = "FILE")]
    expectations: Option<PathBuf>,
    /// Run an external client through its adapter (docs/adapter-protocol.md):
    /// the adapter's command line, started once per scenario. Its program (and any
    /// script file it names) must exist.
    #[arg(long, value_name = "CMD ARGS", requires = "role")]
    client: Option<String>,
    /// The role the external client plays.
    #[arg(long, requires = "client")]
    role: Option<Role>,
    /// With --client: the deadline of every scenario in real milliseconds
    /// (default: the scenario's deadline_ms).
    #[arg(long, value_name = "MS", requires = "client")]
    deadline_ms: Option<u64>,
    /// With --client: the pause between two polls (rendezvous, /sync,
    /// /keys/query) of the simulated peer, also passed to the adapter as
    /// CONFORMANCE_POLL_MS. Default 1000, as a real client; 50-100 makes CI fast.
    /// Protocol waits (B's step-16 wait, the deadlines) are not shortened.
    #[arg(long, value_name = "MS", requires = "client", value_parser = clap::value_parser!(u64).range(1..))]
    poll_ms: Option<u64>,
    /// With --client: delay every request of the simulated peer by a random 0..=MS
    /// milliseconds (seeded by the scenario's seed), to bring out orders a quiet
    /// machine never shows; an expectation that holds only by timing then fails.
    #[arg(long, value_name = "MS", requires = "client", value_parser = clap::value_parser!(u64).range(1..))]
    jitter_ms: Option<u64>,
    /// With --jitter-ms: mixed into the seed of the delays, so that repeated runs try
    /// different ones (a soak passes its run number).
    #[arg(long, value_name = "N", requires = "jitter_ms", default_value_t = 0)]
    jitter_seed: u64,
}

// Parsed once per process: the size of the `run` variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run scenarios (default: every file under ./scenarios) and report.
    #[command(after_help = exit_status_help())]
    Run(RunArgs),
    /// Speak the adapter protocol on stdin and stdout with our own simulated device
    /// (the reference adapter; see docs/adapter-protocol.md).
    Device {
        /// The role to play.
        #[arg(long)]
        role: Role,
        /// Misbehaviour knobs of the device, as a JSON object with kebab-case names,
        /// e.g. '{"skip-master-key-check": true}'.
        #[arg(long, value_name = "JSON")]
        knobs: Option<String>,
        /// Bound of the whole run in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 120_000)]
        deadline_ms: u64,
        /// Delay every request of the device by a random 0..=MS milliseconds, as
        /// `run --jitter-ms` does for the simulated peer (a soak shakes both sides).
        #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
        jitter_ms: Option<u64>,
        /// With --jitter-ms: the seed of the delays.
        #[arg(long, value_name = "N", requires = "jitter_ms", default_value_t = 0)]
        jitter_seed: u64,
    },
    /// Serve one scenario in real time for a client that a person drives by hand:
    /// the mock homeserver and the simulated peer(s), then the verdict.
    Serve {
        /// The scenario file.
        #[arg(long, value_name = "PATH")]
        scenario: PathBuf,
        /// The role the person's client plays.
        #[arg(long)]
        role: Role,
        /// Address the mock homeserver binds (port 0 picks a free port).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// Where to write the transcript (default: the scenario name with / as __, plus
        /// .transcript.txt, in the current directory).
        #[arg(long, value_name = "FILE")]
        transcript: Option<PathBuf>,
        /// How long the homeserver stays up after the verdict, in milliseconds, so
        /// that your client can finish (type done to stop sooner).
        #[arg(long, value_name = "MS", default_value_t = 10_000)]
        linger_ms: u64,
        /// The URL clients reach the homeserver at, when not the bound address, e.g.
        /// http://192.168.1.20:8008 with --listen 0.0.0.0:8008 (it goes into the QR code).
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
        /// The pause between two polls of the simulated peer (rendezvous, /sync,
        /// /keys/query). Default 1000, as a real client.
        #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
        poll_ms: Option<u64>,
    },
    /// Fuzz a client: generated faults and misbehaviours, invariants checked on every
    /// run, findings shrunk and saved as scenarios (docs/fuzzing.md).
    Fuzz(fuzz::FuzzArgs),
    /// List the scenarios with their titles and spec steps.
    List {
        /// Scenario files or directories (default: ./scenarios).
        paths: Vec<PathBuf>,
        /// Only scenarios whose name matches (as `run --filter`; repeatable).
        #[arg(long, value_name = "PATTERN")]
        filter: Vec<String>,
        /// Print a JSON array instead (docs/report-format.md).
        #[arg(long)]
        json: bool,
    },
    /// Run one scenario and print its normalised transcript.
    Show {
        /// The scenario file.
        path: PathBuf,
    },
}

/// A count of at least 1 (`--jobs`): 0 would run nothing, so it is refused rather
/// than read as 1.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1 (0 scenarios at once would run nothing)".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("not a count: {e}")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let colour = match cli.color {
        Colour::Auto => ColourChoice::Auto,
        Colour::Always => ColourChoice::Always,
        Colour::Never => ColourChoice::Never,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("conformance: cannot start the runtime: {e}");
            return ExitCode::from(ExitStatus::Error.code());
        }
    };
    if let Cmd::Device { role, knobs, deadline_ms, jitter_ms, jitter_seed } = &cli.command {
        let jitter = devices::engine::real_time::Jitter::of(*jitter_ms, *jitter_seed);
        return match device_options(role.0, knobs.as_deref(), *deadline_ms, jitter) {
            Ok(options) => {
                let code = runtime.block_on(harness::external::device::serve(options));
                runtime.shutdown_timeout(std::time::Duration::from_millis(100));
                ExitCode::from(u8::try_from(code).unwrap_or(2))
            }
            Err(message) => {
                eprintln!("conformance device: {message}");
                ExitCode::from(ExitStatus::Error.code())
            }
        };
    }
    let status = match runtime.block_on(dispatch(cli.command, colour)) {
        Ok(status) => status,
        Err(message) => {
            eprintln!("conformance: {message}");
            ExitStatus::Error
        }
    };
    ExitCode::from(status.code())
}

fn device_options(
    kind: RoleKind,
    knobs: Option<&str>,
    deadline_ms: u64,
    jitter: Option<devices::engine::real_time::Jitter>,
) -> Result<harness::external::device::DeviceOptions, String> {
    let knobs = match knobs {
        Some(text) => Some(serde_json::from_str(text).map_err(|e| format!("--knobs: {e}"))?),
        None => None,
    };
    let homeserver = std::env::var("CONFORMANCE_HOMESERVER")
        .map_err(|_| "CONFORMANCE_HOMESERVER is not set (the runner sets it)".to_owned())?;
    Ok(harness::external::device::DeviceOptions {
        kind,
        knobs,
        homeserver,
        deadline: std::time::Duration::from_millis(deadline_ms),
        poll_ms: harness::external::device::poll_ms_from_env()?,
        jitter,
    })
}

/// The directory the command runs in.
fn cwd() -> Result<PathBuf, String> {
    std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))
}

/// The scenarios below `paths` (or ./scenarios) that `filters` select.
fn load(paths: Vec<PathBuf>, filters: &Filters) -> Result<Vec<Scenario>, String> {
    filters.check()?;
    let mut scenarios = scenario::load_all(&select::paths_or_default(paths, &cwd()?)?)?;
    scenarios.retain(|s| filters.matches(&s.name));
    Ok(scenarios)
}

/// The one scenario of a command that takes a file; a directory is refused with a
/// hint, since which of its scenarios was meant cannot be guessed.
fn one_scenario(path: &Path, command: &str) -> Result<Scenario, String> {
    if path.is_dir() {
        let files = scenario::discover(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let example = files
            .first()
            .map(|f| format!(", e.g. `conformance {command} {}`", f.display()))
            .unwrap_or_default();
        return Err(format!(
            "{command} takes one scenario file, and {} is a directory ({} scenario files): name one of \
             them{example}; `conformance list {}` lists them, `conformance run {}` runs them all",
            path.display(),
            files.len(),
            path.display(),
            path.display()
        ));
    }
    scenario::load_all(&[path.to_owned()])?
        .into_iter()
        .next()
        .ok_or_else(|| format!("{}: not a scenario file (.toml)", path.display()))
}

/// One entry of `list --json`.
fn listed(scenario: &Scenario) -> serde_json::Value {
    serde_json::json!({
        "name": scenario.name,
        "title": scenario.title,
        "steps": scenario.steps,
        "flow": scenario.flow,
        "roles": scenario.roles.iter().map(|r| r.kind.name()).collect::<Vec<_>>(),
        "path": scenario.path.display().to_string(),
    })
}

async fn dispatch(command: Cmd, colour: ColourChoice) -> Result<ExitStatus, String> {
    let verdict = |success: bool| if success { ExitStatus::Success } else { ExitStatus::Failed };
    match command {
        Cmd::List { paths, filter, json } => {
            let scenarios = load(paths, &Filters(filter))?;
            if json {
                let list: Vec<serde_json::Value> = scenarios.iter().map(listed).collect();
                println!("{}", serde_json::to_string_pretty(&list).map_err(|e| e.to_string())?);
            } else {
                for scenario in &scenarios {
                    println!("{:<48} {}", scenario.name, scenario.title);
                    if !scenario.steps.is_empty() {
                        println!("{:<48}   steps: {}", "", scenario.steps.join("; "));
                    }
                }
            }
            Ok(ExitStatus::Success)
        }
        Cmd::Show { path } => {
            let scenario = one_scenario(&path, "show")?;
            let result = harness::run::in_process(&scenario).await;
            print!("{}", result.snapshot);
            println!("\n{} {}", result.verdict, result.name);
            print!("{}", result.explain());
            Ok(verdict(result.verdict.is_success()))
        }
        Cmd::Serve { scenario, role, listen, transcript, linger_ms, public_url, poll_ms } => {
            let scenario = one_scenario(&scenario, "serve --scenario")?;
            let transcript =
                transcript.unwrap_or_else(|| harness::external::serve::default_transcript(&scenario));
            let options = harness::external::serve::ServeOptions {
                scenario,
                kind: role.0,
                listen,
                transcript,
                linger: std::time::Duration::from_millis(linger_ms),
                public_url,
                poll_ms,
            };
            let result = harness::external::serve::serve(options).await?;
            Ok(verdict(result.verdict.is_success()))
        }
        Cmd::Device { .. } => Err("`device` is handled before the runtime starts".into()),
        Cmd::Run(args) => run::run(args, colour).await,
        Cmd::Fuzz(args) => Ok(verdict(fuzz::fuzz(args).await?)),
    }
}
