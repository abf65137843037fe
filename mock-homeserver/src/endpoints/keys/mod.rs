//! The key endpoints of docs/protocol.md §7.1–§7.3: `/keys/upload`, `/keys/query` and
//! `/keys/claim`, plus the faults that tamper with `/keys/query` answers.
//!
//! Cross-signing keys are written by `device_signing.rs` and signatures merged by
//! `signatures.rs`; `/keys/query` serves what is stored, filtered by the visibility
//! rules of §7.2.

mod claim;
mod common;
mod query;
mod tamper;
mod upload;

use crate::endpoints::route::{Auth, Route};

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new("POST", "/_matrix/client/v3/keys/upload", Auth::Required, upload::upload),
        Route::new("POST", "/_matrix/client/v3/keys/query", Auth::Required, query::query),
        Route::new("POST", "/_matrix/client/v3/keys/claim", Auth::Required, claim::claim),
    ]
}
