//! `docs/scenario-format.md` documents every fault, knob, setup key and profile switch
//! that a scenario file can use; the tables of outcomes, reasons, decisions, verdicts
//! and exit codes in the docs and the README are exactly the code's names; and every
//! scenario name the docs mention exists.
//!
//! The names come from the code, not from a list kept here: serde is asked which names
//! it would have accepted in place of a made-up one. A new fault kind, fault field,
//! knob, setup key, switch or enumerated value therefore fails this test until the
//! documentation names it.

use std::path::Path;

use devices::qr_login::config::{ExistingDeviceKnobs, ExistingDeviceSetup, NewDeviceKnobs, NewDeviceSetup};
use devices::registrar::{RegistrarConfig, RegistrarKnobs};
use mock_homeserver::{Fault, Profile};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

const MADE_UP: &str = "no-such-name";

/// The names serde would have accepted where `probe` puts [`MADE_UP`]: serde refuses it
/// with "unknown field `…`, expected one of `a`, `b`" (or "unknown variant …"), and
/// the names are the quoted ones after "expected". `None` when the probe fails for
/// another reason (a type error, a missing field) or does not fail.
fn try_accepted_names<T: DeserializeOwned>(probe: &Value) -> Option<Vec<String>> {
    let error = serde_json::from_value::<T>(probe.clone()).err()?.to_string();
    let unknown = format!("unknown field `{MADE_UP}`");
    let unknown_variant = format!("unknown variant `{MADE_UP}`");
    if !error.starts_with(&unknown) && !error.starts_with(&unknown_variant) {
        return None;
    }
    let (_, expected) = error.split_once("expected").unwrap_or_else(|| panic!("{probe}: {error}"));
    let names: Vec<String> = expected.split('`').skip(1).step_by(2).map(str::to_owned).collect();
    assert!(!names.is_empty(), "{probe}: serde no longer lists the accepted names: {error}");
    Some(names)
}

/// Like [`try_accepted_names`], for a probe that must be refused for its made-up name.
fn accepted_names<T: DeserializeOwned>(probe: Value) -> Vec<String> {
    try_accepted_names::<T>(&probe)
        .unwrap_or_else(|| panic!("{probe} must be refused for its unknown name `{MADE_UP}`"))
}

/// One thing the documentation must name: in the section under `heading`, a table
/// row whose first cell has `name` in backticks and, when `role` is set, whose second
/// cell lists that role; the row must also have each of `mentions` in backticks.
struct Item {
    heading: &'static str,
    name: String,
    role: Option<&'static str>,
    mentions: Vec<String>,
}

fn item(heading: &'static str, name: &str, role: Option<&'static str>) -> Item {
    Item { heading, name: name.to_owned(), role, mentions: Vec::new() }
}

/// The table rows of a section of the document, as cells.
fn rows(doc: &str, heading: &str) -> Vec<Vec<String>> {
    let mut lines = doc.lines().skip_while(|l| l.trim_end() != heading);
    assert!(lines.next().is_some(), "the document has no section `{heading}`");
    // The section ends at the next heading of its level or above.
    let level = heading.chars().take_while(|c| *c == '#').count();
    let ends = move |l: &&str| {
        let hashes = l.chars().take_while(|c| *c == '#').count();
        hashes > 0 && hashes <= level && l[hashes..].starts_with(' ')
    };
    lines
        .take_while(|l| !ends(l))
        .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
        .map(|l| l.trim().trim_matches('|').split(" | ").map(|c| c.trim().to_owned()).collect())
        .collect()
}

/// What the document fails to say about `item`, if anything.
fn check(doc: &str, item: &Item) -> Option<String> {
    let quoted = |name: &str| format!("`{name}`");
    let role_text = item.role.map(|r| format!(" for role {r}")).unwrap_or_default();
    let rows: Vec<Vec<String>> = rows(doc, item.heading)
        .into_iter()
        .filter(|cells| cells[0].contains(&quoted(&item.name)))
        .filter(|cells| {
            item.role.is_none_or(|role| cells.get(1).is_some_and(|c| c.split(", ").any(|r| r == role)))
        })
        .collect();
    if rows.is_empty() {
        return Some(format!("{}: no row for `{}`{role_text}", item.heading, item.name));
    }
    let row_has = |row: &Vec<String>, m: &String| row.iter().any(|cell| cell.contains(&quoted(m)));
    if rows.iter().any(|row| item.mentions.iter().all(|m| row_has(row, m))) {
        return None;
    }
    let missing: Vec<&String> = item.mentions.iter().filter(|m| !row_has(&rows[0], m)).collect();
    Some(format!("{}: the row of `{}`{role_text} does not name {missing:?}", item.heading, item.name))
}

/// The values of an enumerated field, if `probe` with [`MADE_UP`] as the field's value
/// shows that it is one.
fn enum_values<T: DeserializeOwned>(probe: Value) -> Vec<String> {
    try_accepted_names::<T>(&probe).unwrap_or_default()
}

/// Every fault kind, with its fields and the values of its enumerated fields.
fn fault_items() -> Vec<Item> {
    let kinds = accepted_names::<Fault>(json!({ "kind": MADE_UP }));
    assert!(kinds.contains(&"tamper-device-key".to_owned()), "{kinds:?}");
    kinds
        .iter()
        .map(|kind| {
            let fields = accepted_names::<Fault>(json!({ "kind": kind, MADE_UP: 0 }));
            let mut mentions = fields.clone();
            for field in &fields {
                mentions.extend(enum_values::<Fault>(json!({ "kind": kind, field.as_str(): MADE_UP })));
            }
            Item { heading: "## Faults", name: kind.clone(), role: None, mentions }
        })
        .collect()
}

/// Every knob of every role.
fn knob_items() -> Vec<Item> {
    let probe = json!({ MADE_UP: true });
    [
        ("A", accepted_names::<NewDeviceKnobs>(probe.clone())),
        ("B", accepted_names::<ExistingDeviceKnobs>(probe.clone())),
        ("R", accepted_names::<RegistrarKnobs>(probe)),
    ]
    .into_iter()
    .flat_map(|(role, knobs)| knobs.into_iter().map(move |k| item("## Knobs", &k, Some(role))))
    .collect()
}

/// Every setup key of every role, as a scenario writes it (kebab-case), with the
/// values of enumerated keys.
fn setup_items() -> Vec<Item> {
    let probe = json!({ MADE_UP: true });
    let mut items = Vec::new();
    for (role, keys) in [
        ("A", accepted_names::<NewDeviceSetup>(probe.clone())),
        ("B", accepted_names::<ExistingDeviceSetup>(probe.clone())),
    ] {
        items.extend(keys.iter().map(|k| item("## Setup", k, Some(role))));
    }
    // The registrar's setup goes into its configuration with `-` turned into `_`;
    // only some of its fields are a scenario's to set.
    let fields = accepted_names::<RegistrarConfig>(probe);
    for key in devices::registrar::RegistrarSetup::KEYS.iter().map(|k| k.to_string()) {
        let field = key.replace('-', "_");
        assert!(fields.contains(&field), "`{key}` is not a field of the registrar's configuration");
        let mut entry = item("## Setup", &key, Some("R"));
        entry.mentions = enum_values::<RegistrarConfig>(json!({ field.as_str(): MADE_UP }));
        items.push(entry);
    }
    items
}

/// Every profile switch, `group.switch` inside a group, with the values of enumerated
/// switches.
fn override_items() -> Vec<Item> {
    let defaults = serde_json::to_value(Profile::default()).unwrap();
    let mut items = Vec::new();
    for switch in accepted_names::<Profile>(json!({ MADE_UP: 0 })) {
        let mut probes = Vec::new();
        if defaults[&switch].is_object() {
            for inner in accepted_names::<Profile>(json!({ switch.as_str(): { MADE_UP: 0 } })) {
                let probe = json!({ switch.as_str(): { inner.as_str(): MADE_UP } });
                probes.push((format!("{switch}.{inner}"), probe));
            }
        } else {
            probes.push((switch.clone(), json!({ switch.as_str(): MADE_UP })));
        }
        for (name, probe) in probes {
            let mut entry = item("## Profiles and overrides", &name, None);
            entry.mentions = enum_values::<Profile>(probe);
            items.push(entry);
        }
    }
    items
}

fn doc() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/scenario-format.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn assert_documented(items: Vec<Item>) {
    assert!(!items.is_empty());
    let doc = doc();
    let missing: Vec<String> = items.iter().filter_map(|i| check(&doc, i)).collect();
    assert!(
        missing.is_empty(),
        "docs/scenario-format.md does not document what the code accepts:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn every_fault_kind_and_its_fields_are_documented() {
    assert_documented(fault_items());
}

#[test]
fn every_knob_is_documented_with_its_role() {
    assert_documented(knob_items());
}

#[test]
fn every_setup_key_is_documented_with_its_role() {
    assert_documented(setup_items());
}

#[test]
fn every_profile_switch_is_documented() {
    assert_documented(override_items());
}

#[test]
fn the_probe_finds_names_values_and_fields() {
    // The mechanism itself: if serde's messages changed, the tests above would check
    // nothing; these names are known to exist.
    let faults = fault_items();
    let tamper = faults.iter().find(|i| i.name == "tamper-device-key").expect("a known kind");
    for name in ["user_id", "device_id", "field", "value", "ed25519", "curve25519", "signature"] {
        assert!(tamper.mentions.contains(&name.to_owned()), "{:?}", tamper.mentions);
    }
    assert!(knob_items().iter().any(|i| i.name == "skip-master-key-check" && i.role == Some("A")));
    let setup = setup_items();
    let send_keys = setup.iter().find(|i| i.name == "send-keys").expect("a known registrar key");
    assert!(send_keys.mentions.contains(&"if-advertised".to_owned()), "{:?}", send_keys.mentions);
    assert!(override_items().iter().any(|i| i.name == "rendezvous.ttl_ms"));
}

/// The backticked first cells of the table rows of `heading`'s section.
fn first_cells(doc: &str, heading: &str) -> Vec<String> {
    rows(doc, heading)
        .into_iter()
        .filter_map(|cells| cells.first().cloned())
        .filter_map(|cell| cell.trim().strip_prefix('`').and_then(|c| c.strip_suffix('`')).map(str::to_owned))
        .collect()
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names.dedup();
    names
}

#[test]
fn the_outcome_reason_and_decision_tables_are_the_code_s_names() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/scenario-format.md"))
            .expect("docs/scenario-format.md");
    let outcomes: Vec<String> = devices::OutcomeKind::ALL.iter().map(|k| k.name().to_owned()).collect();
    let reasons: Vec<String> = devices::AbortKind::ALL.iter().map(|k| k.name().to_owned()).collect();
    let templates: Vec<String> = devices::Decision::TEMPLATES.iter().map(|t| t.to_string()).collect();
    assert_eq!(sorted(first_cells(&doc, "### Outcomes")), sorted(outcomes.clone()), "### Outcomes");
    assert_eq!(sorted(first_cells(&doc, "### Reasons")), sorted(reasons.clone()), "### Reasons");
    let documented: Vec<String> =
        first_cells(&doc, "### Decisions").into_iter().filter(|c| !c.starts_with('{')).collect();
    assert_eq!(sorted(documented), sorted(templates), "### Decisions");
    for placeholder in first_cells(&doc, "### Decisions").iter().filter(|c| c.starts_with('{')) {
        let name = placeholder.trim_start_matches('{').trim_end_matches('}');
        assert!(devices::events::Slot::named(name).is_some(), "no placeholder {placeholder}");
    }
}

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn owned(names: impl IntoIterator<Item = impl ToString>) -> Vec<String> {
    sorted(names.into_iter().map(|n| n.to_string()).collect())
}

/// The backticked first cells of the table whose header row starts with `header`.
fn table_first_cells(doc: &str, header: &str) -> Vec<String> {
    let mut lines = doc.lines().skip_while(|l| !l.starts_with(header));
    assert!(lines.next().is_some(), "no table with the header `{header}`");
    lines
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('`').nth(1).map(str::to_owned))
        .collect()
}

#[test]
fn the_adapter_protocol_tables_are_the_code_s_names() {
    let doc = read("docs/adapter-protocol.md");
    let outcomes = owned(devices::OutcomeKind::ALL.iter().map(|k| k.name()));
    let reasons = owned(devices::AbortKind::ALL.iter().map(|k| k.name()));
    let templates = owned(devices::Decision::TEMPLATES);
    let verdicts = owned(harness::run::result::REPORT_LABELS);
    assert_eq!(sorted(first_cells(&doc, "### Outcomes")), outcomes, "adapter-protocol.md ### Outcomes");
    assert_eq!(sorted(first_cells(&doc, "### Reasons")), reasons, "adapter-protocol.md ### Reasons");
    assert_eq!(sorted(first_cells(&doc, "### Decisions")), templates, "adapter-protocol.md ### Decisions");
    assert_eq!(sorted(first_cells(&doc, "## Verdicts")), verdicts, "adapter-protocol.md ## Verdicts");
    for name in ["uploaded device keys", "server accepted invalid keys: {any}"] {
        assert!(first_cells(&doc, "### Decisions").contains(&name.to_owned()), "{name}");
    }
    assert!(first_cells(&doc, "### Reasons").contains(&"server_accepted_invalid_keys".to_owned()));
    // Every role a row names plays in the flow it belongs to.
    for heading in ["### Outcomes", "### Reasons", "### Decisions"] {
        for cells in rows(&doc, heading).into_iter().skip(1) {
            for role in cells[1].split(", ") {
                let known = devices::RoleKind::from_letter(role).is_some();
                assert!(known, "{heading}: `{}` names role `{role}`", cells[0]);
            }
        }
    }
}

#[test]
fn the_verdict_and_exit_code_tables_are_the_code_s() {
    use harness::report::summary::ExitStatus;
    let verdicts = owned(harness::run::result::REPORT_LABELS);
    let codes = owned(ExitStatus::ALL.iter().map(|s| s.code()));
    let report = read("docs/report-format.md");
    assert_eq!(sorted(first_cells(&report, "## Verdicts")), verdicts, "report-format.md ## Verdicts");
    assert_eq!(sorted(first_cells(&report, "## Exit status")), codes, "report-format.md ## Exit status");
    let readme = read("README.md");
    assert_eq!(sorted(table_first_cells(&readme, "| exit code |")), codes, "README.md exit codes");
    // The meanings are the ones `--help` prints.
    for status in ExitStatus::ALL {
        let row = format!("| `{}` | ", status.code());
        for (name, doc) in [("README.md", &readme), ("docs/report-format.md", &report)] {
            let line = doc.lines().find(|l| l.starts_with(&row)).unwrap_or_else(|| panic!("{name}: {row}"));
            let documented = line[row.len()..].trim_end_matches(" |").replace('`', "");
            let said =
                status.meaning().replace("(exit 0 instead with --allow-empty)", "(--allow-empty makes it 0)");
            assert_eq!(documented, said, "{name}: exit code {}", status.code());
        }
    }
}

#[test]
fn every_scenario_name_the_docs_mention_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut mentioned = 0;
    for file in ["README.md", "docs/adapter-protocol.md", "docs/report-format.md", "docs/scenario-format.md"]
    {
        let doc = read(file);
        // Backticked text outside code blocks.
        let prose: String = doc.split("```").step_by(2).collect::<Vec<_>>().join("\n");
        for quoted in prose.split('`').skip(1).step_by(2) {
            let name = quoted.strip_prefix("scenarios/").unwrap_or(quoted);
            let name = name.strip_suffix(".toml").unwrap_or(name);
            let is_name = (name.starts_with("qr-login/") || name.starts_with("register/"))
                && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-/".contains(c));
            if !is_name {
                continue;
            }
            mentioned += 1;
            let exists = if name.ends_with('/') {
                root.join(name).is_dir()
            } else {
                root.join(format!("{name}.toml")).is_file()
            };
            assert!(exists, "{file} mentions `{quoted}`, which is no scenario (nor folder of scenarios/)");
        }
    }
    assert!(mentioned >= 8, "the check found only {mentioned} names");
}
