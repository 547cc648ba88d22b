//! The citizen portal (vatandaş portalı): apply, track and answer the
//! satisfaction survey in a browser. Server-rendered HTML that works
//! without JavaScript; a backend-for-frontend that calls intake and
//! notification over gRPC as a `channel-service` caller, so browsers never
//! see an internal service.
//!
//! Journeys: [`apply`] (question pages, check answers, confirmation),
//! [`track`] (number + code), [`survey`] (`/anket/<code>`). Sessions and
//! their CSRF tokens: [`session`]. Pages and their templates: [`pages`].

mod apply;
mod assets;
mod backend;
mod console;
mod fields;
mod pages;
mod security;
mod session;
mod survey;
pub mod track;

use acikkapi_platform::mount::{Descriptor, Mount, NO_POLICY};
use acikkapi_platform::service::Service;
use acikkapi_platform::{Platform, PlatformError};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use backend::Backend;

/// Largest form the portal reads: the application's text (5,000
/// characters, up to 4 bytes each when encoded) with the other fields.
const MAX_FORM_BYTES: usize = 32 * 1024;

/// The portal as the binary serves it: a web channel with no gRPC service
/// or table of its own; it calls the node's (or `portal.grpc_url`'s)
/// services over gRPC like any caller.
pub const DESCRIPTOR: Descriptor = Descriptor {
    service: Service::Portal,
    grpc_services: &[],
    migrations: &[],
    queues: &[],
    policy: NO_POLICY,
    mount: |m| Box::pin(mount(m)),
};

async fn mount(mut m: Mount) -> Result<Mount, PlatformError> {
    let listener = bind(&m.platform).await?;
    let addr = listener
        .local_addr()
        .map_err(|e| PlatformError::Internal(e.to_string()))?;
    let router = router(&m.platform, m.grpc_addr, addr, m.keys.clone())?;
    m.workers.push(serve(&m.platform, listener, router));
    m.web_addr = Some(addr);
    Ok(m)
}

/// What every handler shares.
pub struct Portal {
    pub platform: Platform,
    pub backend: Backend,
    pub sessions: session::Sessions,
    /// Where the client's address comes from (`server.client_ip_header`).
    client_ip_header: Option<http::HeaderName>,
    /// Verifies the identity provider's tokens and, on the embedded
    /// default, signs the console's local sign-in.
    keys: acikkapi_platform::auth::Keys,
    /// The portal as browsers reach it.
    public_url: String,
}

impl Portal {
    /// Whether the console signs in through the identity provider.
    fn oidc_enabled(&self) -> bool {
        self.keys.idp().is_some() && !self.platform.settings.portal.console_client_id.is_empty()
    }

    fn redirect_uri(&self) -> String {
        format!(
            "{}/konsol/giris/donus",
            self.public_url.trim_end_matches('/')
        )
    }
}

pub type State = Arc<Portal>;

/// The portal's router. `grpc_addr` is this node's gRPC server, used when
/// `portal.grpc_url` is empty; `bound` is where the portal listens, its
/// public address when `portal.public_url` is empty. `keys` are the node's
/// own: one cache of the identity provider's keys per process.
fn router(
    platform: &Platform,
    grpc_addr: SocketAddr,
    bound: SocketAddr,
    keys: acikkapi_platform::auth::Keys,
) -> Result<Router, PlatformError> {
    let settings = &platform.settings;
    let url = if settings.portal.grpc_url.is_empty() {
        format!("http://{grpc_addr}")
    } else {
        settings.portal.grpc_url.clone()
    };
    let header = &settings.server.client_ip_header;
    let state = Arc::new(Portal {
        backend: Backend::connect(settings, &url, &keys)?,
        sessions: session::Sessions::new(platform),
        client_ip_header: (!header.is_empty())
            .then(|| http::HeaderName::from_bytes(header.as_bytes()).ok())
            .flatten(),
        keys,
        public_url: if settings.portal.public_url.is_empty() {
            format!("http://{bound}")
        } else {
            settings.portal.public_url.clone()
        },
        platform: platform.clone(),
    });
    Ok(Router::new()
        .route("/", get(pages::start))
        .route("/kiosk", get(pages::kiosk))
        .route("/kiosk/bitir", get(pages::kiosk_end))
        .route("/erisilebilirlik", get(pages::accessibility))
        .route("/gizlilik", get(pages::privacy))
        .route("/manifest.webmanifest", get(assets::manifest))
        .route("/assets/{name}", get(assets::serve))
        .merge(apply::routes())
        .merge(track::routes())
        .merge(survey::routes())
        .merge(console::routes())
        .fallback(pages::not_found)
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(axum::middleware::from_fn(security::headers))
        .with_state(state))
}

/// Binds `portal.addr` (port 0 allowed).
async fn bind(platform: &Platform) -> Result<TcpListener, PlatformError> {
    let addr = &platform.settings.portal.addr;
    TcpListener::bind(addr)
        .await
        .map_err(|e| PlatformError::Config(format!("portal.addr {addr}: {e}")))
}

/// Serves `router` on `listener` until the platform shuts down; requests
/// in flight finish first. Every connection has `TCP_NODELAY`, so the end
/// of a page never waits for the browser's delayed acknowledgement (as the
/// gRPC server's, `platform::server`).
fn serve(platform: &Platform, listener: TcpListener, router: Router) -> JoinHandle<()> {
    use axum::serve::ListenerExt as _;
    let shutdown = platform.shutdown.clone();
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
    });
    tokio::spawn(async move {
        let served = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "portal stopped");
        }
    })
}
