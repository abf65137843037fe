//! The `mock-homeserver` binary: prints its base URL, serves, exposes the journal.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn binary_prints_base_url_serves_the_profile_and_the_journal() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-homeserver"))
        .args(["--listen", "127.0.0.1:0", "--profile", "msc2912", "--account", "alice:pw"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let line = tokio::time::timeout(std::time::Duration::from_secs(30), line)
        .await
        .expect("base URL printed in time")
        .expect("join")
        .expect("read");
    let base_url = line.trim().to_owned();
    assert!(base_url.starts_with("http://127.0.0.1:"), "{base_url}");

    let http = reqwest::Client::new();
    let versions: serde_json::Value =
        http.get(format!("{base_url}/_matrix/client/versions")).send().await.unwrap().json().await.unwrap();
    assert_eq!(versions["unstable_features"]["org.matrix.msc2912"], true);
    let journal: serde_json::Value =
        http.get(format!("{base_url}/_harness/journal")).send().await.unwrap().json().await.unwrap();
    let entries = journal["journal"].as_array().expect("journal array");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["path"], "/_matrix/client/versions");
    child.kill().expect("kill");
    let _ = child.wait();
}

#[test]
fn binary_rejects_an_unknown_profile_with_a_clear_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_mock-homeserver"))
        .args(["--listen", "127.0.0.1:0", "--profile", "nonsense"])
        .output()
        .expect("binary runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown server profile `nonsense`"), "{stderr}");
}

#[test]
fn help_explains_every_option() {
    let output = Command::new(env!("CARGO_BIN_EXE_mock-homeserver")).arg("--help").output().expect("runs");
    let help = String::from_utf8_lossy(&output.stdout);
    for option in ["--listen", "--profile", "--profile-overrides", "--seed", "--account"] {
        assert!(help.contains(option), "--help lacks {option}: {help}");
    }
}
