//! `conformance`: run the scenarios of the Matrix E2EE onboarding conformance suite.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use harness::runner::ScenarioResult;
use harness::suite;
use harness::verdict::Verdict;

/// Conformance harness for Matrix E2EE onboarding: sign in with QR code (MSC3906)
/// and cross-signing keys at registration (MSC2912).
#[derive(Debug, Parser)]
#[command(name = "conformance", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

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
    },
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("conformance: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("conformance: {message}");
            ExitCode::from(2)
        }
    }
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
            for scenario in suite::load_all(&paths_or_default(paths))? {
                println!("{:<48} {}", scenario.name, scenario.title);
                if !scenario.steps.is_empty() {
                    println!("{:<48}   steps: {}", "", scenario.steps.join("; "));
                }
            }
            Ok(true)
        }
        Cmd::Show { path } => {
            let scenarios = suite::load_all(&[path])?;
            let scenario = scenarios.first().ok_or("no scenario at that path")?;
            let result = harness::runner::run(scenario).await;
            print!("{}", result.snapshot);
            println!("\n{} {}", result.verdict, result.name);
            print!("{}", result.explain());
            Ok(result.verdict.is_success())
        }
        Cmd::Run { paths, filter, jobs, json } => {
            let mut scenarios = suite::load_all(&paths_or_default(paths))?;
            if let Some(filter) = &filter {
                scenarios.retain(|s| s.name.contains(filter.as_str()));
            }
            let jobs =
                jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
            let started = Instant::now();
            let total = scenarios.len();
            let results = suite::run_all(scenarios, jobs, print_result).await;
            let counts = suite::summary(&results);
            let parts: Vec<String> = counts
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(v, n)| format!("{n} {}", v.label().to_lowercase()))
                .collect();
            println!(
                "\n{total} scenarios: {} in {:.2} s",
                if parts.is_empty() { "none run".to_owned() } else { parts.join(", ") },
                started.elapsed().as_secs_f64()
            );
            if let Some(path) = json {
                let text =
                    serde_json::to_string_pretty(&suite::json_report(&results)).map_err(|e| e.to_string())?;
                std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            }
            Ok(results.iter().all(|r| r.verdict.is_success()))
        }
    }
}

fn print_result(result: &ScenarioResult) {
    println!("{:<13} {:<56} {:>6} ms", result.verdict.label(), result.name, result.duration_ms);
    if result.verdict == Verdict::Fail || result.verdict == Verdict::NonStrict {
        print!("{}", result.explain());
    }
}
