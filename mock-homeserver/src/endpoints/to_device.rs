//! `PUT /_matrix/client/v3/sendToDevice/{eventType}/{txnId}` (docs/protocol.md §6.1, §6.5).
//!
//! * Idempotent per `(access token, event type, txn id)`: a repeat answers `200 {}`
//!   and delivers nothing again (whatever its body). The server remembers the last
//!   10,000 transactions (`transactions.rs`), so that its memory stays bounded.
//! * `*` as a device ID fans out to every device of that user; unknown users and
//!   devices are skipped silently, as Synapse does.
//! * Events reach the recipients' `/sync` as `{"type", "sender", "content"}`.
//! * Faults: [`Fault::DropToDevice`] accepts and never delivers; [`Fault::DelayToDevice`]
//!   parks the events in `State::delayed_to_device` until the server clock passes
//!   their due time (`/sync` of the recipient moves them into its inbox). Aimed
//!   (`seen_by`), they apply only to what that caller sends.

use serde_json::{json, Map, Value};

use super::route::{Auth, Route};
use crate::context::Ctx;
use crate::state::DelayedToDevice;
use crate::transactions::TxnKey;
use crate::{Fault, MatrixError, Response};

pub(crate) fn routes() -> Vec<Route> {
    vec![Route::new(
        "PUT",
        "/_matrix/client/v3/sendToDevice/{eventType}/{txnId}",
        Auth::Required,
        send_to_device,
    )]
}

/// The to-device event types the Matrix spec defines: its `m.` namespace, where a type
/// outside this list is one no client sends (a typo). Other namespaces are any
/// client's to use, and the endpoint accepts every type.
pub const SPEC_TO_DEVICE_EVENT_TYPES: &[&str] = &[
    "m.room.encrypted",
    "m.room_key",
    "m.room_key_request",
    "m.forwarded_room_key",
    "m.room_key.withheld",
    "m.dummy",
    "m.secret.request",
    "m.secret.send",
    "m.key.verification.request",
    "m.key.verification.ready",
    "m.key.verification.start",
    "m.key.verification.accept",
    "m.key.verification.key",
    "m.key.verification.mac",
    "m.key.verification.cancel",
    "m.key.verification.done",
];

/// What the faults make of a to-device message of one event type.
enum Disposition {
    Deliver,
    Twice,
    Drop,
    DelayUntil(u64),
}

fn send_to_device(ctx: &mut Ctx<'_>) -> Result<Response, MatrixError> {
    let caller = ctx.caller()?;
    let event_type = ctx.param(0).to_owned();
    let txn_id = ctx.param(1).to_owned();
    let token = ctx.req.access_token().unwrap_or_default();
    let txn = TxnKey::new(&token, &event_type, &txn_id);
    if ctx.state.to_device_txns.contains(&txn) {
        return Ok(Response::ok(json!({})));
    }

    let body = ctx.req.json_object()?;
    let messages = parse_messages(&body)?;
    ctx.state.to_device_txns.remember(txn);

    let disposition = disposition(ctx, &event_type);
    for (user_id, by_device) in messages {
        let (Some(user), Some(by_device)) = (ctx.state.users.get(user_id), by_device.as_object()) else {
            continue;
        };
        // Expand `*` and skip unknown devices; an explicit entry for a device wins
        // over the `*` content for that device.
        let mut targets: Vec<(String, &Value)> = Vec::new();
        if let Some(content) = by_device.get("*") {
            targets.extend(user.devices.keys().map(|d| (d.clone(), content)));
        }
        for (device_id, content) in by_device.iter().filter(|(d, _)| d.as_str() != "*") {
            if user.devices.contains_key(device_id) {
                targets.retain(|(d, _)| d != device_id);
                targets.push((device_id.clone(), content));
            }
        }
        for (device_id, content) in targets {
            let event = json!({ "type": event_type, "sender": caller.user_id, "content": content });
            match disposition {
                Disposition::Deliver => ctx.state.deliver_to_device(user_id, &device_id, event),
                Disposition::Twice => {
                    ctx.state.deliver_to_device(user_id, &device_id, event.clone());
                    ctx.state.deliver_to_device(user_id, &device_id, event);
                }
                Disposition::Drop => {}
                Disposition::DelayUntil(deliver_at_ms) => {
                    ctx.state.delayed_to_device.push(DelayedToDevice {
                        deliver_at_ms,
                        user_id: user_id.clone(),
                        device_id,
                        event,
                    });
                }
            }
        }
    }
    Ok(Response::ok(json!({})))
}

/// Checks the body shape: `{"messages": {user: {device or "*": {content}}}}`.
fn parse_messages(body: &Map<String, Value>) -> Result<&Map<String, Value>, MatrixError> {
    let messages = match body.get("messages") {
        None => return Err(MatrixError::missing_param("Missing params: ['messages']")),
        Some(Value::Object(messages)) => messages,
        Some(_) => return Err(MatrixError::bad_json("`messages` must be an object")),
    };
    for (user_id, by_device) in messages {
        let Value::Object(by_device) = by_device else {
            return Err(MatrixError::bad_json(format!("`messages.{user_id}` must be an object")));
        };
        for (device_id, content) in by_device {
            if !content.is_object() {
                return Err(MatrixError::bad_json(format!(
                    "`messages.{user_id}.{device_id}` must be an object"
                )));
            }
        }
    }
    Ok(messages)
}

/// Applies the to-device faults matching this event type: a drop wins over a delay,
/// and a delay over a duplication. Every matching fault fires (once per request).
fn disposition(ctx: &mut Ctx<'_>, event_type: &str) -> Disposition {
    let mut disposition = Disposition::Deliver;
    for i in 0..ctx.state.faults.len() {
        let fault = ctx.state.faults[i].fault.clone();
        let change = match &fault {
            Fault::DropToDevice { event_type: t, .. } if t == event_type => Disposition::Drop,
            Fault::DelayToDevice { event_type: t, delay_ms, .. } if t == event_type => {
                Disposition::DelayUntil(ctx.now_ms.saturating_add(*delay_ms))
            }
            Fault::DuplicateToDevice { event_type: t, .. } if t == event_type => Disposition::Twice,
            _ => continue,
        };
        if !fault.applies_to(ctx.caller.as_ref()) {
            continue;
        }
        if !ctx.state.faults[i].take() {
            continue;
        }
        ctx.fire(&fault);
        disposition = match (disposition, change) {
            (Disposition::Drop, _) | (_, Disposition::Drop) => Disposition::Drop,
            (Disposition::DelayUntil(at), _) | (_, Disposition::DelayUntil(at)) => {
                Disposition::DelayUntil(at)
            }
            _ => Disposition::Twice,
        };
    }
    disposition
}
