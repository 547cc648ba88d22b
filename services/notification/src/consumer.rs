//! Notification's consumer: turns an application's events into queued SMS,
//! in the event's transaction. Nothing twice: the consumer inbox drops a
//! second delivery of one event, and each message has a cause key
//! (`receipt:<number>`, `concluded:<number>:<when>`) so the same fact
//! published again under a new event id queues nothing new.

use crate::messages::{
    self, NewMessage, PRIORITY_BULK, PRIORITY_CONCLUSION, PRIORITY_RECEIPT, Queued,
};
use acikkapi_domain::application_number::ApplicationNumber;
use acikkapi_domain::catalog::Catalog;
use acikkapi_platform::Platform;
use acikkapi_platform::audit::Actor;
use acikkapi_platform::bus::Envelope;
use acikkapi_platform::consumer::event;
use acikkapi_platform::consumer::{Handler, HandlerError};
use acikkapi_platform::privacy::TrackingKey;
use acikkapi_platform::service::Service;
use acikkapi_platform::store::Tx;
use acikkapi_proto::v1 as pb;
use acikkapi_proto::{Event, EventKind};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

pub const QUEUE: &str = Service::Notification.as_str();
pub const KINDS: &[&str] = &[
    EventKind::ApplicationReceived.as_str(),
    EventKind::ApplicationConcluded.as_str(),
    EventKind::PersonalDataErased.as_str(),
    EventKind::ApplicationEscalated.as_str(),
];

pub struct Consumer {
    pub platform: Platform,
    pub tracking: TrackingKey,
    /// Wakes the senders: a message was queued.
    pub queued: Arc<Notify>,
    pub survey: crate::survey::Mode,
}

/// The template for an outcome.
pub fn conclusion_template(o: pb::Outcome) -> Option<&'static str> {
    Some(match o {
        pb::Outcome::Positive => "concluded_positive",
        pb::Outcome::Negative => "concluded_negative",
        pb::Outcome::Partial => "concluded_partial",
        pb::Outcome::Unanswerable => "concluded_unanswerable",
        pb::Outcome::Unspecified => return None,
    })
}

/// The values every template may use, for application `number` (12 digits).
pub fn values(
    number: &str,
    province: u32,
    tracking: &TrackingKey,
    tracking_url: &str,
) -> BTreeMap<&'static str, String> {
    let governorship = Catalog::builtin()
        .province(province)
        .map(|p| format!("{} Valiliği", p.name))
        .unwrap_or_else(|| "Valilik".into());
    let shown =
        ApplicationNumber::parse(number).map_or_else(|_| number.to_owned(), |n| n.to_string());
    BTreeMap::from([
        ("governorship", governorship),
        ("number", shown),
        ("tracking_code", tracking.code(number)),
        ("tracking_url", tracking_url.to_owned()),
    ])
}

#[async_trait::async_trait]
impl Handler for Consumer {
    async fn handle(&self, t: &mut Tx, e: &Envelope) -> Result<(), HandlerError> {
        let event = event(e)?;
        let concluded = event.kind() == EventKind::ApplicationConcluded;
        let (number, template, dedup_key, priority) = match event {
            Event::ApplicationReceived(ev) => {
                let key = format!("receipt:{}", ev.application_number);
                (ev.application_number, "receipt", key, PRIORITY_RECEIPT)
            }
            Event::ApplicationConcluded(ev) => {
                let template = conclusion_template(ev.outcome()).ok_or_else(|| {
                    HandlerError::Permanent("conclusion without an outcome".into())
                })?;
                let at = ev
                    .concluded_at
                    .map_or(0, |t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000);
                let key = format!("concluded:{}:{at}", ev.application_number);
                (ev.application_number, template, key, PRIORITY_CONCLUSION)
            }
            Event::PersonalDataErased(ev) => {
                messages::erase_recipient(t, &ev.application_number).await?;
                return Ok(());
            }
            Event::ApplicationEscalated(ev) => return self.escalated(t, ev).await,
            other => {
                return Err(HandlerError::Permanent(format!(
                    "notification does not consume {}",
                    other.kind()
                )));
            }
        };
        let p = &self.platform;
        // Read for the whole batch in `prepare`: not there, no application.
        let contact = match acikkapi_platform::consumer::batch_cached::<Contacts>() {
            Some(c) => c.0.get(&number).cloned(),
            None => acikkapi_contact::of(t, &p.vault, &number).await?,
        }
        .ok_or_else(|| HandlerError::Permanent(format!("no application {number}")))?;
        let Some(phone) = contact.phone else {
            tracing::info!(application_number = %number, "personal data erased; no SMS");
            return Ok(());
        };
        let n = &p.settings.notification;
        let mut values = values(&number, contact.province, &self.tracking, &n.tracking_url);
        let mut sms = vec![(template, dedup_key.clone(), priority)];
        // After a conclusion, the satisfaction survey, as configured.
        if concluded && let Some(survey) = self.survey.template() {
            let code = crate::survey::open(t, &dedup_key, &number, &e.headers).await?;
            values.insert(
                "survey_url",
                acikkapi_domain::templates::survey_url(&n.tracking_url, &code),
            );
            values.insert("survey_code", code);
            sms.push((survey, format!("survey:{dedup_key}"), PRIORITY_BULK));
        }
        for (template, dedup_key, priority) in sms {
            let text = crate::templates::text(t, template)
                .await?
                .ok_or_else(|| HandlerError::Permanent(format!("no template {template}")))?;
            let body = acikkapi_domain::templates::render(&text, &values)
                .map_err(|e| HandlerError::Permanent(format!("template {template}: {e}")))?;
            // Reading the applicant's phone is a read of personal data.
            let audited = true;
            Queueing::of_batch()?.push(
                Queued::now(NewMessage {
                    dedup_key,
                    number: number.clone(),
                    province: contact.province,
                    district: contact.district,
                    template: template.to_owned(),
                    phone: phone.clone(),
                    body,
                    priority,
                }),
                audited,
            );
        }
        Ok(())
    }

    /// The contacts of the batch's applications, read at once.
    async fn prepare(&self, t: &mut Tx, events: &[&Envelope]) -> Result<(), HandlerError> {
        let numbers: Vec<&str> = events
            .iter()
            .filter(|e| {
                matches!(
                    EventKind::parse(&e.kind),
                    Some(EventKind::ApplicationReceived | EventKind::ApplicationConcluded)
                )
            })
            .map(|e| e.key.as_str())
            .collect();
        if !numbers.is_empty() {
            let found = acikkapi_contact::of_many(t, &self.platform.vault, &numbers).await?;
            acikkapi_platform::consumer::batch_cache(Contacts(Arc::new(found)));
        }
        Ok(())
    }

    /// The batch's messages, queued in one statement; reading each
    /// recipient's phone is a read of personal data, on the trail.
    async fn finish(&self, t: &mut Tx, _applied: &[&Envelope]) -> Result<(), HandlerError> {
        let Some(queueing) = acikkapi_platform::consumer::batch_cached::<Queueing>() else {
            return Ok(());
        };
        let (msgs, audited): (Vec<Queued>, Vec<bool>) =
            std::mem::take(&mut *queueing.0.lock().expect("the batch's messages"))
                .into_iter()
                .unzip();
        let p = &self.platform;
        let queued = messages::enqueue_many(
            t,
            &p.vault,
            p.settings.notification.segment_price_micros,
            &msgs,
        )
        .await?;
        let mut trail = Vec::new();
        for (q, audited) in msgs.iter().zip(audited) {
            if !queued.contains(&q.id) {
                continue; // queued before, by this cause
            }
            let (number, template) = (&q.message.number, &q.message.template);
            tracing::info!(application_number = %number, message_id = %q.id, template, "sms queued");
            if !audited {
                continue;
            }
            trail.push(Actor::system(Service::Notification.as_str()).entry(
                "application.contact.read",
                number,
                format!("sms {template} {}", q.id),
            ));
        }
        acikkapi_platform::consumer::audit(t, trail).await?;
        Ok(())
    }

    /// Wakes the senders once the queued messages are committed (a wake-up
    /// before the commit would find nothing and wait for the next poll).
    async fn applied(&self, _events: &[&Envelope]) {
        self.queued.notify_one();
    }
}

impl Consumer {
    /// An SMS to the official a rung of the SLA ladder names, when the
    /// registry has their phone: one per clock and rung.
    async fn escalated(
        &self,
        t: &mut Tx,
        ev: pb::ApplicationEscalated,
    ) -> Result<(), HandlerError> {
        let number = ev.application_number.clone();
        let Some(phone) = crate::officials::phone(t, &ev.target).await? else {
            tracing::info!(application_number = %number, target = %ev.target, "no phone for the escalation target; no SMS");
            return Ok(());
        };
        let template = if ev.level <= 1 {
            "escalation_reminder"
        } else {
            "escalation_overdue"
        };
        let text = crate::templates::text(t, template)
            .await?
            .ok_or_else(|| HandlerError::Permanent(format!("no template {template}")))?;
        let p = &self.platform;
        let n = &p.settings.notification;
        let body = acikkapi_domain::templates::render(
            &text,
            &values(&number, ev.province_code, &self.tracking, &n.tracking_url),
        )
        .map_err(|e| HandlerError::Permanent(format!("template {template}: {e}")))?;
        // An official's phone from the registry: not the applicant's data.
        let audited = false;
        Queueing::of_batch()?.push(
            Queued::now(NewMessage {
                dedup_key: format!("escalated:{number}:{}:{}", ev.round, ev.rung),
                number: number.clone(),
                province: ev.province_code,
                district: ev.district_code,
                template: template.to_owned(),
                phone,
                body,
                priority: PRIORITY_CONCLUSION,
            }),
            audited,
        );
        Ok(())
    }
}

/// The contacts of the batch's applications.
#[derive(Clone)]
struct Contacts(Arc<HashMap<String, acikkapi_contact::Contact>>);

/// The batch's messages, queued before its commit in one statement, each
/// with whether queueing it reads the applicant's phone (audited).
#[derive(Clone, Default)]
struct Queueing(Arc<Mutex<Vec<(Queued, bool)>>>);

impl Queueing {
    fn of_batch() -> Result<Queueing, HandlerError> {
        // The consumer applies every event in a batch (of one, at least):
        // outside one nothing would queue the messages.
        acikkapi_platform::consumer::batch_state().ok_or_else(|| {
            HandlerError::Permanent("notification's consumer applies events only in a batch".into())
        })
    }

    fn push(&self, q: Queued, audited: bool) {
        self.0
            .lock()
            .expect("the batch's messages")
            .push((q, audited));
    }
}
