//! Reporting's consumer: keeps each event (once, by event id) and folds
//! the application's row again. Order-insensitive: the fold sorts by when
//! things happened, so a transfer delivered before the routing it follows,
//! or an event before the receipt, ends in the same row.

use crate::{cache, fold, store};
use acikkapi_platform::Platform;
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
    "SlaConcluded",
    "SurveyAnswered",
];

pub struct Consumer {
    pub platform: Platform,
}

#[async_trait::async_trait]
impl Handler for Consumer {
    async fn handle(&self, t: &mut Tx, e: &Envelope) -> Result<(), HandlerError> {
        let at = fold::occurred(&e.kind, &e.payload).ok_or_else(|| {
            HandlerError::Permanent(format!("{}: undecodable or without a time", e.kind))
        })?;
        store::hold(t, &e.key).await?;
        if store::record(t, &e.id, &e.key, &e.kind, at, &e.payload).await? {
            store::refold(t, &e.key).await?;
        }
        Ok(())
    }

    async fn applied(&self, e: &Envelope) {
        let p = &self.platform;
        let province = match store::province_of(&p.db, &e.key).await {
            Ok(province) => province,
            Err(err) => {
                tracing::warn!(error = %err, "province of an applied event unknown; invalidating country-wide");
                0
            }
        };
        if let Err(err) = cache::invalidate(&p.cache, province).await {
            tracing::warn!(error = %err, "report cache not invalidated; answers may be up to cache_ttl_ms old");
        }
    }
}
