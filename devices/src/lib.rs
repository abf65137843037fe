//! Simulated Matrix clients for the conformance harness (filled in by later work).
