//! What the events of one batch share while it is applied: values read
//! once for the batch ([`once_a_batch`]), state a handler keeps for its
//! `finish` ([`batch_state`]), and the outbox events and audit entries
//! written with the batch's others just before its commit ([`emit`],
//! [`audit`]).

use crate::PlatformError;
use crate::audit as audit_log;
use crate::store::{OutboxEvent, Tx};
use std::sync::Arc;

tokio::task_local! {
    /// Values the events of the batch being applied share.
    pub(super) static BATCH: std::cell::RefCell<Vec<Box<dyn std::any::Any + Send>>>;
}

/// A value of type `T` put by [`batch_cache`] while applying this batch
/// (in its transaction), if any: what a handler reads once for all the
/// events of a batch, such as configuration. None outside a batch.
pub fn batch_cached<T: Clone + Send + 'static>() -> Option<T> {
    BATCH
        .try_with(|b| {
            b.borrow()
                .iter()
                .find_map(|v| v.downcast_ref::<T>().cloned())
        })
        .ok()
        .flatten()
}

/// Keeps `value` for the rest of the batch being applied, in place of one
/// of its type kept before; false outside a batch (nothing is kept).
pub fn batch_cache<T: Clone + Send + 'static>(value: T) -> bool {
    BATCH
        .try_with(|b| {
            let mut kept = b.borrow_mut();
            kept.retain(|v| !v.is::<T>());
            kept.push(Box::new(value));
        })
        .is_ok()
}

/// What `load` reads, once for the batch being applied: the first event
/// to ask loads it in the batch's transaction, the others share it
/// (outside a batch, every call loads).
pub async fn once_a_batch<T, E, Fut>(load: impl FnOnce() -> Fut) -> Result<T, E>
where
    T: Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    if let Some(v) = batch_cached::<T>() {
        return Ok(v);
    }
    let v = load().await?;
    batch_cache(v.clone());
    Ok(v)
}

/// The outbox events and audit entries of the batch being applied, in the
/// order they were made.
#[derive(Clone, Default)]
struct Deferred(Arc<std::sync::Mutex<(Vec<OutboxEvent>, Vec<audit_log::Entry>)>>);

/// The batch's shared state of type `T` (a handle, such as an
/// `Arc<Mutex<…>>`), made empty by the first event to ask: what a handler
/// keeps for `finish` to write. None outside a batch.
pub fn batch_state<T: Clone + Default + Send + 'static>() -> Option<T> {
    if let Some(v) = batch_cached::<T>() {
        return Some(v);
    }
    let v = T::default();
    batch_cache(v.clone()).then_some(v)
}

/// Writes `events` to the outbox in the transaction applying the batch: in
/// one statement with the batch's others just before its commit (outside a
/// batch, now). Their order is kept.
pub async fn emit(t: &mut Tx, events: Vec<OutboxEvent>) -> Result<(), PlatformError> {
    match batch_state::<Deferred>() {
        Some(d) => {
            d.0.lock().expect("deferred rows").0.extend(events);
            Ok(())
        }
        None => t.insert_outbox(&events).await,
    }
}

/// Writes audit `entries` in the transaction applying the batch, as
/// [`emit`] does events.
pub async fn audit(t: &mut Tx, entries: Vec<audit_log::Entry>) -> Result<(), PlatformError> {
    match batch_state::<Deferred>() {
        Some(d) => {
            d.0.lock().expect("deferred rows").1.extend(entries);
            Ok(())
        }
        None => t.insert_audit(&entries).await,
    }
}

/// What [`emit`] and [`audit`] kept for this batch, written.
pub(super) async fn write_deferred(t: &mut Tx) -> Result<(), PlatformError> {
    let Some(d) = batch_cached::<Deferred>() else {
        return Ok(());
    };
    let (events, entries) = std::mem::take(&mut *d.0.lock().expect("deferred rows"));
    t.insert_outbox(&events).await?;
    if !entries.is_empty() {
        t.insert_audit(&entries).await?;
    }
    Ok(())
}
