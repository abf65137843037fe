//! The mock homeserver under load, against a bare axum server on the same core.
//!
//! ```sh
//! apt-get install wrk            # the load generator (taskset comes with util-linux)
//! cargo bench -p mock-homeserver --bench throughput -- [--seconds 5] [--rounds 3] \
//!     [--server-cpu 0] [--load-cpu 1] [--memory-requests 1000000]
//! ```
//!
//! Starts the release `mock-homeserver` (one thread) pinned to `--server-cpu` and
//! drives `GET /versions`, `POST /keys/query` (a user with signed device keys) and
//! `PUT /sendToDevice` (a new transaction each time) with `wrk` pinned to
//! `--load-cpu`, 16 connections, one request at a time and pipelined 8 deep. In the
//! same run, round after round and back to back with each measurement of the mock,
//! it sends the same requests to a bare axum server on the same core that answers a
//! static body (the bytes of the mock's `/versions` answer), and prints each
//! endpoint's rate as a fraction of it, with the CPU time per request. Then:
//! the server's memory after `--memory-requests` requests of the three endpoints
//! mixed (default journal limit) and after 1 MB bodies sent to an unknown path, and
//! the latency of `/versions` while another client pages through the full journal.
//! See docs/mock-homeserver.md.

mod bare;
mod probe;
mod procs;
mod setup;
mod wrk;

use std::path::Path;
use std::time::Duration;

use procs::Server;
use wrk::{Load, Report};

/// Runs wrk against a URL with a script for some seconds, under a run ID.
type RunWrk<'a> = dyn Fn(&str, &Path, u64, String) -> Result<Report, String> + 'a;

/// Set in the environment of the child that plays the bare axum server.
const BARE_ROLE: &str = "MOCK_HOMESERVER_BENCH_BARE";

/// Set once the benchmark runs pinned to the load core.
const PINNED: &str = "MOCK_HOMESERVER_BENCH_PINNED";

#[derive(Debug, Clone)]
struct Options {
    seconds: u64,
    rounds: usize,
    server_cpu: usize,
    load_cpu: usize,
    connections: usize,
    depth: usize,
    memory_requests: u64,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        seconds: 5,
        rounds: 3,
        server_cpu: 0,
        load_cpu: 1,
        connections: 16,
        depth: 8,
        memory_requests: 1_000_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            args.next().and_then(|v| v.parse().ok()).ok_or(format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--seconds" => options.seconds = value("--seconds")?.max(1),
            "--rounds" => options.rounds = value("--rounds")?.max(1) as usize,
            "--server-cpu" => options.server_cpu = value("--server-cpu")? as usize,
            "--load-cpu" => options.load_cpu = value("--load-cpu")? as usize,
            "--connections" => options.connections = value("--connections")?.max(1) as usize,
            "--pipeline" => options.depth = value("--pipeline")?.max(1) as usize,
            "--memory-requests" => options.memory_requests = value("--memory-requests")?,
            // `cargo bench` passes `--bench`; a filter may follow.
            "--bench" => {}
            "--help" | "-h" => return Err(usage()),
            other if other.starts_with('-') => return Err(format!("unknown option {other}\n{}", usage())),
            _ => {}
        }
    }
    Ok(options)
}

fn usage() -> String {
    "usage: cargo bench -p mock-homeserver --bench throughput -- [--seconds S] [--rounds N] \
     [--server-cpu C] [--load-cpu C] [--connections N] [--pipeline DEPTH] [--memory-requests N]"
        .to_owned()
}

fn main() {
    if let Ok(listen) = std::env::var(BARE_ROLE) {
        if let Err(error) = bare::run(&listen) {
            eprintln!("bare server: {error}");
            std::process::exit(1);
        }
        return;
    }
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    if std::env::var(PINNED).is_err() {
        // Run the orchestration (setup, probes) on the load core, away from the server.
        let status = std::process::Command::new("taskset")
            .arg("-c")
            .arg(options.load_cpu.to_string())
            .args(std::env::args_os())
            .env(PINNED, "1")
            .status();
        match status {
            Ok(status) => std::process::exit(status.code().unwrap_or(1)),
            Err(error) => {
                eprintln!("cannot run under taskset ({error}); install util-linux");
                std::process::exit(2);
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    if let Err(message) = runtime.block_on(run(options)) {
        eprintln!("benchmark failed: {message}");
        std::process::exit(1);
    }
}

/// The median of some numbers (0 for none).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

async fn run(options: Options) -> Result<(), String> {
    procs::require("wrk", "install it, e.g. `apt-get install wrk`")?;
    println!("machine before: {}", procs::uptime());
    let dir = std::env::temp_dir().join(format!("mock-homeserver-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let result = measure(&options, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    println!("machine after:  {}", procs::uptime());
    result
}

async fn measure(options: &Options, dir: &Path) -> Result<(), String> {
    let mut args =
        vec!["--listen", "127.0.0.1:0", "--expose-journal", "--threads", "1", "--max-connections", "4096"];
    for account in setup::ACCOUNTS {
        args.extend(["--account", account]);
    }
    let mock = Server::start(options.server_cpu, env!("CARGO_BIN_EXE_mock-homeserver"), &args, &[])?;
    let loads = setup::prepare(&mock.url).await?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let bare = Server::start(
        options.server_cpu,
        &exe.to_string_lossy(),
        &[],
        &[(BARE_ROLE, "127.0.0.1:0"), (PINNED, "1")],
    )?;
    let endpoints = [&loads.versions, &loads.keys_query, &loads.send_to_device];
    let depths = [1, options.depth];
    let mut scripts = Vec::new();
    for (i, load) in endpoints.iter().enumerate() {
        for depth in depths {
            scripts.push(wrk::write_script(dir, &format!("load{i}-{depth}.lua"), &[(*load).clone()], depth)?);
        }
    }

    println!(
        "\nthroughput: {} rounds of {} s per measurement, {} connections, pipelined {} deep; \
         server on cpu {}, wrk on cpu {}",
        options.rounds,
        options.seconds,
        options.connections,
        options.depth,
        options.server_cpu,
        options.load_cpu
    );
    let run_wrk = |url: &str, script: &Path, seconds: u64, id: String| -> Result<Report, String> {
        let report = wrk::run(options.load_cpu, url, script, options.connections, seconds, &id)?;
        if report.errors > 0 {
            return Err(format!("{} errors in a run against {url} ({})", report.errors, script.display()));
        }
        Ok(report)
    };
    // Warm both servers up.
    run_wrk(&mock.url, &scripts[0], 1, "warm".into())?;
    run_wrk(&bare.url, &scripts[0], 1, "warm".into())?;

    // One sample per round for each endpoint and depth, the bare server and the mock
    // measured back to back with the same requests: [endpoint][depth index].
    let mut rates = vec![[Samples::default(), Samples::default()]; endpoints.len()];
    let mut bare_rates = rates.clone();
    for round in 0..options.rounds {
        for e in 0..endpoints.len() {
            for d in 0..2 {
                let script = &scripts[e * 2 + d];
                bare_rates[e][d]
                    .push(&bare, || run_wrk(&bare.url, script, options.seconds, format!("b{round}")))?;
                rates[e][d]
                    .push(&mock, || run_wrk(&mock.url, script, options.seconds, format!("m{round}")))?;
            }
        }
    }
    print_throughput(options, &endpoints, &rates, &bare_rates);
    let (rss, peak) = mock.memory_kib();
    println!("\nmock-homeserver memory after the throughput runs: RSS {} KiB, peak {} KiB", rss, peak);
    drop(bare);

    if options.memory_requests > 0 {
        memory_runs(options, dir, &mock, &loads, &run_wrk)?;
    }
    latency_probe(&mock.url)
}

/// The measurements of one endpoint and depth, one per round.
#[derive(Debug, Clone, Default)]
struct Samples {
    /// Requests per second.
    rates: Vec<f64>,
    /// The server's CPU time per request, in microseconds.
    cpu_us: Vec<f64>,
}

impl Samples {
    /// Runs one measurement, with the server's CPU time around it.
    fn push(&mut self, server: &Server, run: impl FnOnce() -> Result<Report, String>) -> Result<(), String> {
        let before = server.cpu_seconds();
        let report = run()?;
        let cpu = server.cpu_seconds() - before;
        self.rates.push(report.rate);
        self.cpu_us.push(cpu * 1e6 / report.requests.max(1) as f64);
        Ok(())
    }
}

fn print_throughput(options: &Options, endpoints: &[&Load], rates: &[[Samples; 2]], bare: &[[Samples; 2]]) {
    println!(
        "\n{:<13} {:>5} {:>21} {:>21} {:>10} {:>17} {:>10}",
        "endpoint",
        "depth",
        "mock req/s min/med",
        "bare req/s min/med",
        "rate ratio",
        "CPU us/req m / b",
        "CPU ratio"
    );
    let depths = [1, options.depth];
    for (e, load) in endpoints.iter().enumerate() {
        for d in 0..2 {
            let (m, b) = (&rates[e][d], &bare[e][d]);
            let ratios: Vec<f64> = m.rates.iter().zip(&b.rates).map(|(m, b)| m / b).collect();
            println!(
                "{:<13} {:>5} {:>9.0} / {:<9.0} {:>9.0} / {:<9.0} {:>10.2} {:>7.1} / {:<7.1} {:>10.2}",
                load.name,
                depths[d],
                min(&m.rates),
                median(&m.rates),
                min(&b.rates),
                median(&b.rates),
                median(&ratios),
                median(&m.cpu_us),
                median(&b.cpu_us),
                median(&b.cpu_us) / median(&m.cpu_us)
            );
        }
    }
    println!(
        "\nThe bare server gets the same requests (it drains and ignores their bodies) and answers what the \
         mock's /versions answers.\nrate ratio: the median over rounds of mock req/s / bare req/s, measured \
         back to back; CPU ratio: bare CPU per request / mock CPU per request (the rate ratio if each had the \
         core to itself)"
    );
    println!(
        "targets (one request at a time): versions >= 0.70 of bare, keys/query and sendToDevice >= 0.50"
    );
    for (e, load) in endpoints.iter().enumerate() {
        let ratios: Vec<f64> = rates[e][0].rates.iter().zip(&bare[e][0].rates).map(|(m, b)| m / b).collect();
        let target = if e == 0 { 0.70 } else { 0.50 };
        let pipelined = median(&rates[e][1].rates) / median(&rates[e][0].rates);
        println!(
            "  {:<14} {:.2} of bare ({}); pipelined/unpipelined {:.2} ({})",
            load.name,
            median(&ratios),
            if median(&ratios) >= target { "meets" } else { "BELOW" },
            pipelined,
            if pipelined >= 1.0 { "meets" } else { "BELOW" }
        );
    }
}

/// The server's memory after many requests of the mix, then after 1 MB bodies.
fn memory_runs(
    options: &Options,
    dir: &Path,
    mock: &Server,
    loads: &setup::Loads,
    run_wrk: &RunWrk<'_>,
) -> Result<(), String> {
    let mix = [loads.versions.clone(), loads.keys_query.clone(), loads.send_to_device.clone()];
    let script = wrk::write_script(dir, "mix.lua", &mix, 1)?;
    let mut total = 0u64;
    let mut chunk = 0;
    while total < options.memory_requests {
        total += run_wrk(&mock.url, &script, 10, format!("mix{chunk}"))?.requests;
        chunk += 1;
    }
    let (rss, peak) = mock.memory_kib();
    println!(
        "\nmemory: after {total} requests of the mix (default journal limit): RSS {} KiB ({:.1} MiB), peak {} KiB",
        rss,
        rss as f64 / 1024.0,
        peak
    );

    let body = "x".repeat(1_000_000);
    let unknown = Load {
        name: "1 MB to an unknown path",
        method: "POST",
        path: "/_matrix/client/v3/bench-unknown".into(),
        headers: vec![("Content-Type".into(), "application/octet-stream".into())],
        body,
    };
    let script = wrk::write_script(dir, "big.lua", &[unknown], 1)?;
    // Answers are 404 by design here, so wrk's error count is not a failure.
    let report = wrk::run(options.load_cpu, &mock.url, &script, 4, 5, "big")?;
    let (rss, peak) = mock.memory_kib();
    println!(
        "memory: after {} more requests with 1 MB bodies to an unknown path: RSS {} KiB ({:.1} MiB), peak {} KiB",
        report.requests,
        rss,
        rss as f64 / 1024.0,
        peak
    );
    Ok(())
}

fn latency_probe(base: &str) -> Result<(), String> {
    use probe::Reader;
    println!("\n/versions latency, one request at a time for 3 s, while another client reads the journal:");
    for (what, reader) in [
        ("nobody", Reader::None),
        ("pages of 1,000 entries", Reader::Pages(1000)),
        ("the whole journal at once", Reader::Whole),
    ] {
        let l = probe::versions_latency(base, Duration::from_secs(3), reader)?;
        println!(
            "  {:<28} {:>6} requests, p99 {:>6.2} ms, max {:>6.2} ms ({} journal reads)",
            what, l.count, l.p99_ms, l.max_ms, l.reads
        );
    }
    println!("  target: max < 50 ms");
    Ok(())
}
