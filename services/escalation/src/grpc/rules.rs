//! The SLA ladders and the calendar: policies, closures and working days.

use super::*;

impl Escalation {
    pub(super) async fn upsert_policy(
        &self,
        req: Request<pb::UpsertPolicyRequest>,
    ) -> Result<Response<pb::EscalationPolicy>, Status> {
        let actor = Actor::of(&*caller(&req)?, Some(&origin(&req)));
        let r = req.into_inner();
        let p =
            Policy::from_proto(&r.policy.unwrap_or_default()).map_err(|(f, m)| invalid(&f, m))?;
        if !p.topic.is_empty()
            && acikkapi_domain::catalog::Catalog::builtin()
                .topic(&p.topic)
                .is_none()
        {
            return Err(invalid("policy.topic_code", "not a topic of the catalogue"));
        }
        let rungs = serde_json::to_string(&p.rungs).map_err(|e| Status::internal(e.to_string()))?;
        let now = acikkapi_platform::store::now_ms();
        let mut t = self.platform.db.begin().await?;
        tx!(&mut t, c => {
            sqlx::query(
                "INSERT INTO sla_policies (topic, budget_days, vulnerable_budget_days, rungs, updated_by, updated_ms) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (topic) DO UPDATE SET budget_days = $2, vulnerable_budget_days = $3, rungs = $4, updated_by = $5, updated_ms = $6",
            )
            .bind(&p.topic).bind(i64::from(p.budget_days)).bind(i64::from(p.vulnerable_budget_days)).bind(&rungs).bind(&actor.actor).bind(now)
            .execute(&mut **c).await.map_err(PlatformError::from)?;
        });
        t.insert_audit(&[actor.entry(
            "sla.policy",
            if p.topic.is_empty() {
                "default"
            } else {
                &p.topic
            },
            rungs,
        )])
        .await?;
        t.commit().await?;
        // Open clocks of the topic (all, for the default) follow the new policy.
        let why = format!(
            "policy {} changed",
            if p.topic.is_empty() {
                "default"
            } else {
                &p.topic
            }
        );
        let topic = (!p.topic.is_empty()).then_some(p.topic.as_str());
        store::rederive_open(
            &self.platform.db,
            self.arife(),
            None,
            topic,
            &why,
            self.now(),
        )
        .await?;
        Ok(Response::new(p.to_proto()))
    }

    pub(super) async fn list_policies(
        &self,
        _req: Request<pb::ListPoliciesRequest>,
    ) -> Result<Response<pb::ListPoliciesResponse>, Status> {
        let policies = Policies::load(&self.platform.db).await?;
        Ok(Response::new(pb::ListPoliciesResponse {
            policies: policies.all().into_iter().map(Policy::to_proto).collect(),
        }))
    }

    pub(super) async fn add_calendar_day(
        &self,
        req: Request<pb::AddCalendarDayRequest>,
    ) -> Result<Response<pb::CalendarDay>, Status> {
        let who = caller(&req)?;
        let actor = Actor::of(&who, Some(&origin(&req)));
        let day = req.into_inner().day.unwrap_or_default();
        let date =
            Date::parse(&day.date).ok_or_else(|| invalid("day.date", "an ISO date, YYYY-MM-DD"))?;
        if !(2018..=2040).contains(&date.year) {
            return Err(invalid(
                "day.date",
                "within 2018–2040, the calendar's years",
            ));
        }
        let name = day.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(invalid(
                "day.name",
                format!("why the day is off, 1 to {MAX_NAME_CHARS} characters"),
            ));
        }
        if day.province_code > 81 {
            return Err(invalid(
                "day.province_code",
                "a plate code 1..81, or 0 for the whole country",
            ));
        }
        may_keep(&who, day.province_code)?;
        if calendars::official().day_off(date).is_some_and(|d| !d.half) {
            return Err(Status::already_exists(format!(
                "{date} is an official holiday already"
            )));
        }
        let now = acikkapi_platform::store::now_ms();
        let mut t = self.platform.db.begin().await?;
        let inserted = tx!(&mut t, c => {
            sqlx::query("INSERT INTO sla_calendar_days (day, province, name, half, added_by, added_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (day, province) DO NOTHING")
                .bind(date.to_string()).bind(i64::from(day.province_code)).bind(name).bind(day.half_day).bind(&actor.actor).bind(now)
                .execute(&mut **c).await.map_err(PlatformError::from)?.rows_affected() == 1
        });
        if !inserted {
            return Err(Status::already_exists(format!(
                "{date} is off already for that place"
            )));
        }
        t.insert_audit(&[actor.entry(
            "sla.calendar.add",
            &format!("{date}:{}", day.province_code),
            name,
        )])
        .await?;
        t.commit().await?;
        let why = format!(
            "{} added",
            calendars::label(&ExtraDay {
                date,
                province: day.province_code,
                name: name.to_owned(),
                half: day.half_day
            })
        );
        let (seen, moved) = self.rederive(day.province_code, &why).await?;
        tracing::info!(date = %date, province = day.province_code, seen, moved, "day off added; open deadlines re-derived");
        Ok(Response::new(pb::CalendarDay {
            date: date.to_string(),
            name: name.to_owned(),
            half_day: day.half_day,
            province_code: day.province_code,
            official: false,
        }))
    }

    pub(super) async fn remove_calendar_day(
        &self,
        req: Request<pb::RemoveCalendarDayRequest>,
    ) -> Result<Response<pb::CalendarDay>, Status> {
        let who = caller(&req)?;
        let actor = Actor::of(&who, Some(&origin(&req)));
        let r = req.into_inner();
        let date =
            Date::parse(&r.date).ok_or_else(|| invalid("date", "an ISO date, YYYY-MM-DD"))?;
        if r.province_code > 81 {
            return Err(invalid(
                "province_code",
                "a plate code 1..81, or 0 for the whole country",
            ));
        }
        may_keep(&who, r.province_code)?;
        let mut t = self.platform.db.begin().await?;
        let removed: Option<(String, bool)> = tx!(&mut t, c => {
            sqlx::query("DELETE FROM sla_calendar_days WHERE day = $1 AND province = $2 RETURNING name, half")
                .bind(date.to_string()).bind(i64::from(r.province_code))
                .fetch_optional(&mut **c).await.map_err(PlatformError::from)?
                .map(|row| -> Result<(String, bool), sqlx::Error> { Ok((row.try_get("name")?, row.try_get("half")?)) })
                .transpose().map_err(PlatformError::from)?
        });
        let (name, half) = removed.ok_or_else(|| {
            Status::not_found(
                "no such one-off day or closure (official holidays cannot be removed)",
            )
        })?;
        t.insert_audit(&[actor.entry(
            "sla.calendar.remove",
            &format!("{date}:{}", r.province_code),
            name.as_str(),
        )])
        .await?;
        t.commit().await?;
        let why = format!(
            "{} withdrawn",
            calendars::label(&ExtraDay {
                date,
                province: r.province_code,
                name: name.clone(),
                half
            })
        );
        self.rederive(r.province_code, &why).await?;
        Ok(Response::new(pb::CalendarDay {
            date: date.to_string(),
            name,
            half_day: half,
            province_code: r.province_code,
            official: false,
        }))
    }

    pub(super) async fn list_calendar_days(
        &self,
        req: Request<pb::ListCalendarDaysRequest>,
    ) -> Result<Response<pb::ListCalendarDaysResponse>, Status> {
        let r = req.into_inner();
        if !(2018..=2040).contains(&r.year) {
            return Err(invalid("year", "2018–2040"));
        }
        if r.province_code > 81 {
            return Err(invalid(
                "province_code",
                "a plate code 1..81, or 0 for the national days",
            ));
        }
        let extra = calendars::extra_days(&self.platform.db, Some(r.province_code)).await?;
        let year = r.year as i32;
        let first = Date {
            year,
            month: 1,
            day: 1,
        }
        .days();
        let last = Date {
            year,
            month: 12,
            day: 31,
        }
        .days();
        let mut days = Vec::new();
        for d in first..=last {
            let date = Date::from_days(d);
            if let Some(off) = calendars::official().day_off(date) {
                days.push(pb::CalendarDay {
                    date: date.to_string(),
                    name: off.name.clone(),
                    half_day: off.half,
                    province_code: 0,
                    official: true,
                });
            }
            for e in extra.iter().filter(|e| e.date == date) {
                days.push(pb::CalendarDay {
                    date: date.to_string(),
                    name: e.name.clone(),
                    half_day: e.half,
                    province_code: e.province,
                    official: false,
                });
            }
        }
        Ok(Response::new(pb::ListCalendarDaysResponse { days }))
    }
}
