//! `conformance run`: everything checked first, then the scenarios in parallel with a
//! line each (and a progress line on a terminal), then the summary, the reports and
//! an exit status that says whether anything was verified.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use devices::engine::real_time::Jitter;
use harness::report::console::{self, ColourChoice, CLEAR_LINE};
use harness::report::expectations::{self, Expectations};
use harness::report::summary::{ExitStatus, RunInfo, Summary};
use harness::report::{artifacts, json, junit};
use harness::run::external::{run_external, ExternalClient};
use harness::run::preflight::{check_output_dir, OutputFile};
use harness::run::result::ScenarioResult;
use harness::run::select::Filters;
use harness::run::suite::{in_parallel, watched, Activity};
use harness::scenario::Scenario;

use super::RunArgs;

/// How often the progress line is redrawn.
const PROGRESS_TICK: Duration = Duration::from_millis(250);

/// The run's outputs, each checked before anything runs.
struct Outputs {
    json: Option<OutputFile>,
    junit: Option<OutputFile>,
}

fn check_outputs(args: &RunArgs) -> Result<Outputs, String> {
    let json = args.json.as_deref().map(|p| OutputFile::open(p, "--json")).transpose()?;
    let junit = args.junit.as_deref().map(|p| OutputFile::open(p, "--junit")).transpose()?;
    if let Some(dir) = &args.diagrams {
        check_output_dir(dir, "--diagrams")?;
    }
    if let Some(dir) = &args.transcripts {
        check_output_dir(dir, "--transcripts")?;
    }
    Ok(Outputs { json, junit })
}

/// The console while scenarios run: result lines on stdout and, on a terminal, a
/// progress line on stderr that a result line first erases.
#[derive(Clone)]
struct Console {
    colour: bool,
    progress_shown: Arc<Mutex<bool>>,
}

impl Console {
    fn print(&self, text: &str) {
        let mut shown = self.progress_shown.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if *shown {
            eprint!("{CLEAR_LINE}");
            *shown = false;
        }
        print!("{text}");
        let _ = std::io::stdout().flush();
    }

    fn progress(&self, line: Option<String>) {
        let mut shown = self.progress_shown.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match line {
            Some(line) => {
                eprint!("{CLEAR_LINE}{line}");
                *shown = true;
            }
            None if *shown => {
                eprint!("{CLEAR_LINE}");
                *shown = false;
            }
            None => {}
        }
        let _ = std::io::stderr().flush();
    }
}

/// Redraws the progress line until aborted.
fn show_progress(console: Console, activity: Activity, total: usize) -> tokio::task::JoinHandle<()> {
    let width = console::terminal_width(std::env::var_os("COLUMNS").as_deref());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(PROGRESS_TICK).await;
            console.progress(console::progress_line(&activity.running(), activity.ended(), total, width));
        }
    })
}

pub async fn run(args: RunArgs, colour: ColourChoice) -> Result<ExitStatus, String> {
    let filters = Filters(args.filter.clone());
    let outputs = check_outputs(&args)?;
    let expectations = match &args.expectations {
        Some(path) => Expectations::load(path).map_err(|e| e.to_string())?,
        None => Expectations::default(),
    };
    let client = match (&args.client, args.role) {
        (Some(command), Some(role)) => {
            let path = std::env::var_os("PATH");
            harness::adapter::command::check(command, path.as_deref(), &super::cwd()?)?;
            Some(ExternalClient {
                command: command.clone(),
                kind: role.0,
                deadline: args.deadline_ms.map(Duration::from_millis),
                poll_ms: args.poll_ms,
                jitter: Jitter::of(args.jitter_ms, args.jitter_seed),
            })
        }
        _ => None,
    };
    let scenarios = super::load(args.paths.clone(), &filters)?;
    let console = Console {
        colour: console::colour_enabled(
            colour,
            std::io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        ),
        progress_shown: Arc::new(Mutex::new(false)),
    };

    let total = scenarios.len();
    // With --filter, entries outside it match nothing on purpose.
    let unmatched = match args.filter.is_empty() {
        true => expectations.unmatched(scenarios.iter().map(|s| s.name.as_str())),
        false => Vec::new(),
    };
    let (to_skip, to_run): (Vec<Scenario>, Vec<Scenario>) =
        scenarios.into_iter().partition(|s| expectations.should_skip(&s.name).is_some());
    let mut skipped: Vec<ScenarioResult> = to_skip
        .iter()
        .map(|s| ScenarioResult::skipped_scenario(s, expectations.should_skip(&s.name).unwrap_or("")))
        .collect();
    for result in &skipped {
        console.print(&console::result_lines(result, None, console.colour));
    }
    let jobs =
        args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
    let started = Instant::now();
    let activity = Activity::default();
    let progress =
        console::progress_enabled(std::io::stderr().is_terminal(), std::env::var_os("TERM").as_deref())
            .then(|| show_progress(console.clone(), activity.clone(), to_run.len()));
    let on_done = |r: &ScenarioResult| {
        let expected = expectations.expected_failure(&r.name).map(|rule| rule.reason.as_str());
        console.print(&console::result_lines(r, expected, console.colour));
    };
    let ran = match &client {
        Some(client) => {
            let client = Arc::new(client.clone());
            let run = move |scenario: Scenario| {
                let client = client.clone();
                async move { run_external(&scenario, &client).await }
            };
            in_parallel(to_run, jobs, watched(&activity, run), on_done).await
        }
        None => {
            let run = |scenario: Scenario| async move { harness::run::in_process(&scenario).await };
            in_parallel(to_run, jobs, watched(&activity, run), on_done).await
        }
    };
    if let Some(task) = progress {
        task.abort();
        console.progress(None);
    }
    let elapsed = started.elapsed();
    let (mut results, problems) = expectations::apply(ran, &expectations);
    results.append(&mut skipped);
    results.sort_by(|a, b| a.name.cmp(&b.name));

    let summary = Summary::of(&results);
    let status = summary.exit_status(args.allow_empty);
    println!("\n{total} scenarios: {} in {:.2} s", summary.line(), elapsed.as_secs_f64());
    for problem in &problems {
        println!("{problem}");
    }
    for note in &unmatched {
        println!("{note}");
    }
    if let Some(why) = summary.nothing_verified() {
        let consequence = if args.allow_empty { "--allow-empty: exit 0" } else { "exit 4" };
        eprintln!("conformance: {why} ({consequence})");
    }

    let info = RunInfo {
        role: client.as_ref().map(|c| c.kind),
        implementation: RunInfo::implementation_of(&results),
        duration_ms: elapsed.as_millis() as u64,
        exit_status: status,
    };
    if let Some(file) = outputs.json {
        file.write(&json::report_text(&results, &info)?)?;
    }
    if let Some(file) = outputs.junit {
        file.write(&junit::junit_xml(&results, "conformance", &info))?;
    }
    if let Some(dir) = &args.diagrams {
        artifacts::write_diagrams(dir, &results)?;
    }
    if let Some(dir) = &args.transcripts {
        let written = artifacts::write_transcripts(dir, &results)?;
        if !written.is_empty() {
            println!("transcripts of {} failing scenario(s) in {}", written.len(), dir.display());
        }
    }
    Ok(status)
}
