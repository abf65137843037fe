//! Every role of a scenario needs a wire-level expectation, because an external
//! client playing it is checked only on the wire (docs/adapter-protocol.md).

use std::path::Path;

use harness::scenario::Scenario;

const ONLY_DECISIONS_FOR_A: &str = r#"title = "A's checks are only stated as decisions"
flow = "qr-login"

[roles.A]
kind = "new-device"

[roles.B]
kind = "existing-device"

[expect]
outcomes = { A = "verified" }
order = ["B -> HS: POST /rendezvous", "A: checked master key: matched"]
"#;

fn load(text: &str) -> Result<Scenario, String> {
    Scenario::parse(text, Path::new("scenarios/qr-login/x.toml"), "qr-login/x").map_err(|e| e.to_string())
}

#[test]
fn a_role_without_a_wire_level_expectation_names_the_expect_table() {
    let error = load(ONLY_DECISIONS_FOR_A).unwrap_err();
    assert!(error.starts_with("scenarios/qr-login/x.toml:10:"), "{error}");
    assert!(error.contains("role A has no wire-level expectation"), "{error}");
}

#[test]
fn a_channel_message_or_a_never_pattern_is_enough() {
    let sent = ONLY_DECISIONS_FOR_A.replace("\"A: checked", "\"A -> B: m.login.*\", \"A: checked");
    assert!(load(&sent).is_ok());
    let never =
        format!("{ONLY_DECISIONS_FOR_A}never = [\"A -> HS: PUT /sendToDevice/m.secret.request/*\"]\n");
    assert!(load(&never).is_ok());
}

#[test]
fn a_channel_message_to_the_role_is_not_enough() {
    let received = ONLY_DECISIONS_FOR_A.replace("\"A: checked", "\"B -> A: m.login.*\", \"A: checked");
    assert!(load(&received).unwrap_err().contains("role A"));
}
