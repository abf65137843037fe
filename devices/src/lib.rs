//! Simulated Matrix clients for the conformance harness (filled in by later work).
pub mod secure_channel;
