//! The body of an answer: a whole buffer, or the journal written page by page.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use serde::Serialize;

use super::idle::Busy;
use crate::core::Homeserver;

/// Entries serialised per frame of a journal stream: small enough that the journal
/// lock is held only for a moment and other requests run between frames.
const ENTRIES_PER_FRAME: usize = 32;

/// The body of an answer.
#[derive(Debug)]
pub(crate) enum ResponseBody {
    /// The whole body at once (`None` once sent).
    Full(Option<Bytes>),
    /// `GET /_harness/journal`, serialised while it is sent.
    Journal(Box<JournalStream>),
}

impl ResponseBody {
    /// A body of these bytes.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        ResponseBody::Full((!bytes.is_empty()).then_some(bytes))
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let next = match self.get_mut() {
            ResponseBody::Full(bytes) => bytes.take(),
            ResponseBody::Journal(stream) => {
                // Let every other request run between two frames: without this, a
                // socket that keeps accepting lets one poll serialise most of the
                // journal while the rest of the server waits.
                if std::mem::take(&mut stream.yield_next) {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                stream.yield_next = true;
                stream.next_chunk()
            }
        };
        Poll::Ready(next.map(|bytes| Ok(Frame::data(bytes))))
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Full(bytes) => bytes.is_none(),
            ResponseBody::Journal(stream) => stream.done,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            ResponseBody::Journal(_) => SizeHint::default(),
        }
    }
}

/// An answer's body that keeps its connection busy until it is written or dropped
/// (see `idle.rs`).
#[derive(Debug)]
pub(crate) struct TrackedBody {
    body: ResponseBody,
    _busy: Busy,
}

impl TrackedBody {
    /// `body`, holding `busy` until it is done.
    pub fn new(body: ResponseBody, busy: Busy) -> Self {
        Self { body, _busy: busy }
    }
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A page of the journal as JSON, written a few entries at a time:
/// `{"journal":[...],"dropped":N,"next_since":SEQ,"more":BOOL}`.
///
/// The page ends at the last entry journaled when the read began, so a read of a
/// busy server ends too. Between frames no lock is held and nothing is copied but
/// the next few records' references.
#[derive(Debug)]
pub(crate) struct JournalStream {
    core: Arc<Homeserver>,
    /// Entries after this sequence number come next.
    after: u64,
    /// Entries still to send, at most.
    remaining: usize,
    /// The last sequence number of the snapshot.
    up_to: u64,
    /// Whether an entry was written (for the commas).
    wrote_entry: bool,
    started: bool,
    done: bool,
    /// Whether to give way to other tasks before the next frame.
    yield_next: bool,
}

impl JournalStream {
    /// The entries after `since`, at most `limit` of them (`0`: no limit).
    pub fn new(core: Arc<Homeserver>, since: u64, limit: usize) -> Self {
        let up_to = core.journal_last_seq();
        let remaining = if limit == 0 { usize::MAX } else { limit };
        Self {
            core,
            after: since,
            remaining,
            up_to,
            wrote_entry: false,
            started: false,
            done: false,
            yield_next: false,
        }
    }

    fn next_chunk(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        let mut out = Vec::with_capacity(16 * 1024);
        if !self.started {
            self.started = true;
            out.extend_from_slice(b"{\"journal\":[");
        }
        let want = self.remaining.min(ENTRIES_PER_FRAME);
        let records = if want == 0 || self.after >= self.up_to {
            Vec::new()
        } else {
            self.core.journal_records(self.after, want)
        };
        let mut wrote = 0;
        for record in records.iter().filter(|r| r.seq <= self.up_to) {
            if self.wrote_entry {
                out.push(b',');
            }
            // An entry always serialises: its bodies are JSON values or notes.
            let _ = serde_json::to_writer(&mut out, &record.to_entry());
            self.wrote_entry = true;
            self.after = record.seq;
            wrote += 1;
        }
        self.remaining -= wrote;
        if wrote == 0 || self.remaining == 0 || self.after >= self.up_to {
            let more = self.remaining == 0
                && self.core.journal_records(self.after, 1).first().is_some_and(|r| r.seq <= self.up_to);
            #[derive(Serialize)]
            struct Trailer {
                dropped: u64,
                next_since: u64,
                more: bool,
            }
            let trailer = Trailer { dropped: self.core.journal_dropped(), next_since: self.after, more };
            out.extend_from_slice(b"],");
            let trailer = serde_json::to_vec(&trailer).unwrap_or_else(|_| b"{}".to_vec());
            // Splice the trailer object's fields into the outer object.
            out.extend_from_slice(&trailer[1..]);
            self.done = true;
        }
        Some(Bytes::from(out))
    }
}
