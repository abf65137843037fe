//! The QR-login devices behind `conformance device` (new device A, existing device B).
//!
//! Placeholder until the simulated QR-login devices are merged into this branch:
//! the role answers `unimplemented`, which the runner reports as UNIMPLEMENTED.

use devices::Role;

use super::device::DeviceOptions;
use super::protocol::{AdapterCommand, Setup};
use crate::scenario::RoleKind;

/// Builds A or B from the `setup` command and the command that starts the flow.
pub(crate) fn build(
    kind: RoleKind,
    options: &DeviceOptions,
    setup: &Setup,
    start: &AdapterCommand,
) -> Result<Box<dyn Role>, String> {
    let _ = (options, setup, start);
    Err(format!("unimplemented: the simulated {kind:?} is not in this build yet"))
}
