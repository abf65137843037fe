//! B's verification phase (docs/protocol.md §1.5 steps 16–19): A's device on the
//! homeserver within the bounded wait, its key compared with M7, A marked verified,
//! the cross-signature uploaded, then M8.

use protocol::cross_signing::{CrossSigningKeys, KeyUsage};
use protocol::keys::Ed25519Keypair;
use protocol::qr_login::Message;
use rand::RngCore;
use serde_json::{json, Value};

use super::{ExistingDevice, Reply, State};
use crate::api::json_object;
use crate::events::{Abort, Decision, Outcome};
use crate::io::{HttpResult, Step};
use crate::olm::secrets::SecretName;
use crate::qr_login::checks;

impl ExistingDevice {
    pub(super) fn query_step(&mut self) -> Step {
        match self.session() {
            Some(s) => Step::Http(s.query_own_keys()),
            None => self.flow.hs_fail("keys/query", "no session"),
        }
    }

    /// Steps 16–17 on a `/keys/query` answer.
    pub(super) fn on_device_query(
        &mut self,
        now: u64,
        result: HttpResult,
        device_id: String,
        device_key: String,
        since: u64,
    ) -> Step {
        let user = self.session().map(|s| s.user_id.clone()).unwrap_or_default();
        let body = match json_object(result) {
            Ok(body) => body,
            Err(e) => return self.flow.hs_fail("POST /keys/query", e),
        };
        match checks::visible_device(&body, &user, &device_id) {
            Err(reason) => self.flow.security_abort(reason),
            Ok(None) => {
                let waited = now.saturating_sub(since);
                if waited >= self.config.device_wait_ms {
                    return self
                        .flow
                        .security_abort(Abort::DeviceNotVisible { device_id, waited_ms: waited });
                }
                self.state = State::QueryDevice { device_id, device_key, since };
                Step::Sleep { ms: self.flow.poll_ms }
            }
            Ok(Some(keys)) => {
                if !self.config.knobs.skip_device_key_check {
                    let checked = checks::check_new_device_key(&keys, &device_key);
                    self.flow.decide(Decision::CheckedDeviceKey {
                        device_id: device_id.clone(),
                        matched: checked.is_ok(),
                    });
                    if let Err(reason) = checked {
                        return self.flow.security_abort(reason);
                    }
                }
                self.flow.decide(Decision::MarkedVerified { device_id: device_id.clone() });
                self.verified.insert(device_id.clone());
                self.new_device = Some(keys);
                self.cross_sign(device_id)
            }
        }
    }

    /// Step 18b.
    pub(super) fn cross_sign(&mut self, device_id: String) -> Step {
        let (Some(me), Some(keys)) = (self.me.as_ref(), self.new_device.as_ref()) else {
            return self.send_verified();
        };
        let Some(cs) = me.cross_signing.as_ref() else { return self.send_verified() };
        let mut object = keys.raw.clone();
        if let Some(o) = object.as_object_mut() {
            o.remove("unsigned");
        }
        let signer = if self.config.knobs.sign_with_wrong_key {
            let mut seed = [0u8; 32];
            self.flow.rng.fill_bytes(&mut seed);
            let wrong = Ed25519Keypair::from_seed(&seed);
            CrossSigningKeys {
                master: cs.master.clone(),
                self_signing: wrong,
                user_signing: cs.user_signing.clone(),
            }
        } else {
            cs.clone()
        };
        if signer.sign_device(&me.session.user_id, &mut object).is_err() {
            return self.flow.hs_fail("signatures", "cannot sign device keys");
        }
        let body = json!({&me.session.user_id: {&device_id: object}});
        let request = me.session.send("POST", "/_matrix/client/v3/keys/signatures/upload", &body);
        self.state = State::SignatureUpload { device_id };
        Step::Http(request)
    }

    /// Step 18b answered: a rejected signature is reported, and step 19 follows
    /// either way (18a holds).
    pub(super) fn on_signature_uploaded(&mut self, result: HttpResult, device_id: String) -> Step {
        let failure = match json_object(result) {
            Ok(body) => body
                .get("failures")
                .filter(|f| f.as_object().is_none_or(|f| !f.is_empty()))
                .map(Value::to_string),
            Err(e) => Some(e.to_string()),
        };
        let decision = match failure {
            None => Decision::CrossSigned { device_id },
            Some(detail) => Decision::CrossSigningRejected { device_id, detail },
        };
        self.flow.decide(decision);
        self.send_verified()
    }

    /// Step 19.
    pub(super) fn send_verified(&mut self) -> Step {
        let Some(me) = self.me.as_ref() else { return self.flow.hs_fail("verified", "no session") };
        let knobs = &self.config.knobs;
        let mut key = me.olm.as_ref().map(|o| o.ed25519_key().to_base64()).unwrap_or_default();
        if knobs.lie_verifying_device_key {
            key = protocol::base64::encode([7u8; 32]);
        }
        let mut id = me.session.device_id.clone();
        if knobs.lie_verifying_device_id {
            id = format!("{id}X");
        }
        let mut master_key = me.cross_signing.as_ref().map(|cs| cs.public_key(KeyUsage::Master).to_base64());
        if knobs.lie_master_key {
            master_key = Some(protocol::base64::encode([9u8; 32]));
        }
        if knobs.omit_master_key {
            master_key = None;
        }
        if knobs.announce_self_signing_key_as_master {
            master_key = me.cross_signing.as_ref().map(|cs| cs.public_key(KeyUsage::SelfSigning).to_base64());
        }
        let message = Message::Verified { verifying_device_id: id, verifying_device_key: key, master_key };
        self.send(State::SendingVerified, &message)
    }

    /// M8 written: serve A's secret requests (nothing to serve without E2EE).
    pub(super) fn on_verified_sent(&mut self, now: u64, result: HttpResult) -> Step {
        if let Some(step) = self.flow.after_send(result) {
            return step;
        }
        self.quiet_since = now;
        if self.config.knobs.send_unsolicited_secret {
            if let Some(device) = self.new_device.as_ref().map(|d| d.device_id.clone()) {
                let request_id = format!("unsolicited-{}", self.flow.rng.next_u32());
                self.queue.push_back(Reply {
                    name: SecretName::CrossSigningMaster,
                    request_id,
                    device_id: device,
                });
            }
        }
        if self.me.as_ref().is_some_and(|m| m.olm.is_none()) {
            return self.flow.finish(Outcome::Verified);
        }
        self.serve(now)
    }
}
