//! `NotificationService`: what was sent to an application's applicant and
//! what became of it, the dead letters and their re-drive, and templates.

use crate::messages::{self, Message};
use acikkapi_domain::application_number::ApplicationNumber;
use acikkapi_domain::phone::MobilePhone;
use acikkapi_domain::{sms, templates};
use acikkapi_platform::Platform;
use acikkapi_platform::audit::Actor;
use acikkapi_platform::auth::{Scope, caller, origin};
use acikkapi_proto::v1 as pb;
use acikkapi_proto::v1::notification_service_server::NotificationService;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::Notify;
use tonic::{Request, Response, Status};

pub struct Notification {
    pub platform: Platform,
    pub queued: Arc<Notify>,
}

fn invalid(field: &str, message: impl Into<String>) -> Status {
    acikkapi_platform::error::invalid_field(field, message)
}

fn visible(scope: &Scope, m: &Message) -> bool {
    scope.covers(m.province as u32, m.district as u32, None)
}

/// Longest template text accepted, in characters (two UCS-2 SMS are 134).
const MAX_TEMPLATE_CHARS: usize = 1_000;
const MAX_DEAD_LETTERS: u32 = 1_000;
/// The template name of phone-confirmation codes (no application yet).
pub const PHONE_CODE_TEMPLATE: &str = "phone-code";

impl Notification {
    async fn message(&self, id: &str, scope: &Scope) -> Result<Message, Status> {
        if id.is_empty() || id.len() > 64 {
            return Err(invalid("id", "a message id"));
        }
        messages::get(&self.platform.db, id)
            .await?
            .filter(|m| visible(scope, m))
            .ok_or_else(|| Status::not_found("no message with that id"))
    }
}

#[tonic::async_trait]
impl NotificationService for Notification {
    async fn list_messages(
        &self,
        req: Request<pb::ListMessagesRequest>,
    ) -> Result<Response<pb::ListMessagesResponse>, Status> {
        let scope = Scope::of(&*caller(&req)?);
        let number = ApplicationNumber::parse(&req.get_ref().application_number)
            .map_err(|e| invalid("application_number", e.to_string()))?
            .digits();
        let messages = messages::of_application(&self.platform.db, &number)
            .await?
            .iter()
            .filter(|m| visible(&scope, m))
            .map(Message::to_pb)
            .collect();
        Ok(Response::new(pb::ListMessagesResponse { messages }))
    }

    async fn get_message_status(
        &self,
        req: Request<pb::GetMessageStatusRequest>,
    ) -> Result<Response<pb::SmsMessage>, Status> {
        let scope = Scope::of(&*caller(&req)?);
        let m = self.message(&req.get_ref().id, &scope).await?;
        Ok(Response::new(m.to_pb()))
    }

    async fn list_dead_letters(
        &self,
        req: Request<pb::ListDeadLettersRequest>,
    ) -> Result<Response<pb::ListDeadLettersResponse>, Status> {
        let scope = Scope::of(&*caller(&req)?);
        let limit = match req.get_ref().limit {
            0 => 100,
            n if n > MAX_DEAD_LETTERS => {
                return Err(invalid("limit", format!("at most {MAX_DEAD_LETTERS}")));
            }
            n => n,
        };
        let messages = messages::dead(&self.platform.db, i64::from(limit))
            .await?
            .iter()
            .filter(|m| visible(&scope, m))
            .map(Message::to_pb)
            .collect();
        Ok(Response::new(pb::ListDeadLettersResponse { messages }))
    }

    async fn redrive_dead_letter(
        &self,
        req: Request<pb::RedriveDeadLetterRequest>,
    ) -> Result<Response<pb::RedriveDeadLetterResponse>, Status> {
        let claims = caller(&req)?;
        let actor = Actor::of(&claims, Some(&origin(&req)));
        let scope = Scope::of(&claims);
        let id = &req.get_ref().id;
        let before = self.message(id, &scope).await?;
        let p = &self.platform;
        let mut t = p.db.begin().await?;
        if !messages::redrive(&mut t, id).await? {
            return Err(Status::failed_precondition(format!(
                "id: message is {}, not dead-lettered",
                before.status
            )));
        }
        t.insert_audit(&[actor.entry(
            "sms.redrive",
            &before.number,
            format!("message {id} after: {}", before.last_error),
        )])
        .await?;
        t.commit().await?;
        self.queued.notify_waiters();
        tracing::info!(application_number = %before.number, message_id = %id, "dead letter re-driven");
        let after = self.message(id, &scope).await?;
        Ok(Response::new(pb::RedriveDeadLetterResponse {
            message: Some(after.to_pb()),
        }))
    }

    async fn preview_template(
        &self,
        req: Request<pb::PreviewTemplateRequest>,
    ) -> Result<Response<pb::PreviewTemplateResponse>, Status> {
        let r = req.into_inner();
        let mut t = self.platform.db.begin().await?;
        let text = crate::templates::text(&mut t, &r.name)
            .await?
            .ok_or_else(|| invalid("name", format!("no template {:?}", r.name)))?;
        drop(t);
        // Values not given show the longest each placeholder can take: the
        // preview is the worst case the applicant may receive.
        let mut values: BTreeMap<&str, String> =
            templates::longest_values(&self.platform.settings.notification.tracking_url);
        for (k, v) in r.values {
            let Some(name) = templates::PLACEHOLDERS.iter().find(|p| **p == k) else {
                return Err(invalid(
                    &format!("values.{k}"),
                    format!(
                        "not a placeholder (known: {})",
                        templates::PLACEHOLDERS.join(", ")
                    ),
                ));
            };
            if v.chars().count() > 200 {
                return Err(invalid(&format!("values.{k}"), "at most 200 characters"));
            }
            values.insert(name, v);
        }
        let body = templates::render(&text, &values).map_err(|e| invalid("name", e.to_string()))?;
        let cost = sms::cost(&body);
        Ok(Response::new(pb::PreviewTemplateResponse {
            body,
            encoding: messages::encoding_from(cost.encoding) as i32,
            segments: cost.segments as u32,
        }))
    }

    async fn upsert_template(
        &self,
        req: Request<pb::UpsertTemplateRequest>,
    ) -> Result<Response<pb::SmsTemplate>, Status> {
        let actor = Actor::of(&*caller(&req)?, Some(&origin(&req)));
        let tpl = req
            .into_inner()
            .template
            .ok_or_else(|| invalid("template", "required"))?;
        if tpl.name.is_empty()
            || tpl.name.len() > 40
            || !tpl
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
        {
            return Err(invalid(
                "template.name",
                "1 to 40 of a-z, 0-9 and _, e.g. concluded_positive",
            ));
        }
        let body = tpl.body.trim();
        if body.is_empty() || body.chars().count() > MAX_TEMPLATE_CHARS {
            return Err(invalid(
                "template.body",
                format!("1 to {MAX_TEMPLATE_CHARS} characters"),
            ));
        }
        let cost = templates::check(body, &self.platform.settings.notification.tracking_url)
            .map_err(|e| invalid("template.body", e.to_string()))?;
        let mut t = self.platform.db.begin().await?;
        let previous = crate::templates::text(&mut t, &tpl.name).await?;
        crate::templates::save(&mut t, &tpl.name, body, &actor.actor).await?;
        t.insert_audit(&[actor.entry(
            "sms.template.upsert",
            &tpl.name,
            format!("was: {}", previous.unwrap_or_default()),
        )])
        .await?;
        t.commit().await?;
        Ok(Response::new(pb::SmsTemplate {
            name: tpl.name,
            body: body.to_owned(),
            encoding: messages::encoding_from(cost.encoding) as i32,
            segments: cost.segments as u32,
        }))
    }

    async fn send_phone_code(
        &self,
        req: Request<pb::SendPhoneCodeRequest>,
    ) -> Result<Response<pb::SendPhoneCodeResponse>, Status> {
        let claims = caller(&req)?;
        let actor = Actor::of(&claims, Some(&origin(&req)));
        let r = req.into_inner();
        let phone = MobilePhone::parse(&r.mobile_phone)
            .map_err(|e| invalid("mobile_phone", e.to_string()))?;
        if !(4..=8).contains(&r.code.len()) || !r.code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("code", "4 to 8 digits"));
        }
        if r.province_code > 81 {
            return Err(invalid("province_code", "a plate code, 1..81, or 0"));
        }
        if r.idempotency_key.is_empty() || r.idempotency_key.len() > 128 {
            return Err(invalid("idempotency_key", "1 to 128 characters"));
        }
        let p = &self.platform;
        let dedup_key = format!("phone-code:{}", r.idempotency_key);
        let m = messages::NewMessage {
            dedup_key: dedup_key.clone(),
            number: String::new(),
            province: r.province_code,
            district: 0,
            template: PHONE_CODE_TEMPLATE.into(),
            phone: phone.e164().to_owned(),
            body: format!(
                "Açık Kapı doğrulama kodunuz: {}. Bu kodu kimseyle paylaşmayın.",
                r.code
            ),
            // A person is waiting at the page for it.
            priority: 0,
        };
        let masked_phone = acikkapi_domain::mask::phone(phone.e164());
        let mut t = p.db.begin().await?;
        let id = messages::enqueue(
            &mut t,
            &p.vault,
            p.settings.notification.segment_price_micros,
            &m,
        )
        .await?;
        let id = match id {
            Some(id) => {
                t.insert_audit(&[actor.entry(
                    "sms.phone_code",
                    "",
                    format!("message {id} to {masked_phone}"),
                )])
                .await?;
                id
            }
            // Sent before under this key: the same answer.
            None => messages::id_of(&mut t, &dedup_key)
                .await?
                .ok_or_else(|| Status::internal("queued message not found"))?,
        };
        t.commit().await?;
        self.queued.notify_one();
        Ok(Response::new(pb::SendPhoneCodeResponse {
            message_id: id,
            masked_phone,
        }))
    }

    async fn answer_survey(
        &self,
        req: Request<pb::AnswerSurveyRequest>,
    ) -> Result<Response<pb::AnswerSurveyResponse>, Status> {
        let r = req.into_inner();
        let (code, score, via) = if r.reply.is_empty() {
            (r.code.trim().to_uppercase(), r.score, "link")
        } else {
            let (code, score) = crate::survey::parse_reply(&r.reply)
                .ok_or_else(|| invalid("reply", "expected the survey code and a score 1-5"))?;
            (code, score, "sms")
        };
        if code.len() != crate::survey::CODE_LEN {
            return Err(invalid(
                "code",
                format!("{} characters", crate::survey::CODE_LEN),
            ));
        }
        if !(1..=5).contains(&score) {
            return Err(invalid("score", "1 to 5"));
        }
        match crate::survey::answer(&self.platform, &code, score, via).await? {
            None => Err(Status::not_found("code: no such survey")),
            Some(recorded) => Ok(Response::new(pb::AnswerSurveyResponse { recorded })),
        }
    }
}
