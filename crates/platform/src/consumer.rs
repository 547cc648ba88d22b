//! Idempotent consumers, in batches. A consumer takes what its queue has
//! ready, up to `bus.batch` deliveries (waiting at most `bus.batch_wait_ms`
//! for more), applies them in one transaction that also records each
//! (consumer, event id) in the inbox, commits, and only then acknowledges
//! them together (one multiple-ack on RabbitMQ). A second delivery of an
//! event finds its inbox row, in an earlier commit or earlier in the same
//! batch, and does nothing.
//!
//! **A bad event does not sink its batch.** When an event fails, the batch
//! is rolled back and split around it: what came before is applied again
//! in one transaction, the failing event alone (dead-lettered if it can
//! never be applied, delivered again later if it may), then the rest as a
//! batch. Events are applied in the order they were delivered, so every
//! per-application ordering rule of the consumers holds as before.
//!
//! **An event that must wait does not split its batch either.** An event
//! whose application's earlier event is still being applied by another
//! loop (escalation's "no clock yet") answers [`HandlerError::Later`]: it
//! is left out, its inbox claim taken back, and the rest committed. The
//! loop keeps it (unacknowledged) and tries it again with its next batch,
//! a moment later, when the other loop's batch has mostly committed; only
//! an event that still waits after [`LOCAL_TRIES`] goes back to the broker
//! to be delivered again. So ordinary reordering between loops (and
//! between the relays of several processes) costs no second delivery.

mod apply;
mod batch;

use apply::{retry_later, settle_batch};
pub use batch::{audit, batch_cache, batch_cached, batch_state, emit, once_a_batch};

use crate::bus::{Delivery, Envelope};

use crate::store::Tx;
use crate::{Platform, PlatformError};
use std::sync::Arc;
use std::time::Duration;
use tracing::{Instrument, Span};

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Will never succeed (undecodable payload): dead-lettered.
    #[error("permanent: {0}")]
    Permanent(String),
    /// May succeed later (store unavailable): delivered again.
    #[error("transient: {0}")]
    Transient(String),
    /// Waits for another event of its application, which another batch is
    /// applying (escalation's clock not started yet). The handler must not
    /// have changed anything for it: in a batch it is left out and the
    /// rest committed, then it is delivered again; alone, as `Transient`.
    #[error("later: {0}")]
    Later(String),
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
    /// Once a batch, after the inbox has claimed its events and before the
    /// first `handle`, with the events about to be applied: for reading
    /// (and locking) in one statement what they all need, kept for them by
    /// [`batch_cache`]. A failure here is not any one event's: the batch is
    /// applied again one event at a time.
    async fn prepare(&self, _tx: &mut Tx, _events: &[&Envelope]) -> Result<(), HandlerError> {
        Ok(())
    }

    /// Applies the event's effect inside `tx`, or keeps it for `finish` to
    /// write with the batch's others; the caller commits. Other events of
    /// the batch may have been applied in `tx` before. A handler that keeps
    /// effects must see them itself: a later event of the batch about the
    /// same application reads what the earlier one left, not the table.
    async fn handle(&self, tx: &mut Tx, envelope: &Envelope) -> Result<(), HandlerError>;

    /// Once a batch, before its commit, with the events `handle` applied in
    /// it (in order): for work done better once for them all than once an
    /// event (reporting folds each application once, taking its locks in
    /// one order; others write what their events changed in one statement
    /// each). A failure here is not any one event's: the batch is applied
    /// again one event at a time. What [`emit`] and [`audit`] kept is
    /// written after it.
    async fn finish(&self, _tx: &mut Tx, _applied: &[&Envelope]) -> Result<(), HandlerError> {
        Ok(())
    }

    /// After a commit, with the events it applied (not the duplicates):
    /// for what must see the committed state, such as invalidating a
    /// cache. Best effort: a crash between the commit and this loses it.
    async fn applied(&self, _envelopes: &[&Envelope]) {}

    /// True when the handler's own effects are keyed by the event id, so a
    /// second delivery applied again changes nothing (reporting keeps each
    /// event once by its id and folds its rows from the events kept). The
    /// consumer then writes no inbox row for its events (one row an event
    /// less; the pipeline's largest table) and applies a redelivery like
    /// a first delivery; within one batch an event still applies once.
    fn keyed_by_event_id(&self) -> bool {
        false
    }
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

/// How many batches of its loop an event that waits is tried with before
/// it goes back to the broker.
pub const LOCAL_TRIES: u32 = 3;

/// The longest a loop waits for a new delivery before it tries again, alone,
/// the events it keeps waiting: long enough for another loop's batch to
/// commit.
const WAITING_PAUSE: Duration = Duration::from_millis(20);

async fn consume_loop(
    p: Platform,
    queue: &'static str,
    kinds: &'static [&'static str],
    handler: Arc<dyn Handler>,
) {
    let max = p.settings.bus.batch.max(1);
    let wait = Duration::from_millis(p.settings.bus.batch_wait_ms);
    // Events left out of a batch to wait, with how often they waited.
    let mut waiting: Vec<Event> = Vec::new();
    let mut tries: std::collections::HashMap<String, u32> = Default::default();
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
            let mut batch = Vec::new();
            if waiting.is_empty() {
                let first = tokio::select! {
                    _ = p.shutdown.cancelled() => {
                        if let Err(e) = sub.close().await {
                            tracing::debug!(queue, error = %e, "closing the subscription failed");
                        }
                        return;
                    }
                    n = sub.next() => n,
                };
                match first {
                    Some(Ok(d)) => batch.push(d),
                    Some(Err(e)) => {
                        tracing::warn!(queue, error = %e, "delivery failed; resubscribing");
                        break;
                    }
                    None => break,
                }
            } else {
                // What the waiting events wait for is mostly in another
                // loop's batch, committing now: a moment for it, unless
                // new deliveries come first (then no time is lost).
                let first = tokio::select! {
                    _ = p.shutdown.cancelled() => None,
                    n = tokio::time::timeout(WAITING_PAUSE, sub.next()) => Some(n),
                };
                match first {
                    None => {
                        give_back(&p, queue, std::mem::take(&mut waiting)).await;
                        continue;
                    }
                    Some(Ok(Some(Ok(d)))) => batch.push(d),
                    Some(Ok(Some(Err(e)))) => {
                        tracing::warn!(queue, error = %e, "delivery failed; resubscribing");
                        give_back(&p, queue, std::mem::take(&mut waiting)).await;
                        break;
                    }
                    Some(Ok(None)) => {
                        give_back(&p, queue, std::mem::take(&mut waiting)).await;
                        break;
                    }
                    Some(Err(_)) => {} // the pause passed: the waiting ones alone
                }
            }
            // What is ready now, and what arrives within the wait: under
            // load the queue fills while a batch commits, so batches grow
            // without waiting; a lone event waits at most `wait`.
            let deadline = tokio::time::Instant::now() + wait;
            let mut broken = false;
            while batch.len() < max {
                match tokio::time::timeout_at(deadline, sub.next()).await {
                    Ok(Some(Ok(d))) => batch.push(d),
                    Ok(Some(Err(e))) => {
                        tracing::warn!(queue, error = %e, "delivery failed; resubscribing");
                        broken = true;
                        break;
                    }
                    Ok(None) => {
                        broken = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
            let mut events: Vec<Event> = std::mem::take(&mut waiting);
            events.extend(batch.into_iter().map(|d| {
                let span = event_span(queue, &d.envelope);
                (d, span)
            }));
            p.metrics.consumer_batch_size.observe(events.len() as f64);
            let later = settle_batch(&p, queue, handler.as_ref(), events).await;
            // Kept to try again here, or (after LOCAL_TRIES) back to the broker.
            let mut again = Vec::new();
            for event in later {
                let n = tries.entry(event.0.envelope.id.clone()).or_insert(0);
                *n += 1;
                if *n < LOCAL_TRIES && !broken {
                    waiting.push(event);
                } else {
                    again.push(event);
                }
            }
            tries.retain(|id, _| waiting.iter().any(|(d, _)| d.envelope.id == *id));
            retry_later(&p, queue, again).await;
            if broken {
                break;
            }
        }
        // The subscription broke: what waited goes back (on RabbitMQ its
        // channel's end returns it anyway).
        give_back(&p, queue, std::mem::take(&mut waiting)).await;
        tries.clear();
        sleep_or_cancel(&p, Duration::from_millis(200)).await;
    }
    give_back(&p, queue, waiting).await;
}

/// Events kept waiting, back to the broker at once (shutdown, a broken
/// subscription).
async fn give_back(p: &Platform, queue: &'static str, events: Vec<Event>) {
    p.metrics.consumed_n(queue, "requeued", events.len() as u64);
    for (d, span) in events {
        if let Err(e) = d.retry().instrument(span).await {
            tracing::debug!(queue, error = %e, "could not requeue a waiting delivery; the broker will redeliver it");
        }
    }
}

async fn sleep_or_cancel(p: &Platform, d: Duration) {
    tokio::select! {
        _ = p.shutdown.cancelled() => {}
        _ = tokio::time::sleep(d) => {}
    }
}

/// The consumer's span of one event, continuing the event's trace.
fn event_span(queue: &'static str, e: &Envelope) -> Span {
    let span = tracing::info_span!(
        "bus.consume",
        otel.name = %format!("consume {}", e.kind),
        otel.kind = "consumer",
        consumer = queue,
        event.kind = %e.kind,
        event.id = %e.id,
        application_number = %e.key,
        province = tracing::field::Empty,
        topic = tracing::field::Empty,
        unit = tracing::field::Empty,
    );
    crate::telemetry::set_parent_from_headers(&span, &e.headers);
    span
}

type Event = (Delivery, Span);

/// The event `e` carries, decoded; one that cannot be read is permanent
/// (the same bytes will not decode later) and is dead-lettered.
pub fn event(e: &Envelope) -> Result<acikkapi_proto::Event, HandlerError> {
    acikkapi_proto::Event::decode(&e.kind, &e.payload)
        .map_err(|err| HandlerError::Permanent(err.to_string()))
}
