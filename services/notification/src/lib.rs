//! Notification (bildirim): the SMS a citizen gets, exactly once, at a
//! known cost. A receipt with the application number when it is recorded,
//! the outcome when it is concluded.
//!
//! Events become rows of `sms_messages` in the event's transaction
//! ([`consumer`]); senders claim due rows and hand them to the provider
//! ([`sender`]) within the account's rate ([`limit`]); the gateway's
//! delivery reports come back over HTTP ([`callback`]).

pub mod access;
pub mod callback;
mod consumer;
mod grpc;
pub mod limit;
pub mod messages;
mod officials;
pub mod provider;
pub mod sender;
pub mod survey;
pub mod templates;

use acikkapi_platform::PlatformError;
use acikkapi_platform::config::Settings;
use acikkapi_platform::mount::{Descriptor, Mount};
use acikkapi_platform::privacy::TrackingKey;
use acikkapi_platform::service::Service;
use acikkapi_platform::store::Migration;
use acikkapi_proto::v1::notification_service_server::NotificationServiceServer;
use provider::{FileProvider, HttpProvider, HttpSettings, Provider};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub use access::policy;
pub use consumer::{conclusion_template, values};

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        component: Service::Notification.as_str(),
        version: 1,
        sqlite: include_str!("../migrations/sqlite/0001_notification.sql"),
        postgres: include_str!("../migrations/postgres/0001_notification.sql"),
    },
    Migration {
        component: Service::Notification.as_str(),
        version: 2,
        sqlite: include_str!("../migrations/sqlite/0002_survey.sql"),
        postgres: include_str!("../migrations/postgres/0002_survey.sql"),
    },
];

/// Notification as the binary serves and migrates it.
/// The queues it consumes: declared when it starts, and by `acikkapi
/// migrate` before any pod publishes (no event dropped for want of a queue).
const QUEUES: acikkapi_platform::mount::Queues = &[(consumer::QUEUE, consumer::KINDS)];

pub const DESCRIPTOR: Descriptor = Descriptor {
    service: Service::Notification,
    grpc_services: &["acikkapi.v1.NotificationService"],
    migrations: MIGRATIONS,
    queues: QUEUES,
    policy,
    mount: |m| Box::pin(mount(m)),
};

/// Largest request notification decodes: a template with its name.
const MAX_REQUEST_BYTES: usize = 16 * 1024;

/// The provider `settings.notification` names.
pub fn provider(settings: &Settings) -> Arc<dyn Provider> {
    let n = &settings.notification;
    match n.provider.as_str() {
        "http" => Arc::new(HttpProvider::new(HttpSettings {
            base_url: n.http_url.trim_end_matches('/').to_owned(),
            username: n.http_username.clone(),
            password: n.http_password.expose().to_owned(),
            timeout: Duration::from_millis(n.http_timeout_ms),
        })),
        _ => Arc::new(FileProvider::new(&settings.data_dir)),
    }
}

async fn mount(mut m: Mount) -> Result<Mount, PlatformError> {
    let p = &m.platform;
    let provider = provider(&p.settings);
    acikkapi_platform::mount::declare_queues(&p.bus, QUEUES).await?;
    let survey =
        survey::Mode::parse(&p.settings.notification.survey).map_err(PlatformError::Config)?;
    let queued = Arc::new(Notify::new());
    let consumer = tokio::spawn(acikkapi_platform::consumer::run(
        p.clone(),
        consumer::QUEUE,
        consumer::KINDS,
        p.settings.notification.consumers,
        Arc::new(consumer::Consumer {
            platform: p.clone(),
            tracking: TrackingKey::load(&p.settings)?,
            queued: queued.clone(),
            survey,
        }),
    ));
    let sender = tokio::spawn(
        Arc::new(sender::Sender {
            platform: p.clone(),
            provider,
            queued: queued.clone(),
        })
        .run(),
    );
    m.routes.add_service(
        NotificationServiceServer::new(grpc::Notification {
            platform: p.clone(),
            queued,
        })
        .max_decoding_message_size(MAX_REQUEST_BYTES),
    );
    // The gateway's delivery reports, on the node's HTTP port.
    m.http = std::mem::take(&mut m.http).merge(callback::routes(p.clone()));
    m.workers.extend([consumer, sender]);
    Ok(m)
}
