//! What a run leaves behind: the console's lines, the JSON and JUnit reports, Mermaid
//! sequence diagrams, full transcripts, and an implementation's expectations file.

pub mod artifacts;
pub mod console;
pub mod expectations;
pub mod json;
pub mod junit;
pub mod mermaid;
pub mod summary;
