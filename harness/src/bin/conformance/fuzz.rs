//! `conformance fuzz`: the command line of the library's `harness::fuzz::command`.

use std::path::PathBuf;

use harness::fuzz::command::FuzzCommand;

use crate::Role;

/// The arguments of `conformance fuzz` (docs/fuzzing.md).
#[derive(Debug, clap::Args)]
pub struct FuzzArgs {
    /// The role under test.
    #[arg(long)]
    role: Role,
    /// Fuzz an external client through its adapter (docs/adapter-protocol.md);
    /// our own device in process when absent.
    #[arg(long, value_name = "CMD ARGS")]
    client: Option<String>,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// How many runs (default 100).
    #[arg(long, conflicts_with = "time")]
    runs: Option<u64>,
    /// How long, e.g. 60s, 5m.
    #[arg(long, value_name = "DURATION")]
    time: Option<String>,
    /// Runs at once (default: one per core).
    #[arg(long, value_parser = crate::at_least_one)]
    jobs: Option<usize>,
    /// Save every finding as a scenario file in DIR.
    #[arg(long, value_name = "DIR")]
    save: Option<PathBuf>,
    /// Run the seeds A..B (with --shard: one shard of them).
    #[arg(long, value_name = "A..B")]
    seed_range: Option<String>,
    /// Shard i of n of the seed range, from 0.
    #[arg(long, value_name = "i/n", requires = "seed_range")]
    shard: Option<String>,
    /// Write the JSON report to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write a JUnit XML report to this file.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// With --client: the real-time deadline of one run in milliseconds (default 20000).
    #[arg(long, value_name = "MS", requires = "client")]
    deadline_ms: Option<u64>,
}

/// Runs the campaign; `true` when it found nothing and met no error.
pub async fn fuzz(args: FuzzArgs) -> Result<bool, String> {
    harness::fuzz::command::run(FuzzCommand {
        role: args.role.0,
        client: args.client,
        seed: args.seed,
        runs: args.runs,
        time: args.time,
        jobs: args.jobs,
        save: args.save,
        seed_range: args.seed_range,
        shard: args.shard,
        json: args.json,
        junit: args.junit,
        deadline_ms: args.deadline_ms,
    })
    .await
}
