//! B's secrets phase (docs/protocol.md §6.3): `/sync` for A's `m.secret.request`s, the
//! rules for answering, an Olm session from a claimed one-time key, and the
//! encrypted `m.secret.send`. Between two `/sync`s B also reads the rendezvous: A
//! checks M8 only after B sent it (steps 20–22), so A's security error, or another
//! final message, arrives while B serves.

use rand::RngCore;
use serde_json::{json, Value};

use super::{ExistingDevice, Reply, State};
use crate::api::json_object;
use crate::events::{Decision, Outcome};
use crate::io::{HttpResult, Step};
use crate::olm::secrets::{
    encode_ed25519_seed, parse_secret_request, secret_send_content, SecretAction, SecretName,
};
use crate::olm::{to_device_body, RecipientDevice, ENCRYPTED_EVENT_TYPE, SIGNED_CURVE25519};
use crate::qr_login::link::Link;

impl ExistingDevice {
    pub(super) fn secret_value(&mut self, name: SecretName) -> Option<String> {
        let me = self.me.as_ref()?;
        let value = match name.key_usage() {
            None => me.backup_key.as_ref()?.to_secret(),
            Some(usage) => encode_ed25519_seed(&me.cross_signing.as_ref()?.keypair(usage).seed()),
        };
        if self.config.knobs.answer_secrets_wrong_value {
            let mut wrong = [0u8; 32];
            self.flow.rng.fill_bytes(&mut wrong);
            return Some(encode_ed25519_seed(&wrong));
        }
        Some(value)
    }

    pub(super) fn txn(&mut self) -> String {
        format!("b{}", self.flow.rng.next_u64())
    }

    /// Reads `/sync`: queues replies to secret requests of verified devices (§6.3).
    pub(super) fn on_sync(&mut self, now: u64, body: &Value) {
        if let Some(next) = body.get("next_batch").and_then(Value::as_str) {
            self.since = Some(next.to_owned());
        }
        let Some(me) = self.me.as_ref() else { return };
        let (user, own_device) = (me.session.user_id.clone(), me.session.device_id.clone());
        let events = body.pointer("/to_device/events").and_then(Value::as_array).cloned().unwrap_or_default();
        for event in events {
            if event.get("type").and_then(Value::as_str) != Some("m.secret.request") {
                continue;
            }
            let content = event.get("content").cloned().unwrap_or(Value::Null);
            let request = match parse_secret_request(&content) {
                Ok(request) => request,
                Err(e) => {
                    let device = content.get("requesting_device_id").and_then(Value::as_str);
                    self.flow.decide(Decision::RefusedSecretRequest {
                        name: content.get("name").and_then(Value::as_str).unwrap_or("?").to_owned(),
                        device_id: device.unwrap_or("?").to_owned(),
                        reason: format!("malformed request: {e}"),
                    });
                    continue;
                }
            };
            let device = request.requesting_device_id.clone();
            if device == own_device {
                continue;
            }
            self.quiet_since = now;
            if request.action == SecretAction::RequestCancellation {
                self.queue.retain(|r| !(r.request_id == request.request_id && r.device_id == device));
                continue;
            }
            let refuse = |reason: &str| Decision::RefusedSecretRequest {
                name: request.name.clone().unwrap_or_else(|| "?".into()),
                device_id: device.clone(),
                reason: reason.to_owned(),
            };
            let sender = event.get("sender").and_then(Value::as_str).unwrap_or("");
            let name = request.secret_name();
            if sender != user {
                self.flow.decide(refuse("request from another user"));
            } else if !self.verified.contains(&device) {
                self.flow.decide(refuse("requesting device is not verified"));
            } else if let Some(name) = name.filter(|n| self.secret_value(*n).is_some()) {
                self.queue.push_back(Reply { name, request_id: request.request_id, device_id: device });
            } else {
                self.flow.decide(refuse("secret not held"));
            }
        }
    }

    /// A pause in serving is over: read the rendezvous for a last message of A (as
    /// long as it can be read), then `/sync` for A's secret requests.
    pub(super) fn serving_poll(&mut self) -> Step {
        if self.rendezvous_open {
            if let Some(request) = self.flow.link.as_ref().and_then(Link::poll_request) {
                self.state = State::ReadingRendezvous;
                return Step::Http(request);
            }
        }
        self.sync_step()
    }

    fn sync_step(&mut self) -> Step {
        self.state = State::Serving;
        let since = self.since.clone();
        match self.session() {
            Some(s) => Step::Http(s.sync(since.as_deref())),
            None => self.flow.hs_fail("sync", "no session"),
        }
    }

    /// The rendezvous read while serving. A final message of A (its security error
    /// after checking M8, a cancel) ends B as it ends every wait: with the peer's
    /// ending, deleting the rendezvous as the last reader ([`crate::qr_login::Flow::terminal`]).
    /// Nothing new, or any other message, leaves B serving; so does a rendezvous
    /// that is gone or unreadable, which B then stops reading.
    pub(super) fn on_served_poll(&mut self, result: HttpResult) -> Step {
        match self.flow.on_side_poll(result) {
            Ok(Some(message)) => {
                if let Some(step) = self.flow.terminal(&message) {
                    return step;
                }
            }
            Ok(None) => {}
            Err(_) => self.rendezvous_open = false,
        }
        self.sync_step()
    }

    /// A `/sync` answer: queue the replies, then serve.
    pub(super) fn on_synced(&mut self, now: u64, result: HttpResult) -> Step {
        match json_object(result) {
            Ok(body) => self.on_sync(now, &body),
            Err(e) => return self.flow.hs_fail("GET /sync", e),
        }
        self.serve(now)
    }

    /// The new device as an Olm recipient, if `device_id` is it.
    pub(super) fn recipient(&self, device_id: &str) -> Option<RecipientDevice> {
        self.new_device.as_ref().filter(|d| d.device_id == device_id).map(RecipientDevice::from_device_keys)
    }

    /// The recipient and the secret for the queued `reply`, or `None` after dropping
    /// the reply when it cannot be served (not for the new device, or a secret B lacks).
    fn servable(&mut self, reply: &Reply) -> Option<(RecipientDevice, String)> {
        let Some(target) = self.recipient(&reply.device_id) else {
            self.queue.pop_front();
            return None;
        };
        let Some(secret) = self.secret_value(reply.name) else {
            self.queue.pop_front();
            return None;
        };
        Some((target, secret))
    }

    /// Serves the next queued reply, or syncs again, or ends after the quiet period.
    pub(super) fn serve(&mut self, now: u64) -> Step {
        let Some(reply) = self.queue.front().cloned() else {
            if now.saturating_sub(self.quiet_since) >= self.config.quiet_ms {
                return self.flow.finish(Outcome::Verified);
            }
            self.state = State::Serving;
            return Step::Sleep { ms: self.flow.poll_ms };
        };
        let Some((target, secret)) = self.servable(&reply) else { return self.serve(now) };
        let content = secret_send_content(&reply.request_id, &secret);
        let txn = self.txn();
        let Some(me) = self.me.as_mut() else { return self.flow.hs_fail("sendToDevice", "no session") };
        let user = me.session.user_id.clone();
        if self.config.knobs.answer_secrets_unencrypted {
            let body = to_device_body(&user, &reply.device_id, content);
            self.state = State::SendingSecret;
            return Step::Http(me.session.send(
                "PUT",
                &format!("/_matrix/client/v3/sendToDevice/m.secret.send/{txn}"),
                &body,
            ));
        }
        let Some(olm) = me.olm.as_ref() else { return self.flow.hs_fail("sendToDevice", "no Olm identity") };
        if !olm.has_session_with(&target.curve25519) {
            let body = json!({"one_time_keys": {&user: {&reply.device_id: SIGNED_CURVE25519}}});
            self.state = State::Claiming;
            return Step::Http(me.session.send("POST", "/_matrix/client/v3/keys/claim", &body));
        }
        self.send_encrypted(now, &reply, &target, None, content, &txn)
    }

    /// Encrypts the reply (opening a session with `claimed`, if given) and sends it.
    pub(super) fn send_encrypted(
        &mut self,
        now: u64,
        reply: &Reply,
        target: &RecipientDevice,
        claimed: Option<&Value>,
        content: Value,
        txn: &str,
    ) -> Step {
        let Some(me) = self.me.as_mut() else { return self.flow.hs_fail("sendToDevice", "no session") };
        let Some(olm) = me.olm.as_mut() else { return self.flow.hs_fail("sendToDevice", "no Olm identity") };
        match olm.encrypt_to_device(target, claimed, "m.secret.send", content) {
            Ok(encrypted) => {
                let body = to_device_body(&me.session.user_id, &reply.device_id, encrypted);
                let path = format!("/_matrix/client/v3/sendToDevice/{ENCRYPTED_EVENT_TYPE}/{txn}");
                self.state = State::SendingSecret;
                Step::Http(me.session.send("PUT", &path, &body))
            }
            Err(e) => {
                self.queue.pop_front();
                self.flow.decide(Decision::RefusedSecretRequest {
                    name: reply.name.as_str().to_owned(),
                    device_id: reply.device_id.clone(),
                    reason: format!("cannot encrypt for the device: {e}"),
                });
                self.serve(now)
            }
        }
    }

    /// §6.3: the claimed one-time key opens the session (its signature by the
    /// device's Ed25519 key is checked while opening it).
    pub(super) fn on_claimed(&mut self, now: u64, result: HttpResult) -> Step {
        let Some(reply) = self.queue.front().cloned() else { return self.serve(now) };
        let Some((target, secret)) = self.servable(&reply) else { return self.serve(now) };
        let claimed = json_object(result).ok().and_then(|body| {
            let pointer = format!(
                "/one_time_keys/{}/{}",
                pointer_escape(&target.user_id),
                pointer_escape(&reply.device_id)
            );
            body.pointer(&pointer).cloned()
        });
        let Some(claimed) = claimed else {
            self.queue.pop_front();
            self.flow.decide(Decision::RefusedSecretRequest {
                name: reply.name.as_str().to_owned(),
                device_id: reply.device_id,
                reason: "no one-time key to open an Olm session".into(),
            });
            return self.serve(now);
        };
        let content = secret_send_content(&reply.request_id, &secret);
        let txn = self.txn();
        self.send_encrypted(now, &reply, &target, Some(&claimed), content, &txn)
    }

    /// A secret send answered: the next reply.
    pub(super) fn on_secret_sent(&mut self, now: u64, result: HttpResult) -> Step {
        if let Some(reply) = self.queue.pop_front() {
            if json_object(result).is_ok() {
                self.flow.decide(Decision::SharedSecret {
                    name: reply.name.as_str().to_owned(),
                    device_id: reply.device_id,
                });
            }
        }
        self.quiet_since = now;
        self.serve(now)
    }
}

fn pointer_escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}
