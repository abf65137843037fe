//! Endpoints of this group (to be written).

use super::Route;

pub(crate) fn routes() -> Vec<Route> {
    Vec::new()
}
