//! The journal as the server keeps it: compact records in arrival order, optionally
//! bounded by a number of entries and of bytes, the oldest dropped first.
//!
//! A record keeps the bytes of each body as they went over the wire and parses them
//! only when a reader asks for [`JournalEntry`] values, so recording costs a copy of
//! the request body and a reference to the response body the server sends anyway.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;

use super::entry::{JournalBody, JournalEntry};
use crate::request::Caller;

/// How much journal a server keeps: at most `max_entries` entries and `max_bytes`
/// bytes (an estimate of the memory the records take), whichever is reached first;
/// beyond that the oldest entries are dropped and counted. A body longer than
/// `max_body_bytes` is recorded as a note of its length and type instead of its
/// bytes. `0` means no cap.
///
/// [`crate::Homeserver`] and [`crate::MockHomeserver::builder`] keep everything
/// ([`JournalLimit::UNLIMITED`]): a scenario's journal is small and its transcript
/// needs every entry. The `mock-homeserver` binary, which may serve a test suite for
/// hours, keeps [`JournalLimit::STANDALONE`] unless told otherwise.
///
/// ```
/// use mock_homeserver::{Homeserver, JournalLimit, Profile, Request};
/// let server = Homeserver::new(Profile::default(), 1);
/// server.set_journal_limit(JournalLimit { max_entries: 2, ..JournalLimit::UNLIMITED });
/// for _ in 0..3 {
///     server.handle(Request::get("/_matrix/client/versions"));
/// }
/// let journal = server.journal();
/// assert_eq!(journal.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
/// assert_eq!(server.journal_dropped(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalLimit {
    /// The most entries kept; `0` for no cap on entries.
    pub max_entries: usize,
    /// The most bytes kept (bodies, strings and bookkeeping); `0` for no cap on bytes.
    pub max_bytes: usize,
    /// The longest body kept as it was; a longer one is described, not kept. `0` for
    /// no cap. (The server refuses bodies over 64 KiB on its endpoints anyway, so the
    /// standalone default loses nothing a handler saw.)
    pub max_body_bytes: usize,
}

impl JournalLimit {
    /// Keep every entry and every body.
    pub const UNLIMITED: Self = Self { max_entries: 0, max_bytes: 0, max_body_bytes: 0 };

    /// The standalone binary's default: 10,000 entries or 16 MiB, bodies up to 64 KiB.
    pub const STANDALONE: Self = Self { max_entries: 10_000, max_bytes: 16 << 20, max_body_bytes: 64 << 10 };

    /// Whether this keeps everything.
    pub fn is_unlimited(&self) -> bool {
        *self == Self::UNLIMITED
    }
}

/// A body as the journal stores it.
#[derive(Debug, Clone)]
pub(crate) enum StoredBody {
    /// No body.
    Empty,
    /// Bytes the server serialised from a JSON value, so they parse.
    Json(Bytes),
    /// Bytes as they arrived (or were sent), with their content type.
    Raw {
        /// The bytes.
        bytes: Bytes,
        /// The `Content-Type`, if there was one.
        content_type: Option<Box<str>>,
    },
    /// A body longer than the journal keeps: its length and content type only.
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The `Content-Type`, if there was one.
        content_type: Option<Box<str>>,
        /// The cap it exceeded.
        cap: usize,
    },
}

impl StoredBody {
    /// A request body: a copy of exactly its bytes (never a view into a larger buffer
    /// that the copy would keep alive), or its description when longer than `cap`
    /// (`0`: no cap).
    pub fn request(body: &[u8], content_type: Option<&str>, cap: usize) -> Self {
        if body.is_empty() {
            return StoredBody::Empty;
        }
        let content_type = content_type.map(Box::from);
        if cap > 0 && body.len() > cap {
            return StoredBody::TooLong { len: body.len(), content_type, cap };
        }
        StoredBody::Raw { bytes: Bytes::copy_from_slice(body), content_type }
    }

    /// This body, or its description when longer than `cap` (`0`: no cap).
    pub fn capped(self, cap: usize) -> Self {
        match self {
            StoredBody::Json(bytes) if cap > 0 && bytes.len() > cap => {
                StoredBody::TooLong { len: bytes.len(), content_type: Some("application/json".into()), cap }
            }
            StoredBody::Raw { bytes, content_type } if cap > 0 && bytes.len() > cap => {
                StoredBody::TooLong { len: bytes.len(), content_type, cap }
            }
            body => body,
        }
    }

    fn to_journal_body(&self) -> JournalBody {
        match self {
            StoredBody::Empty => JournalBody::Empty,
            StoredBody::Json(bytes) => match serde_json::from_slice(bytes) {
                Ok(value) => JournalBody::Json(value),
                Err(_) => JournalBody::from_bytes(bytes, Some("application/json")),
            },
            StoredBody::Raw { bytes, content_type } => {
                JournalBody::from_bytes(bytes, content_type.as_deref())
            }
            StoredBody::TooLong { len, content_type, cap } => JournalBody::Note {
                note: format!(
                    "{len} bytes of {}, longer than the {cap} bytes the journal keeps",
                    content_type.as_deref().unwrap_or("unknown content type")
                ),
            },
        }
    }

    fn footprint(&self) -> usize {
        match self {
            StoredBody::Empty => 0,
            StoredBody::Json(bytes) => bytes.len() + ALLOCATION,
            StoredBody::Raw { bytes, content_type } => {
                bytes.len() + ALLOCATION + content_type.as_ref().map_or(0, |t| t.len() + ALLOCATION)
            }
            StoredBody::TooLong { content_type, .. } => {
                content_type.as_ref().map_or(0, |t| t.len() + ALLOCATION)
            }
        }
    }
}

/// One exchange as the journal stores it.
#[derive(Debug)]
pub(crate) struct Record {
    /// Position in arrival order, from 1; set by [`Journal::push`].
    pub seq: u64,
    /// Milliseconds since the server started, by the server's clock.
    pub elapsed_ms: u64,
    /// HTTP method.
    pub method: Method,
    /// Request path.
    pub path: Box<str>,
    /// Raw query string, if any.
    pub query: Option<Box<str>>,
    /// The request body.
    pub request: StoredBody,
    /// The HTTP status of the answer.
    pub status: u16,
    /// The response body.
    pub response: StoredBody,
    /// The caller, for an authenticated request.
    pub caller: Option<Caller>,
    /// The simulated role that marked the request.
    pub role: Option<Box<str>>,
    /// The faults that fired, described.
    pub faults: Vec<String>,
}

/// An HTTP method, without an allocation for the usual ones.
#[derive(Debug)]
pub(crate) enum Method {
    /// `GET`, `POST`, ...
    Known(&'static str),
    /// Any other.
    Other(Box<str>),
}

impl Method {
    /// The method of a request.
    pub fn of(method: &str) -> Self {
        const KNOWN: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"];
        match KNOWN.iter().find(|known| **known == method) {
            Some(known) => Method::Known(known),
            None => Method::Other(method.into()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Method::Known(method) => method,
            Method::Other(method) => method,
        }
    }
}

/// What one heap allocation costs beyond its bytes, roughly (allocator header and
/// rounding).
const ALLOCATION: usize = 16;

impl Record {
    /// The entry as readers see it, bodies parsed.
    pub fn to_entry(&self) -> JournalEntry {
        JournalEntry {
            seq: self.seq,
            elapsed_ms: self.elapsed_ms,
            method: self.method.as_str().to_owned(),
            path: self.path.to_string(),
            query: self.query.as_deref().map(str::to_owned),
            request: self.request.to_journal_body(),
            status: self.status,
            response: self.response.to_journal_body(),
            caller: self.caller.clone(),
            role: self.role.as_deref().map(str::to_owned),
            faults: self.faults.clone(),
        }
    }

    /// An estimate of the memory this record holds.
    fn footprint(&self) -> usize {
        let text = |s: &str| s.len() + ALLOCATION;
        std::mem::size_of::<Record>()
            + ALLOCATION // the `Arc`
            + match &self.method {
                Method::Known(_) => 0,
                Method::Other(method) => text(method),
            }
            + text(&self.path)
            + self.query.as_deref().map_or(0, text)
            + self.role.as_deref().map_or(0, text)
            + self.caller.as_ref().map_or(0, |c| text(&c.user_id) + text(&c.device_id))
            + self.faults.iter().map(|f| text(f) + std::mem::size_of::<String>()).sum::<usize>()
            + self.request.footprint()
            + self.response.footprint()
    }
}

/// The records of one server, oldest first.
#[derive(Debug)]
pub(crate) struct Journal {
    /// Each record with its footprint.
    records: VecDeque<(Arc<Record>, usize)>,
    limit: JournalLimit,
    /// Sum of the footprints of `records`.
    bytes: usize,
    /// Records dropped to stay within the limit since the start or the last clear.
    dropped: u64,
    /// The sequence number of the last record pushed (0 before the first).
    last_seq: u64,
}

impl Journal {
    /// An empty journal with this limit.
    pub fn new(limit: JournalLimit) -> Self {
        Self { records: VecDeque::new(), limit, bytes: 0, dropped: 0, last_seq: 0 }
    }

    /// The limit in force.
    pub fn limit(&self) -> JournalLimit {
        self.limit
    }

    /// Changes the limit, dropping the oldest records at once if they exceed it.
    pub fn set_limit(&mut self, limit: JournalLimit) {
        self.limit = limit;
        self.trim();
    }

    /// Appends a record, numbering it, then drops the oldest while over the limit
    /// (never the record just pushed). Returns its sequence number.
    pub fn push(&mut self, mut record: Record) -> u64 {
        self.last_seq += 1;
        record.seq = self.last_seq;
        let footprint = record.footprint() + std::mem::size_of::<(Arc<Record>, usize)>();
        self.bytes += footprint;
        self.records.push_back((Arc::new(record), footprint));
        self.trim();
        self.last_seq
    }

    fn trim(&mut self) {
        let JournalLimit { max_entries, max_bytes, .. } = self.limit;
        while self.records.len() > 1
            && ((max_entries > 0 && self.records.len() > max_entries)
                || (max_bytes > 0 && self.bytes > max_bytes))
        {
            if let Some((_, footprint)) = self.records.pop_front() {
                self.bytes -= footprint;
                self.dropped += 1;
            }
        }
        if self.records.len() < self.records.capacity() / 4 {
            self.records.shrink_to(self.records.len() * 2);
        }
    }

    /// Up to `max` records with a sequence number after `after_seq`, oldest first
    /// (`max == 0`: all of them). Cheap: the records are shared, not copied.
    pub fn page(&self, after_seq: u64, max: usize) -> Vec<Arc<Record>> {
        let start = self.records.partition_point(|(record, _)| record.seq <= after_seq);
        let take = if max == 0 { usize::MAX } else { max };
        self.records.range(start..).take(take).map(|(record, _)| record.clone()).collect()
    }

    /// Removes every record and resets the dropped count; sequence numbers go on
    /// from where they were, so a reader's `since` stays valid. Returns how many
    /// records there were.
    pub fn clear(&mut self) -> usize {
        let cleared = self.records.len();
        self.records = VecDeque::new();
        self.bytes = 0;
        self.dropped = 0;
        cleared
    }

    /// Records kept.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Records dropped to stay within the limit (since the start or the last clear).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The estimated bytes the records take.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The sequence number of the last record ever pushed (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(body_len: usize) -> Record {
        Record {
            seq: 0,
            elapsed_ms: 0,
            method: Method::of("POST"),
            path: "/_matrix/client/v3/unknown".into(),
            query: None,
            request: StoredBody::request(&vec![b'x'; body_len], Some("application/octet-stream"), 0),
            status: 404,
            response: StoredBody::Json(Bytes::from_static(br#"{"errcode":"M_UNRECOGNIZED"}"#)),
            caller: None,
            role: None,
            faults: Vec::new(),
        }
    }

    fn seqs(journal: &Journal) -> Vec<u64> {
        journal.page(0, 0).iter().map(|r| r.seq).collect()
    }

    #[test]
    fn the_entry_cap_drops_the_oldest_and_counts_them() {
        let mut journal = Journal::new(JournalLimit { max_entries: 3, max_bytes: 0, max_body_bytes: 0 });
        for _ in 0..10 {
            journal.push(record(10));
        }
        assert_eq!(seqs(&journal), [8, 9, 10]);
        assert_eq!((journal.len(), journal.dropped(), journal.last_seq()), (3, 7, 10));
    }

    #[test]
    fn the_byte_cap_bounds_the_accounted_bytes_and_they_cover_the_bodies() {
        let limit = JournalLimit { max_entries: 0, max_bytes: 1 << 20, max_body_bytes: 0 };
        let mut journal = Journal::new(limit);
        for _ in 0..200 {
            journal.push(record(64 * 1024));
        }
        assert!(journal.bytes() <= limit.max_bytes, "{} bytes kept", journal.bytes());
        let kept = journal.len();
        assert!((14..=16).contains(&kept), "1 MiB holds 15 bodies of 64 KiB with overhead, kept {kept}");
        assert_eq!(journal.dropped(), 200 - kept as u64);
        let body_bytes: usize = journal.page(0, 0).iter().map(|r| r.footprint()).sum();
        assert!(journal.bytes() >= body_bytes && body_bytes >= kept * 64 * 1024);
    }

    #[test]
    fn a_record_larger_than_the_byte_cap_is_kept_alone() {
        let mut journal = Journal::new(JournalLimit { max_entries: 0, max_bytes: 1000, max_body_bytes: 0 });
        journal.push(record(10));
        journal.push(record(5000));
        assert_eq!(seqs(&journal), [2]);
        journal.push(record(10));
        assert_eq!(seqs(&journal), [3]);
    }

    #[test]
    fn many_records_stay_within_the_default_caps() {
        let mut journal = Journal::new(JournalLimit::STANDALONE);
        for i in 0..100_000usize {
            journal.push(record(i % 300));
        }
        assert_eq!(journal.len(), 10_000);
        assert!(journal.bytes() <= JournalLimit::STANDALONE.max_bytes);
        assert_eq!(journal.dropped(), 90_000);
        assert!(journal.records.capacity() < 4 * 10_000, "the ring does not keep growing");
    }

    #[test]
    fn unlimited_keeps_everything_and_a_lower_limit_trims_at_once() {
        let mut journal = Journal::new(JournalLimit::UNLIMITED);
        for _ in 0..50 {
            journal.push(record(1000));
        }
        assert_eq!((journal.len(), journal.dropped()), (50, 0));
        journal.set_limit(JournalLimit { max_entries: 5, max_bytes: 0, max_body_bytes: 0 });
        assert_eq!(seqs(&journal), [46, 47, 48, 49, 50]);
    }

    #[test]
    fn pages_follow_the_sequence_and_clearing_keeps_numbering() {
        let mut journal = Journal::new(JournalLimit { max_entries: 4, max_bytes: 0, max_body_bytes: 0 });
        for _ in 0..6 {
            journal.push(record(1));
        }
        let page = |j: &Journal, after, max| j.page(after, max).iter().map(|r| r.seq).collect::<Vec<_>>();
        assert_eq!(page(&journal, 0, 2), [3, 4], "a cursor older than the oldest starts at the oldest");
        assert_eq!(page(&journal, 4, 0), [5, 6]);
        assert_eq!(page(&journal, 6, 10), Vec::<u64>::new());
        assert_eq!(journal.clear(), 4);
        assert_eq!((journal.len(), journal.dropped(), journal.bytes()), (0, 0, 0));
        assert_eq!(journal.push(record(1)), 7);
    }

    #[test]
    fn stored_bodies_read_back_as_the_journal_describes_them() {
        let json = StoredBody::request(br#"{"a":1}"#, Some("application/json"), 0);
        assert_eq!(json.to_journal_body(), JournalBody::Json(serde_json::json!({"a": 1})));
        let bytes = StoredBody::request(b"\x01\x02", Some("application/octet-stream"), 0);
        assert_eq!(
            bytes.to_journal_body(),
            JournalBody::Note { note: "2 bytes of application/octet-stream, not JSON".into() }
        );
        assert_eq!(StoredBody::request(b"", None, 0).to_journal_body(), JournalBody::Empty);
        let long = StoredBody::request(&[b'x'; 100], Some("text/plain"), 64);
        assert_eq!(
            long.to_journal_body(),
            JournalBody::Note {
                note: "100 bytes of text/plain, longer than the 64 bytes the journal keeps".into()
            }
        );
        assert!(long.footprint() < 100);
        let json = StoredBody::Json(Bytes::from_static(b"[1,2,3]")).capped(4);
        assert!(matches!(json, StoredBody::TooLong { len: 7, .. }));
    }
}
