//! What a service brings to a node. A service crate describes itself once
//! in a [`Descriptor`]: its gRPC services, its migrations, its access policy
//! and how it mounts itself on a node. The binary keeps one exhaustive
//! `match` from [`Service`] to descriptor, and `serve`, `migrate`, health,
//! reflection and the access matrix all iterate it: a service cannot be
//! served and forgotten by `migrate` (as happened when the list was kept by
//! hand in four places).

use crate::auth::{Access, Keys};
use crate::service::Service;
use crate::store::Migration;
use crate::{Platform, PlatformError};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use tokio::task::JoinHandle;

/// What a node being started offers a service, and what the service leaves
/// on it. Owned, so a service's `mount` is a plain `async fn`.
pub struct Mount {
    pub platform: Platform,
    /// The node's token keys (one cache of the provider's keys a process).
    pub keys: Keys,
    /// The node's gRPC address (port already bound).
    pub grpc_addr: SocketAddr,
    /// gRPC services to serve.
    pub routes: tonic::service::RoutesBuilder,
    /// Routes for the node's HTTP port (beside metrics and health).
    pub http: axum::Router,
    /// Tasks that finish after the server stopped, in the order pushed.
    pub workers: Vec<JoinHandle<()>>,
    /// Where a web channel mounted here listens.
    pub web_addr: Option<SocketAddr>,
}

pub type Mounting = Pin<Box<dyn Future<Output = Result<Mount, PlatformError>> + Send>>;

/// One service, described once by its crate.
pub struct Descriptor {
    pub service: Service,
    /// Full names of the gRPC services it mounts (health, reflection, the
    /// access matrix).
    pub grpc_services: &'static [&'static str],
    pub migrations: &'static [Migration],
    /// The queues it consumes, each with the event kinds bound to it:
    /// declared by `acikkapi migrate` too, so that no event published
    /// before its consumer's first start (a new install, a fresh broker
    /// after a restore) finds no queue and is dropped.
    pub queues: Queues,
    /// The access rule of each of its gRPC methods, by path.
    pub policy: fn(&str) -> Option<Access>,
    /// Declares its queues, starts its workers and adds its routes.
    pub mount: fn(Mount) -> Mounting,
}

/// Queues with the event kinds bound to each.
pub type Queues = &'static [(&'static str, &'static [&'static str])];

/// Declares `queues` with their bindings (idempotent).
pub async fn declare_queues(bus: &crate::bus::Bus, queues: Queues) -> Result<(), PlatformError> {
    for (queue, kinds) in queues {
        bus.declare(queue, kinds).await?;
    }
    Ok(())
}

fn no_methods(_: &str) -> Option<Access> {
    None
}

/// For a service without gRPC methods.
pub const NO_POLICY: fn(&str) -> Option<Access> = no_methods;
