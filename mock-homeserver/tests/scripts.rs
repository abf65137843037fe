//! The scripts under `tests/scripts/` drive the standalone binary from another
//! language over HTTP only, as client authors' suites do; each must pass.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `python3 SCRIPT <path of the mock-homeserver binary>` with a bound on its time.
fn run_python(script: &str) {
    let script = format!("{}/tests/scripts/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = match Command::new("python3")
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_mock-homeserver"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(error) => panic!("this test needs python3 on PATH to run {script}: {error}"),
    };
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{script} ran for more than 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("output");
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("ok"), "{script} did not report ok");
}

#[test]
fn python_adds_a_tamper_fault_over_http_sees_it_applied_then_clears_it() {
    run_python("faults_over_http.py");
}
