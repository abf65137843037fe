//! Scenario files: TOML, one scenario per file, loaded strictly.
//!
//! An unknown key, role, profile, knob or event pattern is an error that names the
//! file and the line. See `docs/scenario-format.md` for the format.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::expect::{Expectation, Level};
use crate::pattern::{Pattern, ROLES};

/// Which flow a scenario exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flow {
    /// Sign in with QR code (MSC3906).
    QrLogin,
    /// Registration with cross-signing keys (MSC2912).
    Register,
}

/// The MSC3906 message dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DialectName {
    /// Deployed v1 (`m.login.progress` / `m.login.finish`).
    #[default]
    V1,
    /// MSC head v2 (one type per message).
    V2,
}

/// The kind of a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleKind {
    /// The new device (A).
    NewDevice,
    /// The existing device (B).
    ExistingDevice,
    /// The registrar (R).
    Registrar,
}

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
    order: Vec<Spanned<String>>,
    #[serde(default)]
    never: Vec<Spanned<String>>,
    #[serde(default)]
    count: Vec<Spanned<RawCount>>,
    #[serde(default)]
    should_order: Vec<Spanned<String>>,
    #[serde(default)]
    should_never: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCount {
    event: String,
    times: usize,
}

/// One role of a scenario, with its raw setup and knobs (checked by the runner
/// against the role's own configuration types, with the line of the table).
#[derive(Debug, Clone)]
pub struct RoleSpec {
    /// `A`, `B` or `R`.
    pub name: String,
    /// The kind.
    pub kind: RoleKind,
    /// The role's bounded wait (device wait for B, overall for others), if set.
    pub wait_ms: Option<u64>,
    /// Setup table (e.g. whether B has cross-signing).
    pub setup: Option<toml::Value>,
    /// Misbehaviour knobs table.
    pub knobs: Option<toml::Value>,
    /// Line of the setup table, for errors.
    pub setup_line: usize,
    /// Line of the knobs table, for errors.
    pub knobs_line: usize,
}

/// A loaded scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file it came from.
    pub path: PathBuf,
    /// Name: the path below `scenarios/` without `.toml`, e.g. `qr-login/abort/wrong-device-key`.
    pub name: String,
    /// Title.
    pub title: String,
    /// Spec steps covered.
    pub steps: Vec<String>,
    /// Flow.
    pub flow: Flow,
    /// Dialect.
    pub dialect: DialectName,
    /// The device that shows the QR code (`A` or `B`).
    pub shows_code: String,
    /// Seed of all randomness.
    pub seed: u64,
    /// Overall deadline in virtual milliseconds.
    pub deadline_ms: u64,
    /// Server profile name.
    pub profile: String,
    /// Profile overrides (as JSON).
    pub overrides: Option<serde_json::Value>,
    /// Faults (as JSON, for the mock homeserver's `Fault`).
    pub faults: Vec<serde_json::Value>,
    /// Whether the simulated user approves.
    pub approve: bool,
    /// The roles.
    pub roles: Vec<RoleSpec>,
    /// Expectations with their level.
    pub expectations: Vec<(Expectation, Level)>,
}

/// A scenario that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct LoadError {
    /// The file.
    pub path: String,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The 1-based line of a byte offset.
fn line_of(source: &str, offset: usize) -> usize {
    source[..offset.min(source.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

impl Scenario {
    /// Loads a scenario file; `root` is the scenarios directory the name is relative to.
    pub fn load(path: &Path, root: &Path) -> Result<Self, LoadError> {
        let source = std::fs::read_to_string(path).map_err(|e| LoadError {
            path: path.display().to_string(),
            line: 0,
            message: format!("cannot read: {e}"),
        })?;
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
            let line = e.span().map(|s| line_of(source, s.start)).unwrap_or(0);
            fail(line, e.message().to_owned())
        })?;

        let profile = match &raw.server.profile {
            Some(p) => {
                if !mock_homeserver::Profile::NAMES.contains(&p.get_ref().as_str()) {
                    return Err(fail(
                        at(p.span()),
                        format!(
                            "unknown server profile `{}` (known: {})",
                            p.get_ref(),
                            mock_homeserver::Profile::NAMES.join(", ")
                        ),
                    ));
                }
                p.get_ref().clone()
            }
            None => "default".to_owned(),
        };
        let overrides = match &raw.server.overrides {
            Some(o) => {
                let json =
                    serde_json::to_value(o.get_ref()).map_err(|e| fail(at(o.span()), e.to_string()))?;
                mock_homeserver::Profile::named(&profile)
                    .and_then(|p| p.with_overrides(&json))
                    .map_err(|e| fail(at(o.span()), e.to_string()))?;
                Some(json)
            }
            None => None,
        };
        let mut faults = Vec::new();
        for fault in &raw.server.faults {
            let json =
                serde_json::to_value(fault.get_ref()).map_err(|e| fail(at(fault.span()), e.to_string()))?;
            serde_json::from_value::<mock_homeserver::Fault>(json.clone())
                .map_err(|e| e.to_string())
                .and_then(|f| f.check())
                .map_err(|e| fail(at(fault.span()), format!("invalid fault: {e}")))?;
            faults.push(json);
        }

        let mut roles = Vec::new();
        for (role_name, spec) in &raw.roles {
            if !ROLES.contains(&role_name.as_str()) {
                return Err(fail(at(spec.span()), format!("unknown role `{role_name}` (roles are A, B, R)")));
            }
            let role = spec.get_ref();
            let expected = match role_name.as_str() {
                "A" => RoleKind::NewDevice,
                "B" => RoleKind::ExistingDevice,
                _ => RoleKind::Registrar,
            };
            if role.kind != expected {
                return Err(fail(at(spec.span()), format!("role {role_name} must be of kind {expected:?}")));
            }
            roles.push(RoleSpec {
                name: role_name.clone(),
                kind: role.kind,
                wait_ms: role.wait_ms,
                setup: role.setup.as_ref().map(|s| s.get_ref().clone()),
                knobs: role.knobs.as_ref().map(|k| k.get_ref().clone()),
                setup_line: role.setup.as_ref().map(|s| at(s.span())).unwrap_or_else(|| at(spec.span())),
                knobs_line: role.knobs.as_ref().map(|k| at(k.span())).unwrap_or_else(|| at(spec.span())),
            });
        }
        let wanted: &[&str] = match raw.flow {
            Flow::QrLogin => &["A", "B"],
            Flow::Register => &["R"],
        };
        for want in wanted {
            if !roles.iter().any(|r| r.name == *want) {
                return Err(fail(0, format!("a {:?} scenario needs role {want}", raw.flow)));
            }
        }
        if let Some(extra) = roles.iter().find(|r| !wanted.contains(&r.name.as_str())) {
            return Err(fail(
                0,
                format!("role {} does not take part in a {:?} scenario", extra.name, raw.flow),
            ));
        }
        let shows_code = match &raw.shows_code {
            Some(s) if s.get_ref() == "A" || s.get_ref() == "B" => s.get_ref().clone(),
            Some(s) => {
                return Err(fail(at(s.span()), format!("shows_code must be A or B, not `{}`", s.get_ref())))
            }
            None => "B".to_owned(),
        };

        let expect_line = at(raw.expect.span());
        let expect = raw.expect.get_ref();
        let parse = |text: &Spanned<String>| {
            Pattern::parse(text.get_ref()).map_err(|e| fail(at(text.span()), e.to_string()))
        };
        let mut expectations = Vec::new();
        for (role, outcome) in &expect.outcomes {
            if !roles.iter().any(|r| &r.name == role) {
                return Err(fail(at(outcome.span()), format!("outcome for unknown role `{role}`")));
            }
            let name = outcome.get_ref().split_whitespace().next().unwrap_or("");
            if !crate::pattern::OUTCOMES.contains(&name) {
                return Err(fail(at(outcome.span()), format!("unknown outcome `{name}`")));
            }
            expectations.push((
                Expectation::Outcome { role: role.clone(), outcome: outcome.get_ref().clone() },
                Level::Must,
            ));
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
        for count in &expect.count {
            let c = count.get_ref();
            let pattern = Pattern::parse(&c.event).map_err(|e| fail(at(count.span()), e.to_string()))?;
            expectations
                .push((Expectation::Count { text: c.event.clone(), pattern, times: c.times }, Level::Must));
        }
        if expectations.is_empty() {
            return Err(fail(0, "a scenario needs at least one expectation".to_owned()));
        }
        if let Some(role) = roles.iter().find(|r| !has_wire_level_expectation(&expectations, &r.name)) {
            return Err(fail(
                expect_line,
                format!(
                    "role {} has no wire-level expectation: add an HTTP or channel pattern sent by {} \
                     (e.g. `{} -> HS: POST /keys/query`) to order, never or count; an external client \
                     playing {} is checked only on the wire (docs/adapter-protocol.md)",
                    role.name, role.name, role.name, role.name
                ),
            ));
        }

        let scenario = Scenario {
            path: path.to_owned(),
            name: name.to_owned(),
            title: raw.title,
            steps: raw.steps,
            flow: raw.flow,
            dialect: raw.dialect,
            shows_code,
            seed: raw.seed,
            deadline_ms: raw.deadline_ms.unwrap_or(120_000),
            profile,
            overrides,
            faults,
            approve: raw.user.approve,
            roles,
            expectations,
        };
        // The role tables must make valid device configurations: a misspelt knob or
        // setup key fails here, not when the scenario runs.
        for spec in &scenario.roles {
            crate::roles::check(spec, &scenario).map_err(|e| fail(e.line, e.message))?;
        }
        Ok(scenario)
    }
}

/// Whether some order, never or count expectation has a wire-level pattern (an HTTP
/// request or a channel message) made by `role`: the runner can check those whatever
/// client plays the role, so every role an external client can take needs one.
pub fn has_wire_level_expectation(expectations: &[(Expectation, Level)], role: &str) -> bool {
    let wire = |p: &Pattern| p.is_wire_level() && p.actor() == role;
    expectations.iter().any(|(e, _)| match e {
        Expectation::Order(steps) => steps.iter().any(|(_, p)| wire(p)),
        Expectation::Never(_, p) | Expectation::Count { pattern: p, .. } => wire(p),
        Expectation::Outcome { .. } => false,
    })
}

/// Every `*.toml` file below `root`, sorted.
pub fn discover(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    if root.is_file() {
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
