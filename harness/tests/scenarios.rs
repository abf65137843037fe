//! Every scenario file as its own test, named by its path (`qr-login/abort/...`), so
//! `cargo test -- qr-login/abort` filters and nextest lists and partitions them.
//! Each test runs the scenario, requires a PASS, and compares its snapshot,
//! `snapshots/<name with / as __>.snap`. A new scenario without a snapshot, or a
//! changed transcript, is named plainly, with the pending `.snap.new` and how to
//! review it: `cargo insta test --test scenarios`, then `cargo insta review`, from the
//! repository root (README, "Snapshots").

use std::path::{Path, PathBuf};

use harness::check::verdict::Verdict;
use harness::run::suite;
use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    let root = suite::default_scenarios_dir();
    let trials = match harness::scenario::load_all(std::slice::from_ref(&root)) {
        Ok(scenarios) => scenarios
            .into_iter()
            .map(|scenario| {
                let name = scenario.name.clone();
                Trial::test(name, move || run(scenario))
            })
            .collect(),
        Err(message) => vec![Trial::test("scenarios-load", move || Err(Failed::from(message.clone())))],
    };
    libtest_mimic::run(&args, trials).exit();
}

fn snapshots_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("snapshots")
}

fn run(scenario: harness::scenario::Scenario) -> Result<(), Failed> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let result = runtime.block_on(harness::run::in_process(&scenario));
    if result.verdict != Verdict::Pass {
        return Err(format!(
            "{} {}\n{}\ntranscript:\n{}",
            result.verdict,
            result.name,
            result.explain(),
            result.transcript_text()
        )
        .into());
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(snapshots_dir());
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(format!("{}: {}", scenario.name, scenario.title));
    let snapshot_name = scenario.name.replace('/', "__");
    let snapshot_file = format!("snapshots/{snapshot_name}.snap");
    let had_snapshot = snapshots_dir().join(format!("{snapshot_name}.snap")).exists();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_snapshot!(snapshot_name.as_str(), result.snapshot));
    }));
    // insta removes a pending `.snap.new` when the snapshot matches, so one that is
    // there now was written by this run (under `cargo insta test`, which makes
    // mismatches pass, it is the only sign of one).
    let pending = snapshots_dir().join(format!("{snapshot_name}.snap.new")).exists();
    let review = "review it with `cargo insta review` (or keep it with `cargo insta accept`) from the \
                  repository root";
    let message = match (had_snapshot, pending) {
        (false, true) => format!("{} has no snapshot yet: this run wrote {snapshot_file}.new; {review}", scenario.name),
        (false, false) => format!(
            "{} has no snapshot yet ({snapshot_file}): run `cargo insta test --test scenarios` to write it, then \
             {review}",
            scenario.name
        ),
        (true, true) => format!("the transcript of {} differs from {snapshot_file}: the new one is in {snapshot_file}.new; {review}", scenario.name),
        (true, false) => format!("the transcript of {} differs from {snapshot_file}", scenario.name),
    };
    match outcome {
        Err(_) => Err(Failed::from(message)),
        Ok(()) if pending => {
            eprintln!("{message}");
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}
