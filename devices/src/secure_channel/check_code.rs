//! The 12-digit check code `NNNN-NNNN-NNNN` (docs/protocol.md §4.4).

use std::fmt;

/// The check code both screens show, from the first 5 bytes of the HKDF
/// output (the spec's SAS "decimal" method).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CheckCode {
    bytes: [u8; 5],
}

impl CheckCode {
    /// The code for the 5 derived bytes.
    pub fn from_bytes(bytes: [u8; 5]) -> CheckCode {
        CheckCode { bytes }
    }

    /// The 5 derived bytes.
    pub fn bytes(&self) -> [u8; 5] {
        self.bytes
    }

    /// The three numbers, each in 1000..=9191.
    pub fn numbers(&self) -> [u16; 3] {
        let [b0, b1, b2, b3, b4] = self.bytes.map(u16::from);
        [
            ((b0 << 5) | (b1 >> 3)) + 1000,
            (((b1 & 0x07) << 10) | (b2 << 2) | (b3 >> 6)) + 1000,
            (((b3 & 0x3F) << 7) | (b4 >> 1)) + 1000,
        ]
    }
}

impl fmt::Display for CheckCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [n1, n2, n3] = self.numbers();
        write!(f, "{n1}-{n2}-{n3}")
    }
}
