//! The decisions a device reports, and their words: one template per decision, the
//! grammar scenario files use to name it (`A: checked B's device key: mismatch`).

use serde::{Deserialize, Serialize};

use super::{Abort, AbortKind};
use crate::role::RoleKind;

/// A decision a device took, in the words of the protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Step 4: whether the homeserver offers the login token.
    CheckedLoginTokenSupport {
        /// Supported or not.
        supported: bool,
    },
    /// Whether the two intents fit (one `login.start`, one `login.reciprocate`).
    CheckedIntents {
        /// Compatible or not.
        compatible: bool,
    },
    /// The user approved or declined on the existing device.
    UserChose {
        /// True for approve.
        approved: bool,
    },
    /// The new device logged in with the token.
    LoggedIn {
        /// The new device's ID.
        device_id: String,
    },
    /// Device keys (and one-time keys) uploaded.
    UploadedDeviceKeys {
        /// The device.
        device_id: String,
    },
    /// Step 17 / 20: a device key compared with the homeserver's copy.
    CheckedDeviceKey {
        /// The device checked.
        device_id: String,
        /// Whether it matched.
        matched: bool,
    },
    /// Step 21a: the master key compared with the homeserver's.
    CheckedMasterKey {
        /// Whether it matched.
        matched: bool,
    },
    /// Step 21b: the master key is trusted.
    TrustedMasterKey {
        /// The key (b64).
        master_key: String,
    },
    /// Step 18a / 22: a device is marked verified locally.
    MarkedVerified {
        /// The device.
        device_id: String,
    },
    /// Step 18b: the device was cross-signed and the signature uploaded.
    CrossSigned {
        /// The device.
        device_id: String,
    },
    /// Step 18b failed: the homeserver did not accept the cross-signature upload
    /// (A's device stays locally verified; the flow goes on with step 19).
    CrossSigningRejected {
        /// The device.
        device_id: String,
        /// The homeserver's answer (its `failures` entry, or the error).
        detail: String,
    },
    /// Step 23: a secret was requested.
    RequestedSecret {
        /// Secret name.
        name: String,
    },
    /// The existing device shared a secret.
    SharedSecret {
        /// Secret name.
        name: String,
        /// The device it went to.
        device_id: String,
    },
    /// The existing device refused a secret request.
    RefusedSecretRequest {
        /// Secret name (or `?`).
        name: String,
        /// Requesting device.
        device_id: String,
        /// Why.
        reason: String,
    },
    /// The new device accepted and stored a secret.
    AcceptedSecret {
        /// Secret name.
        name: String,
    },
    /// The new device dropped an `m.secret.send` (unsolicited, unencrypted, wrong value, ...).
    IgnoredSecret {
        /// Secret name if known, or `?`.
        name: String,
        /// Why.
        reason: String,
    },
    /// Registrar: whether `/versions` advertises `org.matrix.msc2912`.
    CheckedMsc2912Support {
        /// Advertised or not.
        supported: bool,
    },
    /// Registrar: `device_signing` was sent in `/register` under this field name.
    SentDeviceSigning {
        /// `device_signing` or `org.matrix.msc2912.device_signing`.
        field: String,
    },
    /// Registrar: after registering, the homeserver's keys were compared with ours.
    CheckedOwnKeys {
        /// Whether all three matched.
        matched: bool,
    },
    /// Registrar: uploaded the keys through `/keys/device_signing/upload`.
    ReuploadedKeys {
        /// Whether UIA with the password was needed.
        with_password: bool,
    },
    /// Registrar: the device was signed with the self-signing key.
    SignedOwnDevice {
        /// The device.
        device_id: String,
    },
    /// Registrar: the server accepted a key set that it must reject (a finding).
    ServerAcceptedInvalidKeys {
        /// Which knob made the set invalid.
        knob: String,
    },
    /// The flow was aborted.
    Aborted {
        /// Why.
        reason: Abort,
    },
}

/// A placeholder in a decision template: what may stand in its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// A role letter (`A`, `B`, `R`): the device concerned.
    Role,
    /// `yes` or `no`.
    YesNo,
    /// `matched` or `mismatch`.
    Match,
    /// `compatible` or `incompatible`.
    Compat,
    /// `matched` or `missing or different` (the registrar's own keys).
    Own,
    /// `with password` or `without uia`.
    Reupload,
    /// `device_signing` or `org.matrix.msc2912.device_signing`.
    Field,
    /// An abort name ([`AbortKind`]).
    Abort,
    /// Any non-empty text.
    Any,
}

impl Slot {
    /// The slot named `name` in a template (`role` for `{role}`).
    pub fn named(name: &str) -> Option<Slot> {
        Some(match name {
            "role" => Slot::Role,
            "yes-no" => Slot::YesNo,
            "match" => Slot::Match,
            "compat" => Slot::Compat,
            "own" => Slot::Own,
            "reupload" => Slot::Reupload,
            "field" => Slot::Field,
            "abort" => Slot::Abort,
            "any" => Slot::Any,
            _ => return None,
        })
    }

    /// The words that may fill the slot, or `None` for any non-empty text.
    pub fn values(self) -> Option<Vec<&'static str>> {
        Some(match self {
            Slot::Role => RoleKind::ALL.iter().map(|r| r.letter()).collect(),
            Slot::YesNo => vec!["yes", "no"],
            Slot::Match => vec!["matched", "mismatch"],
            Slot::Compat => vec!["compatible", "incompatible"],
            Slot::Own => vec!["matched", "missing or different"],
            Slot::Reupload => vec!["with password", "without uia"],
            Slot::Field => vec!["device_signing", "org.matrix.msc2912.device_signing"],
            Slot::Abort => AbortKind::ALL.iter().map(|k| k.name()).collect(),
            Slot::Any => return None,
        })
    }

    /// Whether `value` may fill the slot (`*`, a wildcard, always may).
    pub fn accepts(self, value: &str) -> bool {
        value == "*" || self.values().map_or(!value.is_empty(), |values| values.contains(&value))
    }
}

impl Decision {
    /// Every decision template, in the order of the enum. `{slot}` marks a
    /// placeholder ([`Slot::named`]).
    pub const TEMPLATES: [&'static str; 24] = [
        "checked login token support: {yes-no}",
        "checked intents: {compat}",
        "user approved",
        "user declined",
        "logged in",
        "uploaded device keys",
        "checked {role}'s device key: {match}",
        "checked master key: {match}",
        "trusted master key",
        "marked {role} verified",
        "cross-signed {role}",
        "cross-signature of {role} rejected: {any}",
        "requested secret {any}",
        "shared secret {any} with {role}",
        "refused secret request {any}",
        "accepted secret {any}",
        "ignored secret {any}",
        "checked msc2912 support: {yes-no}",
        "sent device_signing as {field}",
        "checked own keys: {own}",
        "re-uploaded keys {reupload}",
        "signed own device",
        "server accepted invalid keys: {any}",
        "aborted: {abort}",
    ];

    /// The template this decision's phrase fits.
    pub fn template(&self) -> &'static str {
        let t = &Self::TEMPLATES;
        match self {
            Decision::CheckedLoginTokenSupport { .. } => t[0],
            Decision::CheckedIntents { .. } => t[1],
            Decision::UserChose { approved: true } => t[2],
            Decision::UserChose { approved: false } => t[3],
            Decision::LoggedIn { .. } => t[4],
            Decision::UploadedDeviceKeys { .. } => t[5],
            Decision::CheckedDeviceKey { .. } => t[6],
            Decision::CheckedMasterKey { .. } => t[7],
            Decision::TrustedMasterKey { .. } => t[8],
            Decision::MarkedVerified { .. } => t[9],
            Decision::CrossSigned { .. } => t[10],
            Decision::CrossSigningRejected { .. } => t[11],
            Decision::RequestedSecret { .. } => t[12],
            Decision::SharedSecret { .. } => t[13],
            Decision::RefusedSecretRequest { .. } => t[14],
            Decision::AcceptedSecret { .. } => t[15],
            Decision::IgnoredSecret { .. } => t[16],
            Decision::CheckedMsc2912Support { .. } => t[17],
            Decision::SentDeviceSigning { .. } => t[18],
            Decision::CheckedOwnKeys { .. } => t[19],
            Decision::ReuploadedKeys { .. } => t[20],
            Decision::SignedOwnDevice { .. } => t[21],
            Decision::ServerAcceptedInvalidKeys { .. } => t[22],
            Decision::Aborted { .. } => t[23],
        }
    }

    /// The decision in words, with every device ID replaced by `name_of` (the
    /// harness names devices by their role: `checked A's device key: matched`).
    pub fn phrase(&self, name_of: &dyn Fn(&str) -> String) -> String {
        let yes_no = |b: &bool| if *b { "yes" } else { "no" };
        let matched = |b: &bool| if *b { "matched" } else { "mismatch" };
        match self {
            Decision::CheckedLoginTokenSupport { supported } => {
                format!("checked login token support: {}", yes_no(supported))
            }
            Decision::CheckedIntents { compatible } => {
                format!("checked intents: {}", if *compatible { "compatible" } else { "incompatible" })
            }
            Decision::UserChose { approved } => {
                (if *approved { "user approved" } else { "user declined" }).to_owned()
            }
            Decision::LoggedIn { .. } => "logged in".to_owned(),
            Decision::UploadedDeviceKeys { .. } => "uploaded device keys".to_owned(),
            Decision::CheckedDeviceKey { device_id, matched: m } => {
                format!("checked {}'s device key: {}", name_of(device_id), matched(m))
            }
            Decision::CheckedMasterKey { matched: m } => format!("checked master key: {}", matched(m)),
            Decision::TrustedMasterKey { .. } => "trusted master key".to_owned(),
            Decision::MarkedVerified { device_id } => format!("marked {} verified", name_of(device_id)),
            Decision::CrossSigned { device_id } => format!("cross-signed {}", name_of(device_id)),
            Decision::CrossSigningRejected { device_id, detail } => {
                format!("cross-signature of {} rejected: {detail}", name_of(device_id))
            }
            Decision::RequestedSecret { name } => format!("requested secret {name}"),
            Decision::SharedSecret { name, device_id } => {
                format!("shared secret {name} with {}", name_of(device_id))
            }
            Decision::RefusedSecretRequest { name, device_id, reason } => {
                format!("refused secret request {name} from {}: {reason}", name_of(device_id))
            }
            Decision::AcceptedSecret { name } => format!("accepted secret {name}"),
            Decision::IgnoredSecret { name, reason } => format!("ignored secret {name}: {reason}"),
            Decision::CheckedMsc2912Support { supported } => {
                format!("checked msc2912 support: {}", yes_no(supported))
            }
            Decision::SentDeviceSigning { field } => format!("sent device_signing as {field}"),
            Decision::CheckedOwnKeys { matched } => {
                format!("checked own keys: {}", if *matched { "matched" } else { "missing or different" })
            }
            Decision::ReuploadedKeys { with_password } => {
                format!("re-uploaded keys {}", if *with_password { "with password" } else { "without uia" })
            }
            Decision::SignedOwnDevice { .. } => "signed own device".to_owned(),
            Decision::ServerAcceptedInvalidKeys { knob } => format!("server accepted invalid keys: {knob}"),
            Decision::Aborted { reason } => format!("aborted: {}", reason.kind().name()),
        }
    }

    /// Whether a phrase (as a scenario writes it, `*` allowed in a slot) fits a
    /// template.
    pub fn template_accepts(template: &str, phrase: &str) -> bool {
        let parts: Vec<&str> = template.split(['{', '}']).collect();
        let mut rest = phrase;
        for (i, part) in parts.iter().enumerate() {
            if i % 2 == 0 {
                match rest.strip_prefix(part) {
                    Some(r) => rest = r,
                    None => return false,
                }
                continue;
            }
            let next_literal = parts.get(i + 1).copied().unwrap_or("");
            let end = if next_literal.is_empty() { Some(rest.len()) } else { rest.find(next_literal) };
            let Some(end) = end else { return false };
            let Some(slot) = Slot::named(part) else { return false };
            if !slot.accepts(&rest[..end]) {
                return false;
            }
            rest = &rest[end..];
        }
        rest.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One decision of every kind; the `match` makes a new variant a compile error
    /// here until it is added.
    fn one_of_each() -> Vec<Decision> {
        let id = || "DEVICE".to_owned();
        let all = vec![
            Decision::CheckedLoginTokenSupport { supported: true },
            Decision::CheckedIntents { compatible: false },
            Decision::UserChose { approved: true },
            Decision::UserChose { approved: false },
            Decision::LoggedIn { device_id: id() },
            Decision::UploadedDeviceKeys { device_id: id() },
            Decision::CheckedDeviceKey { device_id: id(), matched: false },
            Decision::CheckedMasterKey { matched: true },
            Decision::TrustedMasterKey { master_key: "key".into() },
            Decision::MarkedVerified { device_id: id() },
            Decision::CrossSigned { device_id: id() },
            Decision::CrossSigningRejected { device_id: id(), detail: "400 M_INVALID_SIGNATURE".into() },
            Decision::RequestedSecret { name: "m.cross_signing.master".into() },
            Decision::SharedSecret { name: "m.megolm_backup.v1".into(), device_id: id() },
            Decision::RefusedSecretRequest { name: "x".into(), device_id: id(), reason: "unverified".into() },
            Decision::AcceptedSecret { name: "m.cross_signing.master".into() },
            Decision::IgnoredSecret { name: "?".into(), reason: "unsolicited".into() },
            Decision::CheckedMsc2912Support { supported: false },
            Decision::SentDeviceSigning { field: "device_signing".into() },
            Decision::CheckedOwnKeys { matched: false },
            Decision::ReuploadedKeys { with_password: true },
            Decision::SignedOwnDevice { device_id: id() },
            Decision::ServerAcceptedInvalidKeys { knob: "bad-self-signing-signature".into() },
            Decision::Aborted { reason: Abort::MasterKeyMissingOnHomeserver },
        ];
        for decision in &all {
            match decision {
                Decision::CheckedLoginTokenSupport { .. }
                | Decision::CheckedIntents { .. }
                | Decision::UserChose { .. }
                | Decision::LoggedIn { .. }
                | Decision::UploadedDeviceKeys { .. }
                | Decision::CheckedDeviceKey { .. }
                | Decision::CheckedMasterKey { .. }
                | Decision::TrustedMasterKey { .. }
                | Decision::MarkedVerified { .. }
                | Decision::CrossSigned { .. }
                | Decision::CrossSigningRejected { .. }
                | Decision::RequestedSecret { .. }
                | Decision::SharedSecret { .. }
                | Decision::RefusedSecretRequest { .. }
                | Decision::AcceptedSecret { .. }
                | Decision::IgnoredSecret { .. }
                | Decision::CheckedMsc2912Support { .. }
                | Decision::SentDeviceSigning { .. }
                | Decision::CheckedOwnKeys { .. }
                | Decision::ReuploadedKeys { .. }
                | Decision::SignedOwnDevice { .. }
                | Decision::ServerAcceptedInvalidKeys { .. }
                | Decision::Aborted { .. } => {}
            }
        }
        all
    }

    #[test]
    fn every_phrase_fits_its_template_and_every_template_is_used() {
        let name_of = |_: &str| "A".to_owned();
        let mut used = std::collections::BTreeSet::new();
        for decision in one_of_each() {
            let phrase = decision.phrase(&name_of);
            assert!(
                Decision::template_accepts(decision.template(), &phrase),
                "`{phrase}` does not fit `{}`",
                decision.template()
            );
            used.insert(decision.template());
        }
        for template in &Decision::TEMPLATES {
            assert!(used.contains(template), "no decision has the template `{template}`");
        }
    }

    #[test]
    fn slots_hold_only_their_words() {
        let t = "checked {role}'s device key: {match}";
        assert!(Decision::template_accepts(t, "checked B's device key: mismatch"));
        assert!(Decision::template_accepts(t, "checked *'s device key: *"));
        assert!(!Decision::template_accepts(t, "checked C's device key: mismatch"));
        assert!(!Decision::template_accepts(t, "checked B's device key: maybe"));
        assert!(Decision::template_accepts("aborted: {abort}", "aborted: master_key_mismatch"));
        assert!(!Decision::template_accepts("aborted: {abort}", "aborted: master_key_mismatc"));
    }
}
