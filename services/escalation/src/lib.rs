//! Escalation (SLA): no application passes its deadline unseen, and every
//! deadline explains itself.
//!
//! A clock per application and round ([`store`]) is a budget of working
//! time with a ledger of pauses; its deadline is derived ([`ledger`]) from
//! the calendar ([`calendars`]: official holidays, national one-off days,
//! province closures) and the topic's policy ([`policy`]), and derived
//! again whenever any of them changes. The sweep ([`sweep`]) fires each
//! rung of the ladder exactly once, as an `ApplicationEscalated` event.

pub mod access;
pub mod calendars;
pub mod census;
mod consumer;
mod grpc;
pub mod ledger;
pub mod policy;
pub mod store;
pub mod sweep;

use acikkapi_platform::PlatformError;
use acikkapi_platform::mount::{Descriptor, Mount};
use acikkapi_platform::service::Service;
use acikkapi_platform::store::Migration;
use acikkapi_proto::v1::escalation_service_server::EscalationServiceServer;
use std::sync::Arc;
use tokio::task::JoinHandle;

pub use access::policy;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        component: Service::Escalation.as_str(),
        version: 1,
        sqlite: include_str!("../migrations/sqlite/0001_escalation.sql"),
        postgres: include_str!("../migrations/postgres/0001_escalation.sql"),
    },
    Migration {
        component: Service::Escalation.as_str(),
        version: 2,
        sqlite: include_str!("../migrations/sqlite/0002_routing_sequence.sql"),
        postgres: include_str!("../migrations/postgres/0002_routing_sequence.sql"),
    },
    Migration {
        component: Service::Escalation.as_str(),
        version: 3,
        sqlite: include_str!("../migrations/sqlite/0003_announced_deadline.sql"),
        postgres: include_str!("../migrations/postgres/0003_announced_deadline.sql"),
    },
];

/// Escalation as the binary serves and migrates it.
/// The queues it consumes: declared when it starts, and by `acikkapi
/// migrate` before any pod publishes (no event dropped for want of a queue).
const QUEUES: acikkapi_platform::mount::Queues = &[(consumer::QUEUE, consumer::KINDS)];

pub const DESCRIPTOR: Descriptor = Descriptor {
    service: Service::Escalation,
    grpc_services: &["acikkapi.v1.EscalationService"],
    migrations: MIGRATIONS,
    queues: QUEUES,
    policy,
    mount: |m| Box::pin(mount(m)),
};

/// Largest request escalation decodes: a policy of ten rungs.
const MAX_REQUEST_BYTES: usize = 16 * 1024;

async fn mount(mut m: Mount) -> Result<Mount, PlatformError> {
    let p = &m.platform;
    policy::seed_default(&p.db, acikkapi_platform::store::now_ms()).await?;
    acikkapi_platform::mount::declare_queues(&p.bus, QUEUES).await?;
    let mut workers: Vec<JoinHandle<()>> = vec![tokio::spawn(acikkapi_platform::consumer::run(
        p.clone(),
        consumer::QUEUE,
        consumer::KINDS,
        p.settings.escalation.consumers,
        Arc::new(consumer::Consumer {
            platform: p.clone(),
        }),
    ))];
    if p.settings.escalation.sweep_interval_ms > 0 {
        workers.push(tokio::spawn(sweep::run(p.clone())));
    }
    if p.settings.escalation.census_interval_ms > 0 {
        workers.push(tokio::spawn(census::run(p.clone())));
    }
    m.routes.add_service(
        EscalationServiceServer::new(grpc::Escalation {
            platform: p.clone(),
        })
        .max_decoding_message_size(MAX_REQUEST_BYTES),
    );
    m.workers.extend(workers);
    Ok(m)
}
