//! One fuzz case, as data: the role under test, the base of the run (dialect, who
//! shows the code, server profile) and the ingredients drawn from the seed (server
//! faults, profile switches, the peer's misbehaviour, the user's answer). A case is
//! written as an ordinary scenario file ([`Case::to_toml`]) and run by parsing that
//! text, so what is saved is exactly what ran.

use std::path::Path;

use serde_json::{Map, Value};

use devices::RoleKind;

use crate::scenario::{LoadError, Scenario};

/// The bound of every wait of the new device in a fuzz case: half the case's
/// deadline, so that a device that waits out its bound ends well before the run's
/// deadline (which would otherwise race it).
pub const NEW_DEVICE_WAIT_MS: u64 = 60_000;

/// The overall deadline of a fuzz case, in (virtual or real) milliseconds.
pub const DEADLINE_MS: u64 = 2 * NEW_DEVICE_WAIT_MS;

/// One thing a case adds to a plain run; shrinking removes them one by one.
#[derive(Debug, Clone, PartialEq)]
pub enum Ingredient {
    /// A fault of the mock homeserver: its table as a scenario file writes it.
    Fault(Map<String, Value>),
    /// A switch of the server profile (`overrides`).
    Switch(String, Value),
    /// A knob of the simulated peer (its misbehaviour).
    PeerKnob(String, Value),
    /// A setup key of the simulated peer.
    PeerSetup(String, Value),
    /// The user declines on the existing device.
    Decline,
    /// The v2 dialect instead of v1.
    DialectV2,
    /// The new device shows the QR code (instead of the existing one).
    NewDeviceShowsCode,
}

impl Ingredient {
    /// The generator kind it counts for in the coverage report, e.g.
    /// `fault:respond-with-error` or `peer:mangle-message:repeat`.
    pub fn kind(&self) -> String {
        match self {
            Ingredient::Fault(table) => {
                let kind = table.get("kind").and_then(Value::as_str).unwrap_or("?");
                match (kind, table.get("status")) {
                    ("respond-with-error", Some(status)) => format!("fault:{kind}:{status}"),
                    _ => format!("fault:{kind}"),
                }
            }
            Ingredient::Switch(name, _) => format!("server:{name}"),
            Ingredient::PeerKnob(name, value) => match value.get("how").and_then(Value::as_str) {
                Some(how) => format!("peer:{name}:{how}"),
                None => format!("peer:{name}"),
            },
            Ingredient::PeerSetup(name, _) => format!("peer-setup:{name}"),
            Ingredient::Decline => "user:decline".into(),
            Ingredient::DialectV2 => "run:dialect-v2".into(),
            Ingredient::NewDeviceShowsCode => "run:a-shows-code".into(),
        }
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Ingredient::Fault(table) => format!("fault {}", Value::Object(table.clone())),
            Ingredient::Switch(name, value) => format!("server {name} = {value}"),
            Ingredient::PeerKnob(name, value) => format!("peer knob {name} = {value}"),
            Ingredient::PeerSetup(name, value) => format!("peer setup {name} = {value}"),
            Ingredient::Decline => "the user declines".into(),
            Ingredient::DialectV2 => "dialect v2".into(),
            Ingredient::NewDeviceShowsCode => "A shows the QR code".into(),
        }
    }
}

/// One fuzz case.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The case's seed: it drew the ingredients, and seeds the run.
    pub seed: u64,
    /// The role under test.
    pub role: RoleKind,
    /// The server profile.
    pub profile: String,
    /// Knobs of the device under test when it is our own (a deliberately broken
    /// device, for the harness's own tests); empty otherwise.
    pub own_knobs: Map<String, Value>,
    /// What the case adds to a plain run.
    pub ingredients: Vec<Ingredient>,
    /// The overall deadline, in milliseconds.
    pub deadline_ms: u64,
}

/// The expectations written into a saved case, each with its reason.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SavedExpect {
    /// `outcomes`: role letter to the allowed endings.
    pub outcomes: Vec<(String, String, String)>,
    /// `order` entries with their reason.
    pub order: Vec<(String, String)>,
    /// `never` entries with their reason.
    pub never: Vec<(String, String)>,
}

fn toml_value(value: &Value) -> String {
    match toml::Value::try_from(value) {
        Ok(toml::Value::Table(table)) => {
            let parts: Vec<String> =
                table.iter().map(|(k, v)| format!("{} = {}", toml_key(k), toml_inline(v))).collect();
            format!("{{ {} }}", parts.join(", "))
        }
        Ok(other) => toml_inline(&other),
        Err(_) => format!("{:?}", value.to_string()),
    }
}

fn toml_inline(value: &toml::Value) -> String {
    match value {
        toml::Value::Table(table) => {
            let parts: Vec<String> =
                table.iter().map(|(k, v)| format!("{} = {}", toml_key(k), toml_inline(v))).collect();
            format!("{{ {} }}", parts.join(", "))
        }
        toml::Value::Array(items) => {
            format!("[{}]", items.iter().map(toml_inline).collect::<Vec<_>>().join(", "))
        }
        other => other.to_string(),
    }
}

fn toml_key(key: &str) -> String {
    if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

impl Case {
    /// The flow of the role under test.
    pub fn flow(&self) -> &'static str {
        if self.role == RoleKind::Registrar {
            "register"
        } else {
            "qr-login"
        }
    }

    /// The simulated peer of the role under test, if it has one.
    pub fn peer(&self) -> Option<RoleKind> {
        self.role.peer()
    }

    /// The same case without ingredient `index`.
    pub fn without(&self, index: usize) -> Case {
        let mut case = self.clone();
        case.ingredients.remove(index);
        case
    }

    fn has(&self, ingredient: &Ingredient) -> bool {
        self.ingredients.contains(ingredient)
    }

    /// The case as a scenario file, titled `title`, with `expect` as its
    /// expectations (a fuzz run itself checks the invariants, not these).
    pub fn to_toml(&self, title: &str, expect: &SavedExpect) -> String {
        let mut out = String::new();
        out.push_str(&format!("title = {}\n", quoted(title)));
        out.push_str(&format!("flow = \"{}\"\n", self.flow()));
        if self.role != RoleKind::Registrar {
            let dialect = if self.has(&Ingredient::DialectV2) { "v2" } else { "v1" };
            let shows = if self.has(&Ingredient::NewDeviceShowsCode) { "A" } else { "B" };
            out.push_str(&format!("dialect = \"{dialect}\"\nshows_code = \"{shows}\"\n"));
        }
        out.push_str(&format!("seed = {}\ndeadline_ms = {}\n", self.seed, self.deadline_ms));
        out.push_str(&format!("\n[server]\nprofile = {}\n", quoted(&self.profile)));
        let switches: Map<String, Value> = self
            .ingredients
            .iter()
            .filter_map(|i| match i {
                Ingredient::Switch(name, value) => Some((name.clone(), value.clone())),
                _ => None,
            })
            .collect();
        if !switches.is_empty() {
            out.push_str(&format!("overrides = {}\n", toml_value(&Value::Object(switches))));
        }
        for ingredient in &self.ingredients {
            if let Ingredient::Fault(table) = ingredient {
                out.push_str("\n[[server.faults]]\n");
                for (key, value) in table {
                    out.push_str(&format!("{} = {}\n", toml_key(key), toml_value(value)));
                }
            }
        }
        if self.has(&Ingredient::Decline) {
            out.push_str("\n[user]\napprove = false\n");
        }
        let roles: &[RoleKind] = match self.role {
            RoleKind::Registrar => &[RoleKind::Registrar],
            _ => &[RoleKind::NewDevice, RoleKind::ExistingDevice],
        };
        for role in roles {
            out.push_str(&format!("\n[roles.{}]\nkind = \"{}\"\n", role.letter(), role.name()));
            if *role == RoleKind::NewDevice {
                out.push_str(&format!("wait_ms = {NEW_DEVICE_WAIT_MS}\n"));
            }
            let (setup, knobs): (Map<String, Value>, Map<String, Value>) = if *role == self.role {
                (Map::new(), self.own_knobs.clone())
            } else {
                let pick = |want_knob: bool| {
                    self.ingredients
                        .iter()
                        .filter_map(|i| match (i, want_knob) {
                            (Ingredient::PeerKnob(n, v), true) | (Ingredient::PeerSetup(n, v), false) => {
                                Some((n.clone(), v.clone()))
                            }
                            _ => None,
                        })
                        .collect()
                };
                (pick(false), pick(true))
            };
            if !setup.is_empty() {
                out.push_str(&format!("setup = {}\n", toml_value(&Value::Object(setup))));
            }
            if !knobs.is_empty() {
                out.push_str(&format!("knobs = {}\n", toml_value(&Value::Object(knobs))));
            }
        }
        out.push_str("\n[expect]\n");
        if !expect.outcomes.is_empty() {
            for (_, _, reason) in &expect.outcomes {
                out.push_str(&format!("# {reason}\n"));
            }
            let parts: Vec<String> = expect
                .outcomes
                .iter()
                .map(|(role, allowed, _)| format!("{role} = {}", quoted(allowed)))
                .collect();
            out.push_str(&format!("outcomes = {{ {} }}\n", parts.join(", ")));
        }
        for (key, list) in [("order", &expect.order), ("never", &expect.never)] {
            if list.is_empty() {
                continue;
            }
            out.push_str(&format!("{key} = [\n"));
            for (pattern, reason) in list {
                out.push_str(&format!("  {},  # {reason}\n", quoted(pattern)));
            }
            out.push_str("]\n");
        }
        out
    }

    /// The case as a loaded scenario named `name` (expectations as given).
    pub fn scenario(&self, name: &str, expect: &SavedExpect) -> Result<Scenario, LoadError> {
        let text = self.to_toml(&format!("fuzz case {}", self.seed), expect);
        Scenario::parse(&text, Path::new(&format!("{name}.toml")), name)
    }
}

/// The first request each role makes in every run: only there so that a case can be
/// parsed into a scenario before it has run (its expectations are dropped).
pub(crate) fn first_request(role: RoleKind) -> &'static str {
    match role {
        RoleKind::Registrar => "R -> HS: POST /register",
        RoleKind::NewDevice => "A -> HS: POST /login",
        RoleKind::ExistingDevice => "B -> HS: POST /login",
    }
}

pub(crate) fn roles_of(case: &Case) -> Vec<RoleKind> {
    match case.role {
        RoleKind::Registrar => vec![RoleKind::Registrar],
        _ => vec![RoleKind::NewDevice, RoleKind::ExistingDevice],
    }
}

/// Expectations that let a case load as a scenario before it has run.
pub fn placeholder_expect(case: &Case) -> SavedExpect {
    SavedExpect {
        order: roles_of(case)
            .into_iter()
            .map(|r| (first_request(r).to_owned(), "placeholder".into()))
            .collect(),
        ..SavedExpect::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_case_writes_a_scenario_file_that_loads_with_every_ingredient() {
        let fault = json!({"kind": "respond-with-error", "path": "/_matrix/client/v3/keys/query", "status": 500, "errcode": "M_UNKNOWN", "times": 1});
        let case = Case {
            seed: 7,
            role: RoleKind::NewDevice,
            profile: "default".into(),
            own_knobs: Map::new(),
            ingredients: vec![
                Ingredient::Fault(fault.as_object().unwrap().clone()),
                Ingredient::Fault(
                    json!({"kind": "hide-device", "user_id": "@alice:test", "device": "B", "queries": 1})
                        .as_object()
                        .unwrap()
                        .clone(),
                ),
                Ingredient::Switch("rendezvous".into(), json!({"ttl_ms": 30000})),
                Ingredient::PeerKnob(
                    "mangle-message".into(),
                    json!({"message": 2, "how": "repeat", "field": 0}),
                ),
                Ingredient::PeerSetup("backup".into(), json!(false)),
                Ingredient::Decline,
                Ingredient::DialectV2,
                Ingredient::NewDeviceShowsCode,
            ],
            deadline_ms: 60_000,
        };
        let expect = SavedExpect {
            outcomes: vec![("A".into(), "error | expired".into(), "why".into())],
            order: vec![("B -> HS: POST /login".into(), "B signs in".into())],
            never: vec![("A -> HS: PUT /sendToDevice/m.secret.request/*".into(), "safety".into())],
        };
        let scenario = case
            .scenario("fuzz/case-7", &expect)
            .unwrap_or_else(|e| panic!("{e}\n{}", case.to_toml("t", &expect)));
        assert_eq!(scenario.faults.len(), 2);
        assert_eq!(scenario.faults[1].device_of, Some(RoleKind::ExistingDevice));
        assert!(!scenario.approve);
        assert_eq!(scenario.shows_code, RoleKind::NewDevice);
        assert_eq!(scenario.profile.rendezvous.ttl_ms, 30_000);
        let b = scenario.role(RoleKind::ExistingDevice).unwrap();
        assert_eq!(b.knob_names, ["mangle-message"]);
        assert_eq!(b.setup_keys, ["backup"]);
        assert_eq!(scenario.expectations.len(), 3);
        assert_eq!(case.without(5).ingredients.len(), 7);
        assert_eq!(case.ingredients[3].kind(), "peer:mangle-message:repeat");
        assert_eq!(case.ingredients[0].kind(), "fault:respond-with-error:500");
    }
}
