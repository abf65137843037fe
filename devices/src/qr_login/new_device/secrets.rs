//! A's secrets phase (docs/protocol.md §1.5 step 23, §6): the requests to B, the `/sync`
//! loop, the acceptance rules of §6.2 in order, and the cancellations of rule 9.

use protocol::keys::{Curve25519PublicKey, Ed25519PublicKey};
use rand::RngCore;
use serde_json::{json, Value};

use super::{NewDevice, State};
use crate::api::json_object;
use crate::events::{Abort, Decision, Outcome};
use crate::io::{HttpResult, Step};
use crate::olm::secrets::{
    cancellation_content, check_backup_secret, check_cross_signing_secret, parse_secret_send,
    request_content, SecretName,
};
use crate::olm::{check_sender_keys, to_device_body};
use crate::qr_login::checks;

impl NewDevice {
    /// The backup version (its `auth_data.public_key` checks the backup secret), then
    /// step 23.
    pub(super) fn on_backup_version(&mut self, now: u64, result: HttpResult) -> Step {
        self.backup_public = json_object(result).ok().and_then(|body| {
            body.pointer("/auth_data/public_key").and_then(Value::as_str).map(str::to_owned)
        });
        self.request_secrets(now)
    }

    /// A to-device send answered: the next one, or `/sync`.
    pub(super) fn on_outbox_sent(&mut self, now: u64, result: HttpResult) -> Step {
        if let Err(e) = json_object(result) {
            return self.flow.hs_fail("PUT /sendToDevice", e);
        }
        self.next_outbox(now)
    }

    /// Step 23: one `m.secret.request` per secret B can have, addressed to B.
    pub(super) fn request_secrets(&mut self, now: u64) -> Step {
        let (Some(session), Some(target)) = (self.session.clone(), self.verifying_device.clone()) else {
            return self.flow.hs_fail("sendToDevice", "no session");
        };
        for name in SecretName::ALL {
            let available = match name {
                SecretName::MegolmBackupV1 => self.backup_public.is_some(),
                cross_signing => self.trusted.contains_key(&cross_signing),
            };
            if !available {
                continue;
            }
            let request_id = format!("req-{}", self.flow.rng.next_u64());
            let content = request_content(name, &session.device_id, &request_id);
            let body = to_device_body(&session.user_id, &target, content);
            let txn = format!("a{}", self.flow.rng.next_u64());
            self.outbox.push_back(session.send(
                "PUT",
                &format!("/_matrix/client/v3/sendToDevice/m.secret.request/{txn}"),
                &body,
            ));
            self.outstanding.insert(request_id, name);
            self.flow.decide(Decision::RequestedSecret { name: name.as_str().to_owned() });
        }
        self.flow.deadline = now.saturating_add(self.config.timeout_ms);
        self.next_outbox(now)
    }

    pub(super) fn next_outbox(&mut self, now: u64) -> Step {
        if let Some(request) = self.outbox.pop_front() {
            self.state = State::Outbox;
            return Step::Http(request);
        }
        if self.outstanding.is_empty() {
            return self.flow.finish(Outcome::Verified);
        }
        if now >= self.flow.deadline {
            return self.flow.fail(Abort::Timeout { what: "the requested secrets".into() });
        }
        self.state = State::Syncing;
        match self.session.as_ref() {
            Some(s) => Step::Http(s.sync(self.since.as_deref())),
            None => self.flow.hs_fail("sync", "no session"),
        }
    }

    pub(super) fn on_sync(&mut self, now: u64, result: HttpResult) -> Step {
        let body = match json_object(result) {
            Ok(body) => body,
            Err(e) => return self.flow.hs_fail("GET /sync", e),
        };
        if let Some(next) = body.get("next_batch").and_then(Value::as_str) {
            self.since = Some(next.to_owned());
        }
        let events = body.pointer("/to_device/events").and_then(Value::as_array).cloned().unwrap_or_default();
        let received = !events.is_empty();
        for event in events {
            match event.get("type").and_then(Value::as_str) {
                Some("m.secret.send") => {
                    let request_id = event.pointer("/content/request_id").and_then(Value::as_str);
                    let name = request_id.and_then(|id| self.outstanding.get(id)).copied();
                    self.ignore_secret(name, "not Olm-encrypted".into());
                }
                Some("m.room.encrypted") => self.on_encrypted(&event),
                _ => {}
            }
        }
        if !self.outbox.is_empty() || self.outstanding.is_empty() {
            return self.next_outbox(now);
        }
        if now >= self.flow.deadline {
            return self.flow.fail(Abort::Timeout { what: "the requested secrets".into() });
        }
        if received {
            return self.next_outbox(now);
        }
        Step::Sleep { ms: self.flow.poll_ms }
    }

    pub(super) fn ignore_secret(&mut self, name: Option<SecretName>, reason: String) {
        let name = name.map_or("?".to_owned(), |n| n.as_str().to_owned());
        self.flow.decide(Decision::IgnoredSecret { name, reason });
    }

    /// The ID and Ed25519 key of the own device whose Curve25519 key is `curve25519`,
    /// by the homeserver's (validly self-signed) device keys.
    pub(super) fn own_device_with(
        &self,
        curve25519: &Curve25519PublicKey,
    ) -> Option<(String, Ed25519PublicKey)> {
        let user = &self.session.as_ref()?.user_id;
        let devices = self.own_keys.get("device_keys")?.get(user)?.as_object()?;
        devices.keys().find_map(|id| match checks::visible_device(&self.own_keys, user, id) {
            Ok(Some(keys)) if keys.curve25519 == *curve25519 => Some((keys.device_id, keys.ed25519)),
            _ => None,
        })
    }

    /// §6.2: the acceptance rules, in order; a failure drops the event.
    pub(super) fn on_encrypted(&mut self, event: &Value) {
        let sender = event.get("sender").and_then(Value::as_str).unwrap_or("");
        let content = event.get("content").cloned().unwrap_or(Value::Null);
        let user = self.session.as_ref().map(|s| s.user_id.clone()).unwrap_or_default();
        let Some(olm) = self.olm.as_mut() else { return };
        // Rules 1 and 2 (sender, recipient, recipient_keys).
        let decrypted = match olm.decrypt_to_device(sender, &content) {
            Ok(decrypted) => decrypted,
            Err(e) => return self.ignore_secret(None, e.to_string()),
        };
        let request_id = decrypted.content.get("request_id").and_then(Value::as_str);
        let name = request_id.and_then(|id| self.outstanding.get(id)).copied();
        // Rule 2: keys.ed25519 is the key of the device that owns sender_key.
        let Some((device_id, ed25519)) = self.own_device_with(&decrypted.sender_key) else {
            let reason = "sender key does not belong to a known device of this user";
            return self.ignore_secret(name, reason.into());
        };
        if let Err(e) = check_sender_keys(&decrypted, &ed25519) {
            return self.ignore_secret(name, e.to_string());
        }
        // Rule 3.
        if decrypted.event_type != "m.secret.send" {
            return self.ignore_secret(name, format!("not an m.secret.send but {}", decrypted.event_type));
        }
        let send = match parse_secret_send(&decrypted.content) {
            Ok(send) => send,
            Err(e) => return self.ignore_secret(name, format!("not an m.secret.send: {e}")),
        };
        // Rule 4.
        if decrypted.sender != user {
            return self.ignore_secret(name, "sender is another user".into());
        }
        // Rule 5.
        let Some(name) = self.outstanding.get(&send.request_id).copied() else {
            return self.ignore_secret(None, "no outstanding request with this request_id".into());
        };
        // Rules 6 and 7: the only device asked is B, and it is verified (step 22).
        if Some(&device_id) != self.verifying_device.as_ref() {
            return self.ignore_secret(Some(name), "sending device was not asked".into());
        }
        // Rule 8.
        if let Err(reason) = self.check_value(name, &send.secret) {
            let reason = format!("value does not match the published public key: {reason}");
            return self.ignore_secret(Some(name), reason);
        }
        // Rule 9.
        self.outstanding.remove(&send.request_id);
        self.secrets.insert(name.as_str().to_owned(), send.secret);
        self.flow.decide(Decision::AcceptedSecret { name: name.as_str().to_owned() });
        self.queue_cancellations(&send.request_id);
    }

    /// Rule 8: the secret derives the public key trusted for it.
    pub(super) fn check_value(&self, name: SecretName, secret: &str) -> Result<(), String> {
        match name {
            SecretName::MegolmBackupV1 => {
                let public = self.backup_public.as_deref().ok_or("no backup version")?;
                check_backup_secret(secret, public).map_err(|e| e.to_string())
            }
            cross_signing => {
                let public = self.trusted.get(&cross_signing).ok_or("no trusted public key")?;
                check_cross_signing_secret(secret, public).map_err(|e| e.to_string())
            }
        }
    }

    /// §6.2 rule 9: cancel the request at every other own device that could answer.
    pub(super) fn queue_cancellations(&mut self, request_id: &str) {
        let Some(session) = self.session.clone() else { return };
        let others: Vec<String> = self
            .own_keys
            .pointer(&format!("/device_keys/{}", session.user_id.replace('~', "~0").replace('/', "~1")))
            .and_then(Value::as_object)
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_default();
        let content = cancellation_content(&session.device_id, request_id);
        let mut messages = serde_json::Map::new();
        for device in others {
            if device != session.device_id && Some(&device) != self.verifying_device.as_ref() {
                messages.insert(device, content.clone());
            }
        }
        if messages.is_empty() {
            return;
        }
        let txn = format!("a{}", self.flow.rng.next_u64());
        let body = json!({"messages": {&session.user_id: messages}});
        self.outbox.push_back(session.send(
            "PUT",
            &format!("/_matrix/client/v3/sendToDevice/m.secret.request/{txn}"),
            &body,
        ));
    }
}
