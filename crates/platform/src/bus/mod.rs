//! The event bus: in-process (embedded default) or RabbitMQ. Both carry one
//! envelope type and behave alike except for durability: a topic exchange,
//! one queue per consumer (competing consumers share it), acks after the
//! effect is committed, and a dead-letter queue for what cannot be applied.

mod memory;
mod rabbit;

use crate::PlatformError;
use crate::config::BusSettings;
use std::collections::BTreeMap;

pub use memory::MemoryBus;
pub use rabbit::RabbitBus;

/// What travels on the bus. `payload` is a protobuf message from
/// `events.proto`; `headers` carry the W3C trace context.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// Unique per event; consumers deduplicate on it.
    pub id: String,
    /// The message name (`ApplicationReceived`), also the routing key.
    pub kind: String,
    /// What the event is about (an application number).
    pub key: String,
    pub payload: Vec<u8>,
    pub headers: BTreeMap<String, String>,
}

#[derive(Clone)]
pub enum Bus {
    Memory(MemoryBus),
    Rabbit(RabbitBus),
}

impl Bus {
    pub async fn connect(s: &BusSettings) -> Result<Self, PlatformError> {
        if s.url.expose() == "memory://" {
            Ok(Self::Memory(MemoryBus::default()))
        } else {
            Ok(Self::Rabbit(RabbitBus::connect(s).await?))
        }
    }

    /// Publishes every envelope and returns once each one is confirmed (on
    /// RabbitMQ: publisher confirms, all in flight together).
    pub async fn publish(&self, envelopes: &[Envelope]) -> Result<(), PlatformError> {
        match self {
            Self::Memory(b) => {
                b.publish(envelopes);
                Ok(())
            }
            Self::Rabbit(b) => b.publish(envelopes).await,
        }
    }

    /// Declares `queue` (durable, with its dead-letter queue), binds it to
    /// `kinds` and starts consuming. Replicas naming the same queue compete.
    pub async fn subscribe(
        &self,
        queue: &str,
        kinds: &[&str],
    ) -> Result<Subscription, PlatformError> {
        match self {
            Self::Memory(b) => Ok(Subscription::Memory(b.subscribe(queue, kinds))),
            Self::Rabbit(b) => Ok(Subscription::Rabbit(Box::new(
                b.subscribe(queue, kinds).await?,
            ))),
        }
    }

    /// Declares `queue` bound to `kinds` without consuming, so that no
    /// event published from now on is dropped for want of a binding.
    pub async fn declare(&self, queue: &str, kinds: &[&str]) -> Result<(), PlatformError> {
        match self {
            Self::Memory(b) => {
                drop(b.subscribe(queue, kinds));
                Ok(())
            }
            Self::Rabbit(b) => b.declare(queue, kinds).await,
        }
    }

    /// Envelopes dead-lettered from `queue` so far (memory) or waiting in its
    /// dead-letter queue (RabbitMQ: counted, not consumed).
    pub async fn dead_letter_count(&self, queue: &str) -> Result<u64, PlatformError> {
        match self {
            Self::Memory(b) => Ok(b.dead_letters(queue).len() as u64),
            Self::Rabbit(b) => b.dead_letter_count(queue).await,
        }
    }

    pub async fn ping(&self) -> Result<(), PlatformError> {
        match self {
            Self::Memory(_) => Ok(()),
            Self::Rabbit(b) => b.ping().await,
        }
    }

    /// Removes what this process declared on the broker (used by tests).
    pub async fn teardown(&self) -> Result<(), PlatformError> {
        match self {
            Self::Memory(_) => Ok(()),
            Self::Rabbit(b) => b.teardown().await,
        }
    }
}

pub enum Subscription {
    Memory(memory::MemorySubscription),
    Rabbit(Box<rabbit::RabbitSubscription>),
}

impl Subscription {
    /// The next delivery; `None` when the bus closed.
    pub async fn next(&mut self) -> Option<Result<Delivery, PlatformError>> {
        match self {
            Self::Memory(s) => s.next().await.map(Ok),
            Self::Rabbit(s) => s.next().await,
        }
    }

    /// Stops consuming; deliveries not yet settled go back to the queue.
    pub async fn close(self) -> Result<(), PlatformError> {
        match self {
            Self::Memory(_) => Ok(()),
            Self::Rabbit(s) => s.close().await,
        }
    }
}

/// A received envelope and the means to settle it.
pub struct Delivery {
    pub envelope: Envelope,
    pub redelivered: bool,
    settle: Settle,
}

enum Settle {
    Memory(memory::MemoryAcker),
    Rabbit(lapin::Acker),
}

impl Delivery {
    /// The effect is committed: forget the message.
    pub async fn ack(self) -> Result<(), PlatformError> {
        match self.settle {
            Settle::Memory(_) => Ok(()),
            Settle::Rabbit(a) => rabbit::ack(&a).await,
        }
    }

    /// Acknowledges a batch of deliveries taken in order from one
    /// subscription, none settled yet: on RabbitMQ one multiple-ack of the
    /// last (it settles every earlier delivery of the channel, and the
    /// consumer has settled all those not in the batch already).
    pub async fn ack_all(batch: Vec<Delivery>) -> Result<(), PlatformError> {
        match batch.into_iter().last().map(|d| d.settle) {
            None | Some(Settle::Memory(_)) => Ok(()),
            Some(Settle::Rabbit(a)) => rabbit::ack_through(&a).await,
        }
    }

    /// Requeues a batch like [`Delivery::ack_all`] acknowledges one.
    pub async fn retry_all(batch: Vec<Delivery>) -> Result<(), PlatformError> {
        let Some(last) = batch.last() else {
            return Ok(());
        };
        if let Settle::Rabbit(a) = &last.settle {
            return rabbit::nack_through(a).await;
        }
        for d in batch {
            d.retry().await?;
        }
        Ok(())
    }

    /// A passing failure: deliver it again later.
    pub async fn retry(self) -> Result<(), PlatformError> {
        match self.settle {
            Settle::Memory(a) => {
                a.requeue(self.envelope);
                Ok(())
            }
            Settle::Rabbit(a) => rabbit::nack(&a, true).await,
        }
    }

    /// It can never be applied: move it to the dead-letter queue.
    pub async fn reject(self) -> Result<(), PlatformError> {
        match self.settle {
            Settle::Memory(a) => {
                a.dead_letter(self.envelope);
                Ok(())
            }
            Settle::Rabbit(a) => rabbit::nack(&a, false).await,
        }
    }
}
