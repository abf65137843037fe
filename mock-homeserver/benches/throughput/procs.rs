//! Child processes pinned to a core with `taskset`, killed when dropped, and their
//! memory as the kernel counts it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A server process; killed (and reaped) when dropped.
pub struct Server {
    child: Child,
    /// Its base URL, from the first line it printed.
    pub url: String,
}

impl Server {
    /// Starts `program args...` on `cpu` and waits (at most 30 s) for its first line.
    pub fn start(cpu: usize, program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Server, String> {
        let mut command = Command::new("taskset");
        command.arg("-c").arg(cpu.to_string()).arg(program).args(args);
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {program} under taskset: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep reading so the child never blocks on a full pipe.
            let mut sink = String::new();
            while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        let mut server = Server { child, url: String::new() };
        let line =
            rx.recv_timeout(Duration::from_secs(30)).map_err(|_| format!("{program} printed nothing"))?;
        server.url = line.trim().to_owned();
        if !server.url.starts_with("http://") {
            return Err(format!("{program} printed {line:?} instead of its URL"));
        }
        Ok(server)
    }

    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time the process has used so far (user + system), in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the command name (which is in parentheses): utime is the 12th
        // and stime the 13th of them, in clock ticks.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (ticks(11) + ticks(12)) / clock_ticks_per_second()
    }

    /// `(VmRSS, VmHWM)` in KiB: resident memory now and at its peak.
    pub fn memory_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`; 100 when unknown).
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Fails early and clearly when a tool the benchmark needs is missing.
pub fn require(tool: &str, hint: &str) -> Result<(), String> {
    match Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Ok(_) => Ok(()),
        Err(_) => Err(format!("`{tool}` is needed: {hint}")),
    }
}

/// The load average and uptime, to say how busy the machine was.
pub fn uptime() -> String {
    Command::new("uptime")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|_| "uptime unavailable".to_owned())
}
