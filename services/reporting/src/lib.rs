//! Reporting (raporlama): what the governor and the Ministry see.
//!
//! This first part (issue #7) keeps every event it consumes
//! (`rpt_events`) and folds each application's row from them
//! ([`fold`]); [`figures`] reads totals for a scope and a period;
//! [`store::rebuild`] folds everything again (`acikkapi reporting
//! rebuild`). The gRPC service, time series, rankings, the CSV export,
//! caching and the satisfaction survey are still to come.

mod consumer;
pub mod figures;
pub mod fold;
pub mod store;

use acikkapi_platform::store::Migration;
use acikkapi_platform::{Platform, PlatformError};
use std::sync::Arc;
use tokio::task::JoinHandle;

pub const MIGRATIONS: &[Migration] = &[Migration {
    component: "reporting",
    version: 1,
    sqlite: include_str!("../migrations/sqlite/0001_reporting.sql"),
    postgres: include_str!("../migrations/postgres/0001_reporting.sql"),
}];

/// No gRPC service yet: reporting's API lands with the queries.
pub const SERVICE_NAMES: &[&str] = &[];

pub struct ReportingParts {
    pub workers: Vec<JoinHandle<()>>,
}

/// The queue reporting consumes, declared before anything is published.
pub async fn declare_queues(p: &Platform) -> Result<(), PlatformError> {
    drop(p.bus.subscribe(consumer::QUEUE, consumer::KINDS).await?);
    Ok(())
}

pub async fn build(p: &Platform) -> Result<ReportingParts, PlatformError> {
    declare_queues(p).await?;
    Ok(ReportingParts {
        workers: vec![tokio::spawn(acikkapi_platform::consumer::run(
            p.clone(),
            consumer::QUEUE,
            consumer::KINDS,
            4,
            Arc::new(consumer::Consumer),
        ))],
    })
}
