//! A's verification phase (docs/protocol.md §1.5 steps 20–22): its own keys from the
//! homeserver, then M8 checked against them, every check before any effect.

use std::collections::BTreeMap;

use protocol::cross_signing::KeyUsage;

use super::{NewDevice, State};
use crate::api::json_object;
use crate::events::{Decision, Outcome};
use crate::io::{HttpResult, Step};

use crate::olm::secrets::SecretName;
use crate::qr_login::checks;

impl NewDevice {
    /// M7 (or M7′) written: without E2EE the flow is over; otherwise query the own
    /// keys before waiting for M8 (as Element Android does).
    pub(super) fn on_success_sent(&mut self, result: HttpResult, e2ee: bool) -> Step {
        if let Some(step) = self.flow.after_send(result) {
            return step;
        }
        if !e2ee {
            return self.flow.finish(Outcome::Success);
        }
        self.state = State::QueryOwn;
        match self.session.as_ref() {
            Some(s) => Step::Http(s.query_own_keys()),
            None => self.flow.hs_fail("keys/query", "no session"),
        }
    }

    /// The own keys as the homeserver lists them: wait for M8.
    pub(super) fn on_own_keys(&mut self, now: u64, result: HttpResult) -> Step {
        match json_object(result) {
            Ok(body) => {
                self.own_keys = body;
                self.wait_channel(now, State::AwaitVerified, "the verified message")
            }
            Err(e) => self.flow.hs_fail("POST /keys/query", e),
        }
    }

    /// Steps 20, 21a (and the self-signing key's signature), 21b, 22, in this order.
    pub(super) fn on_verified(&mut self, now: u64, id: &str, key: &str, master_key: Option<&str>) -> Step {
        let user = self.session.as_ref().map(|s| s.user_id.clone()).unwrap_or_default();
        let query = self.own_keys.clone();
        if !self.config.knobs.skip_verifying_device_check {
            let checked = checks::check_verifying_device(&query, &user, id, key);
            self.flow
                .decide(Decision::CheckedDeviceKey { device_id: id.to_owned(), matched: checked.is_ok() });
            if let Err(reason) = checked {
                return self.flow.security_abort(reason);
            }
        }
        let mut trusted = BTreeMap::new();
        if let Some(claimed) = master_key {
            let master = if self.config.knobs.skip_master_key_check {
                checks::published_key(&query, &user, KeyUsage::Master).ok().flatten()
            } else {
                let checked = checks::check_master_key(&query, &user, claimed);
                self.flow.decide(Decision::CheckedMasterKey { matched: checked.is_ok() });
                match checked {
                    Ok(master) => Some(master),
                    Err(reason) => return self.flow.security_abort(reason),
                }
            };
            if let Some(master) = master {
                for usage in [KeyUsage::SelfSigning, KeyUsage::UserSigning] {
                    match checks::check_signed_by_master(&query, &user, usage, &master) {
                        Ok(Some(public)) => {
                            trusted.insert(SecretName::for_usage(usage), public);
                        }
                        Ok(None) => {}
                        Err(reason) => return self.flow.security_abort(reason),
                    }
                }
                trusted.insert(SecretName::CrossSigningMaster, master.public_key);
            }
        }
        if let Some(master) = trusted.get(&SecretName::CrossSigningMaster) {
            self.flow.decide(Decision::TrustedMasterKey { master_key: master.to_base64() });
        }
        self.trusted = trusted;
        self.flow.decide(Decision::MarkedVerified { device_id: id.to_owned() });
        self.verifying_device = Some(id.to_owned());
        self.state = State::BackupVersion;
        let _ = now;
        match self.session.as_ref() {
            Some(s) => Step::Http(s.get("/_matrix/client/v3/room_keys/version")),
            None => self.flow.hs_fail("room_keys", "no session"),
        }
    }
}
