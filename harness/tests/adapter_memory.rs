//! What the runner keeps of an adapter is bounded: an adapter that prints a million
//! `decision` events does not make the runner grow with them.
//!
//! A test binary of its own: the peak RSS of this process's children is measured, so
//! no other test may start children here.

use std::process::Command;

use nix::sys::resource::{getrusage, UsageWho};

#[test]
fn a_million_decision_events_keep_the_runner_under_64_mib() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::temp_dir().join(format!("conformance-adapter-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let script = dir.join("chatty.sh");
    let body = concat!(
        "#!/bin/sh\n",
        "echo '{\"event\":\"ready\",\"implementation\":\"chatty 0\"}'\n",
        "read setup\n",
        "yes '{\"event\":\"decision\",\"decision\":\"thinking about the keys very carefully indeed\"}' | head -n 1000000\n",
        "echo '{\"event\":\"outcome\",\"outcome\":\"success\"}'\n",
        "exec sleep 5\n",
    );
    std::fs::write(&script, body).expect("write script");
    let transcripts = dir.join("transcripts");
    let status = Command::new(env!("CARGO_BIN_EXE_conformance"))
        .current_dir(&root)
        .args(["run", "scenarios/register/msc2912-keys-in-register.toml", "--role", "registrar"])
        .args(["--client", &format!("sh {}", script.display()), "--deadline-ms", "60000", "--transcripts"])
        .arg(&transcripts)
        .status()
        .expect("conformance runs");
    assert!(!status.success(), "the chatty adapter never registers, so the scenario fails");
    let peak_kib = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage").max_rss();
    assert!(peak_kib > 0);
    assert!(peak_kib < 64 * 1024, "the runner peaked at {} MiB", peak_kib / 1024);
    let transcript = std::fs::read_to_string(transcripts.join("register__msc2912-keys-in-register.txt"))
        .expect("the failing scenario's transcript");
    assert!(
        transcript.contains("999000 more decision events of the adapter were not recorded"),
        "{transcript}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
