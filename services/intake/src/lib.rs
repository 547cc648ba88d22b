//! Intake (başvuru kabul): records applications from every channel, gives
//! each a number and a tracking code, and lets staff and citizens follow it.

pub mod access;
mod catalog;
pub mod follow;
mod grpc;
pub mod meetings;
pub mod model;
mod queries;
pub mod retention;
mod writer;

use acikkapi_domain::catalog::Catalog;
use acikkapi_platform::PlatformError;
use acikkapi_platform::mount::{Descriptor, Mount};
use acikkapi_platform::service::Service;
use acikkapi_platform::store::Migration;
use acikkapi_proto::v1::catalog_service_server::CatalogServiceServer;
use acikkapi_proto::v1::intake_service_server::IntakeServiceServer;

pub use access::policy;
use acikkapi_platform::privacy::TrackingKey;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        component: Service::Intake.as_str(),
        version: 1,
        sqlite: include_str!("../migrations/sqlite/0001_intake.sql"),
        postgres: include_str!("../migrations/postgres/0001_intake.sql"),
    },
    Migration {
        component: Service::Intake.as_str(),
        version: 2,
        sqlite: include_str!("../migrations/sqlite/0002_sealed_personal_data.sql"),
        postgres: include_str!("../migrations/postgres/0002_sealed_personal_data.sql"),
    },
    Migration {
        component: Service::Intake.as_str(),
        version: 3,
        sqlite: include_str!("../migrations/sqlite/0003_retention.sql"),
        postgres: include_str!("../migrations/postgres/0003_retention.sql"),
    },
    Migration {
        component: Service::Intake.as_str(),
        version: 4,
        sqlite: include_str!("../migrations/sqlite/0004_sequence_and_trace.sql"),
        postgres: include_str!("../migrations/postgres/0004_sequence_and_trace.sql"),
    },
    Migration {
        component: Service::Intake.as_str(),
        version: 5,
        sqlite: include_str!("../migrations/sqlite/0005_unit_name.sql"),
        postgres: include_str!("../migrations/postgres/0005_unit_name.sql"),
    },
    Migration {
        component: Service::Intake.as_str(),
        version: 6,
        sqlite: include_str!("../migrations/sqlite/0006_public_day.sql"),
        postgres: include_str!("../migrations/postgres/0006_public_day.sql"),
    },
];

/// Largest request intake decodes: text limits with 4-byte characters, plus room.
const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Intake as the binary serves and migrates it.
/// The queues it consumes: declared when it starts, and by `acikkapi
/// migrate` before any pod publishes (no event dropped for want of a queue).
const QUEUES: acikkapi_platform::mount::Queues = &[(follow::QUEUE, follow::KINDS)];

pub const DESCRIPTOR: Descriptor = Descriptor {
    service: Service::Intake,
    grpc_services: &["acikkapi.v1.IntakeService", "acikkapi.v1.CatalogService"],
    migrations: MIGRATIONS,
    queues: QUEUES,
    policy,
    mount: |m| Box::pin(mount(m)),
};

async fn mount(mut m: Mount) -> Result<Mount, PlatformError> {
    // Declared before its loops start: two loops declaring a new quorum
    // queue at once can consume before its process is up, which the broker
    // answers by closing the whole connection.
    acikkapi_platform::mount::declare_queues(&m.platform.bus, QUEUES).await?;
    let p = &m.platform;
    let catalog = Catalog::builtin();
    let tracking = TrackingKey::load(&p.settings)?;
    let (writer, mut workers) = writer::Writer::start(p);
    workers.push(tokio::spawn(acikkapi_platform::consumer::run(
        p.clone(),
        follow::QUEUE,
        follow::KINDS,
        // Routing's order holds across loops: an event whose predecessor
        // is not applied yet waits (`follow::in_sequence`).
        p.settings.intake.follow_consumers,
        std::sync::Arc::new(follow::Follow {
            cache: p.cache.clone(),
        }),
    )));
    let intake = grpc::Intake {
        platform: p.clone(),
        writer,
        tracking,
        catalog,
        limiter: acikkapi_platform::limits::Limiter::new(p.cache.clone(), p.metrics.clone()),
    };
    m.routes
        .add_service(IntakeServiceServer::new(intake).max_decoding_message_size(MAX_REQUEST_BYTES));
    m.routes
        .add_service(CatalogServiceServer::new(catalog::CatalogApi { catalog }));
    m.workers.extend(workers);
    Ok(m)
}

pub(crate) fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

pub(crate) fn from_timestamp(t: &prost_types::Timestamp) -> i64 {
    t.seconds * 1000 + i64::from(t.nanos) / 1_000_000
}
