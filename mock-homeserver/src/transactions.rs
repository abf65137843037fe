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
    pub fn contains(&self, txn: &TxnKey) -> bool {
        self.seen.contains(txn.0.as_str())
    }

    /// Remembers a transaction, forgetting the oldest beyond [`REMEMBERED_TRANSACTIONS`].
    pub fn remember(&mut self, txn: TxnKey) {
        let key: Arc<str> = Arc::from(txn.0);
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

/// One `(access token, event type, txn ID)` as one string: NUL cannot occur in a token,
/// and the event type and transaction ID are single URL path segments, so the parts
/// stay apart.
#[derive(Debug)]
pub(crate) struct TxnKey(String);

impl TxnKey {
    /// The key of a transaction.
    pub fn new(token: &str, event_type: &str, txn_id: &str) -> Self {
        let mut key = String::with_capacity(token.len() + event_type.len() + txn_id.len() + 2);
        for (i, part) in [token, event_type, txn_id].into_iter().enumerate() {
            if i > 0 {
                key.push('\0');
            }
            key.push_str(part);
        }
        Self(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_is_recognised_and_the_memory_is_bounded() {
        let key = TxnKey::new;
        let mut txns = Transactions::default();
        assert!(!txns.contains(&key("tok", "m.x", "1")));
        txns.remember(key("tok", "m.x", "1"));
        assert!(txns.contains(&key("tok", "m.x", "1")), "the retry");
        assert!(!txns.contains(&key("tok", "m.y", "1")), "another event type");
        assert!(!txns.contains(&key("other", "m.x", "1")), "another token");
        assert!(!txns.contains(&key("tok", "m.x\0", "")), "the parts stay apart");
        txns.remember(key("tok", "m.x", "1"));
        assert_eq!(txns.len(), 1, "remembering twice keeps one");
        for i in 0..REMEMBERED_TRANSACTIONS * 2 {
            txns.remember(key("tok", "m.z", &i.to_string()));
        }
        assert_eq!(txns.len(), REMEMBERED_TRANSACTIONS);
        assert_eq!(txns.seen.len(), REMEMBERED_TRANSACTIONS);
        assert!(!txns.contains(&key("tok", "m.x", "1")), "forgotten after 10,000 others");
        let last = (REMEMBERED_TRANSACTIONS * 2 - 1).to_string();
        assert!(txns.contains(&key("tok", "m.z", &last)), "a recent one is still known");
    }
}
