//! An application's path after routing: transfer, the unit's inbox and answer, reopening and reclassification.

use super::*;

impl Routing {
    pub(super) async fn transfer_application(
        &self,
        req: Request<pb::TransferApplicationRequest>,
    ) -> Result<Response<pb::TransferApplicationResponse>, Status> {
        let actor = actor_of(&req)?;
        let scope = Scope::of(&*caller(&req)?);
        let r = req.get_ref();
        let number = Self::number(&r.application_number)?;
        let reason = text::check("reason", &r.reason, text::NOTE).map_err(field)?;
        let a = self.visible(&number, &scope).await?;
        let set = self.current().await?;
        let to = set
            .unit(&r.to_unit_id)
            .ok_or_else(|| invalid("to_unit_id", format!("no unit {:?}", r.to_unit_id)))?;
        if to.closed {
            return Err(Status::failed_precondition(format!(
                "to_unit_id: {} is closed",
                to.id
            )));
        }
        if to.id == a.unit_id {
            return Err(invalid(
                "to_unit_id",
                "the application is with that unit already",
            ));
        }
        // Across provinces only with a country-wide scope.
        let home = scope_province(&scope).unwrap_or(a.province);
        if scope != Scope::Country && to.province != home {
            return Err(Status::permission_denied(format!(
                "to_unit_id: {} is in province {}, outside the caller's scope",
                to.id, to.province
            )));
        }
        if !matches!(St::try_from(a.status), Ok(St::Routed | St::Reopened)) {
            return Err(Status::failed_precondition(
                "the application is not open at a unit",
            ));
        }
        let now = now_ms();
        let mut ev = pb::ApplicationTransferred {
            application_number: number.clone(),
            from_unit_id: a.unit_id.clone(),
            to_unit_id: to.id.clone(),
            reason: String::new(),
            transferred_at: Some(timestamp(now)),
            to_unit_name: to.name.clone(),
            seq: 0,
        };
        let mut t = self.platform.db.begin().await?;
        let moved = assignments::move_to(&mut t, &number, &a.unit_id, &to.id, None, now).await?;
        if !moved {
            return Err(Status::aborted(
                "the application moved meanwhile; read it again",
            ));
        }
        assignments::insert_hop(
            &mut t,
            &Hop {
                number: &number,
                at_ms: now,
                kind: "transferred",
                from_unit: &a.unit_id,
                to_unit: &to.id,
                rule_id: "",
                reason: &reason,
                actor: &actor.actor,
                round: a.round,
            },
        )
        .await?;
        let (seq, headers) = assignments::next_event(&mut t, &a, &a.topic, &to.id).await?;
        ev.seq = seq;
        t.insert_outbox(&[OutboxEvent::of(ev, &number, headers)])
            .await?;
        t.insert_audit(&[actor.entry(
            "application.transfer",
            &number,
            format!("{} → {}", a.unit_id, to.id),
        )])
        .await?;
        t.commit().await?;
        Ok(Response::new(pb::TransferApplicationResponse {
            unit_id: to.id.clone(),
        }))
    }

    pub(super) async fn list_inbox(
        &self,
        req: Request<pb::ListInboxRequest>,
    ) -> Result<Response<pb::ListInboxResponse>, Status> {
        let who = caller(&req)?;
        let scope = Scope::of(&who);
        let r = req.into_inner();
        let unit_id = if r.unit_id.is_empty() && who.role == Role::UnitOfficer {
            who.unit.clone()
        } else {
            r.unit_id.clone()
        };
        let set = self.current().await?;
        let unit = set
            .unit(&unit_id)
            .filter(|u| match &scope {
                Scope::Unit(mine) => *mine == u.id,
                Scope::District(d) => {
                    u.district == *d || (u.district == 0 && u.province == d / 1000)
                }
                s => s.covers(u.province, u.district, None),
            })
            .ok_or_else(|| Status::not_found("no unit with that id"))?;
        let page = r.page.unwrap_or_default();
        let size = match page.page_size {
            0 => 50,
            n => n.min(500),
        } as i64;
        let after = assignments::InboxKey::parse(&page.page_token)
            .map_err(|m| invalid("page.page_token", m))?;
        let mut rows = assignments::inbox(&self.platform.db, &unit.id, after, size + 1).await?;
        // A district-bound caller sees, of a provincial unit, only its district's applications.
        if let Scope::District(d) = scope {
            rows.retain(|a| a.district == d);
        }
        let next_page_token = if rows.len() as i64 > size {
            rows.truncate(size as usize);
            rows.last()
                .map(|a| assignments::InboxKey::of(a).token())
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListInboxResponse {
            items: rows
                .iter()
                .map(|a| pb::InboxItem {
                    application_number: a.number.clone(),
                    topic_code: a.topic.clone(),
                    type_code: a.type_code.clone(),
                    deadline: a.deadline_ms.map(timestamp),
                    priority: a.priority,
                    vulnerability: Some(pb::Vulnerability::from_bits(a.vulnerability)),
                    subject: String::new(),
                    unit_id: a.unit_id.clone(),
                    status: a.status,
                    received_at: Some(timestamp(a.received_ms)),
                    round: a.round,
                })
                .collect(),
            next_page_token,
        }))
    }

    pub(super) async fn respond_to_application(
        &self,
        req: Request<pb::RespondToApplicationRequest>,
    ) -> Result<Response<pb::RespondToApplicationResponse>, Status> {
        let actor = actor_of(&req)?;
        let scope = Scope::of(&*caller(&req)?);
        let r = req.get_ref();
        let number = Self::number(&r.application_number)?;
        let body = text::check("text", &r.text, text::TEXT).map_err(field)?;
        let outcome = match pb::Outcome::try_from(r.proposed_outcome) {
            Ok(pb::Outcome::Unspecified) | Err(_) => {
                return Err(invalid("proposed_outcome", "is required"));
            }
            Ok(o) => o,
        };
        if outcome == pb::Outcome::Unanswerable && r.alternatives.is_empty() {
            return Err(invalid(
                "alternatives",
                "an application that cannot be answered must offer alternatives",
            ));
        }
        let mut alternatives = Vec::new();
        for alt in &r.alternatives {
            alternatives.push(text::check("alternatives", alt, text::NOTE).map_err(field)?);
        }
        let a = self.visible(&number, &scope).await?;
        if r.unit_id != a.unit_id {
            return Err(Status::failed_precondition(format!(
                "unit_id: the application is with unit {}",
                a.unit_id
            )));
        }
        if !matches!(St::try_from(a.status), Ok(St::Routed | St::Reopened)) {
            return Err(Status::failed_precondition(
                "the application is not open at a unit; it was answered or concluded",
            ));
        }
        let now = now_ms();
        let mut ev = pb::UnitResponded {
            application_number: number.clone(),
            unit_id: a.unit_id.clone(),
            proposed_outcome: outcome as i32,
            responded_at: Some(timestamp(now)),
            seq: 0,
        };
        let mut t = self.platform.db.begin().await?;
        if !assignments::set_status(
            &mut t,
            &number,
            &[St::Routed, St::Reopened],
            St::Responded,
            now,
        )
        .await?
        {
            return Err(Status::aborted(
                "the application changed meanwhile; read it again",
            ));
        }
        tx!(&mut t, c => {
            sqlx::query("INSERT INTO routing_responses (number, round, unit_id, body, proposed_outcome, alternatives, actor, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(&number).bind(i64::from(a.round)).bind(&a.unit_id).bind(&body).bind(i64::from(outcome as i32))
                .bind(serde_json::to_string(&alternatives).unwrap_or_default()).bind(&actor.actor).bind(now)
                .execute(&mut **c).await.map_err(acikkapi_platform::PlatformError::from)?;
        });
        let (seq, headers) = assignments::next_event(&mut t, &a, &a.topic, &a.unit_id).await?;
        ev.seq = seq;
        t.insert_outbox(&[OutboxEvent::of(ev, &number, headers)])
            .await?;
        t.insert_audit(&[actor.entry("application.respond", &number, outcome.as_str_name())])
            .await?;
        t.commit().await?;
        Ok(Response::new(pb::RespondToApplicationResponse {}))
    }

    pub(super) async fn list_responses(
        &self,
        req: Request<pb::ListResponsesRequest>,
    ) -> Result<Response<pb::ListResponsesResponse>, Status> {
        let actor = actor_of(&req)?;
        let scope = Scope::of(&*caller(&req)?);
        let number = Self::number(&req.get_ref().application_number)?;
        self.visible(&number, &scope).await?;
        let mut t = self.platform.db.begin().await?;
        type Row = (i64, String, String, i64, String, i64);
        let rows: Vec<Row> = tx!(&mut t, c => {
            sqlx::query_as("SELECT round, unit_id, body, proposed_outcome, alternatives, at_ms FROM routing_responses WHERE number = $1 ORDER BY round")
                .bind(&number)
                .fetch_all(&mut **c)
                .await
                .map_err(acikkapi_platform::PlatformError::from)?
        });
        // The answers may hold what the applicant told: a read is audited.
        t.insert_audit(&[actor.entry("application.responses.read", &number, "")])
            .await?;
        t.commit().await?;
        Ok(Response::new(pb::ListResponsesResponse {
            responses: rows
                .into_iter()
                .map(
                    |(round, unit_id, text, outcome, alternatives, at)| pb::UnitResponse {
                        round: round as u32,
                        unit_id,
                        text,
                        proposed_outcome: outcome as i32,
                        alternatives: serde_json::from_str(&alternatives).unwrap_or_default(),
                        responded_at: Some(timestamp(at)),
                    },
                )
                .collect(),
        }))
    }

    pub(super) async fn reopen_application(
        &self,
        req: Request<pb::ReopenApplicationRequest>,
    ) -> Result<Response<pb::ReopenApplicationResponse>, Status> {
        let actor = actor_of(&req)?;
        let scope = Scope::of(&*caller(&req)?);
        let r = req.get_ref();
        let number = Self::number(&r.application_number)?;
        let reason = text::check("reason", &r.reason, text::NOTE).map_err(field)?;
        let mut a = self.visible(&number, &scope).await?;
        let concluded = |a: &Assignment| St::try_from(a.status) == Ok(St::Concluded);
        if !concluded(&a) {
            // Concluded a moment ago: intake's event may be on its way here.
            let db = &self.platform.db;
            let seen = acikkapi_platform::catch_up::catching_up(|| async {
                Ok(assignments::fetch(db, &number).await?.filter(concluded))
            })
            .await?;
            a = seen.unwrap_or(a);
        }
        if !concluded(&a) {
            return Err(Status::failed_precondition(
                "only a concluded application can be reopened",
            ));
        }
        let now = now_ms();
        let window_ms = i64::from(self.platform.settings.routing.reopen_window_days) * 86_400_000;
        if a.concluded_ms.is_some_and(|c| now - c > window_ms) {
            return Err(Status::failed_precondition(format!(
                "the reopening window of {} days after conclusion has passed",
                self.platform.settings.routing.reopen_window_days
            )));
        }
        let round = a.round + 1;
        let mut ev = pb::ApplicationReopened {
            application_number: number.clone(),
            reason: String::new(),
            reopened_at: Some(timestamp(now)),
            unit_id: a.unit_id.clone(),
            round,
            seq: 0,
        };
        let mut t = self.platform.db.begin().await?;
        if !assignments::reopen(&mut t, &number, round, now).await? {
            return Err(Status::aborted(
                "the application changed meanwhile; read it again",
            ));
        }
        assignments::insert_hop(
            &mut t,
            &Hop {
                number: &number,
                at_ms: now,
                kind: "reopened",
                from_unit: &a.unit_id,
                to_unit: &a.unit_id,
                rule_id: "",
                reason: &reason,
                actor: &actor.actor,
                round,
            },
        )
        .await?;
        let (seq, headers) = assignments::next_event(&mut t, &a, &a.topic, &a.unit_id).await?;
        ev.seq = seq;
        t.insert_outbox(&[OutboxEvent::of(ev, &number, headers)])
            .await?;
        t.insert_audit(&[actor.entry("application.reopen", &number, format!("round {round}"))])
            .await?;
        t.commit().await?;
        Ok(Response::new(pb::ReopenApplicationResponse {}))
    }

    pub(super) async fn reclassify_application(
        &self,
        req: Request<pb::ReclassifyApplicationRequest>,
    ) -> Result<Response<pb::ReclassifyApplicationResponse>, Status> {
        let actor = actor_of(&req)?;
        let scope = Scope::of(&*caller(&req)?);
        let r = req.get_ref();
        let number = Self::number(&r.application_number)?;
        self.classification(&r.topic_code, &r.type_code, false)?;
        let reason = text::check("reason", &r.reason, text::NOTE).map_err(field)?;
        let a = self.visible(&number, &scope).await?;
        if St::try_from(a.status) == Ok(St::Concluded) {
            return Err(Status::failed_precondition(
                "a concluded application is reopened before it is reclassified",
            ));
        }
        if a.topic == r.topic_code && a.type_code == r.type_code {
            return Err(invalid(
                "type_code",
                "the application has that classification already",
            ));
        }
        let set = self.current().await?;
        let d = set
            .decide(&r.topic_code, &r.type_code, a.province, a.district)
            .ok_or_else(|| {
                Status::failed_precondition("the province has no open governorship desk")
            })?;
        let now = now_ms();
        let mut ev = pb::ApplicationReclassified {
            application_number: number.clone(),
            from_topic_code: a.topic.clone(),
            from_type_code: a.type_code.clone(),
            topic_code: r.topic_code.clone(),
            type_code: r.type_code.clone(),
            unit_id: d.unit.id.clone(),
            unit_name: d.unit.name.clone(),
            reclassified_at: Some(timestamp(now)),
            seq: 0,
        };
        let rule_id = d.rule.map(|x| x.id.clone()).unwrap_or_default();
        let mut t = self.platform.db.begin().await?;
        let moved = assignments::move_to(
            &mut t,
            &number,
            &a.unit_id,
            &d.unit.id,
            Some((&r.topic_code, &r.type_code, &rule_id)),
            now,
        )
        .await?;
        if !moved {
            return Err(Status::aborted(
                "the application moved meanwhile; read it again",
            ));
        }
        assignments::insert_hop(
            &mut t,
            &Hop {
                number: &number,
                at_ms: now,
                kind: "reclassified",
                from_unit: &a.unit_id,
                to_unit: &d.unit.id,
                rule_id: &rule_id,
                reason: &reason,
                actor: &actor.actor,
                round: a.round,
            },
        )
        .await?;
        let (seq, headers) = assignments::next_event(&mut t, &a, &r.topic_code, &d.unit.id).await?;
        ev.seq = seq;
        t.insert_outbox(&[OutboxEvent::of(ev, &number, headers)])
            .await?;
        t.insert_audit(&[actor.entry(
            "application.reclassify",
            &number,
            format!("{} → {}; {}", a.type_code, r.type_code, d.explanation),
        )])
        .await?;
        t.commit().await?;
        Ok(Response::new(pb::ReclassifyApplicationResponse {}))
    }
}
