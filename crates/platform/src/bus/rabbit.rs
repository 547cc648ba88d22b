//! RabbitMQ through lapin: a durable topic exchange `<prefix>.events`, a
//! durable queue per consumer with a dead-letter exchange `<prefix>.dlx`
//! routing to `<queue>.dlq`, persistent messages, publisher confirms kept in
//! flight together, manual acks.

use super::{Delivery, Envelope, Settle};
use crate::PlatformError;
use crate::config::BusSettings;
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions,
    BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions,
};
use lapin::protocol::constants::REPLY_SUCCESS;
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::Mutex;

#[derive(Clone)]
pub struct RabbitBus {
    inner: Arc<Inner>,
}

struct Inner {
    settings: BusSettings,
    /// Connection and confirm-mode publishing channel; rebuilt after a failure.
    link: Mutex<Option<(Arc<Connection>, Channel)>>,
    /// Queues this process declared, for [`RabbitBus::teardown`].
    declared: std::sync::Mutex<Vec<String>>,
}

fn err(e: impl std::fmt::Display) -> PlatformError {
    PlatformError::Bus(e.to_string())
}

/// The longest one exchange with the broker may take: connecting and
/// declaring, subscribing, a batch's publish with its confirms. A broker
/// still starting (or half gone) can accept the TCP connection and then
/// answer nothing; without a bound a consumer loop waited for ever in
/// `subscribe` (and, since the connection is made under the link's lock,
/// every publisher of the process with it), as `make chaos` found after
/// a RabbitMQ restart.
const BROKER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// `f`, or a bus error once [`BROKER_TIMEOUT`] has passed.
async fn bounded<T>(
    what: &str,
    f: impl std::future::Future<Output = Result<T, PlatformError>>,
) -> Result<T, PlatformError> {
    tokio::time::timeout(BROKER_TIMEOUT, f)
        .await
        .unwrap_or_else(|_| {
            Err(PlatformError::Bus(format!(
                "{what}: the broker did not answer within {BROKER_TIMEOUT:?}"
            )))
        })
}

impl RabbitBus {
    pub async fn connect(settings: &BusSettings) -> Result<Self, PlatformError> {
        let bus = Self {
            inner: Arc::new(Inner {
                settings: settings.clone(),
                link: Mutex::new(None),
                declared: Default::default(),
            }),
        };
        bus.channel().await?;
        Ok(bus)
    }

    fn exchange(&self) -> String {
        format!("{}.events", self.inner.settings.prefix)
    }

    fn dlx(&self) -> String {
        format!("{}.dlx", self.inner.settings.prefix)
    }

    /// The publishing channel, connecting (and declaring the exchanges) if needed.
    async fn channel(&self) -> Result<(Arc<Connection>, Channel), PlatformError> {
        let mut link = self.inner.link.lock().await;
        if let Some((c, ch)) = link.as_ref()
            && c.status().connected()
            && ch.status().connected()
        {
            return Ok((c.clone(), ch.clone()));
        }
        let made = bounded("connecting", self.open_link()).await?;
        *link = Some(made.clone());
        Ok(made)
    }

    /// A new connection and its confirm-mode channel, the exchanges declared.
    async fn open_link(&self) -> Result<(Arc<Connection>, Channel), PlatformError> {
        let conn = Arc::new(
            Connection::connect(
                self.inner.settings.url.expose(),
                ConnectionProperties::default(),
            )
            .await
            .map_err(err)?,
        );
        let ch = conn.create_channel().await.map_err(err)?;
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(err)?;
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        ch.exchange_declare(
            self.exchange().as_str().into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await
        .map_err(err)?;
        ch.exchange_declare(
            self.dlx().as_str().into(),
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await
        .map_err(err)?;
        Ok((conn, ch))
    }

    async fn drop_link(&self) {
        *self.inner.link.lock().await = None;
    }

    pub async fn publish(&self, envelopes: &[Envelope]) -> Result<(), PlatformError> {
        let result = bounded("publishing", self.publish_on_channel(envelopes)).await;
        if result.is_err() {
            self.drop_link().await;
        }
        result
    }

    async fn publish_on_channel(&self, envelopes: &[Envelope]) -> Result<(), PlatformError> {
        let (_, ch) = self.channel().await?;
        let exchange: ShortString = self.exchange().as_str().into();
        // Send every message first, then wait for all confirms: the broker
        // confirms in batches, so throughput is many times the one-by-one rate.
        let mut confirms = Vec::with_capacity(envelopes.len());
        for e in envelopes {
            let props = properties(e);
            let c = ch
                .basic_publish(
                    exchange.clone(),
                    e.kind.as_str().into(),
                    BasicPublishOptions::default(),
                    &e.payload,
                    props,
                )
                .await
                .map_err(err)?;
            confirms.push(c);
        }
        for c in futures::future::join_all(confirms).await {
            let c = c.map_err(err)?;
            if !c.is_ack() {
                return Err(PlatformError::Bus(
                    "the broker refused a message (nack)".into(),
                ));
            }
        }
        Ok(())
    }

    /// What every queue is declared with: its type, and its expiry (tests).
    fn common_args(&self) -> FieldTable {
        let mut args = FieldTable::default();
        args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString(self.inner.settings.queue_type.as_str().into()),
        );
        if self.inner.settings.queue_expires_ms > 0 {
            args.insert(
                "x-expires".into(),
                AMQPValue::LongUInt(self.inner.settings.queue_expires_ms),
            );
        }
        args
    }

    fn queue_args(&self, queue: &str) -> FieldTable {
        let mut args = self.common_args();
        args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(self.dlx().into()),
        );
        args.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(queue.into()),
        );
        args
    }

    fn full_queue_name(&self, queue: &str) -> String {
        format!("{}.{queue}", self.inner.settings.prefix)
    }

    /// Declares `queue` (and its dead-letter queue) bound to `kinds`,
    /// without consuming from it.
    pub async fn declare(&self, queue: &str, kinds: &[&str]) -> Result<(), PlatformError> {
        bounded("declaring", async {
            let ch = self.declare_on_new_channel(queue, kinds).await?;
            ch.close(REPLY_SUCCESS, "declared".into())
                .await
                .map_err(err)
        })
        .await
    }

    pub async fn subscribe(
        &self,
        queue: &str,
        kinds: &[&str],
    ) -> Result<RabbitSubscription, PlatformError> {
        bounded("subscribing", self.subscribe_unbounded(queue, kinds)).await
    }

    async fn subscribe_unbounded(
        &self,
        queue: &str,
        kinds: &[&str],
    ) -> Result<RabbitSubscription, PlatformError> {
        let ch = self.declare_on_new_channel(queue, kinds).await?;
        let name = self.full_queue_name(queue);
        ch.basic_qos(self.inner.settings.prefetch, BasicQosOptions::default())
            .await
            .map_err(err)?;
        let consumer = ch
            .basic_consume(
                name.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(err)?;
        Ok(RabbitSubscription {
            consumer,
            channel: ch,
        })
    }

    async fn declare_on_new_channel(
        &self,
        queue: &str,
        kinds: &[&str],
    ) -> Result<Channel, PlatformError> {
        let (conn, _) = self.channel().await?;
        let ch = conn.create_channel().await.map_err(err)?;
        let name = self.full_queue_name(queue);
        let dlq = format!("{name}.dlq");
        let durable = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        ch.queue_declare(dlq.as_str().into(), durable, self.common_args())
            .await
            .map_err(err)?;
        ch.queue_bind(
            dlq.as_str().into(),
            self.dlx().as_str().into(),
            name.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(err)?;
        ch.queue_declare(name.as_str().into(), durable, self.queue_args(&name))
            .await
            .map_err(err)?;
        for k in kinds {
            ch.queue_bind(
                name.as_str().into(),
                self.exchange().as_str().into(),
                (*k).into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(err)?;
        }
        self.inner
            .declared
            .lock()
            .expect("declared lock")
            .extend([name.clone(), dlq.clone()]);
        Ok(ch)
    }

    pub async fn dead_letter_count(&self, queue: &str) -> Result<u64, PlatformError> {
        let (conn, _) = self.channel().await?;
        let ch = conn.create_channel().await.map_err(err)?;
        let dlq = format!("{}.dlq", self.full_queue_name(queue));
        let q = ch
            .queue_declare(
                dlq.as_str().into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(err)?;
        Ok(u64::from(q.message_count()))
    }

    pub async fn ping(&self) -> Result<(), PlatformError> {
        self.channel().await.map(|_| ())
    }

    /// Deletes the queues this process declared and both exchanges (tests:
    /// each uses its own prefix and removes it afterwards).
    pub async fn teardown(&self) -> Result<(), PlatformError> {
        use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
        let (_, ch) = self.channel().await?;
        let queues = std::mem::take(&mut *self.inner.declared.lock().expect("declared lock"));
        for q in queues {
            ch.queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                .await
                .map_err(err)?;
        }
        for x in [self.exchange(), self.dlx()] {
            ch.exchange_delete(x.as_str().into(), ExchangeDeleteOptions::default())
                .await
                .map_err(err)?;
        }
        self.drop_link().await;
        Ok(())
    }
}

fn properties(e: &Envelope) -> BasicProperties {
    let mut headers = FieldTable::default();
    for (k, v) in &e.headers {
        headers.insert(k.as_str().into(), AMQPValue::LongString(v.as_str().into()));
    }
    headers.insert("key".into(), AMQPValue::LongString(e.key.as_str().into()));
    BasicProperties::default()
        .with_message_id(e.id.as_str().into())
        .with_type(e.kind.as_str().into())
        .with_content_type("application/x-protobuf".into())
        .with_delivery_mode(2)
        .with_headers(headers)
}

pub struct RabbitSubscription {
    consumer: lapin::Consumer,
    channel: Channel,
}

impl RabbitSubscription {
    /// Stops consuming and closes the channel, waiting for the broker to
    /// confirm each (deliveries not yet acknowledged go back to the queue).
    /// Dropping a subscription does both without waiting, and lapin then
    /// takes a cancel-ok that crosses the channel's closing (or a queue
    /// deleted meanwhile) as a protocol error that closes the connection.
    pub async fn close(self) -> Result<(), PlatformError> {
        self.channel
            .basic_cancel(self.consumer.tag(), BasicCancelOptions::default())
            .await
            .map_err(err)?;
        self.channel
            .close(REPLY_SUCCESS, "done".into())
            .await
            .map_err(err)
    }

    pub async fn next(&mut self) -> Option<Result<Delivery, PlatformError>> {
        let d = match self.consumer.next().await? {
            Ok(d) => d,
            Err(e) => return Some(Err(err(e))),
        };
        let mut headers = BTreeMap::new();
        let mut key = String::new();
        if let Some(table) = d.properties.headers() {
            for (k, v) in table.inner() {
                if let AMQPValue::LongString(s) = v {
                    let value = String::from_utf8_lossy(s.as_bytes()).into_owned();
                    if k.as_str() == "key" {
                        key = value;
                    } else {
                        headers.insert(k.as_str().to_owned(), value);
                    }
                }
            }
        }
        let envelope = Envelope {
            id: d
                .properties
                .message_id()
                .as_ref()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            kind: d
                .properties
                .kind()
                .as_ref()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|| d.routing_key.as_str().to_owned()),
            key,
            payload: d.data,
            headers,
        };
        Some(Ok(Delivery {
            envelope,
            redelivered: d.redelivered,
            settle: Settle::Rabbit(d.acker),
        }))
    }
}

pub(super) async fn ack(a: &lapin::Acker) -> Result<(), PlatformError> {
    a.ack(BasicAckOptions::default())
        .await
        .map(|_| ())
        .map_err(err)
}

/// Acknowledges this delivery and every earlier one of its channel.
pub(super) async fn ack_through(a: &lapin::Acker) -> Result<(), PlatformError> {
    a.ack(BasicAckOptions { multiple: true })
        .await
        .map(|_| ())
        .map_err(err)
}

/// Requeues this delivery and every earlier unsettled one of its channel.
pub(super) async fn nack_through(a: &lapin::Acker) -> Result<(), PlatformError> {
    a.nack(BasicNackOptions {
        multiple: true,
        requeue: true,
    })
    .await
    .map(|_| ())
    .map_err(err)
}

pub(super) async fn nack(a: &lapin::Acker, requeue: bool) -> Result<(), PlatformError> {
    a.nack(BasicNackOptions {
        requeue,
        ..Default::default()
    })
    .await
    .map(|_| ())
    .map_err(err)
}
