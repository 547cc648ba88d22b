//! Reads and the small updates of intake (notes, conclusion).

use crate::access::Scope;
use crate::model::vulnerability_proto;
use crate::timestamp;
use acikkapi_platform::audit::Entry;
use acikkapi_platform::privacy::Vault;
use acikkapi_platform::store::{Db, OutboxEvent, now_ms};
use acikkapi_platform::{PlatformError, db, tx};
use acikkapi_proto::v1 as pb;
use sqlx::Row;

const COLUMNS: &str = "number, province, district, national_id, full_name, phone, email, channel, kind, topic, type_code, \
                       subject, body, vulnerability, priority, status, outcome, unit_id, unit_name, received_ms, erased_ms";

/// The stored row, decoded once for every view.
pub struct StoredApplication {
    pub number: String,
    pub province: i32,
    pub district: i32,
    pub national_id: String,
    pub full_name: String,
    pub phone: String,
    pub email: Option<String>,
    pub channel: i32,
    pub kind: i32,
    pub topic: String,
    pub type_code: String,
    pub subject: String,
    pub body: String,
    pub vulnerability: i32,
    pub priority: bool,
    pub status: i32,
    pub outcome: i32,
    pub unit_id: Option<String>,
    pub unit_name: String,
    pub received_ms: i64,
    /// When the retention run erased the personal data, if it did.
    pub erased_ms: Option<i64>,
}

macro_rules! decode_row {
    ($r:expr) => {
        StoredApplication {
            number: $r.try_get("number")?,
            province: $r.try_get("province")?,
            district: $r.try_get("district")?,
            national_id: $r.try_get("national_id")?,
            full_name: $r.try_get("full_name")?,
            phone: $r.try_get("phone")?,
            email: $r.try_get("email")?,
            channel: $r.try_get("channel")?,
            kind: $r.try_get("kind")?,
            topic: $r.try_get("topic")?,
            type_code: $r.try_get("type_code")?,
            subject: $r.try_get("subject")?,
            body: $r.try_get("body")?,
            vulnerability: $r.try_get("vulnerability")?,
            priority: $r.try_get("priority")?,
            status: $r.try_get("status")?,
            outcome: $r.try_get("outcome")?,
            unit_id: $r.try_get("unit_id")?,
            unit_name: $r.try_get("unit_name")?,
            received_ms: $r.try_get("received_ms")?,
            erased_ms: $r.try_get("erased_ms")?,
        }
    };
}

pub async fn fetch(db: &Db, number: &str) -> Result<Option<StoredApplication>, PlatformError> {
    let sql = format!("SELECT {COLUMNS} FROM applications WHERE number = $1");
    Ok(db!(db, p => {
        match sqlx::query(&sql).bind(number).fetch_optional(p).await? {
            Some(r) => Some(decode_row!(r)),
            None => None,
        }
    }))
}

/// The stages after receipt, oldest first, with the receipt itself in front.
pub async fn timeline(
    db: &Db,
    row: &StoredApplication,
) -> Result<Vec<pb::TimelineEntry>, PlatformError> {
    let mut out = vec![pb::TimelineEntry {
        at: Some(timestamp(row.received_ms)),
        status: pb::Status::Received as i32,
        description: "Başvurunuz alındı".into(),
    }];
    let rows: Vec<(i64, i32, String)> = db!(db, p => {
        sqlx::query_as("SELECT at_ms, status, description FROM application_history WHERE number = $1 ORDER BY id")
            .bind(&row.number).fetch_all(p).await?
    });
    out.extend(
        rows.into_iter()
            .map(|(at, status, description)| pb::TimelineEntry {
                at: Some(timestamp(at)),
                status,
                description,
            }),
    );
    Ok(out)
}

pub async fn notes(db: &Db, number: &str) -> Result<Vec<pb::Note>, PlatformError> {
    let rows: Vec<(String, String, i64)> = db!(db, p => {
        sqlx::query_as("SELECT author, body, added_ms FROM application_notes WHERE number = $1 ORDER BY id")
            .bind(number).fetch_all(p).await?
    });
    Ok(rows
        .into_iter()
        .map(|(author, text, at)| pb::Note {
            author,
            text,
            added_at: Some(timestamp(at)),
        })
        .collect())
}

/// Opens a sealed value. Rows from before sealing (intake migration 2)
/// hold clear text, which is returned as it is.
fn reveal(vault: &Vault, record: &str, field: &str, stored: &str) -> Result<String, PlatformError> {
    if stored.starts_with("enc1:") {
        vault.open(record, field, stored)
    } else {
        Ok(stored.to_owned())
    }
}

/// The staff view, with personal data opened.
pub fn to_application(
    vault: &Vault,
    r: StoredApplication,
    timeline: Vec<pb::TimelineEntry>,
    notes: Vec<pb::Note>,
) -> Result<pb::Application, PlatformError> {
    let erased = r.erased_ms.is_some();
    let applicant = if erased {
        pb::Applicant::default()
    } else {
        pb::Applicant {
            national_id: reveal(vault, &r.number, "national_id", &r.national_id)?,
            full_name: reveal(vault, &r.number, "full_name", &r.full_name)?,
            mobile_phone: reveal(vault, &r.number, "phone", &r.phone)?,
            email: r
                .email
                .as_deref()
                .map(|e| reveal(vault, &r.number, "email", e))
                .transpose()?
                .unwrap_or_default(),
        }
    };
    Ok(pb::Application {
        application_number: r.number,
        applicant: Some(applicant),
        province_code: r.province as u32,
        district_code: r.district as u32,
        channel: r.channel,
        kind: r.kind,
        topic_code: r.topic,
        type_code: r.type_code,
        subject: r.subject,
        text: r.body,
        vulnerability: Some(vulnerability_proto(r.vulnerability as u32)),
        priority: r.priority,
        status: r.status,
        outcome: r.outcome,
        received_at: Some(timestamp(r.received_ms)),
        timeline,
        notes,
        unit_id: r.unit_id.unwrap_or_default(),
        personal_data_erased: erased,
    })
}

pub struct ListFilter {
    pub province: u32,
    pub district: u32,
    pub status: i32,
    pub topic: String,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Continue after this (received_ms, number), newest first.
    pub after: Option<(i64, String)>,
    pub limit: i64,
    /// The caller's scope, applied in the query (not after it).
    pub scope: Scope,
    /// Keyed hash of an applicant's identity number.
    pub national_id_hash: Option<Vec<u8>>,
}

pub async fn list(db: &Db, f: &ListFilter) -> Result<Vec<pb::ApplicationSummary>, PlatformError> {
    let rows = db!(db, p => {
        let mut qb = sqlx::QueryBuilder::new(
            "SELECT number, province, district, topic, type_code, status, priority, received_ms, subject FROM applications WHERE 1 = 1",
        );
        match &f.scope {
            Scope::Country => {}
            Scope::Province(p) => {
                qb.push(" AND province = ").push_bind(*p as i32);
            }
            Scope::District(d) => {
                qb.push(" AND district = ").push_bind(*d as i32);
            }
            Scope::Unit(u) => {
                qb.push(" AND unit_id = ").push_bind(u.clone());
            }
            Scope::Nothing => {
                qb.push(" AND 1 = 0");
            }
        }
        if let Some(h) = &f.national_id_hash {
            qb.push(" AND national_id_hash = ").push_bind(h.clone());
        }
        if f.province != 0 {
            qb.push(" AND province = ").push_bind(f.province as i32);
        }
        if f.district != 0 {
            qb.push(" AND district = ").push_bind(f.district as i32);
        }
        if f.status != 0 {
            qb.push(" AND status = ").push_bind(f.status);
        }
        if !f.topic.is_empty() {
            qb.push(" AND topic = ").push_bind(f.topic.clone());
        }
        if let Some(from) = f.from_ms {
            qb.push(" AND received_ms >= ").push_bind(from);
        }
        if let Some(to) = f.to_ms {
            qb.push(" AND received_ms < ").push_bind(to);
        }
        if let Some((ms, number)) = &f.after {
            qb.push(" AND (received_ms < ").push_bind(*ms);
            qb.push(" OR (received_ms = ").push_bind(*ms);
            qb.push(" AND number < ").push_bind(number.clone());
            qb.push("))");
        }
        qb.push(" ORDER BY received_ms DESC, number DESC LIMIT ").push_bind(f.limit);
        let mut out = Vec::new();
        for r in qb.build().fetch_all(p).await? {
            let received: i64 = r.try_get("received_ms")?;
            out.push(pb::ApplicationSummary {
                application_number: r.try_get("number")?,
                province_code: r.try_get::<i32, _>("province")? as u32,
                district_code: r.try_get::<i32, _>("district")? as u32,
                topic_code: r.try_get("topic")?,
                type_code: r.try_get("type_code")?,
                status: r.try_get("status")?,
                priority: r.try_get("priority")?,
                received_at: Some(timestamp(received)),
                subject: r.try_get("subject")?,
            });
        }
        out
    });
    Ok(rows)
}

/// Adds a note; false when the application does not exist.
pub async fn add_note(
    db: &Db,
    number: &str,
    author: &str,
    text: &str,
    audit: &Entry,
) -> Result<Option<i64>, PlatformError> {
    let now = now_ms();
    let mut t = db.begin().await?;
    let found: Option<Traced> = tx!(&mut t, c => {
        let found = sqlx::query_as(&format!("UPDATE applications SET updated_ms = $1 WHERE number = $2 RETURNING {TRACED}"))
            .bind(now).bind(number).fetch_optional(&mut **c).await?.map(Traced::from_row);
        if found.is_some() {
            sqlx::query("INSERT INTO application_notes (number, author, body, added_ms) VALUES ($1, $2, $3, $4)")
                .bind(number).bind(author).bind(text).bind(now).execute(&mut **c).await?;
        }
        found
    });
    let Some(traced) = found else {
        return Ok(None);
    };
    let ev = pb::ApplicationNoteAdded {
        application_number: number.to_owned(),
        author: author.to_owned(),
        added_at: Some(timestamp(now)),
    };
    t.insert_outbox(&[traced.event(ev, number)]).await?;
    t.insert_audit(std::slice::from_ref(audit)).await?;
    t.commit().await?;
    Ok(Some(now))
}

pub enum Conclude {
    Done,
    NotFound,
    AlreadyConcluded,
}

pub async fn conclude(
    db: &Db,
    number: &str,
    outcome: pb::Outcome,
    explanation: &str,
    audit: &Entry,
) -> Result<Conclude, PlatformError> {
    let now = now_ms();
    let mut t = db.begin().await?;
    // The status guard in the WHERE makes two concurrent conclusions conclude once.
    let changed: Option<Traced> = tx!(&mut t, c => {
        let changed = sqlx::query_as(&format!("UPDATE applications SET status = $1, outcome = $2, updated_ms = $3, concluded_ms = $3 WHERE number = $4 AND status <> $1 RETURNING {TRACED}"))
            .bind(pb::Status::Concluded as i32).bind(outcome as i32).bind(now).bind(number)
            .fetch_optional(&mut **c).await?.map(Traced::from_row);
        if changed.is_some() {
            sqlx::query("INSERT INTO application_history (number, at_ms, status, description) VALUES ($1, $2, $3, $4)")
                .bind(number).bind(now).bind(pb::Status::Concluded as i32).bind(explanation).execute(&mut **c).await?;
        }
        changed
    });
    let Some(traced) = changed else {
        return Ok(if fetch(db, number).await?.is_some() {
            Conclude::AlreadyConcluded
        } else {
            Conclude::NotFound
        });
    };
    let ev = pb::ApplicationConcluded {
        application_number: number.to_owned(),
        outcome: outcome as i32,
        concluded_at: Some(timestamp(now)),
    };
    t.insert_outbox(&[traced.event(ev, number)]).await?;
    t.insert_audit(std::slice::from_ref(audit)).await?;
    t.commit().await?;
    Ok(Conclude::Done)
}

/// What an event about an application needs to continue its trace.
const TRACED: &str = "trace, province, topic, COALESCE(unit_id, '') AS unit_id";

struct Traced {
    trace: String,
    province: i32,
    topic: String,
    unit_id: String,
}

impl Traced {
    fn from_row((trace, province, topic, unit_id): (String, i32, String, String)) -> Self {
        Self {
            trace,
            province,
            topic,
            unit_id,
        }
    }

    /// An outbox event in the application's own trace (not the caller's:
    /// the conclusion's SMS, clock and report belong to the application),
    /// with its place, topic and unit as searchable attributes.
    fn event(&self, ev: impl Into<acikkapi_proto::Event>, number: &str) -> OutboxEvent {
        let stored = serde_json::from_str(&self.trace).unwrap_or_default();
        OutboxEvent {
            headers: acikkapi_platform::telemetry::application_headers(
                Some(&stored),
                &[
                    ("province", &self.province.to_string()),
                    ("topic", &self.topic),
                    ("unit", &self.unit_id),
                ],
            ),
            ..event(ev, number)
        }
    }
}

/// An outbox event about application `number`, in the current trace.
pub(crate) fn event(ev: impl Into<acikkapi_proto::Event>, number: &str) -> OutboxEvent {
    OutboxEvent::of(
        ev,
        number,
        acikkapi_platform::telemetry::current_context_headers(),
    )
}
