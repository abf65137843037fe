//! Scenario loading is strict: every mistake names the file and the line.

use std::path::Path;

use harness::scenario::Scenario;

const VALID: &str = r#"title = "B aborts when A lies about its device key"
steps = ["MSC3906 v1 step 17"]
flow = "qr-login"
seed = 7

[server]
profile = "default"

[roles.A]
kind = "new-device"

[roles.B]
kind = "existing-device"

[expect]
outcomes = { B = "security_error" }
order = ["A -> B: m.login.progress outcome=success", "B: checked A's device key: mismatch"]
never = ["B -> HS: POST /keys/signatures/upload"]
"#;

fn load(text: &str) -> Result<Scenario, String> {
    Scenario::parse(text, Path::new("scenarios/qr-login/x.toml"), "qr-login/x").map_err(|e| e.to_string())
}

#[test]
fn a_valid_scenario_loads() {
    let scenario = load(VALID).expect("valid");
    assert_eq!(scenario.name, "qr-login/x");
    assert_eq!(scenario.roles.len(), 2);
    assert_eq!(scenario.expectations.len(), 3);
    assert_eq!(scenario.shows_code, devices::RoleKind::ExistingDevice);
}

#[test]
fn an_unknown_key_names_file_and_line() {
    let text = VALID.replace("seed = 7", "seed = 7\ncolour = \"blue\"");
    let error = load(&text).unwrap_err();
    assert!(error.starts_with("scenarios/qr-login/x.toml:5:"), "{error}");
    assert!(error.contains("colour"), "{error}");
}

#[test]
fn an_unknown_event_pattern_names_file_and_line() {
    let text = VALID.replace("B: checked A's device key: mismatch", "B: checked the key somehow");
    let error = load(&text).unwrap_err();
    assert!(error.starts_with("scenarios/qr-login/x.toml:17:"), "{error}");
    assert!(error.contains("unknown event pattern `B: checked the key somehow`"), "{error}");
}

#[test]
fn a_misspelt_role_names_file_and_line() {
    let text = VALID.replace("[roles.B]", "[roles.b]");
    let error = load(&text).unwrap_err();
    assert!(error.starts_with("scenarios/qr-login/x.toml:"), "{error}");
    assert!(error.contains("unknown role `b`"), "{error}");
    let in_pattern = VALID.replace("never = [\"B -> HS", "never = [\"C -> HS");
    let error = load(&in_pattern).unwrap_err();
    assert!(error.starts_with("scenarios/qr-login/x.toml:18:"), "{error}");
    assert!(error.contains("unknown role `C`"), "{error}");
}

#[test]
fn an_unknown_profile_or_fault_is_an_error() {
    let error = load(&VALID.replace("profile = \"default\"", "profile = \"synapse\"")).unwrap_err();
    assert!(error.starts_with("scenarios/qr-login/x.toml:7:"), "{error}");
    let with_fault =
        VALID.replace("profile = \"default\"", "profile = \"default\"\nfaults = [{ kind = \"set-fire\" }]");
    let error = load(&with_fault).unwrap_err();
    assert!(error.contains("invalid fault"), "{error}");
}

#[test]
fn a_scenario_without_expectations_does_not_load() {
    let text = VALID.split("[expect]").next().unwrap().to_owned() + "[expect]\n";
    let error = load(&text).unwrap_err();
    assert!(error.contains("at least one expectation"), "{error}");
}

#[test]
fn a_misspelt_knob_names_file_and_line_at_load() {
    let text = VALID.replace(
        "kind = \"existing-device\"",
        "kind = \"existing-device\"\nknobs = { lie-master-kye = true }",
    );
    let error = load(&text).unwrap_err();
    assert!(error.starts_with("scenarios/qr-login/x.toml:14:"), "{error}");
    assert!(error.contains("role B") && error.contains("lie-master-kye"), "{error}");
}

#[test]
fn a_misspelt_setup_key_and_a_snake_case_one_fail_at_load() {
    for key in ["cross-signnig", "cross_signing"] {
        let text = VALID.replace(
            "kind = \"existing-device\"",
            &format!("kind = \"existing-device\"\nsetup = {{ {key} = false }}"),
        );
        let error = load(&text).unwrap_err();
        assert!(error.starts_with("scenarios/qr-login/x.toml:14:"), "{error}");
        assert!(error.contains(key), "{error}");
    }
}

#[test]
fn an_unknown_qr_intent_fails_at_load() {
    let text = VALID.replace(
        "kind = \"existing-device\"",
        "kind = \"existing-device\"\nknobs = { qr-intent = \"login.finish\" }",
    );
    let error = load(&text).unwrap_err();
    assert!(error.contains("login.finish") && error.contains("login.start"), "{error}");
}

#[test]
fn the_registrars_setup_cannot_change_what_the_run_sets() {
    let register = r#"title = "R registers"
flow = "register"
[roles.R]
kind = "registrar"
setup = { username = "bob" }
[expect]
order = ["R -> HS: POST /register"]
"#;
    let error = Scenario::parse(register, Path::new("scenarios/register/x.toml"), "register/x")
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("scenarios/register/x.toml:5:"), "{error}");
    assert!(error.contains("unknown setup key `username`"), "{error}");
    let allowed =
        register.replace("username = \"bob\"", "registration-token = \"t\", send_keys = \"always\"");
    Scenario::parse(&allowed, Path::new("scenarios/register/x.toml"), "register/x")
        .expect("both spellings load");
}

#[test]
fn a_fault_that_cannot_change_anything_fails_at_load() {
    let text = VALID.replace(
        "profile = \"default\"",
        "profile = \"default\"\n[[server.faults]]\nkind = \"tamper-cross-signing-key\"\nuser_id = \"@alice:test\"\nkey = \"master\"\nfield = \"curve25519\"",
    );
    let error = load(&text).unwrap_err();
    assert!(error.starts_with("scenarios/qr-login/x.toml:"), "{error}");
    assert!(error.contains("no curve25519 key"), "{error}");
}

#[test]
fn an_http_pattern_no_served_endpoint_answers_is_a_load_error_with_its_line() {
    // The typo of issue 11: a `never` of a misspelt event type passed whatever happened.
    let text = VALID.replace(
        "never = [\"B -> HS: POST /keys/signatures/upload\"]",
        "never = [\n  \"B -> HS: POST /keys/signatures/upload\",\n  \"A -> HS: PUT /sendToDevice/m.secret.reqest/*\",\n]",
    );
    let error = load(&text).unwrap_err();
    assert!(error.starts_with("scenarios/qr-login/x.toml:20:"), "{error}");
    assert!(error.contains("`A -> HS: PUT /sendToDevice/m.secret.reqest/*`"), "{error}");
    assert!(error.contains("m.secret.request"), "the error lists the spec's types: {error}");

    let in_order = VALID.replace("order = [", "order = [\"B -> HS: POST /keys/qeury 200\", ");
    let error = load(&in_order).unwrap_err();
    assert!(error.starts_with("scenarios/qr-login/x.toml:17:"), "{error}");
    assert!(error.contains("no endpoint of the mock homeserver answers `POST /keys/qeury`"), "{error}");

    let in_count = format!("{VALID}\n[[expect.count]]\ntimes = 0\nevent = \"B -> HS: GET /keys/query\"\n");
    let error = load(&in_count).unwrap_err();
    assert!(error.starts_with("scenarios/qr-login/x.toml:22:"), "the line of the event: {error}");
    assert!(error.contains("only as POST"), "{error}");

    // Globs and other namespaces are fine.
    let fine = VALID.replace(
        "never = [\"B -> HS: POST /keys/signatures/upload\"]",
        "never = [\"B -> HS: PUT /sendToDevice/*\", \"B -> HS: PUT /sendToDevice/org.example.x/*\"]",
    );
    load(&fine).expect("globs over served endpoints load");
}

#[test]
fn every_scenario_of_the_suite_loads_with_its_http_patterns_checked() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let scenarios = harness::scenario::load_all(&[root]).expect("the suite loads");
    assert!(scenarios.len() > 30, "{}", scenarios.len());
}

/// VALID with one fault table after `[server]`, at line 9.
fn with_fault(fault: &str) -> String {
    VALID.replace("profile = \"default\"", &format!("profile = \"default\"\n\n[[server.faults]]\n{fault}"))
}

#[test]
fn seen_by_names_a_role_of_the_flow_and_only_faults_with_a_caller_take_it() {
    use devices::RoleKind;
    use harness::scenario::roles::caller_of;
    use mock_homeserver::{Caller, Fault};

    let scenario = load(&with_fault(
        "kind = \"hide-device\"\nuser_id = \"@alice:test\"\ndevice = \"A\"\nseen_by = \"B\"\nqueries = 3",
    ))
    .expect("an aimed fault loads");
    let fault = &scenario.faults[0];
    assert_eq!((fault.device_of, fault.seen_by), (Some(RoleKind::NewDevice), Some(RoleKind::ExistingDevice)));
    assert!(!fault.is_aimed());
    let a = caller_of(RoleKind::NewDevice, "test");
    let b = Caller { user_id: "@alice:test".into(), device_id: "B_FROM_LOGIN".into() };
    let half = fault.aim(RoleKind::NewDevice, &a);
    assert!(!half.is_aimed(), "B is still to be filled in");
    let aimed = half.aim(RoleKind::ExistingDevice, &b);
    assert!(aimed.is_aimed());
    assert_eq!(
        aimed.fault,
        Fault::HideDevice {
            user_id: "@alice:test".into(),
            device_id: "NEWDEVICE".into(),
            queries: Some(3),
            seen_by: Some(b),
        }
    );

    for (fault, says) in [
        ("kind = \"hide-device\"\nuser_id = \"@alice:test\"\ndevice = \"A\"\nseen_by = \"C\"", "names a role"),
        ("kind = \"hide-device\"\nuser_id = \"@alice:test\"\ndevice = \"A\"\nseen_by = \"R\"", "does not have"),
        (
            "kind = \"hide-device\"\nuser_id = \"@alice:test\"\ndevice = \"A\"\nseen_by = { user_id = \"@alice:test\", device_id = \"X\" }",
            "names a role",
        ),
        ("kind = \"expire-rendezvous\"\nseen_by = \"B\"", "unknown field `seen_by`"),
    ] {
        let error = load(&with_fault(fault)).unwrap_err();
        assert!(error.starts_with("scenarios/qr-login/x.toml:9:"), "{fault}: {error}");
        assert!(error.contains(says), "{fault}: {error}");
    }
}
