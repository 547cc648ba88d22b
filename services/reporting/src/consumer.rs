//! Reporting's consumer: keeps each event (once, by event id) and folds
//! the application's row again. Order-insensitive: the fold sorts by when
//! things happened, so a transfer delivered before the routing it follows,
//! or an event before the receipt, ends in the same row.

use crate::{cache, fold, store};
use acikkapi_platform::Platform;
use acikkapi_platform::bus::Envelope;
use acikkapi_platform::consumer::{Handler, HandlerError};
use acikkapi_platform::service::Service;
use acikkapi_platform::store::Tx;
use acikkapi_proto::EventKind;

pub const QUEUE: &str = Service::Reporting.as_str();
pub const KINDS: &[&str] = &[
    EventKind::ApplicationReceived.as_str(),
    EventKind::ApplicationRouted.as_str(),
    EventKind::ApplicationTransferred.as_str(),
    EventKind::ApplicationReclassified.as_str(),
    EventKind::UnitResponded.as_str(),
    EventKind::ApplicationConcluded.as_str(),
    EventKind::ApplicationReopened.as_str(),
    EventKind::ApplicationEscalated.as_str(),
    EventKind::SmsSent.as_str(),
    EventKind::SlaConcluded.as_str(),
    EventKind::SurveyAnswered.as_str(),
];

pub struct Consumer {
    pub platform: Platform,
}

/// When the event's fact happened; undecodable events are refused for good.
fn occurred(e: &Envelope) -> Result<i64, HandlerError> {
    fold::occurred(&e.kind, &e.payload).ok_or_else(|| {
        HandlerError::Permanent(format!("{}: undecodable or without a time", e.kind))
    })
}

#[async_trait::async_trait]
impl Handler for Consumer {
    /// Only checks the event: it is kept and folded with the rest of the
    /// batch in [`Handler::finish`].
    async fn handle(&self, _t: &mut Tx, e: &Envelope) -> Result<(), HandlerError> {
        occurred(e).map(drop)
    }

    /// The batch's events kept in one statement, then each application with
    /// an event kept now folded once from all its events. An event kept
    /// before (a redelivery, or a copy another relay published) costs its
    /// insert and nothing more: its application is not folded for it (an
    /// event kept before under another id folds to the same row).
    async fn finish(&self, t: &mut Tx, applied: &[&Envelope]) -> Result<(), HandlerError> {
        let mut kept = Vec::with_capacity(applied.len());
        for e in applied {
            kept.push((
                e.id.as_str(),
                e.key.as_str(),
                e.kind.as_str(),
                occurred(e)?,
                e.payload.as_slice(),
            ));
        }
        let new = store::record_all(t, &kept).await?;
        let numbers: Vec<&str> = applied
            .iter()
            .filter(|e| new.contains(&e.id))
            .map(|e| e.key.as_str())
            .collect();
        if !numbers.is_empty() {
            store::refold(t, &numbers).await?;
        }
        Ok(())
    }

    /// Every event is kept once by its id (`rpt_events`) and the rows are
    /// folded from the events kept: a second delivery changes nothing, so
    /// reporting's deliveries need no inbox row.
    fn keyed_by_event_id(&self) -> bool {
        true
    }

    async fn applied(&self, events: &[&Envelope]) {
        let p = &self.platform;
        let numbers: Vec<&str> = events.iter().map(|e| e.key.as_str()).collect();
        let provinces = match store::provinces_of(&p.db, &numbers).await {
            Ok(provinces) => provinces,
            Err(err) => {
                tracing::warn!(error = %err, "provinces of applied events unknown; invalidating country-wide");
                Vec::new()
            }
        };
        if let Err(err) = cache::invalidate(&p.cache, &provinces).await {
            tracing::warn!(error = %err, "report cache not invalidated; answers may be up to cache_ttl_ms old");
        }
    }
}
