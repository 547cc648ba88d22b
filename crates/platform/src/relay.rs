//! The outbox relay: publishes committed outbox rows to the bus and deletes
//! them only after the broker confirmed every one. A crash between commit and
//! publish, or between publish and delete, leaves the rows in place, and the
//! next round (in this process or the next) publishes them again; consumers
//! deduplicate by event id, so the effect happens once.

use crate::Platform;
use crate::store::OutboxRow;
use std::time::Duration;
use tracing::Instrument;

/// Runs until shutdown. Wakes on `outbox_written` or every poll interval.
pub async fn run(p: Platform) {
    let poll = Duration::from_millis(p.settings.relay.poll_interval_ms);
    let mut backoff = Duration::from_millis(100);
    loop {
        match round(&p).await {
            Ok(n) => {
                backoff = Duration::from_millis(100);
                if n as i64 >= p.settings.relay.batch {
                    continue; // more waiting: no sleep
                }
                tokio::select! {
                    _ = p.shutdown.cancelled() => break,
                    _ = p.outbox_written.notified() => {}
                    _ = tokio::time::sleep(poll) => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "outbox relay round failed; retrying");
                tokio::select! {
                    _ = p.shutdown.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    // A last round so a clean shutdown leaves nothing behind.
    if let Err(e) = round(&p).await {
        tracing::warn!(error = %e, "final outbox round failed; rows stay for the next start");
    }
}

/// One round: peek, publish with confirms in flight, delete. Returns how many
/// rows it published.
pub async fn round(p: &Platform) -> Result<usize, crate::PlatformError> {
    let rows = p.db.outbox_peek(p.settings.relay.batch).await?;
    p.metrics.outbox_backlog.set(rows.len() as i64);
    if rows.is_empty() {
        return Ok(0);
    }
    publish(p, &rows).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    p.db.outbox_delete(&ids).await?;
    p.metrics.outbox_published.inc_by(rows.len() as u64);
    Ok(rows.len())
}

/// Publishes `rows`, each under a span that continues its event's trace.
pub async fn publish(p: &Platform, rows: &[OutboxRow]) -> Result<(), crate::PlatformError> {
    let envelopes: Vec<_> = rows.iter().map(|r| r.envelope.clone()).collect();
    let span = tracing::info_span!("outbox.publish", events = rows.len());
    if let Some(first) = envelopes.first() {
        // One batch spans many traces; the span follows the first, and every
        // envelope keeps its own context in its headers for the consumers.
        crate::telemetry::set_parent_from_headers(&span, &first.headers);
    }
    p.bus.publish(&envelopes).instrument(span).await
}
