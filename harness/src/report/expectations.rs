//! Expectations files: what an implementation under test is known not to do yet.
//!
//! One TOML file per implementation, given to `conformance run --expectations FILE`:
//!
//! ```toml
//! [[skip]]
//! scenarios = "qr-login/abort/*"
//! reason = "the adapter cannot inject faults yet"
//!
//! [[expected-failure]]
//! scenarios = "register/unstable-*"
//! reason = "only the stable MSC2912 field is implemented"
//!
//! [[non-strict]]
//! scenarios = "qr-login/abort-b/*"
//! reason = "sends no e2ee_security_error after a security abort (a SHOULD)"
//! ```
//!
//! A skipped scenario is not run at all: its verdict is SKIPPED with the reason. A
//! scenario matching an expected failure that FAILs is reported as `XFAIL` and does
//! not fail the run; one that passes is a stale expectation and does fail the run, so
//! the file never hides a fixed bug. A `[[non-strict]]` entry names a scenario whose
//! MUSTs hold but where the implementation does not follow a SHOULD (NON-STRICT).
//! With an expectations file, the file is the whole account of the implementation's
//! deviations, in both directions: a listed NON-STRICT that passes is stale, and a
//! NON-STRICT the file does not list fails the run, so a verdict that changes either
//! way is seen. In `scenarios`, `*` matches any run of
//! characters, `/` included; everything else matches itself. The first matching entry
//! wins, and a skip wins over an expected failure.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::check::verdict::Verdict;
use crate::run::result::ScenarioResult;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    skip: Vec<Spanned<RawRule>>,
    #[serde(default, rename = "expected-failure")]
    expected_failure: Vec<Spanned<RawRule>>,
    #[serde(default, rename = "non-strict")]
    non_strict: Vec<Spanned<RawRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    scenarios: Spanned<String>,
    reason: Spanned<String>,
}

/// One entry of an expectations file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The glob over scenario names.
    pub scenarios: String,
    /// Why.
    pub reason: String,
    /// 1-based line of the entry in its file.
    pub line: usize,
}

impl Rule {
    /// Whether the rule's glob matches a scenario name.
    pub fn matches(&self, name: &str) -> bool {
        crate::check::pattern::glob(&self.scenarios, name)
    }
}

/// A loaded expectations file (empty by default: nothing skipped, nothing expected
/// to fail).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectations {
    /// The file it came from, as given (for messages).
    pub path: String,
    /// `[[skip]]` entries, in file order.
    pub skip: Vec<Rule>,
    /// `[[expected-failure]]` entries, in file order.
    pub expected_failure: Vec<Rule>,
    /// `[[non-strict]]` entries, in file order.
    pub non_strict: Vec<Rule>,
}

/// An expectations file that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{path}{}: {message}", crate::scenario::load::at_line(*line))]
pub struct ExpectationsError {
    /// The file.
    pub path: String,
    /// 1-based line; 0 only when the file could not be read at all, and then the
    /// message names no line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn line_of(source: &str, offset: usize) -> usize {
    source.as_bytes()[..offset.min(source.len())].iter().filter(|b| **b == b'\n').count() + 1
}

impl Expectations {
    /// Reads and parses an expectations file.
    pub fn load(path: &Path) -> Result<Self, ExpectationsError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| ExpectationsError {
            path: file.clone(),
            line: 0,
            message: format!("cannot read: {e}"),
        })?;
        let source = String::from_utf8(bytes).map_err(|e| {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
            ExpectationsError { path: file, line, message: "not UTF-8 text".to_owned() }
        })?;
        Self::parse(&source, path)
    }

    /// Parses an expectations file from its text; `path` is only used in messages.
    pub fn parse(source: &str, path: &Path) -> Result<Self, ExpectationsError> {
        let file = path.display().to_string();
        let fail = |line: usize, message: String| ExpectationsError { path: file.clone(), line, message };
        let raw: RawFile = toml::from_str(source).map_err(|e| {
            let line = e.span().map(|s| line_of(source, s.start)).unwrap_or(0);
            fail(line, e.message().trim().to_owned())
        })?;
        let rules = |list: Vec<Spanned<RawRule>>, table: &str| {
            list.into_iter()
                .map(|entry| {
                    let line = line_of(source, entry.span().start);
                    let rule = entry.into_inner();
                    let glob_line = line_of(source, rule.scenarios.span().start);
                    let glob = rule.scenarios.into_inner();
                    if glob.trim().is_empty() {
                        return Err(fail(glob_line, format!("[[{table}]] scenarios must not be empty")));
                    }
                    if glob.trim() != glob {
                        return Err(fail(
                            glob_line,
                            format!("[[{table}]] scenarios `{glob}` has leading or trailing whitespace"),
                        ));
                    }
                    if rule.reason.get_ref().trim().is_empty() {
                        let reason_line = line_of(source, rule.reason.span().start);
                        return Err(fail(reason_line, format!("[[{table}]] reason must not be empty")));
                    }
                    Ok(Rule { scenarios: glob, reason: rule.reason.into_inner(), line })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Expectations {
            path: file.clone(),
            skip: rules(raw.skip, "skip")?,
            expected_failure: rules(raw.expected_failure, "expected-failure")?,
            non_strict: rules(raw.non_strict, "non-strict")?,
        })
    }

    /// The reason to skip a scenario, if a `[[skip]]` entry matches its name. The CLI
    /// asks before running it.
    pub fn should_skip(&self, name: &str) -> Option<&str> {
        self.skip.iter().find(|r| r.matches(name)).map(|r| r.reason.as_str())
    }

    /// The `[[expected-failure]]` entry matching a scenario name, if any.
    pub fn expected_failure(&self, name: &str) -> Option<&Rule> {
        self.expected_failure.iter().find(|r| r.matches(name))
    }

    /// The `[[non-strict]]` entry matching a scenario name, if any.
    pub fn expected_non_strict(&self, name: &str) -> Option<&Rule> {
        self.non_strict.iter().find(|r| r.matches(name))
    }

    /// One note for each entry whose glob matches none of `names` (the scenarios of
    /// the run): most often a scenario that was renamed or removed, so the entry now
    /// excuses nothing. A note, not a problem: a run narrowed by `--filter` or by its
    /// paths leaves other entries unmatched on purpose.
    pub fn unmatched<'a>(&self, names: impl IntoIterator<Item = &'a str> + Clone) -> Vec<String> {
        let tables = [
            ("skip", &self.skip),
            ("expected-failure", &self.expected_failure),
            ("non-strict", &self.non_strict),
        ];
        let mut notes = Vec::new();
        for (table, rules) in tables {
            for rule in rules.iter() {
                if !names.clone().into_iter().any(|name| rule.matches(name)) {
                    notes.push(format!(
                        "note: {} line {}: [[{table}]] scenarios = \"{}\" matches no scenario of this run (renamed or removed?)",
                        self.path, rule.line, rule.scenarios
                    ));
                }
            }
        }
        notes
    }

    /// Whether the file came from somewhere (the default, empty one did not).
    fn is_given(&self) -> bool {
        !self.path.is_empty()
    }
}

/// Applies expectations to finished results: results of skipped scenarios become
/// SKIPPED (if they were run anyway), results matching an expected failure carry its
/// reason in [`ScenarioResult::expected_failure`]. The problems are the stale expected
/// failures (scenarios expected to fail that passed), the stale `[[non-strict]]`
/// entries (scenarios that passed) and the NON-STRICT verdicts the file does not list,
/// one message each; they also make [`crate::run::suite::run_succeeded`] false.
pub fn apply(
    results: Vec<ScenarioResult>,
    expectations: &Expectations,
) -> (Vec<ScenarioResult>, Vec<String>) {
    let mut problems = Vec::new();
    let results = results
        .into_iter()
        .map(|mut result| {
            if let Some(reason) = expectations.should_skip(&result.name) {
                if result.verdict != Verdict::Skipped {
                    let ran = result;
                    result = ScenarioResult::skipped(&ran.name, &ran.title, reason);
                    result.steps = ran.steps;
                    result.implementation = ran.implementation;
                }
                return result;
            }
            if let Some(rule) = expectations.expected_failure(&result.name) {
                result.expected_failure = Some(rule.reason.clone());
                if result.is_stale_expectation() {
                    problems.push(format!(
                        "stale expected failure: {} passed; remove it from {} (line {}: scenarios = \"{}\")",
                        result.name, expectations.path, rule.line, rule.scenarios
                    ));
                }
                return result;
            }
            let mismatch = match (result.verdict, expectations.expected_non_strict(&result.name)) {
                (Verdict::Pass, Some(rule)) => Some(format!(
                    "stale non-strict expectation: {} passed (every SHOULD held); remove it from {} (line {}: scenarios = \"{}\")",
                    result.name, expectations.path, rule.line, rule.scenarios
                )),
                (Verdict::NonStrict, None) if expectations.is_given() => Some(format!(
                    "unlisted NON-STRICT: {} broke a SHOULD that {} does not list; add a [[non-strict]] entry with the reason, or fix the client",
                    result.name, expectations.path
                )),
                _ => None,
            };
            if let Some(message) = mismatch {
                problems.push(message.clone());
                result.expectation_mismatch = Some(message);
            }
            result
        })
        .collect();
    (results, problems)
}

#[cfg(test)]
mod tests {
    use crate::check::pattern::glob as glob_matches;

    #[test]
    fn scenario_globs_cross_directories() {
        assert!(glob_matches("qr-login/abort/*", "qr-login/abort/wrong-device-key"));
        assert!(glob_matches("qr-login/*", "qr-login/abort/wrong-device-key"));
        assert!(glob_matches("*wrong*", "qr-login/abort/wrong-device-key"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("a*b*c", "aXbYbZc"));
        assert!(glob_matches("register/x", "register/x"));
        assert!(!glob_matches("register/x", "register/xy"));
        assert!(!glob_matches("qr-login/abort/*", "qr-login/happy"));
        assert!(!glob_matches("a*b", "aXbc"));
        assert!(!glob_matches("", "a"));
    }
}
