//! The endpoints, one module per group, and the route table.

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
