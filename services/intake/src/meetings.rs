//! Public-day meetings (halk günü): a governor, deputy governor or kaymakam
//! meets the public on a set day; the desk records each applicant there as
//! an application with channel `public-day` naming the meeting, and the
//! meeting's report counts them by topic and outcome. A meeting holds no
//! personal data (its chair is an office holder, named as they sign).

use acikkapi_platform::db;
use acikkapi_platform::store::Db;
use acikkapi_platform::{PlatformError, audit};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct Meeting {
    pub id: String,
    pub province: u32,
    pub district: u32,
    pub held_on: String,
    pub place: String,
    pub chair: String,
    pub created_ms: i64,
}

type Row = (String, i64, i64, String, String, String, i64);

fn of(r: Row) -> Meeting {
    Meeting {
        id: r.0,
        province: r.1 as u32,
        district: r.2 as u32,
        held_on: r.3,
        place: r.4,
        chair: r.5,
        created_ms: r.6,
    }
}

const COLUMNS: &str = "id, province, district, held_on, place, chair, created_ms";

/// Records `m`, and who scheduled it in the audit trail, in one transaction.
pub async fn insert(db: &Db, m: &Meeting, entry: &audit::Entry) -> Result<(), PlatformError> {
    let mut t = db.begin().await?;
    acikkapi_platform::tx!(&mut t, c => {
        sqlx::query("INSERT INTO public_day_meetings (id, province, district, held_on, place, chair, created_by, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&m.id).bind(i64::from(m.province)).bind(i64::from(m.district)).bind(&m.held_on)
            .bind(&m.place).bind(&m.chair).bind(&entry.actor.actor).bind(m.created_ms)
            .execute(&mut **c).await?;
    });
    t.insert_audit(std::slice::from_ref(entry)).await?;
    t.commit().await
}

pub async fn fetch(db: &Db, id: &str) -> Result<Option<Meeting>, PlatformError> {
    let sql = format!("SELECT {COLUMNS} FROM public_day_meetings WHERE id = $1");
    let row: Option<Row> = db!(db, p => sqlx::query_as(&sql).bind(id).fetch_optional(p).await?);
    Ok(row.map(of))
}

/// The meetings of a province (0: every one), of a district (0: all of the
/// province's), latest first, at most 200.
pub async fn list(db: &Db, province: u32, district: u32) -> Result<Vec<Meeting>, PlatformError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM public_day_meetings WHERE ($1 = 0 OR province = $1) AND ($2 = 0 OR district = $2) \
         ORDER BY held_on DESC, created_ms DESC LIMIT 200"
    );
    let rows: Vec<Row> = db!(db, p => {
        sqlx::query_as(&sql).bind(i64::from(province)).bind(i64::from(district)).fetch_all(p).await?
    });
    Ok(rows.into_iter().map(of).collect())
}

/// What a meeting brought: its applications' numbers, by topic and by
/// outcome (0 while open).
pub struct Report {
    pub numbers: Vec<String>,
    pub by_topic: BTreeMap<String, u64>,
    pub by_outcome: BTreeMap<i32, u64>,
}

pub async fn report(db: &Db, id: &str) -> Result<Report, PlatformError> {
    let rows: Vec<(String, String, i64)> = db!(db, p => {
        sqlx::query_as("SELECT number, topic, CAST(outcome AS BIGINT) FROM applications WHERE meeting_id = $1 ORDER BY number")
            .bind(id).fetch_all(p).await?
    });
    let mut r = Report {
        numbers: Vec::with_capacity(rows.len()),
        by_topic: BTreeMap::new(),
        by_outcome: BTreeMap::new(),
    };
    for (number, topic, outcome) in rows {
        r.numbers.push(number);
        *r.by_topic.entry(topic).or_default() += 1;
        *r.by_outcome.entry(outcome as i32).or_default() += 1;
    }
    Ok(r)
}
