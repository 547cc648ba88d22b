//! The gRPC edge of intake: turns requests into validated commands and
//! errors into statuses. Nothing below this file knows about tonic.

use crate::access::Scope;
use crate::model::ValidSubmission;
use crate::queries::{self, Conclude, ListFilter, StoredApplication};
use crate::writer::Writer;
use crate::{from_timestamp, timestamp};
use acikkapi_domain::application_number::ApplicationNumber;
use acikkapi_domain::catalog::Catalog;
use acikkapi_domain::national_id::NationalId;
use acikkapi_domain::{FieldError, text};
use acikkapi_platform::Platform;
use acikkapi_platform::audit::{self, Actor, action};
use acikkapi_platform::auth::{caller, origin};
use acikkapi_platform::limits::{DAY, Limit, Limiter, MINUTE};
use acikkapi_platform::privacy::TrackingKey;
use acikkapi_proto::v1 as pb;
use pb::intake_service_server::IntakeService;
use prost::Message;
use std::time::Duration;
use tonic::{Request, Response, Status};

pub struct Intake {
    pub(crate) platform: Platform,
    pub(crate) writer: Writer,
    pub(crate) tracking: TrackingKey,
    pub(crate) catalog: &'static Catalog,
    pub(crate) limiter: Limiter,
}

fn invalid(e: FieldError) -> Status {
    acikkapi_platform::error::invalid_message(e.to_string())
}

/// Unknown numbers and wrong codes look the same to the caller.
fn not_found() -> Status {
    Status::not_found("no application with that number and tracking code")
}

fn record_on_span(number: &str, province: u32, topic: &str) {
    let span = tracing::Span::current();
    span.record("application_number", number);
    span.record("province", province);
    span.record("topic", topic);
}

#[tonic::async_trait]
impl IntakeService for Intake {
    async fn submit_application(
        &self,
        req: Request<pb::SubmitApplicationRequest>,
    ) -> Result<Response<pb::SubmitApplicationResponse>, Status> {
        let metrics = &self.platform.metrics;
        let who = caller(&req)?;
        let sub = ValidSubmission::validate(req.get_ref(), self.catalog).map_err(|e| {
            metrics.submission("invalid");
            tracing::info!(field = e.field, "submission refused");
            invalid(e)
        })?;
        // A desk records for its own province (or district); channels and
        // the Ministry centre record anywhere.
        if !Scope::of(&who).covers(u32::from(sub.province), sub.district, None) {
            let field = if matches!(Scope::of(&who), Scope::District(_)) {
                "district_code"
            } else {
                "province_code"
            };
            return Err(Status::permission_denied(format!(
                "{field}: outside the caller's scope"
            )));
        }
        // A meeting named must exist, in the application's province.
        if !sub.meeting.is_empty() {
            let held = crate::meetings::fetch(&self.platform.db, &sub.meeting).await?;
            if held.is_none_or(|m| m.province != u32::from(sub.province)) {
                metrics.submission("invalid");
                return Err(invalid(FieldError::new(
                    "meeting_id",
                    "no public-day meeting with that id in the application's province",
                )));
            }
        }
        let limits = &self.platform.settings.limits;
        let id_hash = hex::encode(
            self.platform
                .vault
                .lookup_hash("national_id", sub.national_id.expose()),
        );
        self.limiter
            .check(&[
                Limit {
                    name: "submit_per_client",
                    key: who.sub.clone(),
                    max: limits.submit_per_client_per_minute,
                    window: MINUTE,
                },
                Limit {
                    name: "submit_per_national_id",
                    key: id_hash,
                    max: limits.submit_per_national_id_per_day,
                    window: DAY,
                },
            ])
            .await
            .inspect_err(|_| metrics.submission("rate_limited"))?;
        let actor = Actor::of(&who, Some(&origin(&req)));
        let (province, topic) = (u32::from(sub.province), sub.topic.clone());
        // The application's trace, with its place and topic for searching.
        let trace = acikkapi_platform::telemetry::application_headers(
            None,
            &[("province", &province.to_string()), ("topic", &topic)],
        );
        let done = self.writer.submit(sub, trace, actor).await.map_err(|e| {
            metrics.submission(match e.code() {
                acikkapi_platform::ErrorCode::ResourceExhausted => "overloaded",
                acikkapi_platform::ErrorCode::InvalidArgument => "invalid",
                _ => "failed",
            });
            Status::from(e)
        })?;
        let digits = done.number.digits();
        record_on_span(&digits, province, &topic);
        metrics.submission(if done.replayed { "replayed" } else { "created" });
        tracing::info!(replayed = done.replayed, "application recorded");
        Ok(Response::new(pb::SubmitApplicationResponse {
            tracking_code: self.tracking.code(&digits),
            application_number: digits,
            status: done.status,
            received_at: Some(timestamp(done.received_ms)),
            replayed: done.replayed,
        }))
    }

    async fn get_application(
        &self,
        req: Request<pb::GetApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        let actor = actor_of(&req)?;
        let scope = Scope::of(&*caller(&req)?);
        let number = ApplicationNumber::parse(&req.get_ref().application_number)
            .map_err(invalid)?
            .digits();
        Ok(Response::new(
            self.staff_view(&number, &scope, &actor).await?,
        ))
    }

    async fn list_applications(
        &self,
        req: Request<pb::ListApplicationsRequest>,
    ) -> Result<Response<pb::ListApplicationsResponse>, Status> {
        let scope = Scope::of(&*caller(&req)?);
        let actor = actor_of(&req)?;
        let r = req.into_inner();
        let page = r.page.unwrap_or_default();
        // As in Google's API guidance: a page size over the maximum is lowered to it.
        let size = match page.page_size {
            0 => 50,
            n => n.min(500),
        } as i64;
        let after = if page.page_token.is_empty() {
            None
        } else {
            Some(parse_token(&page.page_token)?)
        };
        if r.status != 0 && pb::Status::try_from(r.status).is_err() {
            return Err(invalid(FieldError::new(
                "status",
                format!("unknown status {}", r.status),
            )));
        }
        let national_id_hash = if r.national_id.is_empty() {
            None
        } else {
            let id = NationalId::parse(&r.national_id)
                .map_err(|e| invalid(FieldError::new("national_id", e.message)))?;
            Some(self.platform.vault.lookup_hash("national_id", id.expose()))
        };
        let received = r.received.unwrap_or_default();
        let filter = ListFilter {
            province: r.province_code,
            district: r.district_code,
            status: r.status,
            topic: r.topic_code,
            from_ms: received.from.as_ref().map(from_timestamp),
            to_ms: received.to.as_ref().map(from_timestamp),
            after,
            limit: size + 1,
            scope,
            national_id_hash,
        };
        let mut rows = queries::list(&self.platform.db, &filter).await?;
        if filter.national_id_hash.is_some() {
            // Looking a person up is processing their data: it is recorded.
            let found = rows.len().min(size as usize);
            let entry = actor.entry(action::SEARCH, "", format!("by national_id, {found} found"));
            audit::append(&self.platform.db, &[entry]).await?;
        }
        let next_page_token = if rows.len() as i64 > size {
            rows.truncate(size as usize);
            rows.last()
                .map(|l| {
                    format!(
                        "{}.{}",
                        l.received_at.as_ref().map(from_timestamp).unwrap_or(0),
                        l.application_number
                    )
                })
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListApplicationsResponse {
            applications: rows,
            next_page_token,
        }))
    }

    async fn track_application(
        &self,
        req: Request<pb::TrackApplicationRequest>,
    ) -> Result<Response<pb::TrackApplicationResponse>, Status> {
        let r = req.get_ref();
        let number = ApplicationNumber::parse(&r.application_number)
            .map_err(invalid)?
            .digits();
        // Counted before the code is checked: guesses are what is limited.
        let limits = &self.platform.settings.limits;
        self.limiter
            .check(&[
                Limit {
                    name: "track_per_client",
                    key: origin(&req).0,
                    max: limits.track_per_client_per_minute,
                    window: MINUTE,
                },
                Limit {
                    name: "track_per_number",
                    key: number.clone(),
                    max: limits.track_per_number_per_minute,
                    window: MINUTE,
                },
            ])
            .await?;
        // The code is checked before any read: a wrong guess costs no I/O
        // and reveals nothing, not even whether the number exists.
        if !self.tracking.verify(&number, &r.tracking_code) {
            return Err(not_found());
        }
        let key = format!("track:{number}");
        let cache = &self.platform.cache;
        match cache.get(&key).await {
            Ok(Some(bytes)) => {
                if let Ok(view) = pb::TrackApplicationResponse::decode(bytes.as_slice()) {
                    return Ok(Response::new(view));
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cache unavailable; reading the store"),
        }
        let db = &self.platform.db;
        let row = queries::fetch(db, &number).await?.ok_or_else(not_found)?;
        record_on_span(&number, row.province as u32, &row.topic);
        let view = pb::TrackApplicationResponse {
            timeline: queries::timeline(db, &row).await?,
            application_number: row.number,
            status: row.status,
            outcome: row.outcome,
            received_at: Some(timestamp(row.received_ms)),
            topic_code: row.topic,
            type_code: row.type_code,
            unit_name: row.unit_name,
        };
        let ttl = Duration::from_millis(self.platform.settings.cache.ttl_ms);
        if let Err(e) = cache.set(&key, &view.encode_to_vec(), ttl).await {
            tracing::warn!(error = %e, "could not cache the tracking view");
        }
        Ok(Response::new(view))
    }

    async fn schedule_meeting(
        &self,
        req: Request<pb::ScheduleMeetingRequest>,
    ) -> Result<Response<pb::Meeting>, Status> {
        let who = caller(&req)?;
        let r = req.get_ref();
        let c = self.catalog;
        if c.province(r.province_code).is_none() {
            return Err(invalid(FieldError::new(
                "province_code",
                format!("unknown province {}", r.province_code),
            )));
        }
        if r.district_code != 0
            && c.district(r.district_code)
                .is_none_or(|d| u32::from(d.province) != r.province_code)
        {
            return Err(invalid(FieldError::new(
                "district_code",
                "not a district of province_code",
            )));
        }
        let date = acikkapi_domain::calendar::Date::parse(r.date.trim())
            .ok_or_else(|| invalid(FieldError::new("date", "an ISO date, 2026-12-15")))?;
        let place = text::check("place", &r.place, text::SUBJECT).map_err(invalid)?;
        let chair = text::check("chair", &r.chair, text::FULL_NAME).map_err(invalid)?;
        // A kaymakam convenes in the district, a governor in the province.
        if !Scope::of(&who).covers(r.province_code, r.district_code, None) {
            return Err(Status::permission_denied(
                "province_code: outside the caller's scope",
            ));
        }
        let m = crate::meetings::Meeting {
            id: uuid::Uuid::new_v4().simple().to_string(),
            province: r.province_code,
            district: r.district_code,
            held_on: date.to_string(),
            place,
            chair,
            created_ms: acikkapi_platform::store::now_ms(),
        };
        let entry = actor_of(&req)?.entry("meeting.schedule", &m.id, &m.held_on);
        crate::meetings::insert(&self.platform.db, &m, &entry).await?;
        Ok(Response::new(meeting_proto(&m)))
    }

    async fn list_meetings(
        &self,
        req: Request<pb::ListMeetingsRequest>,
    ) -> Result<Response<pb::ListMeetingsResponse>, Status> {
        let scope = Scope::of(&*caller(&req)?);
        let area = acikkapi_platform::auth::narrow(&scope, req.get_ref().scope.as_ref())?;
        let province = if area.province != 0 {
            area.province
        } else {
            area.district / 1000
        };
        let meetings = crate::meetings::list(&self.platform.db, province, area.district).await?;
        Ok(Response::new(pb::ListMeetingsResponse {
            meetings: meetings.iter().map(meeting_proto).collect(),
        }))
    }

    async fn get_meeting_report(
        &self,
        req: Request<pb::GetMeetingReportRequest>,
    ) -> Result<Response<pb::MeetingReport>, Status> {
        let scope = Scope::of(&*caller(&req)?);
        let id = req.get_ref().id.trim();
        // Outside the caller's scope reads as not there at all.
        let m = crate::meetings::fetch(&self.platform.db, id)
            .await?
            .filter(|m| {
                scope.covers(m.province, m.district, None)
                    || matches!(scope, Scope::District(d) if m.district == 0 && d / 1000 == m.province)
            })
            .ok_or_else(|| Status::not_found("no meeting with that id"))?;
        let r = crate::meetings::report(&self.platform.db, &m.id).await?;
        Ok(Response::new(pb::MeetingReport {
            meeting: Some(meeting_proto(&m)),
            applications: r.numbers.len() as u64,
            by_topic: r.by_topic.into_iter().collect(),
            by_outcome: r
                .by_outcome
                .into_iter()
                .map(|(o, n)| {
                    let name = pb::Outcome::try_from(o)
                        .unwrap_or(pb::Outcome::Unspecified)
                        .as_str_name()
                        .to_owned();
                    (name, n)
                })
                .collect(),
            application_numbers: r.numbers,
        }))
    }

    async fn add_note(
        &self,
        req: Request<pb::AddNoteRequest>,
    ) -> Result<Response<pb::AddNoteResponse>, Status> {
        let r = req.get_ref();
        let number = ApplicationNumber::parse(&r.application_number)
            .map_err(invalid)?
            .digits();
        let author = text::check("author", &r.author, text::FULL_NAME).map_err(invalid)?;
        let body = text::check("text", &r.text, text::NOTE).map_err(invalid)?;
        self.visible(&number, &Scope::of(&*caller(&req)?)).await?;
        let entry = actor_of(&req)?.entry(action::NOTE, &number, "");
        let at = queries::add_note(&self.platform.db, &number, &author, &body, &entry)
            .await?
            .ok_or_else(|| Status::not_found("no application with that number"))?;
        Ok(Response::new(pb::AddNoteResponse {
            note: Some(pb::Note {
                author,
                text: body,
                added_at: Some(timestamp(at)),
            }),
        }))
    }

    async fn conclude_application(
        &self,
        req: Request<pb::ConcludeApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        let r = req.get_ref();
        let number = ApplicationNumber::parse(&r.application_number)
            .map_err(invalid)?
            .digits();
        let outcome = match pb::Outcome::try_from(r.outcome) {
            Ok(pb::Outcome::Unspecified) => {
                return Err(invalid(FieldError::new("outcome", "is required")));
            }
            Ok(o) => o,
            Err(_) => {
                return Err(invalid(FieldError::new(
                    "outcome",
                    format!("unknown outcome {}", r.outcome),
                )));
            }
        };
        let explanation =
            text::check("explanation", &r.explanation, text::NOTE).map_err(invalid)?;
        if outcome == pb::Outcome::Unanswerable && r.alternatives.is_empty() {
            return Err(invalid(FieldError::new(
                "alternatives",
                "an application that cannot be answered must offer alternatives",
            )));
        }
        let mut description = explanation;
        for (i, alt) in r.alternatives.iter().enumerate() {
            let alt = text::check("alternatives", alt, text::NOTE).map_err(invalid)?;
            description.push_str(&format!("\n{}. {alt}", i + 1));
        }
        let scope = Scope::of(&*caller(&req)?);
        let actor = actor_of(&req)?;
        self.visible(&number, &scope).await?;
        let db = &self.platform.db;
        let entry = actor.entry(action::CONCLUDE, &number, outcome.as_str_name());
        match queries::conclude(db, &number, outcome, &description, &entry).await? {
            Conclude::Done => {}
            Conclude::NotFound => return Err(Status::not_found("no application with that number")),
            Conclude::AlreadyConcluded => {
                return Err(Status::failed_precondition(
                    "the application is already concluded",
                ));
            }
        }
        let _ = self.platform.cache.delete(&format!("track:{number}")).await;
        Ok(Response::new(
            self.staff_view(&number, &scope, &actor).await?,
        ))
    }
}

impl Intake {
    /// The stored application, if it exists and `scope` covers it. Outside
    /// the scope the answer is the same as for a number that does not exist.
    async fn visible(&self, number: &str, scope: &Scope) -> Result<StoredApplication, Status> {
        let row = queries::fetch(&self.platform.db, number)
            .await?
            .filter(|r| scope.covers(r.province as u32, r.district as u32, r.unit_id.as_deref()))
            .ok_or_else(|| Status::not_found("no application with that number"))?;
        record_on_span(number, row.province as u32, &row.topic);
        Ok(row)
    }

    /// The whole application with its timeline and notes, for staff. The
    /// read of personal data is in the audit trail before the answer leaves.
    async fn staff_view(
        &self,
        number: &str,
        scope: &Scope,
        actor: &Actor,
    ) -> Result<pb::Application, Status> {
        let db = &self.platform.db;
        let row = self.visible(number, scope).await?;
        audit::append(db, &[actor.entry(action::READ, number, "")]).await?;
        let timeline = queries::timeline(db, &row).await?;
        let notes = queries::notes(db, number).await?;
        Ok(queries::to_application(
            &self.platform.vault,
            row,
            timeline,
            notes,
        )?)
    }
}

fn meeting_proto(m: &crate::meetings::Meeting) -> pb::Meeting {
    pb::Meeting {
        id: m.id.clone(),
        province_code: m.province,
        district_code: m.district,
        date: m.held_on.clone(),
        place: m.place.clone(),
        chair: m.chair.clone(),
        created_at: Some(timestamp(m.created_ms)),
    }
}

fn actor_of<T>(req: &Request<T>) -> Result<Actor, Status> {
    Ok(Actor::of(&*caller(req)?, Some(&origin(req))))
}

fn parse_token(t: &str) -> Result<(i64, String), Status> {
    let bad = || {
        invalid(FieldError::new(
            "page.page_token",
            "is not a token this service issued",
        ))
    };
    let (ms, number) = t.split_once('.').ok_or_else(bad)?;
    let ms = ms.parse().map_err(|_| bad())?;
    ApplicationNumber::parse(number).map_err(|_| bad())?;
    Ok((ms, number.to_owned()))
}
