//! `RoutingService`: the registry, the rules, and what staff do with an
//! application once it is with a unit (transfer, answer, reopen, reclassify).
//! Every change writes its audit entry and its events in its transaction.

use crate::assignments::{self, Assignment, Hop};
use crate::rules::{Rule, RuleSet, Target, Unit};
use crate::store::{self, Rules};
use crate::timestamp;
use acikkapi_domain::catalog::Catalog;
use acikkapi_domain::{FieldError, text};
use acikkapi_platform::audit::Actor;
use acikkapi_platform::auth::{Role, Scope, caller, origin};
use acikkapi_platform::store::OutboxEvent;
use acikkapi_platform::store::now_ms;
use acikkapi_platform::{Platform, tx};
use acikkapi_proto::v1 as pb;
use acikkapi_proto::v1::routing_service_server::RoutingService;
use pb::Status as St;
use tonic::{Request, Response, Status};

pub struct Routing {
    pub platform: Platform,
    pub rules: Rules,
    pub catalog: &'static Catalog,
}

fn invalid(field: &str, message: impl Into<String>) -> Status {
    Status::invalid_argument(format!("{field}: {}", message.into()))
}

fn field(e: FieldError) -> Status {
    Status::invalid_argument(e.to_string())
}

fn actor_of<T>(req: &Request<T>) -> Result<Actor, Status> {
    Ok(Actor::of(&*caller(req)?, Some(&origin(req))))
}

/// The province a scope is bound to (a district's is its plate code).
fn scope_province(scope: &Scope) -> Option<u32> {
    match scope {
        Scope::Province(p) => Some(*p),
        Scope::District(d) => Some(d / 1000),
        _ => None,
    }
}

/// Whether a caller may write rules or units for this place.
fn may_manage(scope: &Scope, province: u32, district: u32) -> bool {
    match scope {
        Scope::Country => true,
        Scope::Province(p) => province == *p,
        Scope::District(d) => district == *d,
        _ => false,
    }
}

fn unit_proto(u: &Unit) -> pb::Unit {
    pb::Unit {
        id: u.id.clone(),
        name: u.name.clone(),
        r#type: u.unit_type,
        province_code: u.province,
        district_code: u.district,
        contacts: serde_json::from_str::<Vec<serde_json::Value>>(&u.contacts_json)
            .unwrap_or_default()
            .iter()
            .map(|c| pb::Contact {
                role: c["role"].as_str().unwrap_or_default().into(),
                name: c["name"].as_str().unwrap_or_default().into(),
                phone: c["phone"].as_str().unwrap_or_default().into(),
                email: c["email"].as_str().unwrap_or_default().into(),
            })
            .collect(),
        closed: u.closed,
        institution: u.institution.clone(),
    }
}

fn rule_proto(r: &Rule) -> pb::RoutingRule {
    let (unit_id, institution) = store::target_columns(&r.target);
    pb::RoutingRule {
        id: r.id.clone(),
        topic_code: r.topic.clone(),
        type_code: r.type_code.clone(),
        province_code: r.province,
        district_code: r.district,
        unit_id,
        institution,
        version: r.version as u64,
        changed_by: r.changed_by.clone(),
        changed_at: Some(timestamp(r.changed_ms)),
    }
}

/// One page of `items` in id order, after the page token (the last id of
/// the previous page): the page and the next token, empty at the end.
fn page_by_id<T>(
    mut items: Vec<T>,
    id: impl Fn(&T) -> &str,
    page: &pb::PageRequest,
) -> (Vec<T>, String) {
    let size = match page.page_size {
        0 => 100,
        n => n.min(1000),
    } as usize;
    items.retain(|x| page.page_token.is_empty() || id(x) > page.page_token.as_str());
    items.sort_by(|a, b| id(a).cmp(id(b)));
    if items.len() > size {
        items.truncate(size);
        let next = items.last().map(|x| id(x).to_owned()).unwrap_or_default();
        (items, next)
    } else {
        (items, String::new())
    }
}

/// A short identifier: lowercase letters, digits and dashes.
fn check_id(field_name: &str, id: &str) -> Result<(), Status> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(invalid(field_name, "1 to 64 of a-z, 0-9, '-' and '_'"))
    }
}

impl Routing {
    /// Province and district as given, checked against the catalogue.
    fn place(&self, province: u32, district: u32, national_allowed: bool) -> Result<(), Status> {
        if province == 0 {
            if !national_allowed {
                return Err(invalid("province_code", "is required"));
            }
            if district != 0 {
                return Err(invalid("district_code", "needs its province_code"));
            }
            return Ok(());
        }
        if self.catalog.province(province).is_none() {
            return Err(invalid(
                "province_code",
                format!("unknown province {province}"),
            ));
        }
        if district != 0 {
            match self.catalog.district(district) {
                Some(d) if u32::from(d.province) == province => {}
                Some(_) => {
                    return Err(invalid(
                        "district_code",
                        format!("district {district} is not in province {province}"),
                    ));
                }
                None => {
                    return Err(invalid(
                        "district_code",
                        format!("unknown district {district}"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Topic, and type (empty allowed when `any_type`), checked against the catalogue.
    fn classification(&self, topic: &str, type_code: &str, any_type: bool) -> Result<(), Status> {
        if self.catalog.topic(topic).is_none() {
            return Err(invalid("topic_code", format!("unknown topic {topic:?}")));
        }
        if type_code.is_empty() && any_type {
            return Ok(());
        }
        match self.catalog.application_type(type_code) {
            Some(t) if t.topic == topic => Ok(()),
            Some(_) => Err(invalid(
                "type_code",
                format!("{type_code} is not a type of topic {topic}"),
            )),
            None => Err(invalid("type_code", format!("unknown type {type_code:?}"))),
        }
    }

    /// The application, if the caller's scope covers it; NOT_FOUND otherwise.
    async fn visible(&self, number: &str, scope: &Scope) -> Result<Assignment, Status> {
        assignments::fetch(&self.platform.db, number)
            .await?
            .filter(|a| scope.covers(a.province, a.district, Some(&a.unit_id)))
            .ok_or_else(|| Status::not_found("no application with that number"))
    }

    fn number(raw: &str) -> Result<String, Status> {
        Ok(
            acikkapi_domain::application_number::ApplicationNumber::parse(raw)
                .map_err(field)?
                .digits(),
        )
    }

    async fn current(&self) -> Result<std::sync::Arc<RuleSet>, Status> {
        Ok(self.rules.get().await?)
    }
}

#[tonic::async_trait]
impl RoutingService for Routing {
    async fn upsert_unit(
        &self,
        req: Request<pb::UpsertUnitRequest>,
    ) -> Result<Response<pb::Unit>, Status> {
        let actor = actor_of(&req)?;
        let scope = Scope::of(&*caller(&req)?);
        let u = req
            .into_inner()
            .unit
            .ok_or_else(|| invalid("unit", "is required"))?;
        check_id("unit.id", &u.id)?;
        let name = text::check("unit.name", &u.name, text::SUBJECT).map_err(field)?;
        match pb::UnitType::try_from(u.r#type) {
            Ok(pb::UnitType::Unspecified) | Err(_) => {
                return Err(invalid("unit.type", "is required"));
            }
            Ok(_) => {}
        }
        check_id("unit.institution", &u.institution)?;
        self.place(u.province_code, u.district_code, false)
            .map_err(|s| invalid("unit", s.message()))?;
        if !may_manage(&scope, u.province_code, u.district_code) {
            return Err(Status::permission_denied(
                "unit.province_code: outside the caller's scope",
            ));
        }
        let mut contacts = Vec::new();
        for c in &u.contacts {
            if !["desk", "deputy_governor", "governor", "kaymakam", "other"]
                .contains(&c.role.as_str())
            {
                return Err(invalid(
                    "unit.contacts.role",
                    "one of desk, deputy_governor, governor, kaymakam, other",
                ));
            }
            for (f, v) in [("name", &c.name), ("phone", &c.phone), ("email", &c.email)] {
                if v.chars().count() > 100 || v.chars().any(char::is_control) {
                    return Err(invalid(
                        &format!("unit.contacts.{f}"),
                        "at most 100 characters, one line",
                    ));
                }
            }
            contacts.push(serde_json::json!({"role": c.role, "name": c.name, "phone": c.phone, "email": c.email}));
        }
        let unit = Unit {
            id: u.id.clone(),
            name,
            unit_type: u.r#type,
            institution: u.institution.clone(),
            province: u.province_code,
            district: u.district_code,
            contacts_json: serde_json::Value::Array(contacts).to_string(),
            closed: u.closed,
        };
        let previous = store::fetch_unit(&self.platform.db, &unit.id).await?;
        // A province always keeps an open desk: applications nothing else matches go there.
        if unit.closed || unit.institution != crate::rules::DESK_INSTITUTION {
            let set = self.current().await?;
            if let Some(desk) = set.desk(unit.province)
                && desk.id == unit.id
                && previous
                    .as_ref()
                    .is_some_and(|p| p.province == unit.province)
            {
                let others = set.desk_count(unit.province).saturating_sub(1);
                if others == 0 {
                    return Err(Status::failed_precondition(
                        "unit.closed: this is the province's only open governorship desk; open another first",
                    ));
                }
            }
        }
        let detail = match &previous {
            None => "created".to_owned(),
            Some(p) if !p.closed && unit.closed => "closed".to_owned(),
            Some(_) => "updated".to_owned(),
        };
        let mut t = self.platform.db.begin().await?;
        store::upsert_units(&mut t, std::slice::from_ref(&unit)).await?;
        store::bump_version(&mut t).await?;
        t.insert_audit(&[actor.entry("routing.unit.upsert", &unit.id, detail)])
            .await?;
        t.commit().await?;
        Ok(Response::new(unit_proto(&unit)))
    }

    async fn list_units(
        &self,
        req: Request<pb::ListUnitsRequest>,
    ) -> Result<Response<pb::ListUnitsResponse>, Status> {
        let r = req.into_inner();
        let set = self.current().await?;
        let s = r.scope.unwrap_or_default();
        let units: Vec<&Unit> = set
            .units()
            .filter(|u| s.province_code == 0 || u.province == s.province_code)
            .filter(|u| s.district_code == 0 || u.district == s.district_code)
            .filter(|u| s.unit_id.is_empty() || u.id == s.unit_id)
            .filter(|u| r.r#type == 0 || u.unit_type == r.r#type)
            .filter(|u| r.institution.is_empty() || u.institution == r.institution)
            .collect();
        let (units, next_page_token) =
            page_by_id(units, |u| u.id.as_str(), &r.page.unwrap_or_default());
        Ok(Response::new(pb::ListUnitsResponse {
            units: units.into_iter().map(unit_proto).collect(),
            next_page_token,
        }))
    }

    async fn upsert_rule(
        &self,
        req: Request<pb::UpsertRuleRequest>,
    ) -> Result<Response<pb::RoutingRule>, Status> {
        let actor = actor_of(&req)?;
        let scope = Scope::of(&*caller(&req)?);
        let r = req
            .into_inner()
            .rule
            .ok_or_else(|| invalid("rule", "is required"))?;
        self.classification(&r.topic_code, &r.type_code, true)
            .map_err(|s| invalid("rule", s.message()))?;
        self.place(r.province_code, r.district_code, true)
            .map_err(|s| invalid("rule", s.message()))?;
        if !may_manage(&scope, r.province_code, r.district_code) {
            return Err(Status::permission_denied(
                "rule.province_code: outside the caller's scope",
            ));
        }
        let set = self.current().await?;
        let target = match (r.unit_id.is_empty(), r.institution.is_empty()) {
            (false, true) => {
                if set.unit(&r.unit_id).is_none() {
                    return Err(invalid("rule.unit_id", format!("no unit {:?}", r.unit_id)));
                }
                Target::Unit(r.unit_id.clone())
            }
            (true, false) => {
                if !set.units().any(|u| u.institution == r.institution) {
                    return Err(invalid(
                        "rule.institution",
                        format!("no unit of institution {:?}", r.institution),
                    ));
                }
                Target::Institution(r.institution.clone())
            }
            _ => {
                return Err(invalid(
                    "rule.unit_id",
                    "give exactly one of unit_id and institution",
                ));
            }
        };
        let now = now_ms();
        let mut t = self.platform.db.begin().await?;
        let previous = if r.id.is_empty() {
            None
        } else {
            check_id("rule.id", &r.id)?;
            store::fetch_rule(&mut t, &r.id).await?
        };
        if let Some(p) = &previous
            && r.version != 0
            && r.version as i64 != p.version
        {
            return Err(Status::aborted(format!(
                "rule.version: the rule changed since it was read (now version {})",
                p.version
            )));
        }
        if previous.is_none() && !r.id.is_empty() && r.version != 0 {
            return Err(Status::not_found("no rule with that id"));
        }
        let rule = Rule {
            id: if r.id.is_empty() {
                format!("r-{}", uuid::Uuid::now_v7().simple())
            } else {
                r.id.clone()
            },
            topic: r.topic_code.clone(),
            type_code: r.type_code.clone(),
            province: r.province_code,
            district: r.district_code,
            target,
            version: previous.as_ref().map_or(1, |p| p.version + 1),
            changed_by: actor.actor.clone(),
            changed_ms: now,
        };
        // Ties are impossible: one rule per place and classification.
        if let Some(other) = set.rule_at(&rule.topic, &rule.type_code, rule.province, rule.district)
            && other.id != rule.id
        {
            return Err(Status::already_exists(format!(
                "rule: {} already covers this topic, type and place; change that one",
                other.id
            )));
        }
        let (unit_id, institution) = store::target_columns(&rule.target);
        let inserted = tx!(&mut t, c => {
            if previous.is_some() {
                sqlx::query("UPDATE routing_rules SET topic = $1, type_code = $2, province = $3, district = $4, unit_id = $5, institution = $6, version = $7, changed_by = $8, changed_ms = $9 WHERE id = $10")
                    .bind(&rule.topic).bind(&rule.type_code).bind(i64::from(rule.province)).bind(i64::from(rule.district))
                    .bind(&unit_id).bind(&institution).bind(rule.version).bind(&rule.changed_by).bind(rule.changed_ms).bind(&rule.id)
                    .execute(&mut **c).await.map(|_| ())
            } else {
                sqlx::query("INSERT INTO routing_rules (id, topic, type_code, province, district, unit_id, institution, version, changed_by, changed_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                    .bind(&rule.id).bind(&rule.topic).bind(&rule.type_code).bind(i64::from(rule.province)).bind(i64::from(rule.district))
                    .bind(&unit_id).bind(&institution).bind(rule.version).bind(&rule.changed_by).bind(rule.changed_ms)
                    .execute(&mut **c).await.map(|_| ())
            }
        });
        if let Err(e) = inserted {
            // The unique key caught a tie a concurrent change created.
            return Err(match e {
                sqlx::Error::Database(d) if d.is_unique_violation() => Status::already_exists(
                    "rule: another rule already covers this topic, type and place",
                ),
                other => acikkapi_platform::PlatformError::from(other).into(),
            });
        }
        store::bump_version(&mut t).await?;
        let detail = match &previous {
            Some(p) => format!(
                "v{} → v{}; previous: {}",
                p.version,
                rule.version,
                p.describe()
            ),
            None => format!("v1: {}", rule.describe()),
        };
        t.insert_audit(&[actor.entry("routing.rule.upsert", &rule.id, detail)])
            .await?;
        t.commit().await?;
        Ok(Response::new(rule_proto(&rule)))
    }

    async fn list_rules(
        &self,
        req: Request<pb::ListRulesRequest>,
    ) -> Result<Response<pb::ListRulesResponse>, Status> {
        let r = req.into_inner();
        let s = r.scope.unwrap_or_default();
        let rules: Vec<Rule> = store::list_rules(&self.platform.db)
            .await?
            .into_iter()
            .filter(|x| r.topic_code.is_empty() || x.topic == r.topic_code)
            .filter(|x| s.province_code == 0 || x.province == s.province_code)
            .filter(|x| s.district_code == 0 || x.district == s.district_code)
            .collect();
        let (rules, next_page_token) =
            page_by_id(rules, |x| x.id.as_str(), &r.page.unwrap_or_default());
        Ok(Response::new(pb::ListRulesResponse {
            rules: rules.iter().map(rule_proto).collect(),
            next_page_token,
        }))
    }

    async fn delete_rule(
        &self,
        req: Request<pb::DeleteRuleRequest>,
    ) -> Result<Response<pb::DeleteRuleResponse>, Status> {
        let actor = actor_of(&req)?;
        let scope = Scope::of(&*caller(&req)?);
        let id = req.into_inner().id;
        check_id("id", &id)?;
        let mut t = self.platform.db.begin().await?;
        let Some(previous) = store::fetch_rule(&mut t, &id).await? else {
            return Err(Status::not_found("no rule with that id"));
        };
        if !may_manage(&scope, previous.province, previous.district) {
            return Err(Status::permission_denied(
                "id: the rule is outside the caller's scope",
            ));
        }
        tx!(&mut t, c => {
            sqlx::query("DELETE FROM routing_rules WHERE id = $1").bind(&id).execute(&mut **c).await
                .map_err(acikkapi_platform::PlatformError::from)?;
        });
        store::bump_version(&mut t).await?;
        t.insert_audit(&[actor.entry(
            "routing.rule.delete",
            &id,
            format!("deleted v{}: {}", previous.version, previous.describe()),
        )])
        .await?;
        t.commit().await?;
        Ok(Response::new(pb::DeleteRuleResponse {}))
    }

    async fn explain_route(
        &self,
        req: Request<pb::ExplainRouteRequest>,
    ) -> Result<Response<pb::ExplainRouteResponse>, Status> {
        let r = req.into_inner();
        self.classification(&r.topic_code, &r.type_code, false)?;
        self.place(r.province_code, r.district_code, false)?;
        let set = self.current().await?;
        let d = set
            .decide(
                &r.topic_code,
                &r.type_code,
                r.province_code,
                r.district_code,
            )
            .ok_or_else(|| {
                Status::failed_precondition(
                    "province_code: the province has no open governorship desk",
                )
            })?;
        Ok(Response::new(pb::ExplainRouteResponse {
            unit: Some(unit_proto(d.unit)),
            rule: d.rule.map(rule_proto),
            explanation: d.explanation,
        }))
    }

    async fn transfer_application(
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

    async fn list_inbox(
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
        let after = assignments::parse_inbox_token(&page.page_token)
            .map_err(|m| invalid("page.page_token", m))?;
        let mut rows = assignments::inbox(&self.platform.db, &unit.id, after, size + 1).await?;
        // A district-bound caller sees, of a provincial unit, only its district's applications.
        if let Scope::District(d) = scope {
            rows.retain(|a| a.district == d);
        }
        let next_page_token = if rows.len() as i64 > size {
            rows.truncate(size as usize);
            rows.last()
                .map(|a| format!("{}:{}", a.received_ms, a.number))
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
                    deadline: None,
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

    async fn respond_to_application(
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

    async fn list_responses(
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

    async fn reopen_application(
        &self,
        req: Request<pb::ReopenApplicationRequest>,
    ) -> Result<Response<pb::ReopenApplicationResponse>, Status> {
        let actor = actor_of(&req)?;
        let scope = Scope::of(&*caller(&req)?);
        let r = req.get_ref();
        let number = Self::number(&r.application_number)?;
        let reason = text::check("reason", &r.reason, text::NOTE).map_err(field)?;
        let a = self.visible(&number, &scope).await?;
        if St::try_from(a.status) != Ok(St::Concluded) {
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

    async fn reclassify_application(
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
