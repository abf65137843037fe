//! The simulated user: carries the QR code from the device that shows it to the one
//! that scans it, compares the two check codes, and approves or declines on the
//! existing device.

use std::collections::{BTreeMap, VecDeque};

use crate::io::Command;
use crate::role::RoleKind;

/// The person holding both devices, as the runner plays them.
///
/// It acts on what the devices show: a QR code shown by one device is scanned by its
/// peer; once both devices have shown their check code, the user approves on the
/// approving device (B) when the codes are equal and the scenario lets them, and
/// declines otherwise. It decides once.
#[derive(Debug, Clone)]
pub struct User {
    present: bool,
    approve: bool,
    approver: Option<RoleKind>,
    codes: BTreeMap<RoleKind, String>,
    decided: bool,
    queue: VecDeque<(RoleKind, Command)>,
}

/// What the user decided on the approving device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    /// The device the user answered on.
    pub on: RoleKind,
    /// Approve (true) or decline.
    pub approve: bool,
    /// Whether the two check codes were equal.
    pub codes_match: bool,
}

impl User {
    /// A user who approves on `approver` when the codes match and `approve` is set,
    /// and declines otherwise. With no approver the user only carries QR codes.
    pub fn new(approve: bool, approver: Option<RoleKind>) -> Self {
        Self {
            present: true,
            approve,
            approver,
            codes: BTreeMap::new(),
            decided: false,
            queue: VecDeque::new(),
        }
    }

    /// A user who does nothing (commands come from outside the run).
    pub fn absent() -> Self {
        Self { present: false, ..Self::new(false, None) }
    }

    /// `role` shows a QR code: its peer scans it.
    pub fn sees_qr_code(&mut self, role: RoleKind, payload: &str) {
        if !self.present {
            return;
        }
        if let Some(peer) = role.peer() {
            self.queue.push_back((peer, Command::ScanQrCode(payload.to_owned())));
        }
    }

    /// `role` shows its check code; returns the user's choice once both are known.
    pub fn sees_check_code(&mut self, role: RoleKind, code: &str) -> Option<Choice> {
        self.codes.insert(role, code.to_owned());
        let approver = self.approver?;
        let peer = approver.peer()?;
        if self.decided {
            return None;
        }
        let (Some(own), Some(other)) = (self.codes.get(&approver), self.codes.get(&peer)) else {
            return None;
        };
        self.decided = true;
        let codes_match = own == other;
        let approve = self.approve && codes_match;
        self.queue.push_back((approver, if approve { Command::Approve } else { Command::Decline }));
        Some(Choice { on: approver, approve, codes_match })
    }

    /// A command from outside the run for `role` (a person's answer, or the runner's
    /// command to the device behind an adapter), delivered like the user's own.
    pub fn give(&mut self, role: RoleKind, command: Command) {
        self.queue.push_back((role, command));
    }

    /// The next command for `role`, if the user has one.
    pub fn command_for(&mut self, role: RoleKind) -> Option<Command> {
        let index = self.queue.iter().position(|(r, _)| *r == role)?;
        self.queue.remove(index).map(|(_, command)| command)
    }

    /// The roles whose check code the user has not seen, among the approver and its
    /// peer (for a note when a run ends without a choice).
    pub fn missing_codes(&self) -> Vec<RoleKind> {
        let Some(approver) = self.approver else { return Vec::new() };
        [Some(approver), approver.peer()]
            .into_iter()
            .flatten()
            .filter(|r| !self.codes.contains_key(r))
            .collect()
    }

    /// Whether the user has made the choice on the approving device.
    pub fn has_chosen(&self) -> bool {
        self.decided
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: RoleKind = RoleKind::NewDevice;
    const B: RoleKind = RoleKind::ExistingDevice;

    #[test]
    fn the_peer_scans_and_the_approver_answers_once_both_codes_are_known() {
        let mut user = User::new(true, Some(B));
        user.sees_qr_code(B, "{}");
        assert_eq!(user.command_for(B), None);
        assert_eq!(user.command_for(A), Some(Command::ScanQrCode("{}".into())));
        assert_eq!(user.sees_check_code(B, "1"), None, "A's code is not known yet");
        assert_eq!(user.command_for(B), None);
        let choice = user.sees_check_code(A, "1").expect("both codes known");
        assert!(choice.approve && choice.codes_match);
        assert_eq!(user.command_for(B), Some(Command::Approve));
        assert_eq!(user.sees_check_code(A, "1"), None, "the user decides once");
    }

    #[test]
    fn different_codes_or_a_declining_scenario_decline() {
        let mut user = User::new(true, Some(B));
        user.sees_check_code(A, "1");
        let choice = user.sees_check_code(B, "2").unwrap();
        assert!(!choice.approve && !choice.codes_match);
        assert_eq!(user.command_for(B), Some(Command::Decline));
        let mut user = User::new(false, Some(B));
        user.sees_check_code(A, "1");
        assert!(!user.sees_check_code(B, "1").unwrap().approve);
    }

    #[test]
    fn an_absent_user_does_nothing() {
        let mut user = User::absent();
        user.sees_qr_code(B, "{}");
        assert_eq!(user.sees_check_code(A, "1"), None);
        assert_eq!(user.command_for(A), None);
    }
}
