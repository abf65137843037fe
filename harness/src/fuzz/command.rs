//! The `conformance fuzz` command, as the library runs it: the command line's
//! values checked and turned into [`FuzzOptions`], the campaign, and its reports.

use std::path::PathBuf;
use std::time::Duration;

use devices::RoleKind;

use super::play::Target;
use super::shard::{self, Seeds};
use super::{campaign, Budget, FuzzOptions};

/// The values of `conformance fuzz`, as given.
#[derive(Debug, Clone)]
pub struct FuzzCommand {
    /// The role under test.
    pub role: RoleKind,
    /// The adapter's command line; our own device in process when absent.
    pub client: Option<String>,
    /// The first seed.
    pub seed: u64,
    /// How many runs.
    pub runs: Option<u64>,
    /// How long, e.g. `60s`, `5m`, `500ms`.
    pub time: Option<String>,
    /// Runs at once (default: one per core).
    pub jobs: Option<usize>,
    /// Where to save findings.
    pub save: Option<PathBuf>,
    /// `A..B`.
    pub seed_range: Option<String>,
    /// `i/n`.
    pub shard: Option<String>,
    /// Where to write the JSON report.
    pub json: Option<PathBuf>,
    /// Where to write the JUnit report.
    pub junit: Option<PathBuf>,
    /// With a client: the real-time deadline of one run, in milliseconds.
    pub deadline_ms: Option<u64>,
}

/// Parses `60s`, `5m`, `1h`, `500ms` or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("`{text}`: a duration is e.g. 60s, 5m or 500ms"))?;
    let ms = match unit {
        "ms" => number,
        "" | "s" => number * 1_000,
        "m" => number * 60_000,
        "h" => number * 3_600_000,
        _ => return Err(format!("`{text}`: unknown unit `{unit}` (ms, s, m, h)")),
    };
    Ok(Duration::from_millis(ms))
}

impl FuzzCommand {
    /// The campaign's options.
    pub fn options(&self) -> Result<FuzzOptions, String> {
        let seeds = match (&self.seed_range, &self.shard) {
            (Some(range), shard) => {
                let (start, end) = shard::parse_range(range)?;
                let (index, count) = shard.as_deref().map(shard::parse_shard).transpose()?.unwrap_or((0, 1));
                Seeds::shard(start, end, index, count)?
            }
            (None, Some(_)) => return Err("--shard needs --seed-range".into()),
            (None, None) => Seeds::from(self.seed),
        };
        let budget = match (self.runs, &self.time) {
            (Some(_), Some(_)) => return Err("give --runs or --time, not both".into()),
            (Some(runs), None) => Budget::Runs(runs),
            (None, Some(time)) => Budget::Time(parse_duration(time)?),
            (None, None) if seeds.end.is_some() => Budget::Seeds,
            (None, None) => Budget::Runs(100),
        };
        let target = match &self.client {
            Some(command) => {
                let deadline = Duration::from_millis(self.deadline_ms.unwrap_or(20_000));
                Target::external(command, self.role, deadline)
            }
            None => Target::InProcess,
        };
        let jobs =
            self.jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
        Ok(FuzzOptions {
            role: self.role,
            target,
            seeds,
            budget,
            jobs,
            save: self.save.clone(),
            own_knobs: Default::default(),
        })
    }
}

/// Runs `conformance fuzz`: `Ok(true)` when no invariant was broken and every run
/// could be made.
pub async fn run(command: FuzzCommand) -> Result<bool, String> {
    let options = command.options()?;
    let report = campaign(options, |_| {}).await;
    print!("{}", report.console());
    if let Some(path) = &command.json {
        let text = serde_json::to_string_pretty(&report.json()).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some(path) = &command.junit {
        std::fs::write(path, report.junit()).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(report.findings.is_empty() && report.errors.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command() -> FuzzCommand {
        FuzzCommand {
            role: RoleKind::NewDevice,
            client: None,
            seed: 5,
            runs: None,
            time: None,
            jobs: Some(1),
            save: None,
            seed_range: None,
            shard: None,
            json: None,
            junit: None,
            deadline_ms: None,
        }
    }

    #[test]
    fn command_line_values_become_options_or_clear_errors() {
        assert_eq!(parse_duration("60s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5y").is_err());
        let options = command().options().unwrap();
        assert_eq!(options.budget, Budget::Runs(100));
        assert_eq!(options.seeds.nth(0), Some(5));
        let both = FuzzCommand { runs: Some(1), time: Some("1s".into()), ..command() };
        assert!(both.options().unwrap_err().contains("not both"));
        let lonely = FuzzCommand { shard: Some("1/2".into()), ..command() };
        assert!(lonely.options().is_err());
        let sharded =
            FuzzCommand { seed_range: Some("0..10".into()), shard: Some("1/2".into()), ..command() };
        let options = sharded.options().unwrap();
        assert_eq!(options.budget, Budget::Seeds);
        assert_eq!(
            (options.seeds.nth(0), options.seeds.nth(4), options.seeds.nth(5)),
            (Some(1), Some(9), None)
        );
    }
}
