//! The conformance runner (filled in by later work).
