//! The sender: claims due messages from the table and hands them to the
//! provider, `senders` at a time per replica, within the account's rate.
//!
//! **Sent once.** A message is claimed (`sending`, `tries`+1) and committed
//! before the gateway is called, and its result is recorded after. A crash
//! in between leaves the row `sending`; when its lease runs out another
//! sender claims it, sees `tries` > 1, and first asks the gateway whether
//! it has our id ([`Provider::lookup`]). Only if it has not is the message
//! sent again, still under the same id, which the gateway also refuses to
//! take twice (`DOUBLE_SEND_ERROR`, counted as sent).

use crate::messages::{self, Message};
use crate::provider::{Known, Outgoing, Provider, SendError};
use acikkapi_domain::sms::Encoding;
use acikkapi_platform::Platform;
use acikkapi_platform::store::now_ms;
use acikkapi_proto::v1 as pb;
use prost::Message as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tracing::Instrument;

pub struct Sender {
    pub platform: Platform,
    pub provider: Arc<dyn Provider>,
    pub queued: Arc<Notify>,
}

/// Back-off before the attempt after attempt `n` (1-based): half of
/// min(max, base × 2^(n-1)) plus a random part up to the other half, so
/// replicas retrying one gateway outage do not return in step.
pub fn backoff(n: u32, base_ms: u64, max_ms: u64) -> Duration {
    let ceiling = base_ms
        .saturating_mul(1u64 << n.saturating_sub(1).min(40))
        .min(max_ms);
    let half = ceiling / 2;
    Duration::from_millis(half + rand::random_range(0..=ceiling - half))
}

fn encoding(s: &str) -> Encoding {
    match s {
        "gsm7" => Encoding::Gsm7,
        "gsm7-turkish-locking" => Encoding::Gsm7TurkishLocking,
        "gsm7-turkish-single" => Encoding::Gsm7TurkishSingle,
        _ => Encoding::Ucs2,
    }
}

impl Sender {
    /// Sends until shutdown, then waits for the sends in flight.
    pub async fn run(self: Arc<Self>) {
        let p = &self.platform;
        let n = &p.settings.notification;
        let slots = Arc::new(Semaphore::new(n.senders));
        while !p.shutdown.is_cancelled() {
            let free = slots.available_permits();
            if free == 0 {
                tokio::select! {
                    _ = p.shutdown.cancelled() => break,
                    permit = slots.acquire() => drop(permit),
                }
                continue;
            }
            let batch = match messages::claim(&p.db, free, n.lease_ms as i64).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim messages; retrying");
                    Vec::new()
                }
            };
            if batch.is_empty() {
                tokio::select! {
                    _ = p.shutdown.cancelled() => break,
                    _ = self.queued.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(n.poll_ms)) => {}
                }
                continue;
            }
            for m in batch {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    break;
                };
                let me = self.clone();
                tokio::spawn(async move {
                    me.attempt(m).await;
                    drop(permit);
                });
            }
        }
        // Sends in flight finish and record their result.
        let _ = slots.acquire_many(n.senders as u32).await;
    }

    async fn attempt(&self, m: Message) {
        let span = tracing::info_span!(
            "sms.send",
            otel.kind = "client",
            application_number = %m.number,
            message_id = %m.id,
            template = %m.template,
            attempt = m.tries,
            outcome = tracing::field::Empty,
            province = tracing::field::Empty,
            topic = tracing::field::Empty,
            unit = tracing::field::Empty,
        );
        acikkapi_platform::telemetry::set_parent_from_headers(&span, &m.trace);
        self.attempt_in_span(m).instrument(span).await
    }

    async fn attempt_in_span(&self, m: Message) {
        let p = &self.platform;
        let n = &p.settings.notification;
        let result = self.deliver(&m).await;
        let span = tracing::Span::current();
        let recorded = match result {
            Ok(provider_id) => {
                span.record("outcome", "sent");
                self.record_sent(&m, &provider_id).await
            }
            Err(e) => {
                let last =
                    matches!(e, SendError::Permanent(_)) || m.attempts >= i64::from(n.max_attempts);
                let next = (!last).then(|| {
                    now_ms()
                        + backoff(m.attempts as u32, n.retry_base_ms, n.retry_max_ms).as_millis()
                            as i64
                });
                let result = if last { "dead" } else { "retried" };
                span.record("outcome", result);
                p.metrics.sms_attempt(&m.template, result, 0, 0);
                if last {
                    tracing::error!(error = %e, attempts = m.attempts, "sms dead-lettered");
                } else {
                    tracing::warn!(error = %e, attempts = m.attempts, "sms failed; will retry");
                }
                messages::mark_failed(&p.db, &m, &e.to_string(), next).await
            }
        };
        match recorded {
            Ok(true) => {}
            Ok(false) => tracing::warn!("the claim ran out before the result was recorded"),
            // The lease runs out and the next claim looks the message up first.
            Err(e) => tracing::warn!(error = %e, "could not record the result"),
        }
    }

    /// Hands `m` to the gateway unless an earlier try already did.
    async fn deliver(&self, m: &Message) -> Result<String, SendError> {
        let p = &self.platform;
        if m.recipient.is_empty() {
            return Err(SendError::Permanent(
                "the recipient was erased by the retention run".into(),
            ));
        }
        if m.tries > 1
            && let Known::Accepted(id) = self.provider.lookup(&m.id).await?
        {
            tracing::info!("the gateway had it from an earlier try; not sent again");
            return Ok(id);
        }
        let to = p
            .vault
            .open(&m.id, "phone", &m.recipient)
            .map_err(|e| SendError::Permanent(e.to_string()))?;
        crate::limit::wait_turn(p).await;
        self.provider
            .send(&Outgoing {
                id: m.id.clone(),
                to,
                text: m.body.clone(),
                encoding: encoding(&m.encoding),
                originator: p.settings.notification.originator.clone(),
            })
            .await
    }

    async fn record_sent(
        &self,
        m: &Message,
        provider_id: &str,
    ) -> Result<bool, acikkapi_platform::PlatformError> {
        let p = &self.platform;
        let mut t = p.db.begin().await?;
        if !messages::mark_sent(&mut t, m, self.provider.name(), provider_id).await? {
            return Ok(false);
        }
        let now = now_ms();
        let sent = pb::SmsSent {
            application_number: m.number.clone(),
            message_id: m.id.clone(),
            template: m.template.clone(),
            segments: m.segments as u32,
            sent_at: Some(prost_types::Timestamp {
                seconds: now.div_euclid(1000),
                nanos: (now.rem_euclid(1000) * 1_000_000) as i32,
            }),
        };
        t.insert_outbox(&[acikkapi_platform::store::OutboxEvent {
            event_id: uuid::Uuid::now_v7().to_string(),
            kind: "SmsSent".into(),
            key: m.number.clone(),
            payload: sent.encode_to_vec(),
            headers: acikkapi_platform::telemetry::current_context_headers(),
        }])
        .await?;
        t.commit().await?;
        p.outbox_written.notify_one();
        p.metrics
            .sms_attempt(&m.template, "sent", m.segments as u64, m.cost_micros as u64);
        tracing::info!(segments = m.segments, "sms sent");
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_ceiling_with_jitter_inside_it() {
        for n in 1..=20 {
            let ceiling = (1000u64 << (n - 1)).min(60_000);
            for _ in 0..50 {
                let d = backoff(n, 1000, 60_000).as_millis() as u64;
                assert!(d >= ceiling / 2 && d <= ceiling, "attempt {n}: {d} ms");
            }
        }
        // Jitter: not every draw is the same.
        let draws: std::collections::BTreeSet<_> =
            (0..50).map(|_| backoff(3, 1000, 60_000)).collect();
        assert!(draws.len() > 1);
    }
}
