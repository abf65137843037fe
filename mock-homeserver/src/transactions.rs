//! The transaction IDs of `sendToDevice` a server remembers, so that a retry is not
//! delivered twice: the most recent ones, a fixed number, so that a server that runs
//! for hours does not grow without limit (Synapse forgets them after 30 minutes).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

/// How many transactions are remembered, across all clients. A retry is recognised
/// as long as fewer than this many other transactions arrived in between.
pub(crate) const REMEMBERED_TRANSACTIONS: usize = 10_000;

/// The remembered `(access token, event type, txn ID)` triples, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Transactions {
    seen: HashSet<Arc<str>>,
    order: VecDeque<Arc<str>>,
}

impl Transactions {
    /// Whether this transaction was seen (a retry: deliver nothing).
    pub fn contains(&self, token: &str, event_type: &str, txn_id: &str) -> bool {
        self.seen.contains(key(token, event_type, txn_id).as_str())
    }

    /// Remembers a transaction, forgetting the oldest beyond [`REMEMBERED_TRANSACTIONS`].
    pub fn remember(&mut self, token: &str, event_type: &str, txn_id: &str) {
        let key: Arc<str> = Arc::from(key(token, event_type, txn_id));
        if !self.seen.insert(key.clone()) {
            return;
        }
        self.order.push_back(key);
        while self.order.len() > REMEMBERED_TRANSACTIONS {
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
    }

    /// How many transactions are remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.order.len()
    }
}

/// One string for the triple; NUL cannot occur in a token, and the event type and
/// transaction ID are single URL path segments, so the parts stay apart.
fn key(token: &str, event_type: &str, txn_id: &str) -> String {
    format!("{token}\0{event_type}\0{txn_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_is_recognised_and_the_memory_is_bounded() {
        let mut txns = Transactions::default();
        assert!(!txns.contains("tok", "m.x", "1"));
        txns.remember("tok", "m.x", "1");
        assert!(txns.contains("tok", "m.x", "1"), "the retry");
        assert!(!txns.contains("tok", "m.y", "1"), "another event type");
        assert!(!txns.contains("other", "m.x", "1"), "another token");
        txns.remember("tok", "m.x", "1");
        assert_eq!(txns.len(), 1, "remembering twice keeps one");
        for i in 0..REMEMBERED_TRANSACTIONS * 2 {
            txns.remember("tok", "m.z", &i.to_string());
        }
        assert_eq!(txns.len(), REMEMBERED_TRANSACTIONS);
        assert_eq!(txns.seen.len(), REMEMBERED_TRANSACTIONS);
        assert!(!txns.contains("tok", "m.x", "1"), "forgotten after 10,000 others");
        let last = (REMEMBERED_TRANSACTIONS * 2 - 1).to_string();
        assert!(txns.contains("tok", "m.z", &last), "a recent one is still known");
    }
}
