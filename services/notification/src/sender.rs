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
//!
//! **Results in batches.** A finished attempt hands its result to one
//! recorder task, which writes every result waiting at that moment (and
//! the `SmsSent` events of those sent) in one transaction; a sender's slot
//! is free again only once its result is committed. A crash before that
//! commit is the crash above: the lease runs out and the gateway is asked.

use crate::messages::{self, Message};
use crate::provider::{Known, Outgoing, Provider, SendError};
use acikkapi_domain::sms::Encoding;
use acikkapi_platform::Platform;
use acikkapi_platform::store::now_ms;
use acikkapi_proto::v1 as pb;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};
use tracing::{Instrument, Span};

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
        let (results, finished) = mpsc::unbounded_channel();
        let recorder = tokio::spawn(self.clone().record(finished));
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
                let results = results.clone();
                tokio::spawn(async move { me.attempt(m, permit, results).await });
            }
        }
        // Sends in flight finish and their results are committed (a slot
        // comes back after its result's commit); then the recorder is idle.
        let _ = slots.acquire_many(n.senders as u32).await;
        recorder.abort();
    }

    async fn attempt(&self, m: Message, permit: OwnedSemaphorePermit, results: Results) {
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
        let verdict = self.attempt_in_span(&m).instrument(span.clone()).await;
        // The recorder holds the span (and the slot) until the commit.
        let _ = results.send(Finished {
            m,
            verdict,
            span,
            _slot: permit,
        });
    }

    /// Delivers `m` and says what to record of it.
    async fn attempt_in_span(&self, m: &Message) -> Verdict {
        let p = &self.platform;
        let n = &p.settings.notification;
        let result = self.deliver(m).await;
        let span = tracing::Span::current();
        match result {
            Ok(provider_id) => {
                span.record("outcome", "sent");
                Verdict::Sent {
                    provider_id,
                    trace: acikkapi_platform::telemetry::current_context_headers(),
                }
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
                Verdict::Failed {
                    error: e.to_string(),
                    next,
                }
            }
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

    /// Records finished attempts until the sender ends, every result
    /// waiting at the moment in one transaction.
    async fn record(self: Arc<Self>, mut finished: mpsc::UnboundedReceiver<Finished>) {
        const MOST: usize = 512;
        let mut batch = Vec::with_capacity(MOST);
        while finished.recv_many(&mut batch, MOST).await > 0 {
            match self.record_batch(&batch).await {
                Ok(lost) => {
                    for f in batch.iter().filter(|f| lost.contains(&f.m.id)) {
                        f.span.in_scope(|| {
                            tracing::warn!("the claim ran out before the result was recorded")
                        });
                    }
                }
                // The leases run out and the next claims look the messages up first.
                Err(e) => {
                    tracing::warn!(error = %e, results = batch.len(), "could not record results")
                }
            }
            batch.clear(); // ends the spans and frees the slots
        }
    }

    /// One transaction for `batch`; returns the ids whose claim was lost.
    async fn record_batch(
        &self,
        batch: &[Finished],
    ) -> Result<Vec<String>, acikkapi_platform::PlatformError> {
        let p = &self.platform;
        let mut t = p.db.begin().await?;
        let mut lost = Vec::new();
        // The sent in one statement; failures (rare) one by one.
        let took: Vec<(&Message, &str)> = batch
            .iter()
            .filter_map(|f| match &f.verdict {
                Verdict::Sent { provider_id, .. } => Some((&f.m, provider_id.as_str())),
                Verdict::Failed { .. } => None,
            })
            .collect();
        let kept = messages::mark_sent(&mut t, &took, self.provider.name()).await?;
        let mut events = Vec::new();
        let mut sent = Vec::new();
        for f in batch {
            let m = &f.m;
            let kept = match &f.verdict {
                Verdict::Sent { trace, .. } => {
                    let kept = kept.contains(&m.id);
                    // A phone-confirmation code belongs to no application
                    // yet: nothing downstream folds it.
                    if kept && !m.number.is_empty() {
                        events.push(sms_sent(m, trace.clone()));
                        sent.push(f);
                    }
                    kept
                }
                Verdict::Failed { error, next } => {
                    messages::mark_failed(&mut t, m, error, *next).await?
                }
            };
            if !kept {
                lost.push(m.id.clone());
            }
        }
        t.insert_outbox(&events).await?;
        t.commit().await?;
        if !events.is_empty() {
            p.outbox_written.notify_one();
        }
        for f in sent {
            let m = &f.m;
            p.metrics
                .sms_attempt(&m.template, "sent", m.segments as u64, m.cost_micros as u64);
            f.span
                .in_scope(|| tracing::info!(segments = m.segments, "sms sent"));
        }
        Ok(lost)
    }
}

type Results = mpsc::UnboundedSender<Finished>;

/// What an attempt came to.
enum Verdict {
    /// The gateway has it; `trace` continues the attempt's trace in `SmsSent`.
    Sent {
        provider_id: String,
        trace: BTreeMap<String, String>,
    },
    /// Queued again for `next`, or dead when None.
    Failed { error: String, next: Option<i64> },
}

/// A finished attempt on its way to the recorder.
struct Finished {
    m: Message,
    verdict: Verdict,
    span: Span,
    _slot: OwnedSemaphorePermit,
}

/// The event that message `m` went out.
fn sms_sent(
    m: &Message,
    headers: BTreeMap<String, String>,
) -> acikkapi_platform::store::OutboxEvent {
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
    acikkapi_platform::store::OutboxEvent::of(sent, &m.number, headers)
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
