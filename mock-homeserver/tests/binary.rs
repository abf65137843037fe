//! The `mock-homeserver` binary: prints its base URL and harness token, serves, and
//! shows the journal to the token's holder only.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running binary, killed when dropped.
struct Running {
    child: Child,
    base_url: String,
    /// The harness token printed on the second line (`None` with `--expose-journal`).
    token: Option<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary and reads its first two lines (base URL, harness token).
async fn start(args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-homeserver"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let lines = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let (mut first, mut second) = (String::new(), String::new());
        reader.read_line(&mut first)?;
        reader.read_line(&mut second)?;
        Ok::<_, std::io::Error>((first, second))
    });
    let mut running = Running { child, base_url: String::new(), token: None };
    let (first, second) = tokio::time::timeout(Duration::from_secs(30), lines)
        .await
        .expect("base URL printed in time")
        .expect("join")
        .expect("read");
    let token = second.trim().strip_prefix("harness token: ").expect("second line names the token");
    running.base_url = first.trim().to_owned();
    running.token = (!token.starts_with("none")).then(|| token.to_owned());
    running
}

#[tokio::test]
async fn binary_prints_base_url_and_token_serves_the_profile_and_the_journal_to_the_token_only() {
    let server = start(&["--profile", "msc2912", "--account", "alice:pw"]).await;
    let base_url = &server.base_url;
    assert!(base_url.starts_with("http://127.0.0.1:"), "{base_url}");
    let token = server.token.as_deref().expect("a token by default");
    assert_eq!(token.len(), 32);

    let http = reqwest::Client::new();
    let versions: serde_json::Value =
        http.get(format!("{base_url}/_matrix/client/versions")).send().await.unwrap().json().await.unwrap();
    assert_eq!(versions["unstable_features"]["org.matrix.msc2912"], true);

    let journal_url = format!("{base_url}/_harness/journal");
    let anonymous = http.get(&journal_url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers().get("access-control-allow-origin").is_none());
    assert_eq!(anonymous.json::<serde_json::Value>().await.unwrap()["errcode"], "M_MISSING_TOKEN");
    let wrong = http.get(&journal_url).bearer_auth("not-the-token").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let from_a_page = http
        .get(&journal_url)
        .bearer_auth(token)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(from_a_page.status(), 403, "a request from a web page gets nothing, even with the token");
    assert!(from_a_page.headers().get("access-control-allow-origin").is_none());
    assert!(!from_a_page.text().await.unwrap().contains("versions"));

    let owner = http.get(&journal_url).bearer_auth(token).send().await.unwrap();
    assert_eq!(owner.status(), 200);
    assert!(owner.headers().get("access-control-allow-origin").is_none(), "no CORS on /_harness/");
    let journal: serde_json::Value = owner.json().await.unwrap();
    let entries = journal["journal"].as_array().expect("journal array");
    assert_eq!(entries.len(), 1, "{journal}");
    assert_eq!(entries[0]["path"], "/_matrix/client/versions");
    assert_eq!(journal["dropped"], 0);
}

#[tokio::test]
async fn the_journal_limit_drops_the_oldest_and_counts_them() {
    let server = start(&["--journal-limit", "3", "--expose-journal"]).await;
    assert_eq!(server.token, None);
    let http = reqwest::Client::new();
    for _ in 0..5 {
        http.get(format!("{}/_matrix/client/versions", server.base_url)).send().await.unwrap();
    }
    let journal: serde_json::Value =
        http.get(format!("{}/_harness/journal", server.base_url)).send().await.unwrap().json().await.unwrap();
    let seqs: Vec<u64> =
        journal["journal"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [3, 4, 5]);
    assert_eq!(journal["dropped"], 2);
}

#[tokio::test]
async fn by_default_the_journal_describes_a_body_longer_than_64_kib_instead_of_keeping_it() {
    let server = start(&["--expose-journal"]).await;
    let http = reqwest::Client::new();
    let big = vec![b'x'; 100_000];
    let answer =
        http.post(format!("{}/_matrix/client/v3/unknown", server.base_url)).body(big).send().await.unwrap();
    assert_eq!(answer.status(), 404);
    let journal: serde_json::Value =
        http.get(format!("{}/_harness/journal", server.base_url)).send().await.unwrap().json().await.unwrap();
    let note = &journal["journal"][0]["request"]["note"];
    assert_eq!(note, "100000 bytes of unknown content type, longer than the 65536 bytes the journal keeps");
}

#[tokio::test]
async fn the_token_file_holds_the_printed_token_and_only_its_owner_reads_it() {
    let path = std::env::temp_dir().join(format!("mock-homeserver-token-{}", std::process::id()));
    let server = start(&["--harness-token-file", path.to_str().unwrap()]).await;
    let written = std::fs::read_to_string(&path).expect("token file");
    assert_eq!(Some(written.trim()), server.token.as_deref());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "mode {mode:o}");
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_bad_fault_is_refused_with_a_clear_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_mock-homeserver"))
        .args(["--listen", "127.0.0.1:0", "--fault", r#"{"kind":"no-such-fault"}"#])
        .output()
        .expect("binary runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--fault") && stderr.contains("no-such-fault"), "{stderr}");
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
    let options = [
        "--listen",
        "--profile",
        "--profile-overrides",
        "--seed",
        "--account",
        "--fault",
        "--journal-limit",
        "--journal-max-bytes",
        "--journal-max-body-bytes",
        "--expose-journal",
        "--harness-token-file",
        "--header-timeout-ms",
        "--body-timeout-ms",
        "--max-connections",
        "--threads",
    ];
    for option in options {
        assert!(help.contains(option), "--help lacks {option}: {help}");
    }
}

#[tokio::test]
async fn a_fault_on_the_command_line_can_be_aimed_at_one_caller() {
    let fault = r#"{"kind":"respond-with-error","path":"/_matrix/client/v3/account/whoami","status":403,
        "errcode":"M_FORBIDDEN","seen_by":{"user_id":"@alice:test","device_id":"AIMED"}}"#;
    let server = start(&["--account", "alice:pw", "--expose-journal", "--fault", fault]).await;
    let http = reqwest::Client::new();
    let login = |device: &'static str| {
        let body = serde_json::json!({
            "type": "m.login.password", "identifier": { "type": "m.id.user", "user": "alice" },
            "password": "pw", "device_id": device
        });
        let request = http.post(format!("{}/_matrix/client/v3/login", server.base_url)).json(&body);
        async move {
            let answer: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
            assert_eq!(answer["user_id"], "@alice:test", "{answer}");
            answer["access_token"].as_str().unwrap().to_owned()
        }
    };
    let whoami = |token: String| {
        let request =
            http.get(format!("{}/_matrix/client/v3/account/whoami", server.base_url)).bearer_auth(token);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(whoami(login("OTHER").await).await, 200, "another device of the user");
    assert_eq!(whoami(login("AIMED").await).await, 403, "the aimed caller");
}
