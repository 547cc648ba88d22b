//! The registry through the API: units, rules and ExplainRoute.

use super::*;

impl Routing {
    pub(super) async fn upsert_unit(
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

    pub(super) async fn list_units(
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

    pub(super) async fn upsert_rule(
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

    pub(super) async fn list_rules(
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

    pub(super) async fn delete_rule(
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

    pub(super) async fn explain_route(
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
}
