//! Idempotent consumers. Each event is applied inside a transaction that
//! also records (consumer, event id) in the inbox; a second delivery finds
//! the row and does nothing. The message is acked only after the commit.

use crate::bus::{Delivery, Envelope};
use crate::store::Tx;
use crate::{Platform, PlatformError};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Will never succeed (undecodable payload): dead-lettered.
    #[error("permanent: {0}")]
    Permanent(String),
    /// May succeed later (store unavailable): delivered again.
    #[error("transient: {0}")]
    Transient(String),
}

impl From<PlatformError> for HandlerError {
    fn from(e: PlatformError) -> Self {
        Self::Transient(e.to_string())
    }
}

impl From<sqlx::Error> for HandlerError {
    fn from(e: sqlx::Error) -> Self {
        Self::Transient(e.to_string())
    }
}

#[async_trait::async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Applies the event's effect inside `tx`; the caller commits.
    async fn handle(&self, tx: &mut Tx, envelope: &Envelope) -> Result<(), HandlerError>;

    /// After the effect committed (not after a duplicate): for what must
    /// see the committed state, such as invalidating a cache. Best effort:
    /// a crash between the commit and this loses it.
    async fn applied(&self, _envelope: &Envelope) {}
}

/// Consumes `queue` (bound to `kinds`) until shutdown, with `concurrency`
/// competing loops in this process.
pub async fn run(
    p: Platform,
    queue: &'static str,
    kinds: &'static [&'static str],
    concurrency: usize,
    handler: Arc<dyn Handler>,
) {
    // SQLite has one writer: more loops only contend for its lock, and its
    // busy handler is not fair, so a submission could starve behind them.
    let concurrency = match p.db {
        crate::store::Db::Sqlite(_) => 1,
        crate::store::Db::Postgres(_) => concurrency.max(1),
    };
    let loops = (0..concurrency)
        .map(|_| tokio::spawn(consume_loop(p.clone(), queue, kinds, handler.clone())));
    futures::future::join_all(loops).await;
}

async fn consume_loop(
    p: Platform,
    queue: &'static str,
    kinds: &'static [&'static str],
    handler: Arc<dyn Handler>,
) {
    while !p.shutdown.is_cancelled() {
        let mut sub = match p.bus.subscribe(queue, kinds).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(queue, error = %e, "subscribe failed; retrying");
                sleep_or_cancel(&p, Duration::from_secs(1)).await;
                continue;
            }
        };
        loop {
            let next = tokio::select! {
                _ = p.shutdown.cancelled() => {
                    if let Err(e) = sub.close().await {
                        tracing::debug!(queue, error = %e, "closing the subscription failed");
                    }
                    return;
                }
                n = sub.next() => n,
            };
            match next {
                Some(Ok(d)) => handle_one(&p, queue, handler.as_ref(), d).await,
                Some(Err(e)) => {
                    tracing::warn!(queue, error = %e, "delivery failed; resubscribing");
                    break;
                }
                None => break,
            }
        }
        sleep_or_cancel(&p, Duration::from_millis(200)).await;
    }
}

async fn sleep_or_cancel(p: &Platform, d: Duration) {
    tokio::select! {
        _ = p.shutdown.cancelled() => {}
        _ = tokio::time::sleep(d) => {}
    }
}

async fn handle_one(p: &Platform, queue: &'static str, handler: &dyn Handler, d: Delivery) {
    let span = tracing::info_span!(
        "bus.consume",
        otel.name = %format!("consume {}", d.envelope.kind),
        otel.kind = "consumer",
        consumer = queue,
        event.kind = %d.envelope.kind,
        event.id = %d.envelope.id,
        application_number = %d.envelope.key,
        province = tracing::field::Empty,
        topic = tracing::field::Empty,
        unit = tracing::field::Empty,
    );
    crate::telemetry::set_parent_from_headers(&span, &d.envelope.headers);
    let result = apply(p, queue, handler, &d.envelope)
        .instrument(span.clone())
        .await;
    // Settled inside the event's span, as an instrumented future: an
    // `enter()` guard held across these awaits left the span on a worker
    // thread's stack after it closed, and another task's `Span::current()`
    // there panicked (seen in CI: the SMS sender died mid-test).
    async move {
        let settled = match result {
            Ok(true) => {
                p.metrics.consumed(queue, "applied");
                d.ack().await
            }
            Ok(false) => {
                p.metrics.consumed(queue, "duplicate");
                tracing::debug!("event already applied; acknowledged without effect");
                d.ack().await
            }
            Err(HandlerError::Permanent(e)) => {
                p.metrics.consumed(queue, "dead");
                tracing::error!(error = %e, "event cannot be applied; dead-lettered");
                d.reject().await
            }
            Err(HandlerError::Transient(e)) => {
                p.metrics.consumed(queue, "retried");
                tracing::warn!(error = %e, "event failed; will be delivered again");
                tokio::time::sleep(Duration::from_millis(500)).await;
                d.retry().await
            }
        };
        if let Err(e) = settled {
            tracing::warn!(error = %e, "could not settle the delivery; the broker will redeliver it");
        }
    }
    .instrument(span)
    .await
}

/// Applies once: Ok(false) when the inbox says it already was.
async fn apply(
    p: &Platform,
    queue: &str,
    handler: &dyn Handler,
    e: &Envelope,
) -> Result<bool, HandlerError> {
    if e.id.is_empty() {
        return Err(HandlerError::Permanent("envelope has no event id".into()));
    }
    let mut tx = p.db.begin().await?;
    if !tx.claim_inbox(queue, &e.id).await? {
        return Ok(false);
    }
    handler.handle(&mut tx, e).await?;
    tx.commit().await?;
    handler.applied(e).await;
    Ok(true)
}
