//! The recorder: everything a run did, in one order, as transcript entries.
//!
//! It is the engine's [`Observer`]: the one place where a device event becomes a
//! transcript entry. Requests come from the homeserver's journal, attributed by
//! fact: the engine marks every request of a simulated device with its role
//! ([`protocol::ROLE_HEADER`]), so a marked entry is that role's and an unmarked one
//! the external client's. Before anything else is recorded, every journal entry made
//! so far goes in first: an event is always placed after the requests that caused
//! it (a request is journaled before its answer leaves the server), so the order of
//! the transcript is the homeserver's order of arrival and the causal order of the
//! devices, never the moment at which the recorder happened to look.
//!
//! One message is placed by its cause rather than by its arrival: what an external
//! peer sent on the rendezvous, which only the simulated device that read it can
//! record. A rendezvous holds one payload, so the message a read returned is the
//! one the peer's last write before that read put there; it goes just before that
//! write, where the sender's own record would be.

use std::sync::Arc;

use devices::engine::{Choice, ExternalEvent, Observer};
use devices::{DeviceEvent, RoleKind};
use mock_homeserver::{Homeserver, JournalEntry};

use crate::check::transcript::{Actor, Display, Ending, Entry, Names, SeenBy, TranscriptEntry};
use crate::scenario::ScenarioFault;

/// What an external role reported, beyond what the run acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// A remark (an adapter's `decision` event, a note of the bridge).
    Note(String),
    /// Its ending.
    Ending(Ending),
}

/// Where the recorder tells a person what the simulated roles show (for `serve`).
pub type DisplaySink = tokio::sync::mpsc::UnboundedSender<(RoleKind, Display, String)>;

/// Collects the transcript of one run.
pub struct Recorder {
    homeserver: Arc<Homeserver>,
    read_up_to: u64,
    simulated: Vec<RoleKind>,
    external: Option<RoleKind>,
    names: Names,
    display: Option<DisplaySink>,
    transcript: Vec<TranscriptEntry>,
    /// The external writes whose message has been placed.
    placed_writes: Vec<usize>,
    /// Faults on the external role's device, added once its ID is known.
    armed: Vec<ScenarioFault>,
}

impl Recorder {
    /// A recorder for `homeserver`, a server of this run alone, whose journal is read
    /// from its first entry (an external client may have signed in before the run
    /// started, as a person does as soon as `conformance serve` prints the
    /// credentials). `names` are the device IDs of the simulated roles.
    pub fn new(
        homeserver: Arc<Homeserver>,
        simulated: Vec<RoleKind>,
        external: Option<RoleKind>,
        names: Names,
    ) -> Self {
        Self {
            homeserver,
            read_up_to: 0,
            simulated,
            external,
            names,
            display: None,
            transcript: Vec::new(),
            placed_writes: Vec::new(),
            armed: Vec::new(),
        }
    }

    /// Faults on the external role's device: the homeserver applies them from the
    /// moment the recorder sees the device's ID (in the answer to its `/login` or
    /// `/register`), before any other request of the run is made.
    pub fn with_armed_faults(mut self, faults: Vec<ScenarioFault>) -> Self {
        self.armed = faults;
        self
    }

    /// Also tells `sink` what the simulated roles show.
    pub fn with_display(mut self, sink: DisplaySink) -> Self {
        self.display = Some(sink);
        self
    }

    /// Moves every journal entry not yet read into the transcript.
    pub fn flush_journal(&mut self) {
        for entry in self.homeserver.journal_since(self.read_up_to) {
            self.read_up_to = self.read_up_to.max(entry.seq);
            let actor = self.attribute(&entry);
            self.learn_device(actor, &entry);
            let at_ms = entry.elapsed_ms;
            self.append(at_ms, Entry::http(actor, entry));
        }
    }

    /// Whose request a journal entry is: the marked role's, else the external role's.
    fn attribute(&self, entry: &JournalEntry) -> Actor {
        match entry.role.as_deref().and_then(RoleKind::from_letter) {
            Some(role) => Actor::Role(role),
            None => self.external.map(Actor::Role).unwrap_or(Actor::Unknown),
        }
    }

    /// The device ID an external role signed in or registered with, so that the
    /// simulated peer's decisions read `checked A's device key`.
    fn learn_device(&mut self, actor: Actor, entry: &JournalEntry) {
        let Actor::Role(role) = actor else { return };
        if Some(role) != self.external || entry.status != 200 {
            return;
        }
        if !(entry.path.ends_with("/login") || entry.path.ends_with("/register")) {
            return;
        }
        let device = entry.response.json().and_then(|v| v.get("device_id")).and_then(|v| v.as_str());
        if let Some(id) = device {
            if !self.names.iter().any(|(d, _)| d == id) {
                self.names.push((id.to_owned(), role));
            }
            for fault in std::mem::take(&mut self.armed) {
                self.homeserver.add_fault(fault.aimed_at(id));
            }
        }
    }

    fn append(&mut self, at_ms: u64, entry: Entry) {
        let seq = self.transcript.len() + 1;
        self.transcript.push(TranscriptEntry { seq, at_ms, entry });
    }

    /// Records `entry` after every request journaled so far.
    pub fn push(&mut self, entry: Entry) {
        self.flush_journal();
        let at_ms = self.homeserver.now_ms();
        self.append(at_ms, entry);
    }

    /// Records a message `receiver` read from the external `sender` just before the
    /// sender's write that carried it: the last rendezvous write of the sender before
    /// the receiver's last successful read of that rendezvous.
    fn push_received(&mut self, sender: RoleKind, receiver: RoleKind, entry: Entry) {
        self.flush_journal();
        let is_read = |e: &Entry| match e {
            Entry::Http { actor, method, status: 200, path, .. } => {
                *actor == Actor::Role(receiver) && method == "GET" && path.contains("/rendezvous/")
            }
            _ => false,
        };
        let Some(read) = self.transcript.iter().rposition(|t| is_read(&t.entry)) else {
            return self.push(entry);
        };
        let Entry::Http { path: read_path, .. } = &self.transcript[read].entry else {
            return self.push(entry);
        };
        let read_path = read_path.clone();
        let is_write = |e: &Entry| match e {
            Entry::Http { actor, method, status, path, .. } => {
                *actor == Actor::Role(sender)
                    && (method == "PUT" || method == "POST")
                    && (200..300).contains(status)
                    && (*path == read_path || read_path.starts_with(&format!("{path}/")))
            }
            _ => false,
        };
        let write = self.transcript[..read].iter().rposition(|t| is_write(&t.entry));
        match write.filter(|w| !self.placed_writes.contains(w)) {
            Some(index) => {
                for placed in self.placed_writes.iter_mut().filter(|p| **p >= index) {
                    *placed += 1;
                }
                self.placed_writes.push(index + 1);
                let at_ms = self.transcript[index].at_ms;
                self.transcript.insert(index, TranscriptEntry { seq: index + 1, at_ms, entry });
                for (i, later) in self.transcript.iter_mut().enumerate().skip(index) {
                    later.seq = i + 1;
                }
            }
            None => self.push(entry),
        }
    }

    /// Device IDs and their roles, as learned so far.
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// The transcript and the device names, once the run is over.
    pub fn finish(mut self) -> (Vec<TranscriptEntry>, Names) {
        self.flush_journal();
        (self.transcript, self.names)
    }

    /// Records what `role` shows, then hands it to the display: a person (or a test)
    /// acts on it at once, and what they do must come after it in the transcript.
    fn show(&mut self, role: RoleKind, what: Display, value: &str) {
        self.push(Entry::Shows { actor: role, what, value: value.to_owned() });
        if let Some(sink) = &self.display {
            let _ = sink.send((role, what, value.to_owned()));
        }
    }
}

impl Observer for Recorder {
    type Report = Report;

    fn device_event(&mut self, role: RoleKind, event: &DeviceEvent) {
        let peer = role.peer().unwrap_or(role);
        let entry = match event {
            DeviceEvent::ShowsQrCode { payload } => return self.show(role, Display::QrCode, payload),
            DeviceEvent::ShowsCheckCode { code } => return self.show(role, Display::CheckCode, code),
            DeviceEvent::ChannelSent { message, encrypted } => Entry::Channel {
                from: role,
                to: peer,
                message: message.clone(),
                encrypted: *encrypted,
                seen_by: SeenBy::Sent,
            },
            // A simulated sender records its own messages; only what an external peer
            // sent is recorded where a simulated device received it.
            DeviceEvent::ChannelReceived { .. } if self.simulated.contains(&peer) => return,
            DeviceEvent::ChannelReceived { message, encrypted } => {
                let entry = Entry::Channel {
                    from: peer,
                    to: role,
                    message: message.clone(),
                    encrypted: *encrypted,
                    seen_by: SeenBy::Received,
                };
                return self.push_received(peer, role, entry);
            }
            DeviceEvent::Decision(decision) => Entry::Decision { actor: role, decision: decision.clone() },
            DeviceEvent::Finished(outcome) => Entry::Finished { actor: role, ending: Ending::from(outcome) },
        };
        self.push(entry);
    }

    fn external_event(&mut self, role: RoleKind, event: &ExternalEvent<Report>) {
        let entry = match event {
            ExternalEvent::ShowsQrCode(payload) => {
                Entry::Shows { actor: role, what: Display::QrCode, value: payload.clone() }
            }
            ExternalEvent::ShowsCheckCode(code) => {
                Entry::Shows { actor: role, what: Display::CheckCode, value: code.clone() }
            }
            ExternalEvent::Said(Report::Note(text)) | ExternalEvent::Finished(Report::Note(text)) => {
                Entry::Note { actor: Actor::Role(role), text: text.clone() }
            }
            ExternalEvent::Said(Report::Ending(ending)) | ExternalEvent::Finished(Report::Ending(ending)) => {
                if let Some(detail) = ending.detail.as_ref().filter(|d| !d.is_empty()) {
                    self.push(Entry::Note {
                        actor: Actor::Role(role),
                        text: format!("outcome detail: {detail}"),
                    });
                }
                Entry::Finished { actor: role, ending: ending.clone() }
            }
        };
        self.push(entry);
    }

    fn user_chose(&mut self, choice: &Choice) {
        let text = format!(
            "the user {} on {} (check codes {})",
            if choice.approve { "approves" } else { "declines" },
            choice.on,
            if choice.codes_match { "match" } else { "differ" }
        );
        self.push(Entry::Note { actor: Actor::Runner, text });
    }

    fn user_never_chose(&mut self, missing: &[RoleKind]) {
        let missing: Vec<&str> = missing.iter().map(|r| r.letter()).collect();
        let text = format!("the user never saw the check code of {}, so never chose", missing.join(" and "));
        self.push(Entry::Note { actor: Actor::Runner, text });
    }
}
