//! The audit trail: every read of an application's personal data and every
//! state change, with who, when, from where and what (KVKK art. 12 asks a
//! controller to be able to show who processed a person's data).
//!
//! Entries are written in the transaction of the change they record, so a
//! change without its entry cannot exist; a read is recorded before its
//! answer leaves, and a read whose entry cannot be written fails. The table
//! refuses UPDATE and DELETE (migration `platform/0002`). Entries hold no
//! personal data: the subject of an entry is an application number.

use crate::auth::{Claims, Origin};
use crate::store::{Db, Tx, now_ms};
use crate::{PlatformError, db, tx};
use acikkapi_proto::v1 as pb;
use opentelemetry::trace::TraceContextExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// What was done. Kept as constants so the set is greppable and stable.
pub mod action {
    /// An application was recorded.
    pub const SUBMIT: &str = "application.submit";
    /// An application's personal data was shown to staff.
    pub const READ: &str = "application.read";
    /// Applications were searched by an applicant's identity number.
    pub const SEARCH: &str = "application.search";
    pub const NOTE: &str = "application.note";
    pub const CONCLUDE: &str = "application.conclude";
    /// The retention run erased an application's personal data.
    pub const ERASE: &str = "application.erase";
}

/// Who acts, and from where.
#[derive(Debug, Clone)]
pub struct Actor {
    pub actor: String,
    pub role: String,
    pub scope: String,
    pub origin: String,
}

impl Actor {
    /// The authenticated caller of a request.
    pub fn of(claims: &Claims, origin: Option<&Origin>) -> Self {
        let scope = if !claims.unit.is_empty() {
            format!("unit:{}", claims.unit)
        } else if claims.district != 0 {
            format!("district:{}", claims.district)
        } else if claims.province != 0 {
            format!("province:{}", claims.province)
        } else {
            "country".into()
        };
        Self {
            actor: claims.sub.clone(),
            role: claims.role.as_str().into(),
            scope,
            origin: origin.map(|o| o.0.clone()).unwrap_or_default(),
        }
    }

    /// The platform itself, e.g. the retention run.
    pub fn system(name: &str) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
        Self {
            actor: name.into(),
            role: "system".into(),
            scope: "country".into(),
            origin: host,
        }
    }

    /// An entry for `action` on `target`, now, in the current trace.
    pub fn entry(&self, action: &'static str, target: &str, detail: impl Into<String>) -> Entry {
        Entry {
            at_ms: now_ms(),
            actor: self.clone(),
            action,
            target: target.to_owned(),
            detail: detail.into(),
            trace_id: current_trace_id(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub at_ms: i64,
    pub actor: Actor,
    pub action: &'static str,
    pub target: String,
    pub detail: String,
    pub trace_id: String,
}

fn current_trace_id() -> String {
    let cx = tracing::Span::current().context();
    let id = cx.span().span_context().trace_id();
    if id == opentelemetry::trace::TraceId::INVALID {
        String::new()
    } else {
        id.to_string()
    }
}

impl Tx {
    /// Appends entries in this transaction: they commit with the change.
    pub async fn insert_audit(&mut self, entries: &[Entry]) -> Result<(), PlatformError> {
        // 9 parameters a row; stay well under SQLite's bound-parameter limit.
        for chunk in entries.chunks(1000) {
            tx!(self, t => {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO audit_log (at_ms, actor, role, scope, origin, action, target, detail, trace_id) ",
                );
                qb.push_values(chunk, |mut b, e| {
                    b.push_bind(e.at_ms)
                        .push_bind(e.actor.actor.clone())
                        .push_bind(e.actor.role.clone())
                        .push_bind(e.actor.scope.clone())
                        .push_bind(e.actor.origin.clone())
                        .push_bind(e.action)
                        .push_bind(e.target.clone())
                        .push_bind(e.detail.clone())
                        .push_bind(e.trace_id.clone());
                });
                qb.build().execute(&mut **t).await?;
            });
        }
        Ok(())
    }
}

/// Appends entries in their own transaction (for reads, which change nothing else).
pub async fn append(db: &Db, entries: &[Entry]) -> Result<(), PlatformError> {
    let mut t = db.begin().await?;
    t.insert_audit(entries).await?;
    t.commit().await
}

pub struct Filter {
    pub target: String,
    pub actor: String,
    pub action: String,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Entries with a smaller id (the previous page ended there).
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Entries newest first.
pub async fn list(db: &Db, f: &Filter) -> Result<Vec<pb::AuditEntry>, PlatformError> {
    Ok(db!(db, p => {
        let mut qb = sqlx::QueryBuilder::new(
            "SELECT id, at_ms, actor, role, scope, origin, action, target, detail, trace_id FROM audit_log WHERE 1 = 1",
        );
        if !f.target.is_empty() {
            qb.push(" AND target = ").push_bind(f.target.clone());
        }
        if !f.actor.is_empty() {
            qb.push(" AND actor = ").push_bind(f.actor.clone());
        }
        if !f.action.is_empty() {
            qb.push(" AND action = ").push_bind(f.action.clone());
        }
        if let Some(from) = f.from_ms {
            qb.push(" AND at_ms >= ").push_bind(from);
        }
        if let Some(to) = f.to_ms {
            qb.push(" AND at_ms < ").push_bind(to);
        }
        if let Some(id) = f.before_id {
            qb.push(" AND id < ").push_bind(id);
        }
        qb.push(" ORDER BY id DESC LIMIT ").push_bind(f.limit);
        let rows = qb
            .build_query_as::<(i64, i64, String, String, String, String, String, String, String, String)>()
            .fetch_all(p)
            .await?;
        rows.into_iter()
            .map(|(id, at, actor, role, scope, origin, action, target, detail, trace_id)| pb::AuditEntry {
                id: id as u64,
                at: Some(prost_types::Timestamp {
                    seconds: at.div_euclid(1000),
                    nanos: (at.rem_euclid(1000) * 1_000_000) as i32,
                }),
                actor,
                role,
                scope,
                origin,
                action,
                target,
                detail,
                trace_id,
            })
            .collect::<Vec<_>>()
    }))
}

/// `AuditService`: the trail, for platform operators.
pub struct AuditApi {
    pub db: Db,
}

pub const SERVICE_NAME: &str = "acikkapi.v1.AuditService";

/// Largest request the service decodes: a few short filters.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024;

/// Who may read the trail: platform operators (it holds no personal data),
/// and the Ministry centre, which answers KVKK requests.
pub fn policy(path: &str) -> Option<crate::auth::Access> {
    use crate::auth::{Access, Role};
    match path {
        "/acikkapi.v1.AuditService/ListAuditEntries" => Some(Access::Roles(&[
            Role::PlatformOperator,
            Role::MinistryOfficer,
        ])),
        _ => None,
    }
}

fn invalid(field: &str, message: &str) -> tonic::Status {
    crate::error::invalid_field(field, message)
}

fn ms(t: &prost_types::Timestamp) -> i64 {
    t.seconds * 1000 + i64::from(t.nanos) / 1_000_000
}

#[tonic::async_trait]
impl pb::audit_service_server::AuditService for AuditApi {
    async fn list_audit_entries(
        &self,
        req: tonic::Request<pb::ListAuditEntriesRequest>,
    ) -> Result<tonic::Response<pb::ListAuditEntriesResponse>, tonic::Status> {
        let r = req.into_inner();
        let page = r.page.unwrap_or_default();
        let size = match page.page_size {
            0 => 50,
            n => n.min(500),
        } as i64;
        let before_id = if page.page_token.is_empty() {
            None
        } else {
            Some(
                page.page_token
                    .parse::<i64>()
                    .ok()
                    .filter(|&id| id > 0)
                    .ok_or_else(|| {
                        invalid("page.page_token", "is not a token this service issued")
                    })?,
            )
        };
        for (field, value) in [
            ("target", &r.target),
            ("actor", &r.actor),
            ("action", &r.action),
        ] {
            if value.len() > 128 {
                return Err(invalid(field, "is longer than 128 bytes"));
            }
        }
        let at = r.at.unwrap_or_default();
        let filter = Filter {
            target: r.target,
            actor: r.actor,
            action: r.action,
            from_ms: at.from.as_ref().map(ms),
            to_ms: at.to.as_ref().map(ms),
            before_id,
            limit: size + 1,
        };
        let mut entries = list(&self.db, &filter).await?;
        let next_page_token = if entries.len() as i64 > size {
            entries.truncate(size as usize);
            entries.last().map(|e| e.id.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(tonic::Response::new(pb::ListAuditEntriesResponse {
            entries,
            next_page_token,
        }))
    }
}
