//! What tests and benchmarks share, without any service in it: isolated
//! [`settings`] per [`Backend`] (the production backend needs PostgreSQL,
//! RabbitMQ and Redis on loopback; when they are missing a test fails,
//! never skips), [`fixtures`], [`waiting`], loopback [`http`], and the fakes
//! of what lies outside the platform, each a real server: the SMS
//! [`gateway`], the OIDC provider ([`oidc`]), the OTLP [`collector`], a
//! [`proxy`] that loses answers, and a browser-like [`web`] client.
//!
//! The in-process node harness is `acikkapi::testing` (it needs the
//! services; this crate must not).

pub mod collector;
pub mod fixtures;
pub mod gateway;
pub mod http;
pub mod oidc;
pub mod proxy;
pub mod settings;
pub mod waiting;
pub mod web;

pub use fixtures::*;
pub use http::*;
pub use settings::*;
pub use waiting::*;
