//! Choosing the next UIA stage from a 401 challenge (docs/protocol.md §8.1).

use serde_json::Value;

/// The stage to complete next: the first flow made only of stages in `doable` that
/// is consistent with `completed` gives its first stage not yet completed.
///
/// Errors describe why no stage can be chosen (the text goes into an abort).
pub(super) fn next_stage(challenge: &Value, doable: &[&str]) -> Result<String, String> {
    let flows = challenge
        .get("flows")
        .and_then(Value::as_array)
        .ok_or_else(|| "UIA challenge without a `flows` array".to_owned())?;
    let completed: Vec<&str> = challenge
        .get("completed")
        .and_then(Value::as_array)
        .map(|c| c.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for flow in flows {
        let Some(stages) = flow.get("stages").and_then(Value::as_array) else {
            continue;
        };
        let Some(stages) = stages.iter().map(Value::as_str).collect::<Option<Vec<&str>>>() else {
            continue;
        };
        if stages.is_empty()
            || !stages.iter().all(|s| doable.contains(s))
            || !completed.iter().all(|c| stages.contains(c))
        {
            continue;
        }
        return match stages.iter().find(|s| !completed.contains(s)) {
            Some(stage) => Ok((*stage).to_owned()),
            None => Err(format!("every stage of {stages:?} is completed, yet the server still asks")),
        };
    }
    Err(format!("no UIA flow made only of {doable:?}: {}", serde_json::to_string(flows).unwrap_or_default()))
}

/// The session ID of a challenge.
pub(super) fn session(challenge: &Value) -> Option<String> {
    challenge.get("session").and_then(Value::as_str).map(str::to_owned)
}

/// The `errcode` of a challenge that reports a failed stage.
pub(super) fn stage_error(challenge: &Value) -> Option<String> {
    challenge.get("errcode").and_then(Value::as_str).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DOABLE: &[&str] = &["m.login.dummy", "m.login.registration_token"];

    #[test]
    fn picks_the_first_doable_flow() {
        let c = json!({"flows": [{"stages": ["m.login.recaptcha"]}, {"stages": ["m.login.dummy"]}]});
        assert_eq!(next_stage(&c, DOABLE), Ok("m.login.dummy".to_owned()));
    }

    #[test]
    fn follows_completed_stages() {
        let c = json!({"flows": [{"stages": ["m.login.registration_token", "m.login.dummy"]}],
                       "completed": ["m.login.registration_token"]});
        assert_eq!(next_stage(&c, DOABLE), Ok("m.login.dummy".to_owned()));
        let done = json!({"flows": [{"stages": ["m.login.dummy"]}], "completed": ["m.login.dummy"]});
        assert!(next_stage(&done, DOABLE).is_err());
    }

    #[test]
    fn rejects_odd_challenges() {
        assert!(next_stage(&json!({}), DOABLE).is_err());
        assert!(next_stage(&json!({"flows": "x"}), DOABLE).is_err());
        assert!(next_stage(&json!({"flows": [{"stages": [1]}, {}]}), DOABLE).is_err());
        assert!(next_stage(&json!({"flows": [{"stages": []}]}), DOABLE).is_err());
        assert!(next_stage(&json!({"flows": [{"stages": ["m.login.password"]}]}), DOABLE).is_err());
    }
}
