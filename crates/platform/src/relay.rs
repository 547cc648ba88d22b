//! The outbox relay: claims committed outbox rows, publishes them to the
//! bus and deletes them only after the broker confirmed every one. A relay
//! runs in every process; each row is claimed by one of them
//! ([`crate::store::OutboxClaim`]), so scaling out adds no publishes. A
//! crash between commit and publish, or between publish and delete, leaves
//! the rows in place (the claim ends with the crashed process), and the
//! next round of any relay publishes them again; consumers deduplicate by
//! event id, so the effect happens once.

use crate::Platform;
use crate::store::OutboxRow;
use std::time::Duration;
use tracing::Instrument;

/// Runs until shutdown. Wakes on `outbox_written` or every poll interval;
/// forgets sent events past `relay.keep_sent_hours` every [`FORGET_EVERY`].
pub async fn run(p: Platform) {
    let poll = Duration::from_millis(p.settings.relay.poll_interval_ms);
    let mut backoff = Duration::from_millis(100);
    let mut forgotten = tokio::time::Instant::now();
    loop {
        if forgotten.elapsed() >= FORGET_EVERY {
            forgotten = tokio::time::Instant::now();
            forget_sent(&p).await;
        }
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

/// How often a relay forgets the sent events older than it keeps.
pub const FORGET_EVERY: Duration = Duration::from_secs(60);

async fn forget_sent(p: &Platform) {
    let keep_ms = (p.settings.relay.keep_sent_hours * 3_600_000) as i64;
    let before = crate::store::now_ms().saturating_sub(keep_ms);
    match p.db.outbox_forget_sent(before).await {
        Ok(0) => {}
        Ok(n) => tracing::debug!(events = n, "forgot sent events past relay.keep_sent_hours"),
        Err(e) => tracing::warn!(error = %e, "forgetting sent events failed; next time"),
    }
}

/// The longest a relay holds rows it claimed while the broker has not
/// confirmed them: past it the claim is given up (the rows are back for
/// every relay) and the round fails. A relay whose process dies gives its
/// rows back at once (its transaction ends with its connection).
pub const LEASE: Duration = Duration::from_secs(30);

/// One round: claim, publish with confirms in flight, delete. Returns how
/// many rows it published.
pub async fn round(p: &Platform) -> Result<usize, crate::PlatformError> {
    let claim = p.db.outbox_claim(p.settings.relay.batch).await?;
    let n = claim.rows().len();
    p.metrics.outbox_backlog.set(n as i64);
    if n == 0 {
        return Ok(0);
    }
    match tokio::time::timeout(LEASE, publish(p, claim.rows())).await {
        Ok(published) => published?,
        Err(_) => {
            return Err(crate::PlatformError::Bus(format!(
                "the broker did not confirm {n} events within {LEASE:?}; they are back in the outbox"
            )));
        }
    }
    claim.done().await?;
    p.metrics.outbox_published.inc_by(n as u64);
    Ok(n)
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
