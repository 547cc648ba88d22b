//! Routing (yönlendirme): every application reaches the unit that must
//! answer it. The organisation registry, the routing rules (national,
//! provincial and district, the most specific wins), the assignment of
//! every received application, and what staff do with it afterwards:
//! transfer, the unit's inbox and answer, reopening, reclassification.

pub mod access;
pub mod assignments;
mod consumer;
mod grpc;
pub mod rules;
pub mod seed;
pub mod store;

use acikkapi_domain::catalog::Catalog;
use acikkapi_platform::PlatformError;
use acikkapi_platform::mount::{Descriptor, Mount};
use acikkapi_platform::service::Service;
use acikkapi_platform::store::Migration;
use acikkapi_proto::v1::routing_service_server::RoutingServiceServer;
use std::sync::Arc;

pub use access::policy;
pub use consumer::ERASED_TEXT;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        component: Service::Routing.as_str(),
        version: 1,
        sqlite: include_str!("../migrations/sqlite/0001_routing.sql"),
        postgres: include_str!("../migrations/postgres/0001_routing.sql"),
    },
    Migration {
        component: Service::Routing.as_str(),
        version: 2,
        sqlite: include_str!("../migrations/sqlite/0002_sequence_and_trace.sql"),
        postgres: include_str!("../migrations/postgres/0002_sequence_and_trace.sql"),
    },
    Migration {
        component: Service::Routing.as_str(),
        version: 3,
        sqlite: include_str!("../migrations/sqlite/0003_inbox_deadline.sql"),
        postgres: include_str!("../migrations/postgres/0003_inbox_deadline.sql"),
    },
];

/// Routing as the binary serves and migrates it.
/// The queues it consumes: declared when it starts, and by `acikkapi
/// migrate` before any pod publishes (no event dropped for want of a queue).
const QUEUES: acikkapi_platform::mount::Queues = &[(consumer::QUEUE, consumer::KINDS)];

pub const DESCRIPTOR: Descriptor = Descriptor {
    service: Service::Routing,
    grpc_services: &["acikkapi.v1.RoutingService"],
    migrations: MIGRATIONS,
    queues: QUEUES,
    policy,
    mount: |m| Box::pin(mount(m)),
};

/// Largest request routing decodes: an answer of 5,000 characters with alternatives.
const MAX_REQUEST_BYTES: usize = 64 * 1024;

async fn mount(mut m: Mount) -> Result<Mount, PlatformError> {
    let p = &m.platform;
    let catalog = Catalog::builtin();
    if store::seed_if_empty(&p.db, catalog).await? {
        tracing::info!("routing registry seeded with the default units and national rules");
    }
    let rules = store::Rules::load(p.db.clone()).await?;
    acikkapi_platform::mount::declare_queues(&p.bus, QUEUES).await?;
    let worker = tokio::spawn(acikkapi_platform::consumer::run(
        p.clone(),
        consumer::QUEUE,
        consumer::KINDS,
        p.settings.routing.consumers,
        Arc::new(consumer::Consumer {
            rules: rules.clone(),
        }),
    ));
    let routing = grpc::Routing {
        platform: p.clone(),
        rules,
        catalog,
    };
    m.routes.add_service(
        RoutingServiceServer::new(routing).max_decoding_message_size(MAX_REQUEST_BYTES),
    );
    m.workers.push(worker);
    Ok(m)
}

pub(crate) fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}
