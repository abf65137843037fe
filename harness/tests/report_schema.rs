//! The JSON report is pinned by `docs/report-format.schema.json`: the reports of real
//! runs (every verdict among them) validate against it, the schema's names are the
//! code's, and `docs/report-format.md` documents every field the schema has.
//!
//! The schema uses a small part of JSON Schema (draft 2020-12); [`validate`] implements
//! that part, and the test refuses a schema keyword it does not implement, so no part
//! of the schema can be silently ignored.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::cli::{repo_root, run_in, scratch};
use harness::report::summary::ExitStatus;
use harness::run::result::REPORT_LABELS;
use serde_json::{json, Value};

/// The keywords [`validate`] implements, and the annotations it may ignore.
const KEYWORDS: [&str; 8] =
    ["type", "properties", "required", "additionalProperties", "items", "enum", "const", "minimum"];
const ANNOTATIONS: [&str; 3] = ["$schema", "title", "description"];

fn schema() -> Value {
    let path = repo_root().join("docs/report-format.schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every schema object below `schema` (itself included), with its JSON pointer.
fn subschemas<'a>(schema: &'a Value, at: &str, out: &mut Vec<(String, &'a Value)>) {
    out.push((at.to_owned(), schema));
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, sub) in properties {
            subschemas(sub, &format!("{at}/properties/{name}"), out);
        }
    }
    if let Some(items) = schema.get("items") {
        subschemas(items, &format!("{at}/items"), out);
    }
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_u64() || value.is_i64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        other => panic!("unknown type {other}"),
    }
}

/// What is wrong with `value` under `schema`, each with its place.
fn validate(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(types) = schema.get("type") {
        let names: Vec<&str> = match types {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().map(|t| t.as_str().expect("a type name")).collect(),
            other => panic!("type {other}"),
        };
        if !names.iter().any(|t| type_matches(t, value)) {
            errors.push(format!("{at}: {value} is not of type {names:?}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            errors.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let Some(constant) = schema.get("const") {
        if constant != value {
            errors.push(format!("{at}: {value} is not {constant}"));
        }
    }
    if let (Some(minimum), Some(number)) = (schema.get("minimum").and_then(Value::as_f64), value.as_f64()) {
        if number < minimum {
            errors.push(format!("{at}: {value} is below {minimum}"));
        }
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for required in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            let name = required.as_str().expect("a property name");
            if !object.contains_key(name) {
                errors.push(format!("{at}: `{name}` is missing"));
            }
        }
        for (name, sub) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(property) => validate(property, sub, &format!("{at}/{name}"), errors),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{at}: `{name}` is not in the schema"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            validate(items, item, &format!("{at}/{i}"), errors);
        }
    }
}

fn errors(value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    validate(&schema(), value, "", &mut errors);
    errors
}

fn assert_valid(value: &Value) {
    let errors = errors(value);
    assert!(
        errors.is_empty(),
        "the report does not fit docs/report-format.schema.json:\n  {}\n{value:#}",
        errors.join("\n  ")
    );
}

#[test]
fn the_schema_uses_only_what_the_validator_checks() {
    let schema = schema();
    let mut all = Vec::new();
    subschemas(&schema, "", &mut all);
    assert!(all.len() > 20, "{}", all.len());
    for (at, sub) in all {
        for key in sub.as_object().unwrap_or_else(|| panic!("{at}: not an object")).keys() {
            assert!(
                KEYWORDS.contains(&key.as_str()) || ANNOTATIONS.contains(&key.as_str()),
                "{at}: keyword `{key}`"
            );
        }
        if sub.get("type") == Some(&json!("object")) {
            assert_eq!(sub.get("additionalProperties"), Some(&json!(false)), "{at}: every object is closed");
        }
    }
}

/// A scenario in `dir/scenarios/<name>.toml`: the suite's `source`, with `edit`
/// applied to its text.
fn scenario(dir: &Path, name: &str, source: &str, edit: impl Fn(&str) -> String) {
    let text = std::fs::read_to_string(repo_root().join(format!("scenarios/{source}.toml"))).unwrap();
    let path = dir.join(format!("scenarios/{name}.toml"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let edited = edit(&text);
    assert_ne!(edited, text, "{name}: the edit changed nothing");
    std::fs::write(path, edited).unwrap();
}

/// The reports of two real runs in `dir`: one in process whose scenarios end PASS,
/// NON-STRICT, FAIL, XFAIL, XPASS and SKIPPED, and one with an adapter that implements
/// nothing (UNIMPLEMENTED).
fn real_reports(dir: &Path) -> Vec<(PathBuf, Value, String)> {
    let source = "register/msc2912-keys-in-register";
    let same = |text: &str| text.replacen("title = \"", "title = \"copy: ", 1);
    let failing =
        |text: &str| text.replace("outcomes = { R = \"success\" }", "outcomes = { R = \"rejected\" }");
    scenario(dir, "t/pass", source, same);
    scenario(dir, "t/fail", source, failing);
    scenario(dir, "t/xfail", source, failing);
    scenario(dir, "t/xpass", source, same);
    scenario(dir, "t/skipped", source, same);
    scenario(dir, "t/non-strict", source, |text| {
        text.replace(
            "should_never = [\n  \"R -> HS: POST /keys/device_signing/upload\",\n]",
            "should_never = [\n  \"R -> HS: POST /register\",\n]",
        )
    });
    std::fs::write(
        dir.join("expectations.toml"),
        "[[skip]]\nscenarios = \"t/skipped\"\nreason = \"not today\"\n\n\
         [[expected-failure]]\nscenarios = \"t/x*\"\nreason = \"a known bug\"\n",
    )
    .unwrap();
    let mut reports = Vec::new();
    let in_process = dir.join("in-process.json");
    let ran =
        run_in(dir, &["run", "--expectations", "expectations.toml", "--json", in_process.to_str().unwrap()]);
    assert_eq!(ran.code, 1, "FAIL and XPASS fail the run: {}", ran.said());
    reports.push((in_process, ran.stdout));
    let adapter = dir.join("adapter.json");
    let ran = run_in(
        dir,
        &[
            "run",
            "--client",
            "sh -c 'exit 89'",
            "--role",
            "registrar",
            "--filter",
            "t/pass",
            "--allow-empty",
            "--json",
            adapter.to_str().unwrap(),
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.said());
    reports.push((adapter, ran.stdout));
    reports
        .into_iter()
        .map(|(path, console)| {
            let text = std::fs::read_to_string(&path).unwrap();
            (path, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}")), console)
        })
        .collect()
}

#[test]
fn real_reports_fit_the_schema_with_every_verdict_as_the_console_names_it() {
    let dir = scratch("report-schema");
    let reports = real_reports(&dir);
    let mut verdicts = BTreeSet::new();
    for (path, report, console) in &reports {
        assert_valid(report);
        for scenario in report["scenarios"].as_array().unwrap() {
            let name = scenario["name"].as_str().unwrap();
            let verdict = scenario["verdict"].as_str().unwrap();
            verdicts.insert(verdict.to_owned());
            let line = console
                .lines()
                .find(|l| l.contains(&format!(" {name} ")))
                .unwrap_or_else(|| panic!("{name}: {console}"));
            assert!(
                line.starts_with(&format!("{verdict} ")),
                "{}: the console says {line:?}",
                path.display()
            );
        }
        let counted: u64 =
            report["summary"]["counts"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum();
        assert_eq!(counted, report["summary"]["total"].as_u64().unwrap());
    }
    let labels: BTreeSet<String> = REPORT_LABELS.iter().map(|l| l.to_string()).collect();
    assert_eq!(verdicts, labels, "the runs produce every verdict");
    let (_, in_process, _) = &reports[0];
    assert_eq!(in_process["summary"]["exit_code"], 1);
    assert_eq!(in_process["role"], Value::Null);
    let by_name = |name: &str| {
        in_process["scenarios"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap().clone()
    };
    assert_eq!(by_name("t/xfail")["expected_failure"], "a known bug");
    // The expectations file lists no [[non-strict]]: the NON-STRICT fails the run.
    assert!(by_name("t/non-strict")["expectation_mismatch"]
        .as_str()
        .is_some_and(|m| m.contains("unlisted NON-STRICT")));
    assert_eq!(by_name("t/pass")["expectation_mismatch"], Value::Null);
    let failure = &by_name("t/fail")["failures"][0];
    assert_eq!(failure["level"], "MUST");
    assert_eq!(failure["expectation"], "outcome of R");
    assert!(!by_name("t/pass")["steps"].as_array().unwrap().is_empty());
    let (_, adapter, _) = &reports[1];
    assert_eq!(adapter["role"], "registrar");
    assert_eq!(adapter["summary"]["exit_code"], 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A change that makes a report invalid.
type Breaks = fn(&mut Value);

#[test]
fn the_schema_refuses_what_version_1_does_not_allow() {
    let dir = scratch("report-schema-refuses");
    let (_, report, _) = real_reports(&dir).remove(0);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_valid(&report);
    let broken: [(&str, Breaks); 7] = [
        ("another version", |r| r["version"] = json!(2)),
        ("a verdict the console never prints", |r| r["scenarios"][0]["verdict"] = json!("Fail")),
        ("a failure as a string", |r| r["scenarios"][0]["failures"] = json!(["order[0]: never"])),
        ("no summary", |r| _ = r.as_object_mut().unwrap().remove("summary")),
        ("an unknown key", |r| r["scenarios"][0]["extra"] = json!(1)),
        ("a negative duration", |r| r["summary"]["duration_ms"] = json!(-1)),
        ("exit code 2, which writes no report", |r| r["summary"]["exit_code"] = json!(2)),
    ];
    for (what, breaks) in broken {
        let mut report = report.clone();
        breaks(&mut report);
        assert!(!errors(&report).is_empty(), "the schema accepts {what}");
    }
}

#[test]
fn the_schema_names_are_the_codes() {
    let schema = schema();
    let scenario = &schema["properties"]["scenarios"]["items"];
    let verdicts: Vec<&str> = scenario["properties"]["verdict"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(verdicts, REPORT_LABELS);
    let counts = &schema["properties"]["summary"]["properties"]["counts"];
    let keys: Vec<&str> =
        counts["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(keys, REPORT_LABELS);
    let codes: Vec<u64> = schema["properties"]["summary"]["properties"]["exit_code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let written: Vec<u64> =
        ExitStatus::ALL.iter().filter(|s| **s != ExitStatus::Error).map(|s| u64::from(s.code())).collect();
    assert_eq!(codes, written, "every exit code of a run that writes its report");
    let roles: Vec<Value> =
        devices::RoleKind::ALL.iter().map(|r| json!(r.name())).chain([Value::Null]).collect();
    assert_eq!(schema["properties"]["role"]["enum"].as_array().unwrap(), &roles);
    assert_eq!(schema["properties"]["version"]["const"], json!(harness::report::json::REPORT_VERSION));
}

/// The backticked first cells of the tables of `heading`'s section of `doc`.
fn documented_fields(doc: &str, heading: &str) -> BTreeSet<String> {
    let mut lines = doc.lines().skip_while(|l| l.trim_end() != heading);
    assert!(lines.next().is_some(), "docs/report-format.md has no `{heading}`");
    lines
        .take_while(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| l.split('`').nth(1).map(str::to_owned))
        .collect()
}

fn schema_fields(schema: &Value) -> BTreeSet<String> {
    schema["properties"].as_object().unwrap().keys().cloned().collect()
}

#[test]
fn the_document_describes_every_field_of_the_schema() {
    let doc =
        std::fs::read_to_string(repo_root().join("docs/report-format.md")).expect("docs/report-format.md");
    let schema = schema();
    let scenario = &schema["properties"]["scenarios"]["items"];
    for (heading, part) in [
        ("### The run", &schema),
        ("### `summary`", &schema["properties"]["summary"]),
        ("### A scenario", scenario),
        ("### A failure", &scenario["properties"]["failures"]["items"]),
    ] {
        assert_eq!(documented_fields(&doc, heading), schema_fields(part), "{heading}");
    }
}
