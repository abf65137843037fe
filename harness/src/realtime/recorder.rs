//! The transcript of a real-time run, and who made which request.
//!
//! The homeserver's journal holds every request in arrival order but not who sent
//! it. The simulated role has at most one request in flight: before sending it the
//! driver notes the journal's last entry, and afterwards claims the first new entry
//! with the same method, path and status. Every other entry is the external
//! client's. Entries are moved into the transcript in journal order, never past an
//! entry that may still turn out to be the simulated role's.
//!
//! The external role's outcome waits the same way: it is recorded once every journal
//! entry made before the role reported it is in the transcript, right after the last
//! of them, so that the ending never comes before the role's own last requests.

use std::sync::Arc;
use std::time::Instant;

use devices::{DeviceEvent, HttpRequest, HttpResult};
use mock_homeserver::{Homeserver, JournalEntry};

use crate::transcript::{Entry, TranscriptEntry};

/// Collects the transcript of a real-time run.
pub struct Recorder {
    homeserver: Arc<Homeserver>,
    started: Instant,
    external: String,
    /// Journal entries seen but not yet in the transcript.
    backlog: Vec<JournalEntry>,
    /// Highest journal sequence number read.
    read_up_to: u64,
    /// The last journal sequence number before the simulated role's request in flight.
    in_flight: Option<u64>,
    /// Index in the transcript of the external role's rendezvous write whose
    /// message the simulated role last received.
    last_write_read: Option<usize>,
    /// Entries of the external role held back until the journal entries up to the
    /// sequence number with them are in the transcript ([`Recorder::push_after_journal`]).
    held: Vec<(u64, Entry)>,
    /// Everything recorded so far.
    pub transcript: Vec<TranscriptEntry>,
}

impl Recorder {
    /// A recorder for `homeserver`, a server of this run alone; unclaimed requests are
    /// attributed to `external`. The journal is read from its first entry: an
    /// external client may well have logged in before the run started (a person
    /// does as soon as `conformance serve` prints the credentials), and those
    /// requests belong in its transcript.
    pub fn new(homeserver: Arc<Homeserver>, external: &str) -> Self {
        Self {
            homeserver,
            started: Instant::now(),
            external: external.to_owned(),
            backlog: Vec::new(),
            read_up_to: 0,
            in_flight: None,
            last_write_read: None,
            held: Vec::new(),
            transcript: Vec::new(),
        }
    }

    /// Appends an entry, stamped with the real time since the start.
    pub fn push(&mut self, entry: Entry) {
        let seq = self.transcript.len() + 1;
        let at_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.transcript.push(TranscriptEntry { seq, at_ms, entry });
    }

    fn read_journal(&mut self) {
        for entry in self.homeserver.journal_since(self.read_up_to) {
            self.read_up_to = self.read_up_to.max(entry.seq);
            self.backlog.push(entry);
        }
    }

    /// Records `entries` once every journal entry made so far is in the transcript
    /// (at once when none is held back): an external role's report comes after the
    /// requests it made before reporting.
    pub fn push_after_journal(&mut self, entries: Vec<Entry>) {
        self.read_journal();
        let up_to = self.read_up_to;
        self.held.extend(entries.into_iter().map(|entry| (up_to, entry)));
        self.release_held(None);
    }

    /// Records the held entries that may come now: before the journal entry `next`
    /// about to be recorded, those that wait for earlier entries only; with `None`,
    /// those no entry still in the backlog is waited for.
    fn release_held(&mut self, next: Option<u64>) {
        if self.held.is_empty() {
            return;
        }
        let pending = self.backlog.iter().map(|e| e.seq).min();
        let ready = |up_to: u64| match next {
            Some(seq) => up_to < seq,
            None => pending.is_none_or(|seq| up_to < seq),
        };
        let count = self.held.iter().take_while(|(up_to, _)| ready(*up_to)).count();
        let released: Vec<_> = self.held.drain(..count).collect();
        for (_, entry) in released {
            self.push(entry);
        }
    }

    fn push_http(&mut self, actor: &str, entry: JournalEntry) {
        self.release_held(Some(entry.seq));
        self.push(Entry::http(actor, entry));
    }

    /// Moves the journal entries that cannot be the simulated role's into the
    /// transcript, attributed to the external role.
    pub fn absorb_external(&mut self) {
        self.read_journal();
        let limit = self.in_flight.unwrap_or(u64::MAX);
        let (ready, later): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.backlog).into_iter().partition(|e| e.seq <= limit);
        self.backlog = later;
        let external = self.external.clone();
        for entry in ready {
            self.push_http(&external, entry);
        }
        self.release_held(None);
    }

    /// The simulated role is about to send a request.
    pub fn begin_request(&mut self) {
        self.absorb_external();
        self.in_flight = Some(self.read_up_to);
    }

    /// The simulated role's request is answered: claims its journal entry for `actor`
    /// and records everything before it as the external role's.
    pub fn end_request(&mut self, actor: &str, request: &HttpRequest, result: &HttpResult) {
        self.read_journal();
        let before = self.in_flight.take().unwrap_or(0);
        let path = url_path(&request.url);
        let status = result.as_ref().ok().map(|r| r.status);
        let same = |e: &JournalEntry| {
            e.seq > before
                && e.method.eq_ignore_ascii_case(&request.method)
                && status.is_none_or(|s| s == e.status)
                && (e.path == path || percent_decode(&path) == percent_decode(&e.path))
        };
        let mine = self.backlog.iter().find(|e| same(e)).map(|e| e.seq);
        let external = self.external.clone();
        let backlog = std::mem::take(&mut self.backlog);
        let mut later = Vec::new();
        for entry in backlog {
            match mine {
                Some(seq) if entry.seq == seq => self.push_http(actor, entry),
                Some(seq) if entry.seq > seq => later.push(entry),
                _ => self.push_http(&external, entry),
            }
        }
        self.backlog = later;
        self.release_held(None);
    }

    /// No request of the simulated role is in flight any more (the run is over).
    pub fn finish_requests(&mut self) {
        self.in_flight = None;
    }

    /// Where a channel message the simulated role received from the external role
    /// belongs: just before the external role's rendezvous write that carried it
    /// (the last one in the transcript, since the simulated role's read comes after
    /// it in the journal), as the sender's own record would have it. `None` when no
    /// unread write is known.
    fn received_position(&self) -> Option<usize> {
        // The write must come after the last channel message of the simulated role:
        // the two sides take turns, and the journal may list a write after the read
        // that saw it.
        for (index, t) in self.transcript.iter().enumerate().rev() {
            match &t.entry {
                Entry::Channel { .. } => return None,
                Entry::Http { actor, method, path, .. }
                    if *actor == self.external
                        && (method.eq_ignore_ascii_case("PUT") || method.eq_ignore_ascii_case("POST"))
                        && path.contains("rendezvous") =>
                {
                    return (Some(index) != self.last_write_read).then_some(index);
                }
                _ => {}
            }
        }
        None
    }

    /// Inserts `entry` at `index`, renumbering what follows.
    fn insert(&mut self, index: usize, entry: Entry) {
        let at_ms = self.transcript.get(index).map(|t| t.at_ms).unwrap_or(0);
        self.transcript.insert(index, TranscriptEntry { seq: index + 1, at_ms, entry });
        for (i, later) in self.transcript.iter_mut().enumerate().skip(index) {
            later.seq = i + 1;
        }
        self.last_write_read = Some(index + 1);
    }

    /// Records a simulated role's events: displays, channel messages (sent and
    /// received, since the peer is external), decisions and its ending.
    pub fn push_device_events(&mut self, actor: &str, peer: &str, events: Vec<DeviceEvent>) {
        for event in events {
            let actor = actor.to_owned();
            let entry = match event {
                DeviceEvent::ShowsQrCode { payload } => {
                    Entry::Shows { actor, what: "QR code".into(), value: payload }
                }
                DeviceEvent::ShowsCheckCode { code } => {
                    Entry::Shows { actor, what: "check code".into(), value: code }
                }
                DeviceEvent::ChannelSent { message, encrypted } => Entry::Channel {
                    from: actor,
                    to: peer.to_owned(),
                    message,
                    encrypted,
                    seen_by: "sent".into(),
                },
                DeviceEvent::ChannelReceived { message, encrypted } => {
                    let entry = Entry::Channel {
                        from: peer.to_owned(),
                        to: actor,
                        message,
                        encrypted,
                        seen_by: "received".into(),
                    };
                    match self.received_position() {
                        Some(index) => {
                            self.insert(index, entry);
                            continue;
                        }
                        None => entry,
                    }
                }
                DeviceEvent::Decision(decision) => Entry::Decision { actor, decision },
                DeviceEvent::Finished(outcome) => Entry::Finished { actor, outcome },
            };
            self.push(entry);
        }
    }
}

/// The path of an absolute URL, without query or fragment.
fn url_path(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("/");
    path.split(['?', '#']).next().unwrap_or("/").to_owned()
}

/// Decodes `%XX` escapes (invalid ones are kept as they are).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(recorder: &Recorder) -> Vec<String> {
        let actor_and_kind = |t: &TranscriptEntry| match &t.entry {
            Entry::Http { actor, method, path, .. } => format!("{actor} {method} {path}"),
            Entry::Finished { actor, .. } => format!("{actor} finished"),
            Entry::Note { actor, text } => format!("{actor} note {text}"),
            _ => "other".to_owned(),
        };
        recorder.transcript.iter().map(actor_and_kind).collect()
    }

    #[test]
    fn an_external_outcome_waits_for_its_requests_held_behind_a_simulated_one() {
        let homeserver = Arc::new(Homeserver::new(mock_homeserver::Profile::default(), 1));
        let mut recorder = Recorder::new(homeserver.clone(), "B");
        // A (simulated) sends a request; B (external) makes one of its own and reports
        // its outcome before A's request reaches the homeserver.
        recorder.begin_request();
        homeserver.handle(mock_homeserver::Request::get("/_matrix/client/versions"));
        recorder.absorb_external();
        recorder.push_after_journal(vec![
            Entry::Note { actor: "B".into(), text: "detail".into() },
            Entry::Finished { actor: "B".into(), outcome: devices::Outcome::Verified },
        ]);
        assert!(summary(&recorder).is_empty(), "B's request is held behind A's, so is its outcome");
        let answer = homeserver.handle(mock_homeserver::Request::get("/_matrix/client/v3/nonexistent"));
        let request = HttpRequest::new("GET", "http://hs/_matrix/client/v3/nonexistent");
        let result = Ok(devices::HttpResponse { status: answer.status, headers: vec![], body: vec![] });
        recorder.end_request("A", &request, &result);
        assert_eq!(
            summary(&recorder),
            [
                "B GET /_matrix/client/versions",
                "B note detail",
                "B finished",
                "A GET /_matrix/client/v3/nonexistent"
            ]
        );
        // Nothing held back: the outcome is recorded at once.
        recorder.push_after_journal(vec![Entry::Finished {
            actor: "B".into(),
            outcome: devices::Outcome::Verified,
        }]);
        assert_eq!(summary(&recorder).last().map(String::as_str), Some("B finished"));
    }

    #[test]
    fn requests_made_before_the_run_started_are_the_external_clients() {
        let homeserver = Arc::new(Homeserver::new(mock_homeserver::Profile::default(), 1));
        // The person's client asks for the versions before the recorder exists.
        homeserver.handle(mock_homeserver::Request::get("/_matrix/client/versions"));
        let mut recorder = Recorder::new(homeserver.clone(), "B");
        recorder.absorb_external();
        assert_eq!(summary(&recorder), ["B GET /_matrix/client/versions"]);
    }

    #[test]
    fn paths_and_escapes() {
        assert_eq!(
            url_path("http://127.0.0.1:8/_matrix/client/v3/sync?timeout=0"),
            "/_matrix/client/v3/sync"
        );
        assert_eq!(url_path("http://h"), "/");
        assert_eq!(percent_decode("/a%3Ab%2"), "/a:b%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}
