//! Applying a batch of events in one transaction and settling each
//! delivery: split around an event that fails, one at a time when the
//! batch's own work fails, kept to wait when an event answers `Later`.

use super::batch::{BATCH, write_deferred};
use super::{Event, Handler, HandlerError};
use crate::bus::{Delivery, Envelope};
use crate::store::Tx;
use crate::{Platform, PlatformError};
use std::time::Duration;
use tracing::{Instrument, Span};

/// A batch committed: how many events it applied, and which (by index)
/// it left out to be delivered again; the rest were duplicates.
struct Committed {
    applied: usize,
    later: Vec<usize>,
}

/// Why a batch was not committed.
enum BatchError {
    /// Event `index` failed: the batch is split around it.
    Event(usize),
    /// The handler's `prepare` or `finish`, or writing what the batch
    /// deferred, failed: one event at a time.
    Whole,
    /// The store failed to begin or commit: the whole batch again, later.
    Store(HandlerError),
}

/// Applies `events` in one transaction and settles them; splits the batch
/// around an event that fails. Each event's span ends once it is settled.
/// Returns the events left out to wait ([`HandlerError::Later`]), not
/// settled: the caller tries them again or gives them back.
pub(super) async fn settle_batch(
    p: &Platform,
    queue: &'static str,
    handler: &dyn Handler,
    mut events: Vec<Event>,
) -> Vec<Event> {
    let mut waits = Vec::new();
    while !events.is_empty() {
        if events.len() == 1 {
            let (d, span) = events.pop().expect("one event");
            waits.extend(handle_one(p, queue, handler, d, span).await);
            return waits;
        }
        match apply_batch(p, queue, handler, &events).await {
            Ok(Committed { applied, later }) => {
                let n = events.len();
                p.metrics.consumer_batch(queue, "committed", n);
                p.metrics.consumed_n(queue, "applied", applied as u64);
                p.metrics.consumed_n(queue, "retried", later.len() as u64);
                p.metrics
                    .consumed_n(queue, "duplicate", (n - applied - later.len()) as u64);
                // Those left out are settled first: the multiple-ack below
                // settles every earlier delivery still unsettled.
                let mut rest = Vec::with_capacity(n);
                let mut again = Vec::with_capacity(later.len());
                for (i, event) in events.into_iter().enumerate() {
                    if later.contains(&i) {
                        again.push(event);
                    } else {
                        rest.push(event);
                    }
                }
                // The multiple-ack below would settle them too: they are
                // not acknowledged, so they are acknowledged one by one.
                let (deliveries, spans): (Vec<_>, Vec<_>) = rest.into_iter().unzip();
                let settled = if again.is_empty() && waits.is_empty() {
                    Delivery::ack_all(deliveries).await
                } else {
                    settle_each(deliveries, false).await
                };
                if let Err(e) = settled {
                    tracing::warn!(queue, error = %e, "could not acknowledge a batch; the broker will redeliver it");
                }
                drop(spans);
                waits.extend(again);
                return waits;
            }
            Err(BatchError::Store(e)) => {
                p.metrics.consumer_batch(queue, "requeued", events.len());
                p.metrics.consumed_n(queue, "retried", events.len() as u64);
                p.metrics.consumed_n(queue, "requeued", events.len() as u64);
                tracing::warn!(queue, error = %e, events = events.len(), "batch failed; every event will be delivered again");
                tokio::time::sleep(Duration::from_millis(500)).await;
                let (deliveries, _spans): (Vec<_>, Vec<_>) = events.into_iter().unzip();
                // A multiple-nack would also return what this loop keeps
                // waiting.
                let requeued = if waits.is_empty() {
                    Delivery::retry_all(deliveries).await
                } else {
                    settle_each(deliveries, true).await
                };
                if let Err(e) = requeued {
                    tracing::warn!(queue, error = %e, "could not requeue a batch; the broker will redeliver it");
                }
                return waits;
            }
            Err(BatchError::Whole) => {
                p.metrics.consumer_batch(queue, "split", events.len());
                for (d, span) in events {
                    waits.extend(handle_one(p, queue, handler, d, span).await);
                }
                return waits;
            }
            Err(BatchError::Event(i)) => {
                // Before it, a batch again (it applied up to the failure);
                // then the event alone, settled as it deserves; then the rest.
                p.metrics.consumer_batch(queue, "split", events.len());
                let mut rest = events.split_off(i);
                let failed = rest.remove(0);
                let before = std::mem::replace(&mut events, rest);
                waits.extend(Box::pin(settle_batch(p, queue, handler, before)).await);
                waits.extend(handle_one(p, queue, handler, failed.0, failed.1).await);
            }
        }
    }
    waits
}

/// Acknowledges (or with `requeue`, requeues) each delivery on its own: a
/// multiple-ack or -nack would also settle the earlier deliveries this loop
/// keeps waiting.
async fn settle_each(deliveries: Vec<Delivery>, requeue: bool) -> Result<(), PlatformError> {
    let mut result = Ok(());
    for d in deliveries {
        let settled = if requeue {
            d.retry().await
        } else {
            d.ack().await
        };
        if let Err(e) = settled {
            result = Err(e);
        }
    }
    result
}

/// Delivers again the events that waited in their loop [`LOCAL_TRIES`]
/// times: back to the broker, with a warning (what they wait for may have
/// been dead-lettered) and, once they came back before, after a pause.
pub(super) async fn retry_later(p: &Platform, queue: &'static str, again: Vec<Event>) {
    if again.is_empty() {
        return;
    }
    p.metrics.consumed_n(queue, "requeued", again.len() as u64);
    if again.iter().any(|(d, _)| d.redelivered) {
        for (_, span) in &again {
            span.in_scope(|| {
                tracing::warn!(
                    queue,
                    "event still waits for another; will be delivered again"
                )
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for (d, span) in again {
        if let Err(e) = d.retry().instrument(span).await {
            tracing::warn!(queue, error = %e, "could not requeue a delivery; the broker will redeliver it");
        }
    }
}

/// One transaction for the batch: which events it applied and left out
/// (the rest being duplicates), or which event failed.
async fn apply_batch(
    p: &Platform,
    queue: &str,
    handler: &dyn Handler,
    events: &[Event],
) -> Result<Committed, BatchError> {
    BATCH
        .scope(
            Default::default(),
            apply_batch_in_scope(p, queue, handler, events),
        )
        .await
}

async fn apply_batch_in_scope(
    p: &Platform,
    queue: &str,
    handler: &dyn Handler,
    events: &[Event],
) -> Result<Committed, BatchError> {
    if let Some(i) = events.iter().position(|(d, _)| d.envelope.id.is_empty()) {
        return Err(BatchError::Event(i)); // refused alone, as it deserves
    }
    let mut tx =
        p.db.begin()
            .await
            .map_err(|e| BatchError::Store(e.into()))?;
    let ids: Vec<&str> = events.iter().map(|(d, _)| d.envelope.id.as_str()).collect();
    let mut fresh = if handler.keyed_by_event_id() {
        ids.iter().map(|id| (*id).to_owned()).collect()
    } else {
        tx.claim_inbox_many(queue, &ids)
            .await
            .map_err(|e| BatchError::Store(e.into()))?
    };
    // Which deliveries apply (a second delivery of an event, earlier in
    // this batch or in an earlier commit, does not).
    let mut applies = Vec::with_capacity(events.len());
    for (d, span) in events {
        let fresh = fresh.remove(&d.envelope.id);
        if !fresh {
            span.in_scope(|| tracing::debug!("event already applied; acknowledged without effect"));
        }
        applies.push(fresh);
    }
    let fresh_events: Vec<&Envelope> = events
        .iter()
        .zip(&applies)
        .filter(|(_, fresh)| **fresh)
        .map(|((d, _), _)| &d.envelope)
        .collect();
    if fresh_events.is_empty() {
        tx.commit().await.map_err(|e| BatchError::Store(e.into()))?;
        return Ok(Committed {
            applied: 0,
            later: Vec::new(),
        });
    }
    if let Err(e) = handler.prepare(&mut tx, &fresh_events).await {
        tracing::warn!(queue, error = %e, events = events.len(), "preparing a batch failed; one event at a time");
        return Err(BatchError::Whole);
    }
    let mut applied: Vec<&Envelope> = Vec::with_capacity(events.len());
    let mut later = Vec::new();
    for (i, ((d, span), fresh)) in events.iter().zip(&applies).enumerate() {
        if !fresh {
            continue;
        }
        let e = &d.envelope;
        match handler.handle(&mut tx, e).instrument(span.clone()).await {
            Ok(()) => applied.push(e),
            Err(HandlerError::Later(why)) => {
                span.in_scope(|| tracing::debug!(%why, "waits for another event; delivered again"));
                later.push(i);
            }
            Err(_) => return Err(BatchError::Event(i)),
        }
    }
    let finished = if applied.is_empty() {
        Ok(()) // every event left out to wait: nothing to finish
    } else {
        match handler.finish(&mut tx, &applied).await {
            Ok(()) => write_deferred(&mut tx).await.map_err(HandlerError::from),
            Err(e) => Err(e),
        }
    };
    let finished = match finished {
        Ok(()) if !handler.keyed_by_event_id() => release_all(&mut tx, queue, events, &later).await,
        other => other,
    };
    if let Err(e) = finished {
        tracing::warn!(queue, error = %e, events = events.len(), "finishing a batch failed; one event at a time");
        return Err(BatchError::Whole);
    }
    tx.commit().await.map_err(|e| BatchError::Store(e.into()))?;
    if !applied.is_empty() {
        // Consumers write events too (routing's ApplicationRouted): the
        // relay publishes them now, once for the batch.
        p.outbox_written.notify_one();
        handler.applied(&applied).await;
    }
    Ok(Committed {
        applied: applied.len(),
        later,
    })
}

/// Takes back the inbox claims of the batch's events at `later`.
async fn release_all(
    tx: &mut Tx,
    queue: &str,
    events: &[Event],
    later: &[usize],
) -> Result<(), HandlerError> {
    for &i in later {
        tx.release_inbox(queue, &events[i].0.envelope.id).await?;
    }
    Ok(())
}

/// Applies one event and settles it; an event that waits for another is
/// returned, unsettled, for the loop to try again.
async fn handle_one(
    p: &Platform,
    queue: &'static str,
    handler: &dyn Handler,
    d: Delivery,
    span: Span,
) -> Option<Event> {
    let result = apply(p, queue, handler, &d.envelope)
        .instrument(span.clone())
        .await;
    if let Err(HandlerError::Later(why)) = &result {
        p.metrics.consumed(queue, "retried");
        span.in_scope(|| tracing::debug!(%why, "waits for another event; tried again"));
        return Some((d, span));
    }
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
            Err(e) => {
                p.metrics.consumed(queue, "retried");
                p.metrics.consumed(queue, "requeued");
                tracing::warn!(error = %e, "event failed; will be delivered again");
                // The first time straight back to the queue; again, after
                // a pause.
                if d.redelivered {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                d.retry().await
            }
        };
        if let Err(e) = settled {
            tracing::warn!(error = %e, "could not settle the delivery; the broker will redeliver it");
        }
    }
    .instrument(span)
    .await;
    None
}

/// Applies once: Ok(false) when the inbox says it already was.
async fn apply(
    p: &Platform,
    queue: &str,
    handler: &dyn Handler,
    e: &Envelope,
) -> Result<bool, HandlerError> {
    BATCH
        .scope(Default::default(), apply_in_scope(p, queue, handler, e))
        .await
}

async fn apply_in_scope(
    p: &Platform,
    queue: &str,
    handler: &dyn Handler,
    e: &Envelope,
) -> Result<bool, HandlerError> {
    if e.id.is_empty() {
        return Err(HandlerError::Permanent("envelope has no event id".into()));
    }
    let mut tx = p.db.begin().await?;
    if !handler.keyed_by_event_id() && !tx.claim_inbox(queue, &e.id).await? {
        return Ok(false);
    }
    handler.prepare(&mut tx, &[e]).await?;
    handler.handle(&mut tx, e).await?;
    handler.finish(&mut tx, &[e]).await?;
    write_deferred(&mut tx).await?;
    tx.commit().await?;
    p.outbox_written.notify_one();
    handler.applied(&[e]).await;
    Ok(true)
}
