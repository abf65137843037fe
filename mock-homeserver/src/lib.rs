//! Mock homeserver.
