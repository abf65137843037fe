//! The endpoints, one module per group, and the route table.

use std::sync::OnceLock;

use route::Route;

pub(crate) mod device_signing;
pub(crate) mod devices;
pub(crate) mod keys;
pub(crate) mod login;
pub(crate) mod login_token;
pub(crate) mod register;
pub(crate) mod rendezvous;
pub(crate) mod room_keys;
pub(crate) mod route;
pub(crate) mod signatures;
pub(crate) mod sync;
pub(crate) mod to_device;
pub(crate) mod uia;
pub(crate) mod versions;

/// Every route the server knows.
pub(crate) fn routes() -> &'static [Route] {
    static ROUTES: OnceLock<Vec<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
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
        routes
    })
}
