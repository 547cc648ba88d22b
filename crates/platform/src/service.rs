//! The services one binary can run, and what each brings to a node.
//!
//! `Service` names them (configuration, `--services`, logs); a service
//! crate describes itself once in a [`Descriptor`]: its gRPC services, its
//! migrations, its access policy and how it mounts itself on a node. The
//! binary keeps one exhaustive `match` from `Service` to descriptor, and
//! `serve`, `migrate`, health, reflection and the access matrix all iterate
//! it: a service cannot be served and forgotten by `migrate` (as happened
//! when the list was kept by hand in four places).

use crate::auth::{Access, Keys};
use crate::store::Migration;
use crate::{Platform, PlatformError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::str::FromStr;
use tokio::task::JoinHandle;

/// A service of the platform. The order is the start order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Intake,
    Routing,
    Notification,
    Escalation,
    Reporting,
    /// The citizen portal and staff console: a web channel with no gRPC
    /// service of its own.
    Portal,
}

impl Service {
    pub const ALL: [Service; 6] = [
        Service::Intake,
        Service::Routing,
        Service::Notification,
        Service::Escalation,
        Service::Reporting,
        Service::Portal,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Service::Intake => "intake",
            Service::Routing => "routing",
            Service::Notification => "notification",
            Service::Escalation => "escalation",
            Service::Reporting => "reporting",
            Service::Portal => "portal",
        }
    }

    /// Every name, comma-separated, for messages.
    pub fn known() -> String {
        Self::ALL.map(Service::as_str).join(", ")
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Service {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("unknown service {s:?} (known: {})", Self::known()))
    }
}

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
    /// The access rule of each of its gRPC methods, by path.
    pub policy: fn(&str) -> Option<Access>,
    /// Declares its queues, starts its workers and adds its routes.
    pub mount: fn(Mount) -> Mounting,
}

fn no_methods(_: &str) -> Option<Access> {
    None
}

/// For a service without gRPC methods.
pub const NO_POLICY: fn(&str) -> Option<Access> = no_methods;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_named() {
        for s in Service::ALL {
            assert_eq!(s.as_str().parse::<Service>(), Ok(s));
            assert_eq!(s.to_string(), s.as_str());
        }
        let err = "billing".parse::<Service>().unwrap_err();
        assert!(
            err.contains("billing") && err.contains("reporting"),
            "{err}"
        );
    }
}
