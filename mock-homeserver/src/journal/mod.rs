//! The journal: every exchange the server answered, in arrival order.
//!
//! `entry.rs` holds the entries as readers see them; `store.rs` the compact, optionally
//! bounded store the server keeps them in.

mod entry;
mod store;

pub use entry::{JournalBody, JournalEntry, ROLE_HEADER};
pub use store::JournalLimit;
pub(crate) use store::{Journal, Method, Record, StoredBody};
