//! User-interactive authentication (docs/protocol.md §8.1), shared by `/register`,
//! `/login/get_token` and `/keys/device_signing/upload`.

use serde_json::{json, Map, Value};

use crate::context::Ctx;
use crate::state::UiaSession;
use crate::MatrixError;

/// Whose password `m.login.password` must match.
pub(crate) enum PasswordOf<'a> {
    /// No password stage is possible (registration).
    Nobody,
    /// The given user (the caller of an authenticated endpoint).
    User(&'a str),
}

/// Runs one round of UIA for the current request.
///
/// `flows` are the acceptable flows. On success the session is closed and the merged
/// request parameters are returned (this round's body over the stored ones, without
/// `auth`). Otherwise the 401 challenge or the stage's error is returned.
pub(crate) fn authenticate(
    ctx: &mut Ctx<'_>,
    body: &Map<String, Value>,
    flows: &[&[&str]],
    password_of: PasswordOf<'_>,
) -> Result<Map<String, Value>, MatrixError> {
    let operation = format!("{} {}", ctx.req.method, ctx.req.path);
    let flows: Vec<Vec<String>> = flows.iter().map(|f| f.iter().map(|s| (*s).to_owned()).collect()).collect();
    let mut params = body.clone();
    params.remove("auth");

    let auth = match body.get("auth") {
        None | Some(Value::Null) => None,
        Some(Value::Object(auth)) => Some(auth.clone()),
        Some(_) => return Err(MatrixError::bad_json("`auth` must be an object")),
    };
    let session_id = match auth.as_ref().and_then(|a| a.get("session")) {
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => return Err(MatrixError::bad_json("`auth.session` must be a string")),
        None => None,
    };

    let session_id = match session_id {
        Some(id) => {
            let session = ctx
                .state
                .uia_sessions
                .get(&id)
                .ok_or_else(|| MatrixError::new(400, "M_UNKNOWN", format!("Unknown session ID: {id}")))?;
            if session.operation != operation {
                return Err(MatrixError::forbidden(
                    "Requested operation has changed during the UI authentication session.",
                ));
            }
            id
        }
        None => {
            let id = ctx.state.random_string(24);
            ctx.state.uia_sessions.insert(
                id.clone(),
                UiaSession { operation, flows: flows.clone(), completed: Vec::new(), params: Map::new() },
            );
            id
        }
    };

    // Remember this round's parameters (a later round may omit them).
    if let Some(session) = ctx.state.uia_sessions.get_mut(&session_id) {
        for (key, value) in params {
            session.params.insert(key, value);
        }
    }

    let Some(auth) = auth else {
        // Synapse's first challenge carries no `completed`; later rounds do.
        let mut first = challenge(ctx, &session_id, None);
        first.extra.remove("completed");
        return Err(first);
    };
    let Some(stage) = auth.get("type").and_then(Value::as_str).map(str::to_owned) else {
        // `{"session": ...}` alone: a fallback completion or a status query.
        return finish_or_challenge(ctx, &session_id);
    };

    let session = &ctx.state.uia_sessions[&session_id];
    let allowed = session
        .flows
        .iter()
        .any(|flow| flow.contains(&stage) && session.completed.iter().all(|c| flow.contains(c)));
    if !allowed || session.completed.contains(&stage) {
        let error = MatrixError::new(401, "M_FORBIDDEN", format!("Stage `{stage}` is not expected now"));
        return Err(challenge(ctx, &session_id, Some(error)));
    }

    let stage_result = check_stage(ctx, &stage, &auth, &password_of);
    if let Err(error) = stage_result {
        return Err(challenge(ctx, &session_id, Some(error)));
    }
    if let Some(session) = ctx.state.uia_sessions.get_mut(&session_id) {
        session.completed.push(stage);
    }
    finish_or_challenge(ctx, &session_id)
}

fn check_stage(
    ctx: &mut Ctx<'_>,
    stage: &str,
    auth: &Map<String, Value>,
    password_of: &PasswordOf<'_>,
) -> Result<(), MatrixError> {
    match stage {
        "m.login.dummy" => Ok(()),
        "m.login.registration_token" => {
            // Synapse raises these as `LoginError`s, so they come back inside the 401
            // challenge body rather than as plain 400s.
            let given = match auth.get("token") {
                None => return Err(MatrixError::new(401, "M_MISSING_PARAM", "Missing registration token")),
                Some(Value::String(token)) => token,
                Some(_) => {
                    return Err(MatrixError::new(
                        401,
                        "M_INVALID_PARAM",
                        "Registration token must be a string",
                    ));
                }
            };
            match &ctx.state.profile.registration_token {
                Some(expected) if expected == given => Ok(()),
                _ => Err(MatrixError::new(401, "M_UNAUTHORIZED", "Invalid registration token")),
            }
        }
        "m.login.password" => {
            let invalid = || MatrixError::new(401, "M_FORBIDDEN", "Invalid username or password");
            let PasswordOf::User(expected_user) = password_of else {
                return Err(invalid());
            };
            let identifier = auth.get("identifier").and_then(Value::as_object);
            let user = match identifier {
                Some(id) if id.get("type").and_then(Value::as_str) == Some("m.id.user") => {
                    id.get("user").and_then(Value::as_str)
                }
                Some(_) => return Err(MatrixError::new(400, "M_UNKNOWN", "Unknown login identifier type")),
                // The deprecated top-level `user` field.
                None => auth.get("user").and_then(Value::as_str),
            };
            let Some(user) = user else {
                return Err(MatrixError::missing_param("Missing `identifier.user`"));
            };
            let user_id = if user.starts_with('@') {
                user.to_owned()
            } else {
                ctx.state.user_id_for(&user.to_lowercase())
            };
            let password = auth.get("password").and_then(Value::as_str);
            let stored = ctx.state.users.get(&user_id).and_then(|u| u.password.clone());
            if user_id == *expected_user && password.is_some() && stored.as_deref() == password {
                Ok(())
            } else {
                Err(invalid())
            }
        }
        other => Err(MatrixError::new(400, "M_UNRECOGNIZED", format!("Unrecognised login type `{other}`"))),
    }
}

fn finish_or_challenge(ctx: &mut Ctx<'_>, session_id: &str) -> Result<Map<String, Value>, MatrixError> {
    let session = &ctx.state.uia_sessions[session_id];
    let done = session.flows.iter().any(|flow| flow.iter().all(|stage| session.completed.contains(stage)));
    if done {
        let session = ctx.state.uia_sessions.remove(session_id).map(|s| s.params).unwrap_or_default();
        Ok(session)
    } else {
        Err(challenge(ctx, session_id, None))
    }
}

/// The 401 body: `{session, flows, params, completed}` plus an optional stage error.
fn challenge(ctx: &Ctx<'_>, session_id: &str, error: Option<MatrixError>) -> MatrixError {
    let session = &ctx.state.uia_sessions[session_id];
    let flows: Vec<Value> = session.flows.iter().map(|stages| json!({ "stages": stages })).collect();
    let mut challenge = match error {
        Some(error) if error.status == 401 => error,
        Some(error) => return error,
        None => MatrixError::new(401, "", ""),
    };
    challenge = challenge
        .with("session", json!(session_id))
        .with("flows", json!(flows))
        .with("params", json!({}))
        .with("completed", json!(session.completed));
    challenge
}

/// The parameters stored with the session that `body.auth.session` names, checked as
/// [`authenticate`] checks it (unknown session, changed operation, malformed `auth`),
/// without changing anything. `Ok(None)` when the body names no session.
///
/// `/register` uses it to learn a username sent in an earlier round before it runs
/// its own checks, which must leave the session untouched.
pub(crate) fn named_session(
    ctx: &Ctx<'_>,
    body: &Map<String, Value>,
) -> Result<Option<Map<String, Value>>, MatrixError> {
    let auth = match body.get("auth") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(auth)) => auth,
        Some(_) => return Err(MatrixError::bad_json("`auth` must be an object")),
    };
    let id = match auth.get("session") {
        None => return Ok(None),
        Some(Value::String(id)) => id,
        Some(_) => return Err(MatrixError::bad_json("`auth.session` must be a string")),
    };
    let session = ctx
        .state
        .uia_sessions
        .get(id)
        .ok_or_else(|| MatrixError::new(400, "M_UNKNOWN", format!("Unknown session ID: {id}")))?;
    if session.operation != format!("{} {}", ctx.req.method, ctx.req.path) {
        return Err(MatrixError::forbidden(
            "Requested operation has changed during the UI authentication session.",
        ));
    }
    Ok(Some(session.params.clone()))
}
