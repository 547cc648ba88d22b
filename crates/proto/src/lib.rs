//! Generated types of the Açık Kapı API (`acikkapi.v1`) and its events.

#[allow(clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("acikkapi.v1");
}

/// The encoded file descriptor set, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("acikkapi_descriptor");

/// Bits of a stored vulnerability set.
pub mod vulnerability {
    pub const MARTYR_RELATIVE: u32 = 1;
    pub const VETERAN: u32 = 2;
    pub const DISABLED: u32 = 4;
    pub const ELDERLY: u32 = 8;
    pub const SICK: u32 = 16;
}

impl v1::Vulnerability {
    /// The set as stored: one bit per kind, see [`vulnerability`].
    pub fn bits(&self) -> u32 {
        use vulnerability::*;
        [
            (self.martyr_relative, MARTYR_RELATIVE),
            (self.veteran, VETERAN),
            (self.disabled, DISABLED),
            (self.elderly, ELDERLY),
            (self.sick, SICK),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .fold(0, |acc, (_, bit)| acc | bit)
    }

    pub fn from_bits(bits: u32) -> Self {
        use vulnerability::*;
        Self {
            martyr_relative: bits & MARTYR_RELATIVE != 0,
            veteran: bits & VETERAN != 0,
            disabled: bits & DISABLED != 0,
            elderly: bits & ELDERLY != 0,
            sick: bits & SICK != 0,
        }
    }
}

pub use prost;
pub use prost_types;

pub mod events;
pub use events::{Event, EventKind};
