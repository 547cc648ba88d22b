//! Generated types of the Açık Kapı API (`acikkapi.v1`) and its events.

#[allow(clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("acikkapi.v1");
}

/// The encoded file descriptor set, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("acikkapi_descriptor");

pub use prost;
pub use prost_types;
