//! The load: `wrk` on its own core, driven by small Lua scripts that this module
//! writes, and its report parsed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One kind of request the load repeats.
#[derive(Debug, Clone)]
pub struct Load {
    /// Name in the report.
    pub name: &'static str,
    /// HTTP method.
    pub method: &'static str,
    /// The path; `{txn}` is replaced by a fresh transaction ID per request.
    pub path: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body (empty for none).
    pub body: String,
}

/// What `wrk` reported.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    /// Requests per second.
    pub rate: f64,
    /// Requests completed.
    pub requests: u64,
    /// Answers that were not 2xx/3xx, and socket errors.
    pub errors: u64,
}

/// Lua string literal of `s`.
fn lua(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A script sending `depth` requests per write (1: no pipelining), cycling through
/// `loads`, with a transaction ID unique per request, run and thread.
pub fn write_script(dir: &Path, file: &str, loads: &[Load], depth: usize) -> Result<PathBuf, String> {
    let mut kinds = String::new();
    for load in loads {
        let headers: Vec<String> =
            load.headers.iter().map(|(n, v)| format!("[{}] = {}", lua(n), lua(v))).collect();
        let body = if load.body.is_empty() { "nil".to_owned() } else { lua(&load.body) };
        kinds.push_str(&format!(
            "  {{ method = {}, path = {}, headers = {{ {} }}, body = {} }},\n",
            lua(load.method),
            lua(&load.path),
            headers.join(", "),
            body
        ));
    }
    let script = format!(
        r#"-- Written by the mock-homeserver throughput benchmark.
local kinds = {{
{kinds}}}
local depth = {depth}
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local run = "r"
local n = 0
function init(args)
  if args[1] then run = args[1] end
end
function request()
  local parts = {{}}
  for i = 1, depth do
    n = n + 1
    local k = kinds[(n % #kinds) + 1]
    local path = string.gsub(k.path, "{{txn}}", run .. "-" .. tostring(tid) .. "-" .. n)
    parts[i] = wrk.format(k.method, path, k.headers, k.body)
  end
  return table.concat(parts)
end
"#
    );
    let path = dir.join(file);
    std::fs::write(&path, script).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Runs `wrk` on `cpu` against `url` with `script` for `seconds`.
pub fn run(
    cpu: usize,
    url: &str,
    script: &Path,
    connections: usize,
    seconds: u64,
    run_id: &str,
) -> Result<Report, String> {
    let output = Command::new("taskset")
        .arg("-c")
        .arg(cpu.to_string())
        .arg("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--timeout", "10s", "-s"])
        .arg(script)
        .arg(url)
        .args(["--", run_id])
        .output()
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!("wrk failed: {text}{}", String::from_utf8_lossy(&output.stderr)));
    }
    parse(&text).ok_or_else(|| format!("cannot read wrk's report:\n{text}"))
}

/// Reads `Requests/sec`, the request count and the errors from wrk's report.
fn parse(text: &str) -> Option<Report> {
    let rate = text.lines().find_map(|l| l.trim().strip_prefix("Requests/sec:"))?.trim().parse().ok()?;
    let requests =
        text.lines().find(|l| l.contains(" requests in "))?.split_whitespace().next()?.parse().ok()?;
    let non_2xx: u64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let socket: u64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Socket errors:"))
        .map(|v| v.split(',').filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    Some(Report { rate, requests, errors: non_2xx + socket })
}
