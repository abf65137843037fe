//! The `conformance` command line as a user meets it: the built binary, run in a
//! directory, its exit code and what it prints. Every mistake that can be found before
//! a run is found before it, once, with a clear message; a run that verified nothing
//! says so and fails; colour and progress appear only on a terminal.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::cli::{binary, conformance, repo_root, run, run_in, scratch, OnTerminal};
use harness::report::summary::{exit_status_help, ExitStatus};
use serde_json::Value;

/// The name of every scenario file below `dir`, as the CLI names them.
fn names_on_disk(dir: &Path) -> BTreeSet<String> {
    harness::scenario::discover(dir)
        .expect("the scenarios directory lists")
        .iter()
        .map(|f| f.strip_prefix(dir).unwrap().with_extension("").to_string_lossy().into_owned())
        .collect()
}

fn listed_names(json: &str) -> BTreeSet<String> {
    let list: Vec<Value> = serde_json::from_str(json).unwrap_or_else(|e| panic!("list --json: {e}\n{json}"));
    list.iter().map(|s| s["name"].as_str().expect("a name").to_owned()).collect()
}

/// The first line of the files' lines that starts with `prefix`, 1-based.
fn line_starting(text: &str, prefix: &str) -> usize {
    text.lines().position(|l| l.starts_with(prefix)).expect("the line") + 1
}

/// `conformance ARGS` in `dir`, to start on a terminal.
fn command<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) -> std::process::Command {
    let mut command = conformance(dir);
    command.args(args);
    command
}

const REGISTERS: &str = "register/msc2912-keys-in-register";

#[test]
fn a_run_that_verified_nothing_fails_unless_allowed() {
    let root = repo_root();
    let ran = run_in(&root, &["run", "--filter", "no-such-scenario"]);
    assert_eq!(ran.code, 4, "{}", ran.said());
    assert!(ran.stdout.contains("0 scenarios"), "{}", ran.said());
    assert!(ran.stderr.contains("no scenario matched the paths and filters"), "{}", ran.said());
    let ran = run_in(&root, &["run", "--filter", "no-such-scenario", "--allow-empty"]);
    assert_eq!(ran.code, 0, "{}", ran.said());

    // An adapter that implements nothing: every registrar scenario is UNIMPLEMENTED or
    // SKIPPED (those that need the registrar to misbehave on purpose).
    let nothing = ["run", "--filter", "register/", "--client", "sh -c 'exit 89'", "--role", "registrar"];
    let ran = run_in(&root, &nothing);
    assert_eq!(ran.code, 4, "{}", ran.said());
    assert!(ran.stdout.contains("UNIMPLEMENTED") && ran.stdout.contains("SKIPPED"), "{}", ran.said());
    assert!(ran.stderr.contains("nothing was verified: all"), "{}", ran.said());
    let ran = run_in(&root, &[&nothing[..], &["--allow-empty"]].concat());
    assert_eq!(ran.code, 0, "{}", ran.said());

    let ran = run_in(&root, &["run", "--filter", REGISTERS]);
    assert_eq!(ran.code, 0, "{}", ran.said());
    assert!(ran.stderr.is_empty(), "{}", ran.said());
}

#[test]
fn every_exit_code_is_in_the_help() {
    let root = repo_root();
    for args in [&["run", "--help"][..], &["--help"]] {
        let ran = run_in(&root, args);
        assert_eq!(ran.code, 0, "{}", ran.said());
        assert!(ran.stdout.contains(exit_status_help().trim_end()), "{args:?}: {}", ran.said());
        for status in ExitStatus::ALL {
            assert!(ran.stdout.contains(&format!("  {}  ", status.code())), "{args:?}: {}", ran.said());
        }
    }
}

#[test]
fn output_paths_are_checked_before_anything_runs() {
    let root = repo_root();
    let dir = scratch("outputs");
    let file = dir.join("a-file");
    std::fs::write(&file, "").unwrap();
    let missing = dir.join("missing/r.json");
    let in_file = file.join("sub");
    let cases = [
        ("--json", missing.clone(), "the directory"),
        ("--junit", dir.clone(), "is a directory, not a file"),
        ("--diagrams", in_file.clone(), "cannot create"),
        ("--transcripts", in_file, "cannot create"),
    ];
    for (option, path, why) in cases {
        let path = path.to_str().unwrap();
        let ran = run_in(&root, &["run", option, path]);
        assert_eq!(ran.code, 2, "{option}: {}", ran.said());
        assert!(ran.stdout.is_empty(), "{option}: no scenario ran before the error: {}", ran.said());
        assert!(ran.stderr.starts_with(&format!("conformance: {option} {path}")), "{}", ran.said());
        assert!(ran.stderr.contains(why), "{option}: {}", ran.said());
    }
    // A run that stops on an error after the check leaves no empty report behind.
    let report = dir.join("r.json");
    let ran = run_in(&root, &["run", "--json", report.to_str().unwrap(), "no-such-file.toml"]);
    assert_eq!(ran.code, 2, "{}", ran.said());
    assert!(!report.exists(), "{}", ran.said());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_client_that_names_no_program_is_refused_once_up_front() {
    let root = repo_root();
    let cases = [
        ("does-not-exist --role x", "`does-not-exist` is not a program on PATH"),
        (
            "python3 adapters/python/no_such_adapter.py",
            "the script `adapters/python/no_such_adapter.py` does not exist",
        ),
        ("./adapters/nope", "`./adapters/nope` is not an executable file"),
    ];
    for (client, why) in cases {
        let ran = run_in(&root, &["run", "--client", client, "--role", "new-device"]);
        assert_eq!(ran.code, 2, "{client}: {}", ran.said());
        assert!(ran.stdout.is_empty(), "{client}: no scenario ran: {}", ran.said());
        assert_eq!(ran.stderr.lines().count(), 1, "{client}: one message: {}", ran.said());
        assert!(ran.stderr.contains(why), "{client}: {}", ran.said());
    }
}

#[test]
fn jobs_zero_is_refused() {
    let ran = run_in(&repo_root(), &["run", "--jobs", "0"]);
    assert_eq!(ran.code, 2, "{}", ran.said());
    assert!(ran.stdout.is_empty(), "{}", ran.said());
    assert!(ran.stderr.contains("--jobs") && ran.stderr.contains("at least 1"), "{}", ran.said());
}

#[test]
fn show_of_a_directory_is_refused_with_a_hint() {
    let root = repo_root();
    let count = names_on_disk(&root.join("scenarios/register")).len();
    let ran = run_in(&root, &["show", "scenarios/register"]);
    assert_eq!(ran.code, 2, "{}", ran.said());
    assert!(ran.stdout.is_empty(), "nothing ran: {}", ran.said());
    for hint in [
        format!("scenarios/register is a directory ({count} scenario files)"),
        "e.g. `conformance show scenarios/register/".to_owned(),
        "`conformance run scenarios/register` runs them all".to_owned(),
    ] {
        assert!(ran.stderr.contains(&hint), "{hint}: {}", ran.said());
    }
    let ran = run_in(&root, &["show", &format!("scenarios/{REGISTERS}.toml")]);
    assert_eq!(ran.code, 0, "a file is shown: {}", ran.said());
    assert!(ran.stdout.contains(&format!("PASS {REGISTERS}")), "{}", ran.said());
}

#[test]
fn filters_repeat_and_glob_as_in_an_expectations_file() {
    let root = repo_root();
    let all = names_on_disk(&root.join("scenarios"));
    let glob = "qr-login/*/wrong-*";
    let text = "declined";
    let expected: BTreeSet<String> = all
        .iter()
        .filter(|n| (n.starts_with("qr-login/") && n.contains("/wrong-")) || n.contains(text))
        .cloned()
        .collect();
    assert!(expected.len() >= 3, "{expected:?}");
    let ran = run_in(&root, &["list", "--json", "--filter", glob, "--filter", text]);
    assert_eq!(ran.code, 0, "{}", ran.said());
    assert_eq!(listed_names(&ran.stdout), expected);

    // `run` selects the same, and a glob matches the whole name.
    let dir = scratch("filters");
    let report = dir.join("r.json");
    let ran = run_in(&root, &["run", "--filter", glob, "--filter", text, "--json", report.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{}", ran.said());
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let ran_names: BTreeSet<String> = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ran_names, expected);
    let ran = run_in(&root, &["list", "--json", "--filter", "wrong-*"]);
    assert_eq!(listed_names(&ran.stdout), BTreeSet::new(), "a glob is not a substring: {}", ran.said());
    let ran = run_in(&root, &["list", "--filter", ""]);
    assert_eq!(ran.code, 2, "an empty filter would select everything: {}", ran.said());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn list_json_describes_every_scenario() {
    let root = repo_root();
    let ran = run_in(&root, &["list", "--json"]);
    assert_eq!(ran.code, 0, "{}", ran.said());
    let list: Vec<Value> = serde_json::from_str(&ran.stdout).expect("a JSON array");
    let names: BTreeSet<String> = list.iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, names_on_disk(&root.join("scenarios")));
    for scenario in &list {
        assert!(!scenario["title"].as_str().unwrap().is_empty(), "{scenario}");
        assert!(!scenario["steps"].as_array().unwrap().is_empty(), "{scenario}");
        let flow = scenario["flow"].as_str().unwrap();
        assert!(["qr-login", "register"].contains(&flow), "{scenario}");
        let roles: Vec<&str> =
            scenario["roles"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
        let want: &[&str] =
            if flow == "register" { &["registrar"] } else { &["new-device", "existing-device"] };
        assert_eq!(roles, want, "{scenario}");
        assert!(Path::new(scenario["path"].as_str().unwrap()).is_file(), "{scenario}");
    }
}

#[test]
fn the_default_scenarios_directory_is_the_one_where_it_runs() {
    let here = scratch("default-dir");
    // No scenarios directory here: a clear error, not the build's own scenarios.
    for command in ["list", "run"] {
        let ran = run_in(&here, &[command]);
        assert_eq!(ran.code, 2, "{command}: {}", ran.said());
        assert!(
            ran.stderr.contains(&format!("no scenarios directory in {}", here.display())),
            "{}",
            ran.said()
        );
    }
    let source = repo_root().join(format!("scenarios/{REGISTERS}.toml"));
    std::fs::create_dir_all(here.join("scenarios/mine")).unwrap();
    std::fs::copy(source, here.join("scenarios/mine/only.toml")).unwrap();
    let ran = run_in(&here, &["list", "--json"]);
    assert_eq!(listed_names(&ran.stdout), BTreeSet::from(["mine/only".to_owned()]), "{}", ran.said());
    let ran = run_in(&here, &["run"]);
    assert_eq!(ran.code, 0, "{}", ran.said());
    assert!(ran.stdout.contains("PASS") && ran.stdout.contains("mine/only"), "{}", ran.said());
    assert!(ran.stdout.contains("1 scenarios: 1 pass"), "{}", ran.said());
    std::fs::remove_dir_all(&here).unwrap();
}

#[test]
fn load_errors_name_a_real_line() {
    let dir = scratch("load-errors");
    let utf8 = dir.join("not-utf8.toml");
    std::fs::write(&utf8, b"title = \"x\"\nflow = \"register\"\n# caf\xe9\n").unwrap();
    let mut messages = Vec::new();
    let ran = run_in(&dir, &["list", "not-utf8.toml"]);
    assert_eq!(ran.code, 2, "{}", ran.said());
    assert!(ran.stderr.contains("not-utf8.toml:3: not UTF-8 text"), "{}", ran.said());
    messages.push(ran.stderr);

    let text =
        "title = \"a registration without its registrar\"\nsteps = [\"MSC2912\"]\nflow = \"register\"\n\n\
                [server]\nprofile = \"msc2912\"\n\n[roles.A]\nkind = \"new-device\"\n\n[expect]\n\
                outcomes = { A = \"success\" }\norder = [\"A -> HS: POST /register 200\"]\n";
    std::fs::write(dir.join("no-registrar.toml"), text).unwrap();
    let ran = run_in(&dir, &["run", "no-registrar.toml"]);
    assert_eq!(ran.code, 2, "{}", ran.said());
    let line = line_starting(text, "[roles.A]");
    let want = format!("no-registrar.toml:{line}: a `flow = \"register\"` scenario needs role R (registrar)");
    assert!(ran.stderr.contains(&want), "{want}: {}", ran.said());
    messages.push(ran.stderr);

    // An expectations file: its bad line, or no line at all when it cannot be read.
    std::fs::write(dir.join("expect.toml"), b"[[skip]]\nscenarios = \"x\"\nreason = \"\xff\"\n").unwrap();
    let ran = run_in(&repo_root(), &["run", "--expectations", dir.join("expect.toml").to_str().unwrap()]);
    assert_eq!(ran.code, 2, "{}", ran.said());
    assert!(ran.stderr.contains("expect.toml:3: not UTF-8 text"), "{}", ran.said());
    messages.push(ran.stderr);
    let ran = run_in(&dir, &["run", "--expectations", "missing.toml", "no-registrar.toml"]);
    assert!(ran.stderr.contains("missing.toml: cannot read"), "{}", ran.said());
    messages.push(ran.stderr);
    for message in messages {
        assert!(!message.contains(":0:") && !message.contains(":0 "), "never line 0: {message}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let root = repo_root();
    let args = ["run", "--filter", REGISTERS];
    let green_pass = "\x1b[32mPASS\x1b[0m";

    let terminal = OnTerminal::start(command(&root, &args));
    let (code, shown) = terminal.finish();
    assert_eq!(code, 0, "{shown:?}");
    assert!(shown.contains(green_pass), "a terminal gets colour: {shown:?}");

    let terminal = OnTerminal::start({
        let mut command = command(&root, &args);
        command.env("NO_COLOR", "1");
        command
    });
    let (code, shown) = terminal.finish();
    assert_eq!(code, 0, "{shown:?}");
    assert!(shown.contains("PASS") && !shown.contains('\x1b'), "NO_COLOR: no escape codes: {shown:?}");

    let piped = run_in(&root, &args);
    assert!(piped.stdout.contains("PASS") && !piped.stdout.contains('\x1b'), "a pipe: {}", piped.said());
    let forced = run_in(&root, &[&args[..], &["--color", "always"]].concat());
    assert!(forced.stdout.contains(green_pass), "--color always: {}", forced.said());
}

/// An adapter that says it is ready, holds its scenario until `release` exists, then
/// says it implements nothing: a scenario that runs as long as the test wants (within
/// its deadline).
fn held_adapter(release: &Path) -> String {
    let ready = r#"echo "{\"event\":\"ready\",\"implementation\":\"held\"}""#;
    format!("sh -c '{ready}; while [ ! -e {} ]; do sleep 0.05; done; exit 89'", release.display())
}

/// Creates the release file when dropped, so that a failing test never leaves the
/// adapter waiting (the scenario's deadline would end it anyway).
struct Release<'a>(&'a Path);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        let _ = std::fs::write(self.0, "");
    }
}

#[test]
fn a_progress_line_names_a_long_scenario_only_on_a_terminal() {
    let root = repo_root();
    let dir = scratch("progress");
    let args = |release: &Path| {
        vec![
            "run".to_owned(),
            "--filter".to_owned(),
            REGISTERS.to_owned(),
            "--client".to_owned(),
            held_adapter(release),
            "--role".to_owned(),
            "registrar".to_owned(),
            "--deadline-ms".to_owned(),
            "120000".to_owned(),
            "--allow-empty".to_owned(),
        ]
    };

    // On a terminal the line appears while the scenario is held, and goes once it ends.
    let release = dir.join("release-terminal");
    let guard = Release(&release);
    let mut terminal = OnTerminal::start(command(&root, &args(&release)));
    terminal.wait_for(&format!("[0/1 done] running: {REGISTERS}"));
    drop(guard);
    let (code, shown) = terminal.finish();
    assert_eq!(code, 0, "{shown:?}");
    assert!(shown.contains("UNIMPLEMENTED"), "{shown:?}");
    let after = shown.rsplit("running: ").next().unwrap();
    assert!(after.contains("\r\x1b[2K"), "the progress line is erased: {shown:?}");

    // On a pipe, none, however long the scenario runs (held here for 3 s, twice the
    // time after which a terminal would show it).
    let release = dir.join("release-pipe");
    let guard = Release(&release);
    let mut piped = command(&root, &args(&release));
    let child = std::thread::spawn(move || run(&mut piped));
    std::thread::sleep(std::time::Duration::from_secs(3));
    drop(guard);
    let ran = child.join().expect("the run");
    assert_eq!(ran.code, 0, "{}", ran.said());
    assert!(!ran.stderr.contains("running:") && !ran.stderr.contains('\x1b'), "{}", ran.said());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_reports_carry_the_adapters_stderr_notes_implementation_and_role() {
    let root = repo_root();
    let dir = scratch("adapter-reports");
    let json = dir.join("r.json");
    let junit = dir.join("r.xml");
    // Our own registrar, behind a wrapper that logs on stderr and ignores `stop`.
    let client = format!(
        "sh -c 'echo adapter-diagnostic-line >&2; {} device --role registrar; exec sleep 60'",
        binary()
    );
    let ran = run_in(
        &root,
        &[
            "run",
            "--filter",
            REGISTERS,
            "--client",
            &client,
            "--role",
            "registrar",
            "--json",
            json.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.said());
    let note = "the adapter did not exit within the grace period after `stop`";
    assert!(ran.stdout.contains(&format!("note: {note}")), "the console: {}", ran.said());

    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["role"], "registrar");
    let implementation = report["implementation"].as_str().expect("the adapter named itself").to_owned();
    let scenario = &report["scenarios"][0];
    assert_eq!(scenario["verdict"], "PASS");
    assert_eq!(scenario["implementation"].as_str(), Some(implementation.as_str()));
    assert!(
        scenario["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains(note)),
        "{report}"
    );

    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let property = |name: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("property") && n.attribute("name") == Some(name))
            .and_then(|n| n.attribute("value"))
            .map(str::to_owned)
    };
    assert_eq!(property("implementation"), Some(implementation));
    assert_eq!(property("role").as_deref(), Some("registrar"));
    let text_of =
        |tag: &str| doc.descendants().find(|n| n.has_tag_name(tag)).and_then(|n| n.text()).unwrap_or("");
    assert!(text_of("system-err").contains("adapter-diagnostic-line"), "{xml}");
    assert!(text_of("system-out").contains(note), "{xml}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_expectations_entry_that_matches_nothing_is_noted_without_failing() {
    let root = repo_root();
    let dir = scratch("unmatched-expectations");
    let file = dir.join("expect.toml");
    std::fs::write(
        &file,
        "[[skip]]\nscenarios = \"register/renamed-long-ago\"\nreason = \"gone\"\n\n\
         [[skip]]\nscenarios = \"qr-login/*\"\nreason = \"only the registrar here\"\n",
    )
    .unwrap();
    let note = format!(
        "note: {} line 1: [[skip]] scenarios = \"register/renamed-long-ago\" matches no scenario of this run",
        file.display()
    );
    let ran = run_in(&root, &["run", "--expectations", file.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "a note does not fail the run: {}", ran.said());
    assert!(ran.stdout.contains(&note), "{}", ran.said());
    let notes = |stdout: &str| stdout.lines().filter(|l| l.starts_with("note: ")).count();
    assert_eq!(notes(&ran.stdout), 1, "the matching entry is not named: {}", ran.said());
    // With --filter, entries outside it match nothing on purpose: no note.
    let ran = run_in(&root, &["run", "--expectations", file.to_str().unwrap(), "--filter", "register/*"]);
    assert_eq!(ran.code, 0, "{}", ran.said());
    assert_eq!(notes(&ran.stdout), 0, "{}", ran.said());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_file_that_is_not_toml_is_refused_as_not_a_scenario() {
    let root = repo_root();
    for command in ["list", "run", "show"] {
        let ran = run_in(&root, &[command, "README.md"]);
        assert_eq!(ran.code, 2, "{command}: {}", ran.said());
        assert!(ran.stdout.is_empty(), "{command}: {}", ran.said());
        assert!(
            ran.stderr.contains(
                "README.md: not a scenario file: scenarios are TOML files whose names end in `.toml`"
            ),
            "{command}: {}",
            ran.said()
        );
    }
}

#[test]
fn jitter_needs_a_client_and_a_causal_scenario_passes_under_it() {
    let root = repo_root();
    let alone = run_in(&root, &["run", "--jitter-ms", "20"]);
    assert_eq!(alone.code, 2, "{}", alone.said());
    assert!(alone.stderr.contains("--client"), "{}", alone.said());
    let zero = run_in(&root, &["run", "--client", "true", "--role", "registrar", "--jitter-ms", "0"]);
    assert_eq!(zero.code, 2, "{}", zero.said());

    // Every `order` entry of a happy path holds by causality, so no delay of the
    // simulated peer can break it.
    let client = format!("{} device --role existing-device", binary());
    let ran = run_in(
        &root,
        &[
            "run",
            "--filter",
            "qr-login/happy/a-shows-code",
            "--client",
            &client,
            "--role",
            "existing-device",
            "--poll-ms",
            "50",
            "--jitter-ms",
            "40",
            "--jitter-seed",
            "3",
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.said());
    assert!(ran.stdout.contains("PASS          qr-login/happy/a-shows-code"), "{}", ran.said());
}
