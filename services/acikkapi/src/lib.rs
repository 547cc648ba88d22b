//! A node: the enabled services of one process on one gRPC server, with the
//! outbox relay. `acikkapi serve` runs one; the test harness runs several.

#[cfg(feature = "testing")]
pub mod testing;

use acikkapi_platform::auth::{Access, AuthLayer, Keys};
use acikkapi_platform::config::Settings;
use acikkapi_platform::mount::{Descriptor, Mount};
use acikkapi_platform::service::Service;
use acikkapi_platform::store::Migration;
use acikkapi_platform::{Platform, PlatformError, relay, server};
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The descriptor of each service: the one place the binary lists them.
/// Exhaustive, so a new `Service` variant does not build until it is here.
pub fn descriptor(service: Service) -> &'static Descriptor {
    match service {
        Service::Intake => &acikkapi_intake::DESCRIPTOR,
        Service::Routing => &acikkapi_routing::DESCRIPTOR,
        Service::Notification => &acikkapi_notification::DESCRIPTOR,
        Service::Escalation => &acikkapi_escalation::DESCRIPTOR,
        Service::Reporting => &acikkapi_reporting::DESCRIPTOR,
        Service::Portal => &acikkapi_portal::DESCRIPTOR,
    }
}

/// Every service's descriptor, in start order.
pub fn descriptors() -> impl Iterator<Item = &'static Descriptor> {
    Service::ALL.into_iter().map(descriptor)
}

/// The migrations of every service (the platform's own come first, added
/// by `Db::migrate`'s callers): a node migrates them all whatever it runs,
/// so one schema serves any subset, and `acikkapi migrate` does the same.
pub fn migrations() -> Vec<&'static [Migration]> {
    descriptors().map(|d| d.migrations).collect()
}

pub struct Node {
    pub grpc_addr: SocketAddr,
    pub http_addr: Option<SocketAddr>,
    /// The citizen portal's address, when this node runs it.
    pub portal_addr: Option<SocketAddr>,
    pub platform: Platform,
    task: JoinHandle<Result<(), PlatformError>>,
}

impl Node {
    /// Binds, migrates and starts serving. Addresses may use port 0.
    pub async fn start(
        mut settings: Settings,
        shutdown: CancellationToken,
    ) -> Result<Self, PlatformError> {
        let services = settings.enabled_services();
        settings.services = services.clone();
        let grpc = TcpListener::bind(&settings.server.grpc_addr)
            .await
            .map_err(|e| {
                PlatformError::Config(format!(
                    "server.grpc_addr {}: {e}",
                    settings.server.grpc_addr
                ))
            })?;
        let http = if settings.server.http_addr.is_empty() {
            None
        } else {
            Some(
                TcpListener::bind(&settings.server.http_addr)
                    .await
                    .map_err(|e| {
                        PlatformError::Config(format!(
                            "server.http_addr {}: {e}",
                            settings.server.http_addr
                        ))
                    })?,
            )
        };
        let grpc_addr = grpc
            .local_addr()
            .map_err(|e| PlatformError::Internal(e.to_string()))?;
        let http_addr = http.as_ref().and_then(|l| l.local_addr().ok());

        let keys = Keys::load(&settings)?;
        let platform = Platform::connect(settings, &migrations(), shutdown).await?;
        let mut names: Vec<&'static str> = Vec::new();
        let mut mount = Mount {
            platform: platform.clone(),
            keys: keys.clone(),
            grpc_addr,
            routes: tonic::service::RoutesBuilder::default(),
            http: axum::Router::new(),
            workers: Vec::new(),
            web_addr: None,
        };
        for &service in &services {
            let d = descriptor(service);
            mount = (d.mount)(mount).await?;
            names.extend(d.grpc_services);
        }
        // The audit trail belongs to the platform: every node answers it.
        mount.routes.add_service(
            acikkapi_proto::v1::audit_service_server::AuditServiceServer::new(
                acikkapi_platform::audit::AuditApi {
                    db: platform.db.clone(),
                },
            )
            .max_decoding_message_size(acikkapi_platform::audit::MAX_REQUEST_BYTES),
        );
        names.push(acikkapi_platform::audit::SERVICE_NAME);
        let Mount {
            routes,
            http: http_routes,
            workers,
            web_addr: portal_addr,
            ..
        } = mount;
        // The in-process bus dies with its process, and with it what it
        // held (published, not yet applied): those events, kept as sent,
        // are delivered again; the consumers apply only what they lack.
        if matches!(platform.bus, acikkapi_platform::bus::Bus::Memory(_)) {
            let again = platform.db.outbox_replay(0).await?;
            if again > 0 {
                tracing::info!(
                    events = again,
                    "in-process bus: the events kept as sent delivered again"
                );
                platform.outbox_written.notify_one();
            }
        }
        let relay_stop = CancellationToken::new();
        let relay_task = platform.settings.relay.enabled.then(|| {
            let mut p = platform.clone();
            p.shutdown = relay_stop.clone();
            tokio::spawn(relay::run(p))
        });
        tracing::info!(%grpc_addr, ?http_addr, ?portal_addr, services = ?services, store = ?platform.db.kind(), "serving");
        let p = platform.clone();
        let client_ip_header = platform.settings.server.client_ip_header.clone();
        let task = tokio::spawn(async move {
            let served = server::serve(
                p,
                routes.routes(),
                names,
                grpc,
                http.map(|l| (l, http_routes)),
                AuthLayer::new(keys, policy).client_ip_header(&client_ip_header),
            )
            .await;
            // The server dropped the services, closing the writers' queue:
            // they commit what they hold, then the relay publishes it.
            for w in workers {
                let _ = w.await;
            }
            relay_stop.cancel();
            if let Some(r) = relay_task {
                let _ = r.await;
            }
            served
        });
        Ok(Self {
            grpc_addr,
            http_addr,
            portal_addr,
            platform,
            task,
        })
    }

    /// Waits until the node stopped (after its shutdown token was cancelled).
    pub async fn wait(self) -> Result<(), PlatformError> {
        self.task
            .await
            .map_err(|e| PlatformError::Internal(e.to_string()))?
    }
}

/// Every gRPC service this build can serve (the audit trail on every node).
pub fn served_services() -> Vec<&'static str> {
    descriptors()
        .flat_map(|d| d.grpc_services.iter().copied())
        .chain([acikkapi_platform::audit::SERVICE_NAME])
        .collect()
}

/// The access rule of every method this binary can serve.
pub fn policy(path: &str) -> Option<Access> {
    descriptors()
        .find_map(|d| (d.policy)(path))
        .or_else(|| acikkapi_platform::audit::policy(path))
}
