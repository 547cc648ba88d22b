//! `RoutingService`: the registry, the rules, and what staff do with an
//! application once it is with a unit (transfer, answer, reopen, reclassify).
//! Every change writes its audit entry and its events in its transaction.

mod applications;
mod registry;

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
    acikkapi_platform::error::invalid_field(field, message)
}

fn field(e: FieldError) -> Status {
    acikkapi_platform::error::invalid_message(e.to_string())
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
    /// The application `number` as routing has it, if `scope` covers it.
    /// One routing has not assigned yet is waited for (its
    /// `ApplicationReceived` may be on its way: `catch_up`); one outside
    /// the scope is not, and answers as one that does not exist.
    async fn visible(&self, number: &str, scope: &Scope) -> Result<Assignment, Status> {
        let db = &self.platform.db;
        acikkapi_platform::catch_up::catching_up(|| assignments::fetch(db, number))
            .await?
            .filter(|a| scope.covers(a.province, a.district, Some(&a.unit_id)))
            .ok_or_else(|| Status::not_found(acikkapi_platform::catch_up::NOT_FOUND))
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

/// The gRPC surface: each method is the inherent one of the same name (in
/// `registry.rs` or `applications.rs`; an inherent method wins over the
/// trait's), so the handlers read by concern, not in one long impl.
#[tonic::async_trait]
impl RoutingService for Routing {
    async fn upsert_unit(
        &self,
        req: Request<pb::UpsertUnitRequest>,
    ) -> Result<Response<pb::Unit>, Status> {
        Routing::upsert_unit(self, req).await
    }

    async fn list_units(
        &self,
        req: Request<pb::ListUnitsRequest>,
    ) -> Result<Response<pb::ListUnitsResponse>, Status> {
        Routing::list_units(self, req).await
    }

    async fn upsert_rule(
        &self,
        req: Request<pb::UpsertRuleRequest>,
    ) -> Result<Response<pb::RoutingRule>, Status> {
        Routing::upsert_rule(self, req).await
    }

    async fn list_rules(
        &self,
        req: Request<pb::ListRulesRequest>,
    ) -> Result<Response<pb::ListRulesResponse>, Status> {
        Routing::list_rules(self, req).await
    }

    async fn delete_rule(
        &self,
        req: Request<pb::DeleteRuleRequest>,
    ) -> Result<Response<pb::DeleteRuleResponse>, Status> {
        Routing::delete_rule(self, req).await
    }

    async fn explain_route(
        &self,
        req: Request<pb::ExplainRouteRequest>,
    ) -> Result<Response<pb::ExplainRouteResponse>, Status> {
        Routing::explain_route(self, req).await
    }

    async fn transfer_application(
        &self,
        req: Request<pb::TransferApplicationRequest>,
    ) -> Result<Response<pb::TransferApplicationResponse>, Status> {
        Routing::transfer_application(self, req).await
    }

    async fn list_inbox(
        &self,
        req: Request<pb::ListInboxRequest>,
    ) -> Result<Response<pb::ListInboxResponse>, Status> {
        Routing::list_inbox(self, req).await
    }

    async fn respond_to_application(
        &self,
        req: Request<pb::RespondToApplicationRequest>,
    ) -> Result<Response<pb::RespondToApplicationResponse>, Status> {
        Routing::respond_to_application(self, req).await
    }

    async fn list_responses(
        &self,
        req: Request<pb::ListResponsesRequest>,
    ) -> Result<Response<pb::ListResponsesResponse>, Status> {
        Routing::list_responses(self, req).await
    }

    async fn reopen_application(
        &self,
        req: Request<pb::ReopenApplicationRequest>,
    ) -> Result<Response<pb::ReopenApplicationResponse>, Status> {
        Routing::reopen_application(self, req).await
    }

    async fn reclassify_application(
        &self,
        req: Request<pb::ReclassifyApplicationRequest>,
    ) -> Result<Response<pb::ReclassifyApplicationResponse>, Status> {
        Routing::reclassify_application(self, req).await
    }
}
