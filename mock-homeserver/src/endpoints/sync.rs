//! `GET /_matrix/client/v3/sync`: to-device events and device-list changes only
//! (docs/protocol.md §6.5). The mock has no rooms and no presence.
//!
//! * `next_batch` is `s<pos>`, the server's stream position. Events with a position
//!   after `since` are delivered; those at or before it are acknowledged and deleted,
//!   so a retry with the same `since` gets the same events again and a sync with the
//!   new `since` never repeats them (exactly once per acknowledged stream, as Synapse).
//! * An initial sync (no `since`) delivers every pending to-device event and reports
//!   no device-list changes.
//! * `timeout` (ms, capped by `Profile::max_sync_timeout_ms`): when an incremental
//!   sync has nothing to deliver, the handler asks the shell to long-poll by setting
//!   `Ctx::would_block`; the shell calls again when something arrives.
//! * `filter`, `full_state` and `set_presence` are accepted and ignored.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::route::{Auth, Route};
use crate::context::Ctx;
use crate::{MatrixError, Response};

pub(crate) fn routes() -> Vec<Route> {
    vec![Route::new("GET", "/_matrix/client/v3/sync", Auth::Required, sync)]
}

/// The one-time key algorithm whose count is always reported.
const SIGNED_CURVE25519: &str = "signed_curve25519";

fn sync(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let caller = ctx.caller()?;
    let since = match ctx.req.query_param("since") {
        None => None,
        Some(token) => Some(parse_since(&token, ctx.state.stream_pos)?),
    };
    let timeout_ms = match ctx.req.query_param("timeout") {
        None => 0,
        Some(value) => value
            .parse::<u64>()
            .map_err(|_| MatrixError::invalid_param("Query parameter \"timeout\" must be an integer"))?,
    }
    .min(ctx.state.profile.max_sync_timeout_ms);

    release_delayed(ctx, &caller.user_id, &caller.device_id);

    let next_batch = format!("s{}", ctx.state.stream_pos);
    let Some(device) =
        ctx.state.users.get_mut(&caller.user_id).and_then(|u| u.devices.get_mut(&caller.device_id))
    else {
        // A token whose device was deleted: nothing to report.
        return Ok(Response::ok(body(
            next_batch,
            Vec::new(),
            Vec::new(),
            json!({ SIGNED_CURVE25519: 0 }),
            Vec::new(),
        )));
    };

    if let Some(since) = since {
        device.inbox.retain(|(pos, _)| *pos > since);
        device.device_list_changes.retain(|(pos, _)| *pos > since);
    }
    let events: Vec<Value> = device.inbox.iter().map(|(_, event)| event.clone()).collect();
    let changed: Vec<String> = match since {
        Some(_) => {
            let users: BTreeSet<&String> = device.device_list_changes.iter().map(|(_, u)| u).collect();
            users.into_iter().cloned().collect()
        }
        None => Vec::new(),
    };

    let nothing_new = events.is_empty() && changed.is_empty();
    if since.is_some() && nothing_new && timeout_ms > 0 && ctx.allow_wait {
        ctx.would_block = Some(timeout_ms);
    }

    let mut counts = serde_json::Map::new();
    counts.insert(SIGNED_CURVE25519.to_owned(), json!(0));
    for key_id in device.one_time_keys.keys() {
        let algorithm = algorithm_of(key_id);
        let count = counts.get(algorithm).and_then(Value::as_u64).unwrap_or(0);
        counts.insert(algorithm.to_owned(), json!(count + 1));
    }
    let fallback_types: BTreeSet<&str> = device.fallback_keys.keys().map(|id| algorithm_of(id)).collect();
    let fallback_types = fallback_types.into_iter().map(str::to_owned).collect();

    Ok(Response::ok(body(next_batch, events, changed, Value::Object(counts), fallback_types)))
}

/// Parses `s<pos>`; a token from the future is as invalid as a malformed one.
fn parse_since(token: &str, stream_pos: u64) -> Result<u64, MatrixError> {
    token
        .strip_prefix('s')
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse::<u64>().ok())
        .filter(|pos| *pos <= stream_pos)
        .ok_or_else(|| MatrixError::invalid_param(format!("Invalid stream token: {token}")))
}

/// `signed_curve25519:AAAAAQ` -> `signed_curve25519`.
fn algorithm_of(key_id: &str) -> &str {
    key_id.split_once(':').map_or(key_id, |(algorithm, _)| algorithm)
}

/// Moves this device's delayed to-device events whose time has come into its inbox.
fn release_delayed(ctx: &mut Ctx<'_>, user_id: &str, device_id: &str) {
    let now = ctx.now_ms;
    let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut ctx.state.delayed_to_device)
        .into_iter()
        .partition(|d| d.user_id == user_id && d.device_id == device_id && d.deliver_at_ms <= now);
    ctx.state.delayed_to_device = waiting;
    for delayed in due {
        ctx.state.deliver_to_device(&delayed.user_id, &delayed.device_id, delayed.event);
    }
}

fn body(
    next_batch: String,
    events: Vec<Value>,
    changed: Vec<String>,
    counts: Value,
    fallback_types: Vec<String>,
) -> Value {
    json!({
        "next_batch": next_batch,
        "to_device": { "events": events },
        "device_lists": { "changed": changed, "left": [] },
        "device_one_time_keys_count": counts,
        "device_unused_fallback_key_types": fallback_types,
        "rooms": {},
        "account_data": { "events": [] },
        "presence": { "events": [] },
    })
}
