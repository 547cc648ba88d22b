//! `EscalationService`: an application's SLA with its explanation, the
//! overdue and approaching lists of a scope, policies, the calendar's
//! one-off days and closures, and pausing a clock.

mod clocks;
mod pauses;
mod rules;

use crate::calendars::{self, Calendars, ExtraDay};
use crate::ledger::{self, STATUTORY_RUNG, timestamp};
use crate::policy::{Policies, Policy};
use crate::store::{self, COLUMNS, SlaClock, clock_row};
use acikkapi_domain::application_number::ApplicationNumber;
use acikkapi_domain::calendar::{Arife, Calendar, DAY_MINUTES, Date};
use acikkapi_platform::audit::Actor;
use acikkapi_platform::auth::{Area, Role, Scope, caller, narrow, origin};
use acikkapi_platform::{Platform, PlatformError, db, tx};
use acikkapi_proto::v1 as pb;
use acikkapi_proto::v1::escalation_service_server::EscalationService;
use sqlx::Row;
use tonic::{Request, Response, Status};

pub struct Escalation {
    pub platform: Platform,
}

fn invalid(field: &str, message: impl Into<String>) -> Status {
    acikkapi_platform::error::invalid_field(field, message)
}

fn number(raw: &str) -> Result<String, Status> {
    Ok(ApplicationNumber::parse(raw)
        .map_err(|e| invalid("application_number", e.to_string()))?
        .digits())
}

fn covers(scope: &Scope, k: &SlaClock) -> bool {
    scope.covers(k.province, k.district, Some(&k.unit_id))
}

fn working_seconds_left(
    cal: &Calendar,
    arife: Arife,
    k: &SlaClock,
    pauses: &[ledger::Pause],
    now: i64,
) -> i64 {
    let end = k.concluded_ms.unwrap_or(now);
    let ms = match k.deadline_ms {
        Some(d) if end <= d => cal.working_ms_between(end, d, arife),
        Some(d) => -cal.working_ms_between(d, end, arife),
        None => {
            ledger::budget_ms(k.budget_days)
                - ledger::spent_ms(cal, arife, k.started_ms, pauses, end)
        }
    };
    ms / 1000
}

impl Escalation {
    fn arife(&self) -> Arife {
        store::arife(&self.platform.settings.escalation.arife)
    }

    fn now(&self) -> i64 {
        self.platform.clock.now_ms()
    }

    /// The SLA of a clock: with `full`, the explanation and every rung.
    async fn sla(
        &self,
        k: &SlaClock,
        cals: &Calendars,
        policies: &Policies,
        full: bool,
    ) -> Result<pb::Sla, PlatformError> {
        let db = &self.platform.db;
        let cal = cals.for_province(k.province);
        let arife = self.arife();
        let now = self.now();
        let pauses = if k.paused || full {
            store::pauses(db, &k.id).await?
        } else {
            Vec::new()
        };
        let mut sla = pb::Sla {
            application_number: k.number.clone(),
            deadline: k.deadline_ms.map(timestamp),
            working_seconds_left: working_seconds_left(cal, arife, k, &pauses, now),
            rung_reached: k.rung_reached,
            explanation: Vec::new(),
            statutory_deadline: Some(timestamp(k.statutory_ms)),
            paused: k.paused,
            round: k.round,
            province_code: k.province,
            district_code: k.district,
            unit_id: k.unit_id.clone(),
            topic_code: k.topic.clone(),
            budget_working_days: k.budget_days,
            concluded_at: k.concluded_ms.map(timestamp),
            steps: Vec::new(),
        };
        if !full {
            return Ok(sla);
        }
        let entries = store::entries(db, &k.id).await?;
        sla.explanation = ledger::explanation(&ledger::Explained {
            cal,
            arife,
            round: k.round,
            started_ms: k.started_ms,
            budget_days: k.budget_days,
            vulnerable: k.vulnerable,
            deadline_ms: k.deadline_ms,
            statutory_ms: k.statutory_ms,
            pauses: &pauses,
            entries: &entries,
            now,
        })
        .into_iter()
        .map(|(d, reason)| pb::ExplanationLine {
            date: d.to_string(),
            reason,
        })
        .collect();
        let fired: Vec<(u32, u32, String, String, i64, i64, bool)> = db!(db, c => {
            sqlx::query("SELECT rung, level, target, reason, due_ms, fired_ms, superseded FROM sla_escalations WHERE clock_id = $1 ORDER BY rung")
                .bind(&k.id).fetch_all(c).await?
                .into_iter().map(|r| -> Result<_, sqlx::Error> {
                    Ok((r.try_get::<i64, _>("rung")? as u32, r.try_get::<i64, _>("level")? as u32, r.try_get("target")?, r.try_get("reason")?,
                        r.try_get("due_ms")?, r.try_get("fired_ms")?, r.try_get("superseded")?))
                }).collect::<Result<Vec<_>, _>>()?
        });
        let policy = policies.for_topic(&k.topic);
        let dues = match k.deadline_ms {
            Some(d) => ledger::rung_dues(cal, arife, d, policy)
                .map_err(|e| PlatformError::Internal(e.to_string()))?,
            None => Vec::new(),
        };
        for (i, rung) in policy.rungs.iter().enumerate() {
            let n = i as u32 + 1;
            let step = match fired.iter().find(|f| f.0 == n) {
                Some(f) => pb::EscalationStep {
                    rung: n,
                    level: f.1,
                    target: f.2.clone(),
                    reason: f.3.clone(),
                    due: Some(timestamp(f.4)),
                    fired_at: (!f.6).then(|| timestamp(f.5)),
                    superseded: f.6,
                },
                None => {
                    let t = crate::sweep::resolve(&rung.target_role, k);
                    pb::EscalationStep {
                        rung: n,
                        level: t.level,
                        target: t.target,
                        reason: String::new(),
                        due: dues.get(i).map(|d| timestamp(*d)),
                        fired_at: None,
                        superseded: false,
                    }
                }
            };
            sla.steps.push(step);
        }
        if let Some(f) = fired.iter().find(|f| f.0 == STATUTORY_RUNG) {
            sla.steps.push(pb::EscalationStep {
                rung: STATUTORY_RUNG,
                level: f.1,
                target: f.2.clone(),
                reason: f.3.clone(),
                due: Some(timestamp(f.4)),
                fired_at: Some(timestamp(f.5)),
                superseded: false,
            });
        }
        Ok(sla)
    }

    async fn visible(&self, raw: &str, scope: &Scope) -> Result<SlaClock, Status> {
        let number = number(raw)?;
        let db = &self.platform.db;
        // Started a moment ago: its event may still be on its way here.
        acikkapi_platform::catch_up::catching_up(|| store::latest(db, &number))
            .await?
            .filter(|k| covers(scope, k))
            .ok_or_else(|| Status::not_found(acikkapi_platform::catch_up::NOT_FOUND))
    }

    /// Open clocks of a filter with `from <= deadline < to`, soonest first.
    async fn list(
        &self,
        f: &Area,
        from: i64,
        to: i64,
        page: Option<pb::PageRequest>,
    ) -> Result<pb::ListSlaResponse, Status> {
        let page = page.unwrap_or_default();
        let size = match page.page_size {
            0 => 50,
            n => n.min(500),
        } as i64;
        let (after_deadline, after_id) = if page.page_token.is_empty() {
            (i64::MIN, String::new())
        } else {
            page.page_token
                .split_once('/')
                .and_then(|(d, id)| Some((d.parse::<i64>().ok()?, id.to_owned())))
                .ok_or_else(|| invalid("page.page_token", "not a token this list gave"))?
        };
        let mut sql = format!(
            "SELECT {COLUMNS} FROM sla_clocks WHERE concluded_ms IS NULL AND deadline_ms >= $1 AND deadline_ms < $2 \
             AND (deadline_ms > $3 OR (deadline_ms = $3 AND id > $4))"
        );
        let mut n = 5;
        let mut place = |sql: &mut String, column: &str| {
            sql.push_str(&format!(" AND {column} = ${n}"));
            n += 1;
        };
        if f.province != 0 {
            place(&mut sql, "province");
        }
        if f.district != 0 {
            place(&mut sql, "district");
        }
        if !f.unit.is_empty() {
            place(&mut sql, "unit_id");
        }
        sql.push_str(&format!(" ORDER BY deadline_ms, id LIMIT ${n}"));
        let db = &self.platform.db;
        let clocks: Vec<SlaClock> = db!(db, c => {
            let mut q = sqlx::query(&sql).bind(from).bind(to).bind(after_deadline.max(from - 1)).bind(&after_id);
            if f.province != 0 { q = q.bind(i64::from(f.province)); }
            if f.district != 0 { q = q.bind(i64::from(f.district)); }
            if !f.unit.is_empty() { q = q.bind(&f.unit); }
            q.bind(size + 1).fetch_all(c).await.map_err(PlatformError::from)?
                .into_iter().map(|r| -> Result<SlaClock, sqlx::Error> { Ok(clock_row!(r)) }).collect::<Result<Vec<_>, _>>().map_err(PlatformError::from)?
        });
        let more = clocks.len() as i64 > size;
        let cals = Calendars::load(db).await?;
        let policies = Policies::load(db).await?;
        let mut items = Vec::new();
        for k in clocks.iter().take(size as usize) {
            items.push(self.sla(k, &cals, &policies, false).await?);
        }
        let next_page_token = if more {
            clocks
                .get(size as usize - 1)
                .map(|k| format!("{}/{}", k.deadline_ms.unwrap_or(0), k.id))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(pb::ListSlaResponse {
            items,
            next_page_token,
        })
    }

    async fn pause_or_resume(
        &self,
        actor: &Actor,
        scope: &Scope,
        raw: &str,
        pause: Option<&str>,
    ) -> Result<pb::Sla, Status> {
        // Started a moment ago, its clock may still be on its way here.
        let number = self.visible(raw, scope).await?.number;
        let db = &self.platform.db;
        let cals = Calendars::load(db).await?;
        let policies = Policies::load(db).await?;
        let now = self.now();
        let mut t = db.begin().await?;
        let mut k = store::latest_locked(&mut t, &number)
            .await?
            .filter(|k| covers(scope, k))
            .ok_or_else(|| Status::not_found(acikkapi_platform::catch_up::NOT_FOUND))?;
        if k.concluded_ms.is_some() {
            return Err(Status::failed_precondition(
                "the application is concluded: its clock has stopped",
            ));
        }
        match pause {
            Some(_) if k.paused => {
                return Err(Status::failed_precondition("the clock is paused already"));
            }
            None if !k.paused => {
                return Err(Status::failed_precondition("the clock is not paused"));
            }
            Some(reason) => {
                store::open_pause(&mut t, &k.id, now, reason, &actor.actor).await?;
                store::add_entry(&mut t, &k.id, "paused", now, reason, &actor.actor).await?;
            }
            None => {
                store::close_pause(&mut t, &k.id, now).await?;
                store::add_entry(&mut t, &k.id, "resumed", now, "", &actor.actor).await?;
            }
        }
        let pauses = store::pauses_tx(&mut t, &k.id).await?;
        let cal = cals.for_province(k.province);
        store::derive(&mut k, cal, self.arife(), &policies, &pauses)?;
        let announced = store::announce(
            &mut k,
            acikkapi_platform::telemetry::current_context_headers(),
        );
        store::update(&mut t, &k, now).await?;
        let announced: Vec<_> = announced.into_iter().collect();
        t.insert_outbox(&announced).await?;
        let action = if pause.is_some() {
            "sla.pause"
        } else {
            "sla.resume"
        };
        t.insert_audit(&[actor.entry(action, &number, pause.unwrap_or(""))])
            .await?;
        t.commit().await?;
        if !announced.is_empty() {
            self.platform.outbox_written.notify_one();
        }
        Ok(self.sla(&k, &cals, &policies, true).await?)
    }
}

const MAX_REASON_CHARS: usize = 500;
const MAX_NAME_CHARS: usize = 200;

/// The gRPC surface: each method is the inherent one of the same name (in
/// `clocks.rs`, `rules.rs` or `pauses.rs`; an inherent method wins over
/// the trait's), so the handlers read by concern.
#[tonic::async_trait]
impl EscalationService for Escalation {
    async fn get_sla(&self, req: Request<pb::GetSlaRequest>) -> Result<Response<pb::Sla>, Status> {
        Escalation::get_sla(self, req).await
    }

    async fn list_overdue(
        &self,
        req: Request<pb::ListOverdueRequest>,
    ) -> Result<Response<pb::ListSlaResponse>, Status> {
        Escalation::list_overdue(self, req).await
    }

    async fn list_approaching(
        &self,
        req: Request<pb::ListApproachingRequest>,
    ) -> Result<Response<pb::ListSlaResponse>, Status> {
        Escalation::list_approaching(self, req).await
    }

    async fn upsert_policy(
        &self,
        req: Request<pb::UpsertPolicyRequest>,
    ) -> Result<Response<pb::EscalationPolicy>, Status> {
        Escalation::upsert_policy(self, req).await
    }

    async fn list_policies(
        &self,
        _req: Request<pb::ListPoliciesRequest>,
    ) -> Result<Response<pb::ListPoliciesResponse>, Status> {
        Escalation::list_policies(self, _req).await
    }

    async fn add_calendar_day(
        &self,
        req: Request<pb::AddCalendarDayRequest>,
    ) -> Result<Response<pb::CalendarDay>, Status> {
        Escalation::add_calendar_day(self, req).await
    }

    async fn remove_calendar_day(
        &self,
        req: Request<pb::RemoveCalendarDayRequest>,
    ) -> Result<Response<pb::CalendarDay>, Status> {
        Escalation::remove_calendar_day(self, req).await
    }

    async fn list_calendar_days(
        &self,
        req: Request<pb::ListCalendarDaysRequest>,
    ) -> Result<Response<pb::ListCalendarDaysResponse>, Status> {
        Escalation::list_calendar_days(self, req).await
    }

    async fn pause_clock(
        &self,
        req: Request<pb::PauseClockRequest>,
    ) -> Result<Response<pb::Sla>, Status> {
        Escalation::pause_clock(self, req).await
    }

    async fn resume_clock(
        &self,
        req: Request<pb::ResumeClockRequest>,
    ) -> Result<Response<pb::Sla>, Status> {
        Escalation::resume_clock(self, req).await
    }
}

impl Escalation {
    async fn rederive(&self, province: u32, why: &str) -> Result<(u64, u64), Status> {
        let p = (province != 0).then_some(province);
        Ok(store::rederive_open(&self.platform.db, self.arife(), p, None, why, self.now()).await?)
    }
}

/// National days are the centre's; a governor or deputy governor closes
/// their own province only.
fn may_keep(who: &acikkapi_platform::auth::Claims, province: u32) -> Result<(), Status> {
    match who.role {
        Role::PlatformOperator | Role::MinistryOfficer => Ok(()),
        _ if province != 0 && who.province == province => Ok(()),
        _ => Err(Status::permission_denied(
            "day.province_code: a governorship closes its own province; national days are the Ministry's",
        )),
    }
}
