//! Reading a scenario file: TOML into the raw shape, then every part into its type,
//! each error with the file and the line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use devices::qr_login::DialectName;
use devices::RoleKind;
use mock_homeserver::{Fault, Profile};

use super::roles::{RawTables, RoleSpec};
use super::{Flow, Scenario, ScenarioFault, CALLER_OF_ROLE, DEVICE_OF_ROLE};
use crate::check::expect::{Expectation, Level};
use crate::check::pattern::{parse_ending, Pattern};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    title: String,
    #[serde(default)]
    steps: Vec<String>,
    flow: Flow,
    #[serde(default)]
    dialect: DialectName,
    #[serde(default)]
    shows_code: Option<Spanned<String>>,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    deadline_ms: Option<u64>,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    user: RawUser,
    roles: BTreeMap<String, Spanned<RawRole>>,
    expect: Spanned<RawExpect>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    #[serde(default)]
    profile: Option<Spanned<String>>,
    #[serde(default)]
    overrides: Option<Spanned<toml::Value>>,
    #[serde(default)]
    faults: Vec<Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    #[serde(default = "yes")]
    approve: bool,
}

impl Default for RawUser {
    fn default() -> Self {
        Self { approve: true }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    kind: RoleKind,
    #[serde(default)]
    wait_ms: Option<u64>,
    #[serde(default)]
    setup: Option<Spanned<toml::Value>>,
    #[serde(default)]
    knobs: Option<Spanned<toml::Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    #[serde(default)]
    outcomes: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    should_outcomes: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    order: Vec<Spanned<String>>,
    #[serde(default)]
    never: Vec<Spanned<String>>,
    #[serde(default)]
    count: Vec<Spanned<RawCount>>,
    #[serde(default)]
    after: Vec<Spanned<RawAfter>>,
    #[serde(default)]
    should_order: Vec<Spanned<String>>,
    #[serde(default)]
    should_never: Vec<Spanned<String>>,
    #[serde(default)]
    should_count: Vec<Spanned<RawCount>>,
    #[serde(default)]
    should_after: Vec<Spanned<RawAfter>>,
}

/// One event, or a chain of events in order.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawChain {
    One(String),
    Chain(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAfter {
    /// The event (or chain of events) that comes first.
    event: RawChain,
    /// The events that follow it, in any order.
    then: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCount {
    event: String,
    #[serde(default)]
    times: Option<usize>,
    #[serde(default)]
    at_least: Option<usize>,
    #[serde(default)]
    at_most: Option<usize>,
}

/// A scenario that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{path}{}: {message}", at_line(*line))]
pub struct LoadError {
    /// The file.
    pub path: String,
    /// 1-based line; 0 only when the file could not be read at all, and then the
    /// message names no line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// `:N` for a line, nothing for line 0 (no line to name: the file was not read).
pub fn at_line(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}

/// The 1-based line where `needle` first starts a line, if it does.
fn line_of_text(source: &str, needle: &str) -> Option<usize> {
    source.lines().position(|line| line.trim_start().starts_with(needle)).map(|i| i + 1)
}

/// The 1-based line where `needle` first occurs within `span` of the source (an event
/// inside a `[[expect.count]]` or `[[expect.after]]` table), else the line of the
/// span's first non-blank character.
fn line_within(source: &str, span: std::ops::Range<usize>, needle: &str) -> usize {
    let end = span.end.min(source.len());
    let start = span.start.min(end);
    let text = source.get(start..end).unwrap_or_default();
    let offset = text.find(needle).unwrap_or_else(|| text.len() - text.trim_start().len());
    line_of(source, start + offset)
}

/// The 1-based line of a byte offset.
fn line_of(source: &str, offset: usize) -> usize {
    source[..offset.min(source.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

impl Scenario {
    /// Loads a scenario file; `root` is the scenarios directory the name is relative to.
    pub fn load(path: &Path, root: &Path) -> Result<Self, LoadError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| LoadError {
            path: file.clone(),
            line: 0,
            message: format!("cannot read: {e}"),
        })?;
        let source = match String::from_utf8(bytes) {
            Ok(source) => source,
            Err(e) => {
                let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
                return Err(LoadError { path: file, line, message: "not UTF-8 text".to_owned() });
            }
        };
        let name =
            path.strip_prefix(root).unwrap_or(path).with_extension("").to_string_lossy().replace('\\', "/");
        Self::parse(&source, path, &name)
    }

    /// Parses a scenario from its text.
    pub fn parse(source: &str, path: &Path, name: &str) -> Result<Self, LoadError> {
        let file = path.display().to_string();
        let fail = |line: usize, message: String| LoadError { path: file.clone(), line, message };
        let at = |span: std::ops::Range<usize>| line_of(source, span.start);
        let raw: RawScenario = toml::from_str(source).map_err(|e| {
            let line = e.span().map(|s| line_of(source, s.start)).unwrap_or(1);
            fail(line, e.message().to_owned())
        })?;

        let (profile_name, profile) = match &raw.server.profile {
            Some(p) => {
                let profile = Profile::named(p.get_ref()).map_err(|_| {
                    fail(
                        at(p.span()),
                        format!(
                            "unknown server profile `{}` (known: {})",
                            p.get_ref(),
                            Profile::NAMES.join(", ")
                        ),
                    )
                })?;
                (p.get_ref().clone(), profile)
            }
            None => ("default".to_owned(), Profile::default()),
        };
        let profile = match &raw.server.overrides {
            Some(o) => {
                let json =
                    serde_json::to_value(o.get_ref()).map_err(|e| fail(at(o.span()), e.to_string()))?;
                profile.with_overrides(&json).map_err(|e| fail(at(o.span()), e.to_string()))?
            }
            None => profile,
        };
        let mut faults = Vec::new();
        for fault in &raw.server.faults {
            faults.push(parse_fault(fault, raw.flow).map_err(|message| fail(at(fault.span()), message))?);
        }

        let roles_line = line_of_text(source, "[roles").unwrap_or(1);
        let mut roles = Vec::new();
        for (letter, spec) in &raw.roles {
            let Some(kind) = RoleKind::from_letter(letter) else {
                return Err(fail(at(spec.span()), format!("unknown role `{letter}` (roles are A, B, R)")));
            };
            let role = spec.get_ref();
            if role.kind != kind {
                return Err(fail(
                    at(spec.span()),
                    format!("role {letter} must be of kind `{}`, not `{}`", kind.name(), role.kind.name()),
                ));
            }
            let tables = RawTables {
                kind,
                wait_ms: role.wait_ms,
                setup: role.setup.as_ref().map(Spanned::get_ref),
                setup_line: role.setup.as_ref().map(|t| at(t.span())).unwrap_or_else(|| at(spec.span())),
                knobs: role.knobs.as_ref().map(Spanned::get_ref),
                knobs_line: role.knobs.as_ref().map(|t| at(t.span())).unwrap_or_else(|| at(spec.span())),
            };
            roles.push(RoleSpec::parse(tables).map_err(|e| fail(e.line, e.message))?);
        }
        roles.sort_by_key(|r| r.kind);
        let wanted = raw.flow.roles();
        for want in wanted {
            if !roles.iter().any(|r| r.kind == *want) {
                return Err(fail(
                    roles_line,
                    format!(
                        "a `flow = \"{}\"` scenario needs role {want} ({})",
                        raw.flow.name(),
                        want.name()
                    ),
                ));
            }
        }
        if let Some(extra) = roles.iter().find(|r| !wanted.contains(&r.kind)) {
            return Err(fail(
                roles_line,
                format!(
                    "role {} does not take part in a `flow = \"{}\"` scenario",
                    extra.kind,
                    raw.flow.name()
                ),
            ));
        }
        let shows_code = match &raw.shows_code {
            Some(s) => match RoleKind::from_letter(s.get_ref()) {
                Some(role @ (RoleKind::NewDevice | RoleKind::ExistingDevice)) => role,
                _ => {
                    return Err(fail(
                        at(s.span()),
                        format!("shows_code must be A or B, not `{}`", s.get_ref()),
                    ))
                }
            },
            None => RoleKind::ExistingDevice,
        };

        let expect_line = at(raw.expect.span());
        let expect = raw.expect.get_ref();
        let parse = |text: &Spanned<String>| {
            Pattern::parse(text.get_ref()).map_err(|e| fail(at(text.span()), e.to_string()))
        };
        let mut expectations = Vec::new();
        for (outcomes, level) in [(&expect.outcomes, Level::Must), (&expect.should_outcomes, Level::Should)] {
            for (letter, outcome) in outcomes {
                let role = RoleKind::from_letter(letter).filter(|r| roles.iter().any(|spec| spec.kind == *r));
                let Some(role) = role else {
                    return Err(fail(at(outcome.span()), format!("outcome for unknown role `{letter}`")));
                };
                let expected = outcome
                    .get_ref()
                    .split(" | ")
                    .map(parse_ending)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| fail(at(outcome.span()), e))?;
                expectations.push((Expectation::Outcome { role, expected }, level));
            }
        }
        for (list, level) in [(&expect.order, Level::Must), (&expect.should_order, Level::Should)] {
            if !list.is_empty() {
                let steps = list
                    .iter()
                    .map(|t| Ok((t.get_ref().clone(), parse(t)?)))
                    .collect::<Result<Vec<_>, _>>()?;
                expectations.push((Expectation::Order(steps), level));
            }
        }
        for (list, level) in [(&expect.never, Level::Must), (&expect.should_never, Level::Should)] {
            for text in list {
                expectations.push((Expectation::Never(text.get_ref().clone(), parse(text)?), level));
            }
        }
        for (counts, level) in [(&expect.count, Level::Must), (&expect.should_count, Level::Should)] {
            for count in counts {
                let c = count.get_ref();
                let line = line_within(source, count.span(), "");
                let pattern = Pattern::parse(&c.event)
                    .map_err(|e| fail(line_within(source, count.span(), &c.event), e.to_string()))?;
                let (min, max) = match (c.times, c.at_least, c.at_most) {
                    (Some(times), None, None) => (times, Some(times)),
                    (None, Some(min), max) => (min, max),
                    (None, None, Some(max)) => (0, Some(max)),
                    _ => {
                        return Err(fail(
                            line,
                            "a count has `times`, or `at_least` and/or `at_most`".to_owned(),
                        ))
                    }
                };
                if max.is_some_and(|max| max < min) {
                    return Err(fail(line, format!("`at_most` {max:?} is below `at_least` {min}")));
                }
                expectations.push((Expectation::Count { text: c.event.clone(), pattern, min, max }, level));
            }
        }
        for (afters, level) in [(&expect.after, Level::Must), (&expect.should_after, Level::Should)] {
            for after in afters {
                let a = after.get_ref();
                let line = line_within(source, after.span(), "");
                let parse_one = |text: &String| {
                    Pattern::parse(text)
                        .map(|p| (text.clone(), p))
                        .map_err(|e| fail(line_within(source, after.span(), text), e.to_string()))
                };
                let anchor = match &a.event {
                    RawChain::One(text) => vec![parse_one(text)?],
                    RawChain::Chain(texts) => texts.iter().map(parse_one).collect::<Result<Vec<_>, _>>()?,
                };
                let then = a.then.iter().map(parse_one).collect::<Result<Vec<_>, _>>()?;
                if anchor.is_empty() || then.is_empty() {
                    return Err(fail(
                        line,
                        "an `after` needs an `event` and at least one event in `then`".into(),
                    ));
                }
                expectations.push((Expectation::After { anchor, then }, level));
            }
        }
        if expectations.is_empty() {
            return Err(fail(expect_line, "a scenario needs at least one expectation".to_owned()));
        }
        if let Some(role) = roles.iter().find(|r| !has_wire_level_expectation(&expectations, r.kind)) {
            let r = role.kind;
            return Err(fail(
                expect_line,
                format!(
                    "role {r} has no wire-level expectation: add an HTTP or channel pattern sent by {r} \
                     (e.g. `{r} -> HS: POST /keys/query`) to order, never or count; an external client \
                     playing {r} is checked only on the wire (docs/adapter-protocol.md)"
                ),
            ));
        }

        Ok(Scenario {
            path: path.to_owned(),
            name: name.to_owned(),
            title: raw.title,
            steps: raw.steps,
            flow: raw.flow,
            dialect: raw.dialect,
            shows_code,
            seed: raw.seed,
            deadline_ms: raw.deadline_ms.unwrap_or(120_000),
            profile_name,
            profile,
            faults,
            approve: raw.user.approve,
            roles,
            expectations,
        })
    }
}

/// One `[[server.faults]]` table: the mock homeserver's fault, with `device = "A"` and
/// `seen_by = "B"` naming roles, which the run fills in once it knows their IDs.
fn parse_fault(fault: &Spanned<toml::Value>, flow: Flow) -> Result<ScenarioFault, String> {
    let mut json = serde_json::to_value(fault.get_ref()).map_err(|e| e.to_string())?;
    let table = json.as_object_mut().ok_or("invalid fault: a fault is a table")?;
    let mut role_of = |key: &str| -> Result<Option<RoleKind>, String> {
        let Some(value) = table.remove(key) else { return Ok(None) };
        let role = value
            .as_str()
            .and_then(RoleKind::from_letter)
            .ok_or_else(|| format!("invalid fault: `{key}` names a role (A, B or R), not {value}"))?;
        if !flow.roles().contains(&role) {
            return Err(format!(
                "invalid fault: `{key}` names role {role}, which a {flow:?} scenario does not have"
            ));
        }
        Ok(Some(role))
    };
    let device_of = role_of("device")?;
    let seen_by = role_of("seen_by")?;
    if device_of.is_some() {
        if table.contains_key("device_id") {
            return Err("invalid fault: `device` and `device_id` both name the device".into());
        }
        table.insert("device_id".into(), serde_json::Value::String(DEVICE_OF_ROLE.into()));
    }
    if seen_by.is_some() {
        // A stand-in caller, so that serde refuses `seen_by` on a fault that takes none.
        let caller = serde_json::json!({ "user_id": CALLER_OF_ROLE, "device_id": CALLER_OF_ROLE });
        table.insert("seen_by".into(), caller);
    }
    let typed = serde_json::from_value::<Fault>(json)
        .map_err(|e| e.to_string())
        .and_then(|f| f.check().map(|()| f))
        .map_err(|e| format!("invalid fault: {e}"))?;
    let aims_at_a_device = matches!(typed, Fault::TamperDeviceKey { .. } | Fault::HideDevice { .. });
    if device_of.is_some() && !aims_at_a_device {
        return Err("invalid fault: only a fault on one device takes `device`".into());
    }
    Ok(ScenarioFault { fault: typed, device_of, seen_by })
}

/// Whether some order, never or count expectation has a wire-level pattern (an HTTP
/// request or a channel message) made by `role`: the runner can check those whatever
/// client plays the role, so every role an external client can take needs one.
pub fn has_wire_level_expectation(expectations: &[(Expectation, Level)], role: RoleKind) -> bool {
    let wire = |p: &Pattern| p.is_wire_level() && p.actor() == role;
    expectations.iter().any(|(e, _)| match e {
        Expectation::Order(steps) => steps.iter().any(|(_, p)| wire(p)),
        Expectation::Never(_, p) | Expectation::Count { pattern: p, .. } => wire(p),
        Expectation::After { anchor, then } => anchor.iter().chain(then).any(|(_, p)| wire(p)),
        Expectation::Outcome { .. } => false,
    })
}

/// Every `*.toml` file below `root`, sorted; `root` itself when it is a `*.toml` file,
/// and an `InvalidInput` error when it is any other file.
pub fn discover(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    if root.is_file() {
        if root.extension().is_none_or(|e| e != "toml") {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a scenario file: scenarios are TOML files whose names end in `.toml` \
                 (or give a directory of them)",
            ));
        }
        found.push(root.to_owned());
        return Ok(found);
    }
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Loads every scenario below each path (a file or a directory). Names are relative
/// to the enclosing `scenarios` directory when there is one.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<Scenario>, String> {
    let mut scenarios = Vec::new();
    for path in paths {
        let root = scenarios_root(path);
        for file in discover(path).map_err(|e| format!("{}: {e}", path.display()))? {
            scenarios.push(Scenario::load(&file, &root).map_err(|e| e.to_string())?);
        }
    }
    scenarios.sort_by(|a, b| a.name.cmp(&b.name));
    scenarios.dedup_by(|a, b| a.name == b.name);
    Ok(scenarios)
}

fn scenarios_root(path: &Path) -> PathBuf {
    let mut current = Some(path);
    while let Some(p) = current {
        if p.file_name().is_some_and(|n| n == "scenarios") {
            return p.to_owned();
        }
        current = p.parent();
    }
    if path.is_file() {
        path.parent().map(Path::to_owned).unwrap_or_default()
    } else {
        path.to_owned()
    }
}
