//! An in-memory Matrix homeserver for the endpoints that QR sign-in (MSC3906 over
//! MSC3886/MSC3903 with MSC3882 login tokens) and registration with cross-signing keys
//! (MSC2912) use.
//!
//! The crate has two layers:
//!
//! * [`Homeserver`] is the core: all state and every endpoint handler, driven one
//!   [`Request`] at a time and answering with a [`Response`]. It does no I/O, so tests
//!   and fuzzers can drive it directly.
//! * [`MockHomeserver`] is the thin HTTP shell: it serves the core over hyper on a
//!   loopback port, implements the long-poll of `/sync`, and serves the harness API
//!   under `/_harness/` to its owner ([`HarnessAccess`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use mock_homeserver::{MockHomeserver, Profile};
//!
//! let server = MockHomeserver::builder().profile(Profile::msc2912()).start().await?;
//! println!("serving on {}", server.base_url());
//! for entry in server.journal() {
//!     println!("{} {} -> {}", entry.method, entry.path, entry.status);
//! }
//! # Ok(()) }
//! ```

mod builder;
mod clock;
mod context;
mod core;
mod cors;
mod dispatch;
pub mod endpoints;
mod error;
mod fault;
mod http;
mod journal;
mod profile;
mod request;
mod state;
mod transactions;

pub use builder::{Builder, MockHomeserver};
pub use clock::{Clock, ManualClock, SystemClock, FIXED_ORIGIN_UNIX_MS};
pub use core::{Handled, Homeserver};
pub use error::MatrixError;
pub use fault::{CrossSigningKeyKind, Fault, FaultField};
pub use http::{HarnessAccess, HttpLimits};
pub use journal::{JournalBody, JournalEntry, JournalLimit, ROLE_HEADER};
pub use profile::{
    LoginTokenSupport, Msc2912Support, Profile, ProfileError, RendezvousLocation, RendezvousProfile,
};
pub use request::{Body, Caller, Request, Response, WireResponse};
