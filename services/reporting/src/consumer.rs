//! Reporting's consumer: keeps each event (once, by event id) and folds
//! the application's row again. Order-insensitive: the fold sorts by when
//! things happened, so a transfer delivered before the routing it follows,
//! or an event before the receipt, ends in the same row.

use crate::{fold, store};
use acikkapi_platform::bus::Envelope;
use acikkapi_platform::consumer::{Handler, HandlerError};
use acikkapi_platform::store::Tx;

pub const QUEUE: &str = "reporting";
pub const KINDS: &[&str] = &[
    "ApplicationReceived",
    "ApplicationRouted",
    "ApplicationTransferred",
    "ApplicationReclassified",
    "UnitResponded",
    "ApplicationConcluded",
    "ApplicationReopened",
    "ApplicationEscalated",
    "SmsSent",
];

pub struct Consumer;

#[async_trait::async_trait]
impl Handler for Consumer {
    async fn handle(&self, t: &mut Tx, e: &Envelope) -> Result<(), HandlerError> {
        let at = fold::occurred(&e.kind, &e.payload).ok_or_else(|| {
            HandlerError::Permanent(format!("{}: undecodable or without a time", e.kind))
        })?;
        if store::record(t, &e.id, &e.key, &e.kind, at, &e.payload).await? {
            store::refold(t, &e.key).await?;
        }
        Ok(())
    }
}
