//! What puts a role in a run from outside, on top of the run engine: our own
//! simulated device behind the adapter protocol (`conformance device`, the reference
//! adapter) and a client a person drives by hand (`conformance serve`).

pub mod device;
pub mod qr_text;
pub mod serve;
