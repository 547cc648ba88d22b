//! The in-process bus of the embedded default. Not durable: what is queued
//! is lost with the process, which the outbox makes harmless (unpublished
//! rows stay in the store until confirmed, and here confirmed = enqueued).

use super::{Delivery, Envelope, Settle};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

#[derive(Clone, Default)]
pub struct MemoryBus {
    queues: Arc<Mutex<HashMap<String, Arc<Queue>>>>,
}

struct Queue {
    kinds: Mutex<Vec<String>>,
    tx: mpsc::UnboundedSender<(Envelope, bool)>,
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<(Envelope, bool)>>,
    dead: Mutex<Vec<Envelope>>,
}

impl MemoryBus {
    pub fn publish(&self, envelopes: &[Envelope]) {
        let queues: Vec<Arc<Queue>> = self
            .queues
            .lock()
            .expect("bus lock")
            .values()
            .cloned()
            .collect();
        for q in queues {
            let kinds = q.kinds.lock().expect("bus lock").clone();
            for e in envelopes.iter().filter(|e| kinds.contains(&e.kind)) {
                let _ = q.tx.send((e.clone(), false));
            }
        }
    }

    pub fn subscribe(&self, queue: &str, kinds: &[&str]) -> MemorySubscription {
        let mut queues = self.queues.lock().expect("bus lock");
        let q = queues
            .entry(queue.to_owned())
            .or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                Arc::new(Queue {
                    kinds: Mutex::default(),
                    tx,
                    rx: tokio::sync::Mutex::new(rx),
                    dead: Mutex::default(),
                })
            })
            .clone();
        let mut bound = q.kinds.lock().expect("bus lock");
        for k in kinds {
            if !bound.iter().any(|b| b == k) {
                bound.push((*k).to_owned());
            }
        }
        drop(bound);
        MemorySubscription { queue: q }
    }

    pub fn dead_letters(&self, queue: &str) -> Vec<Envelope> {
        let queues = self.queues.lock().expect("bus lock");
        queues
            .get(queue)
            .map(|q| q.dead.lock().expect("bus lock").clone())
            .unwrap_or_default()
    }
}

pub struct MemorySubscription {
    queue: Arc<Queue>,
}

impl MemorySubscription {
    pub async fn next(&mut self) -> Option<Delivery> {
        // Competing consumers of one queue share the receiver.
        let (envelope, redelivered) = self.queue.rx.lock().await.recv().await?;
        Some(Delivery {
            envelope,
            redelivered,
            settle: Settle::Memory(MemoryAcker {
                queue: self.queue.clone(),
            }),
        })
    }
}

pub struct MemoryAcker {
    queue: Arc<Queue>,
}

impl MemoryAcker {
    pub fn requeue(&self, e: Envelope) {
        let _ = self.queue.tx.send((e, true));
    }

    pub fn dead_letter(&self, e: Envelope) {
        self.queue.dead.lock().expect("bus lock").push(e);
    }
}
