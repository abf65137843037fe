//! Protocol vocabulary.
