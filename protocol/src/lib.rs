//! Shared vocabulary of the Matrix E2EE onboarding conformance harness.
//!
//! The crate has no I/O. It provides:
//!
//! * [`base64`]: unpadded standard base64 with a lenient decoder;
//! * [`canonical_json`]: Matrix canonical JSON and the signing input;
//! * [`keys`]: Ed25519 and Curve25519 keys as types;
//! * [`key_id`]: `algorithm:name` key identifiers;
//! * [`signing`]: signing and verifying JSON objects;
//! * [`ids`]: user IDs and localpart validation;
//! * [`device_keys`]: a typed view of `device_keys` objects;
//! * [`cross_signing`]: cross-signing keys and the checks of `/keys/device_signing/upload`.

pub mod base64;
pub mod canonical_json;
pub mod cross_signing;
pub mod device_keys;
pub mod ids;
pub mod key_id;
pub mod keys;
pub mod qr_login;
pub mod signing;

/// The request header by which the harness's own simulated devices mark their
/// requests with their role's letter (`A`, `B`, `R`).
///
/// The mock homeserver records it in its journal, so that the runner attributes each
/// request by fact: a marked request is the simulated device's, an unmarked one the
/// external client's. Any other homeserver ignores it.
pub const ROLE_HEADER: &str = "x-conformance-role";
