//! The integration tests: one binary (one link of the whole platform), one
//! module per area. Each area runs on both backends where it touches
//! the store, bus or cache (`backend_tests!`). Run one test with
//! `cargo nextest run -p acikkapi --test it console::embedded::` (see
//! CONTRIBUTING.md).

mod abuse;
mod access;
mod audit;
mod backends;
mod backup;
mod browser;
mod cli;
mod console;
mod deploy;
mod escalation;
mod generic;
mod house;
mod intake;
mod integrator;
mod migrate;
mod notification;
mod oidc;
mod ordering;
mod otlp;
mod outbox;
mod pii_logs;
mod portal;
mod privacy;
mod replicas;
mod reporting;
mod routing;
mod shutdown;
mod sms_provider;
mod trace;
