//! The endpoints, one module per group, and the route table. [`served`] lists the
//! table for other crates: the harness checks the HTTP patterns of a scenario file
//! against it, so a pattern no request can match is a typo caught when the file loads.

use std::sync::OnceLock;

use route::Route;

pub(crate) mod account_data;
pub(crate) mod device_signing;
pub(crate) mod devices;
pub(crate) mod discovery;
pub(crate) mod filter;
pub(crate) mod keys;
pub(crate) mod login;
pub(crate) mod login_token;
pub(crate) mod presence;
pub(crate) mod profile;
pub(crate) mod push_rules;
pub(crate) mod register;
pub(crate) mod rendezvous;
pub(crate) mod room_keys;
pub(crate) mod route;
pub(crate) mod signatures;
pub(crate) mod sync;
pub(crate) mod to_device;
pub(crate) mod uia;
pub(crate) mod versions;

pub use to_device::SPEC_TO_DEVICE_EVENT_TYPES;

/// One endpoint the server serves: a method and a path pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// The method, upper case.
    pub method: &'static str,
    /// The full path pattern; a `{name}` segment stands for any one non-empty
    /// segment, e.g. `/_matrix/client/v3/sendToDevice/{eventType}/{txnId}`.
    pub path: &'static str,
}

impl Endpoint {
    /// The values the Matrix spec defines for a path parameter in its own `m.`
    /// namespace, when it defines them: an `{eventType}` starting with `m.` that is not
    /// in this list is an event type nobody sends (other namespaces are free for any
    /// client to use).
    pub fn spec_values(param: &str) -> Option<&'static [&'static str]> {
        (param == "eventType").then_some(SPEC_TO_DEVICE_EVENT_TYPES)
    }
}

/// Every endpoint in the route table, in table order, whether or not the profile in
/// force switches it on (the rendezvous, the login-token forms).
///
/// ```
/// let served = mock_homeserver::endpoints::served();
/// assert!(served.iter().any(|e| e.method == "POST" && e.path == "/_matrix/client/v3/keys/query"));
/// ```
pub fn served() -> Vec<Endpoint> {
    table().iter().map(|route| Endpoint { method: route.method, path: route.pattern }).collect()
}

/// The routes whose pattern has `segments` segments, in table order: only these can
/// match a path of that many segments (first match wins, as in the whole table).
pub(crate) fn routes_with(segments: usize) -> &'static [Route] {
    static BY_LENGTH: OnceLock<Vec<Vec<Route>>> = OnceLock::new();
    let by_length = BY_LENGTH.get_or_init(|| {
        let mut by_length: Vec<Vec<Route>> = Vec::new();
        for route in table() {
            let len = route.segment_count();
            if by_length.len() <= len {
                by_length.resize_with(len + 1, Vec::new);
            }
            by_length[len].push(route);
        }
        by_length
    });
    by_length.get(segments).map_or(&[], Vec::as_slice)
}

/// Every route the server knows, in the order they are tried.
fn table() -> Vec<Route> {
    let mut routes = Vec::new();
    routes.extend(versions::routes());
    routes.extend(login::routes());
    routes.extend(login_token::routes());
    routes.extend(register::routes());
    routes.extend(keys::routes());
    routes.extend(device_signing::routes());
    routes.extend(signatures::routes());
    routes.extend(devices::routes());
    routes.extend(to_device::routes());
    routes.extend(sync::routes());
    routes.extend(room_keys::routes());
    routes.extend(rendezvous::routes());
    // What clients call at start-up and in their sync loop.
    routes.extend(push_rules::routes());
    routes.extend(filter::routes());
    routes.extend(account_data::routes());
    routes.extend(profile::routes());
    routes.extend(presence::routes());
    routes.extend(discovery::routes());
    routes
}
