//! The HTTP shell: hyper in front of the core, with bounded reads, a connection cap,
//! pipelining, the long-poll of `/sync` and the harness API under `/_harness/`.
//!
//! `server.rs` accepts connections (`idle.rs` keeps their header-read timeout),
//! `service.rs` answers one request, `reply.rs` builds the answers, `harness_api.rs`
//! serves `/_harness/`, `body.rs` holds the answer bodies and `config.rs` the public
//! settings.

mod body;
mod config;
mod harness_api;
mod idle;
mod reply;
mod server;
mod service;

pub use config::{HarnessAccess, HttpLimits};
pub(crate) use server::serve;
pub(crate) use service::Shared;
