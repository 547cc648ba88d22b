//! What every Açık Kapı service stands on: configuration, telemetry, the
//! store/bus/cache backends, the outbox relay, idempotent consumers, metrics,
//! and the gRPC server with health and reflection.

pub mod audit;
pub mod auth;
pub mod bus;
pub mod cache;
pub mod catch_up;
pub mod claims;
pub mod clock;
pub mod config;
pub mod consumer;
pub mod error;
pub mod idp;
pub mod limits;
pub mod metrics;
pub mod mount;
pub mod privacy;
pub mod relay;
pub mod server;
pub mod service;
pub mod store;
pub mod telemetry;

use std::sync::Arc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use error::{ErrorCode, PlatformError};

/// The shared context a service constructor receives.
#[derive(Clone)]
pub struct Platform {
    pub settings: Arc<config::Settings>,
    pub db: store::Db,
    pub bus: bus::Bus,
    pub cache: cache::Cache,
    pub metrics: Arc<metrics::Metrics>,
    /// Seals and opens personal data at rest.
    pub vault: privacy::Vault,
    /// Woken after every commit that wrote outbox rows, so the relay
    /// publishes at once instead of at its next poll.
    pub outbox_written: Arc<Notify>,
    pub shutdown: CancellationToken,
    /// The time schedules run on (settable in tests).
    pub clock: clock::Clock,
}

impl Platform {
    /// Connects every backend named in `settings` and runs the migrations of
    /// the platform and of `components`.
    pub async fn connect(
        settings: config::Settings,
        components: &[&[store::Migration]],
        shutdown: CancellationToken,
    ) -> Result<Self, PlatformError> {
        let vault = privacy::Vault::load(&settings)?;
        let settings = Arc::new(settings);
        let db = store::Db::connect(&settings).await?;
        let mut all: Vec<&[store::Migration]> = vec![store::PLATFORM_MIGRATIONS];
        all.extend_from_slice(components);
        db.migrate(&all).await?;
        let bus = bus::Bus::connect(&settings.bus).await?;
        let cache = cache::Cache::connect(&settings.cache).await?;
        Ok(Self {
            settings,
            db,
            bus,
            cache,
            metrics: Arc::new(metrics::Metrics::new()),
            vault,
            outbox_written: Arc::new(Notify::new()),
            shutdown,
            clock: clock::Clock::default(),
        })
    }
}
