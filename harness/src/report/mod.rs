//! What a run leaves behind: the JSON and JUnit reports, Mermaid sequence diagrams,
//! full transcripts, and an implementation's expectations file.

pub mod artifacts;
pub mod expectations;
pub mod junit;
pub mod mermaid;
