//! A node: the enabled services of one process on one gRPC server, with the
//! outbox relay. `acikkapi serve` runs one; the test harness runs several.

use acikkapi_platform::auth::{Access, AuthLayer, Keys};
use acikkapi_platform::config::Settings;
use acikkapi_platform::{Platform, PlatformError, relay, server};
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Services this build can run. The others are defined in proto/ and land
/// with their issues; asking for one says so instead of starting half a system.
pub const IMPLEMENTED: &[&str] = &[
    "intake",
    "routing",
    "notification",
    "escalation",
    "reporting",
    "portal",
];

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
        let services = select_services(&settings)?;
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
        let platform = Platform::connect(
            settings,
            &[
                acikkapi_intake::MIGRATIONS,
                acikkapi_routing::MIGRATIONS,
                acikkapi_notification::MIGRATIONS,
                acikkapi_escalation::MIGRATIONS,
                acikkapi_reporting::MIGRATIONS,
            ],
            shutdown,
        )
        .await?;
        let mut routes = tonic::service::RoutesBuilder::default();
        let mut names: Vec<&'static str> = Vec::new();
        let mut workers = Vec::new();
        if services.iter().any(|s| s == "intake") {
            // Declared before its loops start: two loops declaring a new
            // quorum queue at once can consume before its process is up,
            // which the broker answers by closing the whole connection.
            acikkapi_intake::declare_queues(&platform).await?;
            let parts = acikkapi_intake::build(&platform)?;
            routes.add_service(parts.intake);
            routes.add_service(parts.catalog);
            names.extend(service_names("intake"));
            workers.extend(parts.workers);
        }
        if services.iter().any(|s| s == "routing") {
            let parts = acikkapi_routing::build(&platform).await?;
            routes.add_service(parts.routing);
            names.extend(service_names("routing"));
            workers.extend(parts.workers);
        }
        let mut http_routes = axum::Router::new();
        if services.iter().any(|s| s == "notification") {
            let parts = acikkapi_notification::build(&platform).await?;
            routes.add_service(parts.notification);
            names.extend(service_names("notification"));
            workers.extend(parts.workers);
            http_routes = http_routes.merge(parts.http);
        }
        if services.iter().any(|s| s == "escalation") {
            let parts = acikkapi_escalation::build(&platform).await?;
            routes.add_service(parts.escalation);
            names.extend(service_names("escalation"));
            workers.extend(parts.workers);
        }
        if services.iter().any(|s| s == "reporting") {
            let parts = acikkapi_reporting::build(&platform).await?;
            routes.add_service(parts.reporting);
            names.extend(service_names("reporting"));
            workers.extend(parts.workers);
        }
        // The audit trail belongs to the platform: every node answers it.
        routes.add_service(
            acikkapi_proto::v1::audit_service_server::AuditServiceServer::new(
                acikkapi_platform::audit::AuditApi {
                    db: platform.db.clone(),
                },
            )
            .max_decoding_message_size(acikkapi_platform::audit::MAX_REQUEST_BYTES),
        );
        names.push(acikkapi_platform::audit::SERVICE_NAME);
        // The portal is a web channel: it has no gRPC service of its own and
        // calls this node's (or `portal.grpc_url`'s) over gRPC like any caller.
        let portal = if services.iter().any(|s| s == "portal") {
            let listener = acikkapi_portal::bind(&platform).await?;
            let addr = listener
                .local_addr()
                .map_err(|e| PlatformError::Internal(e.to_string()))?;
            let router = acikkapi_portal::router(&platform, grpc_addr, addr, keys.clone())?;
            Some((addr, acikkapi_portal::serve(&platform, listener, router)))
        } else {
            None
        };
        let portal_addr = portal.as_ref().map(|(a, _)| *a);
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
            if let Some((_, p)) = portal {
                let _ = p.await;
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

fn select_services(settings: &Settings) -> Result<Vec<String>, PlatformError> {
    if settings.services.is_empty() {
        return Ok(IMPLEMENTED.iter().map(|s| s.to_string()).collect());
    }
    let missing: Vec<&str> = settings
        .services
        .iter()
        .map(String::as_str)
        .filter(|s| !IMPLEMENTED.contains(s))
        .collect();
    if missing.is_empty() {
        Ok(settings.services.clone())
    } else {
        Err(PlatformError::Config(format!(
            "services: {} not implemented in this build yet (implemented: {})",
            missing.join(", "),
            IMPLEMENTED.join(", ")
        )))
    }
}

/// The access policy of every method this binary can serve. A service
/// joins by adding its own table here.
/// The gRPC services a node running `service` mounts.
pub fn service_names(service: &str) -> &'static [&'static str] {
    match service {
        "intake" => acikkapi_intake::SERVICE_NAMES,
        "routing" => acikkapi_routing::SERVICE_NAMES,
        "notification" => acikkapi_notification::SERVICE_NAMES,
        "escalation" => acikkapi_escalation::SERVICE_NAMES,
        "reporting" => acikkapi_reporting::SERVICE_NAMES,
        _ => &[],
    }
}

/// Every gRPC service this build can serve (the audit trail on every node).
pub fn served_services() -> Vec<&'static str> {
    IMPLEMENTED
        .iter()
        .flat_map(|s| service_names(s).iter().copied())
        .chain([acikkapi_platform::audit::SERVICE_NAME])
        .collect()
}

pub fn policy(path: &str) -> Option<Access> {
    acikkapi_intake::policy(path)
        .or_else(|| acikkapi_routing::policy(path))
        .or_else(|| acikkapi_notification::policy(path))
        .or_else(|| acikkapi_escalation::policy(path))
        .or_else(|| acikkapi_reporting::policy(path))
        .or_else(|| acikkapi_platform::audit::policy(path))
}
