//! Reporting (raporlama): what the governor and the Ministry see.
//!
//! Reporting keeps every event it consumes (`rpt_events`, once by id) and
//! folds each application's row from them ([`fold`]), whatever order they
//! came in; [`store::rebuild`] folds everything again (`acikkapi
//! reporting rebuild`). [`figures`] reads totals, time series, rankings,
//! problem areas, satisfaction and the CSV export for a scope and a period
//! of receipt; the gRPC API ([`grpc`]) caches dashboard answers per
//! province ([`cache`]) until an event of that province is applied.

pub mod access;
pub mod cache;
mod consumer;
pub mod figures;
pub mod fold;
mod grpc;
pub mod store;

pub use access::policy;
use acikkapi_proto::v1::reporting_service_server::ReportingServiceServer;

use acikkapi_platform::PlatformError;
use acikkapi_platform::mount::{Descriptor, Mount};
use acikkapi_platform::service::Service;
use acikkapi_platform::store::Migration;
use std::sync::Arc;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        component: Service::Reporting.as_str(),
        version: 1,
        sqlite: include_str!("../migrations/sqlite/0001_reporting.sql"),
        postgres: include_str!("../migrations/postgres/0001_reporting.sql"),
    },
    Migration {
        component: Service::Reporting.as_str(),
        version: 2,
        sqlite: include_str!("../migrations/sqlite/0002_sla_survey.sql"),
        postgres: include_str!("../migrations/postgres/0002_sla_survey.sql"),
    },
    Migration {
        component: Service::Reporting.as_str(),
        version: 3,
        sqlite: include_str!("../migrations/sqlite/0003_monthly.sql"),
        postgres: include_str!("../migrations/postgres/0003_monthly.sql"),
    },
];

/// Reporting as the binary serves and migrates it.
/// The queues it consumes: declared when it starts, and by `acikkapi
/// migrate` before any pod publishes (no event dropped for want of a queue).
const QUEUES: acikkapi_platform::mount::Queues = &[(consumer::QUEUE, consumer::KINDS)];

pub const DESCRIPTOR: Descriptor = Descriptor {
    service: Service::Reporting,
    grpc_services: &["acikkapi.v1.ReportingService"],
    migrations: MIGRATIONS,
    queues: QUEUES,
    policy,
    mount: |m| Box::pin(mount(m)),
};

/// Largest request reporting decodes (a scope, a period, a few options).
const MAX_REQUEST_BYTES: usize = 4 * 1024;

async fn mount(mut m: Mount) -> Result<Mount, PlatformError> {
    let p = &m.platform;
    acikkapi_platform::mount::declare_queues(&p.bus, QUEUES).await?;
    let worker = tokio::spawn(acikkapi_platform::consumer::run(
        p.clone(),
        consumer::QUEUE,
        consumer::KINDS,
        p.settings.reporting.consumers,
        Arc::new(consumer::Consumer {
            platform: p.clone(),
        }),
    ));
    m.routes.add_service(
        ReportingServiceServer::new(grpc::Reporting {
            platform: p.clone(),
        })
        .max_decoding_message_size(MAX_REQUEST_BYTES),
    );
    m.workers.push(worker);
    Ok(m)
}
