//! `conformance`: run the scenarios of the Matrix E2EE onboarding conformance suite.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use devices::RoleKind;
use harness::check::verdict::Verdict;
use harness::report::artifacts;
use harness::report::expectations::{self, Expectations};
use harness::report::junit::junit_xml;
use harness::run::external::ExternalClient;
use harness::run::result::{self, ScenarioResult};
use harness::run::suite;
use harness::scenario;

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

/// Conformance harness for Matrix E2EE onboarding: sign in with QR code (MSC3906)
/// and cross-signing keys at registration (MSC2912).
#[derive(Debug, Parser)]
#[command(name = "conformance", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

// Parsed once per process: the size of the `run` variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run scenarios (default: every file under scenarios/) and report.
    Run {
        /// Scenario files or directories.
        paths: Vec<PathBuf>,
        /// Only scenarios whose name contains this text.
        #[arg(long)]
        filter: Option<String>,
        /// Scenarios run at once (default: one per core).
        #[arg(long)]
        jobs: Option<usize>,
        /// Write a machine-readable result per scenario to this file.
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
        /// the adapter's command line, started once per scenario.
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
    },
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
    Fuzz(FuzzArgs),
    /// List the scenarios with their titles and spec steps.
    List {
        /// Scenario files or directories.
        paths: Vec<PathBuf>,
    },
    /// Run one scenario and print its normalised transcript.
    Show {
        /// The scenario file.
        path: PathBuf,
    },
}

/// The arguments of `conformance fuzz` (the library's `harness::fuzz::command`).
#[derive(Debug, clap::Args)]
struct FuzzArgs {
    /// The role under test.
    #[arg(long)]
    role: Role,
    /// Fuzz an external client through its adapter (docs/adapter-protocol.md);
    /// our own device in process when absent.
    #[arg(long, value_name = "CMD ARGS")]
    client: Option<String>,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// How many runs (default 100).
    #[arg(long, conflicts_with = "time")]
    runs: Option<u64>,
    /// How long, e.g. 60s, 5m.
    #[arg(long, value_name = "DURATION")]
    time: Option<String>,
    /// Runs at once (default: one per core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Save every finding as a scenario file in DIR.
    #[arg(long, value_name = "DIR")]
    save: Option<PathBuf>,
    /// Run the seeds A..B (with --shard: one shard of them).
    #[arg(long, value_name = "A..B")]
    seed_range: Option<String>,
    /// Shard i of n of the seed range, from 0.
    #[arg(long, value_name = "i/n", requires = "seed_range")]
    shard: Option<String>,
    /// Write the JSON report to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write a JUnit XML report to this file.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// With --client: the real-time deadline of one run in milliseconds (default 20000).
    #[arg(long, value_name = "MS", requires = "client")]
    deadline_ms: Option<u64>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("conformance: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    if let Cmd::Device { role, knobs, deadline_ms } = &cli.command {
        return match device_options(role.0, knobs.as_deref(), *deadline_ms) {
            Ok(options) => {
                let code = runtime.block_on(harness::external::device::serve(options));
                runtime.shutdown_timeout(std::time::Duration::from_millis(100));
                ExitCode::from(u8::try_from(code).unwrap_or(2))
            }
            Err(message) => {
                eprintln!("conformance device: {message}");
                ExitCode::from(2)
            }
        };
    }
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("conformance: {message}");
            ExitCode::from(2)
        }
    }
}

fn device_options(
    kind: RoleKind,
    knobs: Option<&str>,
    deadline_ms: u64,
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
    })
}

fn paths_or_default(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        let local = PathBuf::from("scenarios");
        vec![if local.is_dir() { local } else { suite::default_scenarios_dir() }]
    } else {
        paths
    }
}

async fn run(cli: Cli) -> Result<bool, String> {
    match cli.command {
        Cmd::List { paths } => {
            for scenario in scenario::load_all(&paths_or_default(paths))? {
                println!("{:<48} {}", scenario.name, scenario.title);
                if !scenario.steps.is_empty() {
                    println!("{:<48}   steps: {}", "", scenario.steps.join("; "));
                }
            }
            Ok(true)
        }
        Cmd::Show { path } => {
            let scenarios = scenario::load_all(&[path])?;
            let scenario = scenarios.first().ok_or("no scenario at that path")?;
            let result = harness::run::in_process(scenario).await;
            print!("{}", result.snapshot);
            println!("\n{} {}", result.verdict, result.name);
            print!("{}", result.explain());
            Ok(result.verdict.is_success())
        }
        Cmd::Serve { scenario, role, listen, transcript, linger_ms, public_url, poll_ms } => {
            let scenarios = scenario::load_all(&[scenario])?;
            let scenario = scenarios.into_iter().next().ok_or("no scenario at that path")?;
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
            Ok(result.verdict.is_success())
        }
        Cmd::Device { .. } => Err("`device` is handled before the runtime starts".into()),
        Cmd::Fuzz(args) => {
            harness::fuzz::command::run(harness::fuzz::command::FuzzCommand {
                role: args.role.0,
                client: args.client,
                seed: args.seed,
                runs: args.runs,
                time: args.time,
                jobs: args.jobs,
                save: args.save,
                seed_range: args.seed_range,
                shard: args.shard,
                json: args.json,
                junit: args.junit,
                deadline_ms: args.deadline_ms,
            })
            .await
        }
        Cmd::Run {
            paths,
            filter,
            jobs,
            json,
            junit,
            diagrams,
            transcripts,
            expectations,
            client,
            role,
            deadline_ms,
            poll_ms,
        } => {
            let client = match (client, role) {
                (Some(command), Some(role)) => Some(ExternalClient {
                    command,
                    kind: role.0,
                    deadline: deadline_ms.map(std::time::Duration::from_millis),
                    poll_ms,
                }),
                _ => None,
            };
            let expectations = match &expectations {
                Some(path) => Expectations::load(path).map_err(|e| e.to_string())?,
                None => Expectations::default(),
            };
            let mut scenarios = scenario::load_all(&paths_or_default(paths))?;
            if let Some(filter) = &filter {
                scenarios.retain(|s| s.name.contains(filter.as_str()));
            }
            let total = scenarios.len();
            let (to_skip, to_run): (Vec<_>, Vec<_>) =
                scenarios.into_iter().partition(|s| expectations.should_skip(&s.name).is_some());
            let mut skipped: Vec<ScenarioResult> = to_skip
                .iter()
                .map(|s| {
                    ScenarioResult::skipped(
                        &s.name,
                        &s.title,
                        expectations.should_skip(&s.name).unwrap_or(""),
                    )
                })
                .collect();
            skipped.iter().for_each(|r| print_result(r, false));
            let jobs =
                jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
            let started = Instant::now();
            let on_done =
                |r: &ScenarioResult| print_result(r, expectations.expected_failure(&r.name).is_some());
            let ran = match client {
                Some(client) => harness::run::external::run_all_external(to_run, client, jobs, on_done).await,
                None => suite::run_all(to_run, jobs, on_done).await,
            };
            let elapsed = started.elapsed();
            let (mut results, problems) = expectations::apply(ran, &expectations);
            results.append(&mut skipped);
            results.sort_by(|a, b| a.name.cmp(&b.name));
            println!("\n{total} scenarios: {} in {:.2} s", summary_line(&results), elapsed.as_secs_f64());
            for problem in &problems {
                println!("{problem}");
            }
            if let Some(path) = json {
                let text =
                    serde_json::to_string_pretty(&suite::json_report(&results)).map_err(|e| e.to_string())?;
                write(&path, &text)?;
            }
            if let Some(path) = junit {
                write(&path, &junit_xml(&results, "conformance", elapsed.as_millis() as u64))?;
            }
            if let Some(dir) = diagrams {
                artifacts::write_diagrams(&dir, &results)?;
            }
            if let Some(dir) = transcripts {
                let written = artifacts::write_transcripts(&dir, &results)?;
                if !written.is_empty() {
                    println!("transcripts of {} failing scenario(s) in {}", written.len(), dir.display());
                }
            }
            Ok(suite::run_succeeded(&results))
        }
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// `3 pass, 1 fail, 2 xfail`: counts per label, in report order, the zero ones left out.
fn summary_line(results: &[ScenarioResult]) -> String {
    let labels = ["PASS", "NON-STRICT", "UNIMPLEMENTED", "SKIPPED", "XFAIL", "XPASS", "FAIL"];
    let parts: Vec<String> = labels
        .iter()
        .map(|label| (label, results.iter().filter(|r| r.label() == *label).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(label, n)| format!("{n} {}", label.to_lowercase()))
        .collect();
    if parts.is_empty() {
        "none run".to_owned()
    } else {
        parts.join(", ")
    }
}

/// One line per finished scenario; `expected_failure` when the expectations file
/// expects it to fail (the result is not annotated yet while the run goes on).
fn print_result(result: &ScenarioResult, expected_failure: bool) {
    let label = result::report_label(result.verdict, expected_failure);
    println!("{label:<13} {:<56} {:>6} ms", result.name, result.duration_ms);
    match result.verdict {
        Verdict::Fail | Verdict::NonStrict => print!("{}", result.explain()),
        Verdict::Skipped => {
            for failure in &result.failures {
                println!("      {}", failure.message);
            }
        }
        _ => {}
    }
}
