//! Where each application stands in routing: its unit, status and round,
//! and the history of its hops.

use acikkapi_platform::store::{Db, Tx};
use acikkapi_platform::{PlatformError, db, tx};
use acikkapi_proto::v1::Status as St;
use sqlx::Row;
use std::collections::BTreeMap;

const COLUMNS: &str = "number, province, district, topic, type_code, unit_id, rule_id, status, round, \
                       vulnerability, priority, received_ms, concluded_ms, due_ms";

/// `due_ms` of an assignment whose deadline is not known (not announced
/// yet, or its clock is paused): after every known one in the inbox.
pub const NO_DEADLINE: i64 = i64::MAX;

#[derive(Debug, Clone)]
pub struct Assignment {
    pub number: String,
    pub province: u32,
    pub district: u32,
    pub topic: String,
    pub type_code: String,
    pub unit_id: String,
    pub rule_id: String,
    pub status: i32,
    pub round: u32,
    pub vulnerability: u32,
    pub priority: bool,
    pub received_ms: i64,
    pub concluded_ms: Option<i64>,
    /// The round's deadline as escalation announced it; `None` while not
    /// known or paused.
    pub deadline_ms: Option<i64>,
}

macro_rules! row {
    ($r:expr) => {
        Assignment {
            number: $r.try_get("number")?,
            province: $r.try_get::<i64, _>("province")? as u32,
            district: $r.try_get::<i64, _>("district")? as u32,
            topic: $r.try_get("topic")?,
            type_code: $r.try_get("type_code")?,
            unit_id: $r.try_get("unit_id")?,
            rule_id: $r.try_get("rule_id")?,
            status: $r.try_get::<i64, _>("status")? as i32,
            round: $r.try_get::<i64, _>("round")? as u32,
            vulnerability: $r.try_get::<i64, _>("vulnerability")? as u32,
            priority: $r.try_get("priority")?,
            received_ms: $r.try_get("received_ms")?,
            concluded_ms: $r.try_get("concluded_ms")?,
            deadline_ms: Some($r.try_get::<i64, _>("due_ms")?).filter(|d| *d != NO_DEADLINE),
        }
    };
}

pub async fn fetch(db: &Db, number: &str) -> Result<Option<Assignment>, PlatformError> {
    let sql = format!("SELECT {COLUMNS} FROM routing_assignments WHERE number = $1");
    Ok(db!(db, p => {
        match sqlx::query(&sql).bind(number).fetch_optional(p).await? {
            Some(r) => Some(row!(r)),
            None => None,
        }
    }))
}

/// Records new assignments, each as routing sequence 1 with the
/// application's trace headers (those of its routing event), in one
/// statement a chunk; returns the numbers that had none before.
pub async fn insert_many(
    t: &mut Tx,
    new: &[(&Assignment, &BTreeMap<String, String>)],
    now: i64,
) -> Result<std::collections::HashSet<String>, PlatformError> {
    let mut inserted = std::collections::HashSet::new();
    // In the order of the unique key: two transactions inserting the same
    // numbers wait for each other in one order and never deadlock.
    let mut new = new.to_vec();
    new.sort_by(|a, b| a.0.number.cmp(&b.0.number));
    // 14 parameters a row.
    for chunk in new.chunks(1000) {
        let numbers: Vec<String> = tx!(t, c => {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO routing_assignments (number, province, district, topic, type_code, unit_id, rule_id, status, round, \
                 vulnerability, priority, received_ms, concluded_ms, updated_ms, seq, trace) ",
            );
            qb.push_values(chunk, |mut b, (a, headers)| {
                let trace = serde_json::to_string(headers).unwrap_or_default();
                b.push_bind(&a.number).push_bind(i64::from(a.province)).push_bind(i64::from(a.district)).push_bind(&a.topic)
                    .push_bind(&a.type_code).push_bind(&a.unit_id).push_bind(&a.rule_id).push_bind(i64::from(a.status))
                    .push_bind(i64::from(a.round)).push_bind(i64::from(a.vulnerability)).push_bind(a.priority)
                    .push_bind(a.received_ms).push_bind(a.concluded_ms).push_bind(now).push_bind(1i64).push_bind(trace);
            });
            qb.push(" ON CONFLICT (number) DO NOTHING RETURNING number");
            qb.build_query_scalar().fetch_all(&mut **c).await?
        });
        inserted.extend(numbers);
    }
    Ok(inserted)
}

/// For the next event about `a`, in the transaction that makes the change
/// it reports: the application's next routing sequence number, and headers
/// continuing its stored trace with its place, `topic` and `unit` (after
/// the change) as searchable attributes. The row's lock (PostgreSQL) or
/// the write transaction (SQLite) makes the sequence routing's commit
/// order.
pub async fn next_event(
    t: &mut Tx,
    a: &Assignment,
    topic: &str,
    unit: &str,
) -> Result<(u64, BTreeMap<String, String>), PlatformError> {
    let (seq, trace): (i64, String) = tx!(t, c => {
        sqlx::query_as("UPDATE routing_assignments SET seq = seq + 1 WHERE number = $1 RETURNING seq, trace")
            .bind(&a.number).fetch_one(&mut **c).await?
    });
    let stored: BTreeMap<String, String> = serde_json::from_str(&trace).unwrap_or_default();
    let headers = acikkapi_platform::telemetry::application_headers(
        Some(&stored),
        &[
            ("province", &a.province.to_string()),
            ("topic", topic),
            ("unit", unit),
        ],
    );
    Ok((seq as u64, headers))
}

/// Moves the application from `from` to `to` (and, for a reclassification,
/// sets its topic, type and rule); false if it is no longer at `from`.
pub async fn move_to(
    t: &mut Tx,
    number: &str,
    from: &str,
    to: &str,
    classification: Option<(&str, &str, &str)>,
    now: i64,
) -> Result<bool, PlatformError> {
    Ok(tx!(t, c => {
        match classification {
            None => sqlx::query("UPDATE routing_assignments SET unit_id = $1, updated_ms = $2 WHERE number = $3 AND unit_id = $4")
                .bind(to).bind(now).bind(number).bind(from)
                .execute(&mut **c).await?.rows_affected() == 1,
            Some((topic, type_code, rule_id)) => sqlx::query(
                "UPDATE routing_assignments SET unit_id = $1, topic = $2, type_code = $3, rule_id = $4, updated_ms = $5 \
                 WHERE number = $6 AND unit_id = $7",
            )
            .bind(to).bind(topic).bind(type_code).bind(rule_id).bind(now).bind(number).bind(from)
            .execute(&mut **c).await?.rows_affected() == 1,
        }
    }))
}

/// Sets the status if it is one of `from`; false otherwise.
pub async fn set_status(
    t: &mut Tx,
    number: &str,
    from: &[St],
    to: St,
    now: i64,
) -> Result<bool, PlatformError> {
    Ok(tx!(t, c => {
        let mut qb = sqlx::QueryBuilder::new("UPDATE routing_assignments SET status = ");
        qb.push_bind(to as i64).push(", updated_ms = ").push_bind(now);
        if to == St::Concluded {
            qb.push(", concluded_ms = ").push_bind(now);
        }
        qb.push(" WHERE number = ").push_bind(number.to_owned()).push(" AND status IN (");
        let mut sep = qb.separated(", ");
        for s in from {
            sep.push_bind(*s as i64);
        }
        qb.push(")");
        qb.build().execute(&mut **c).await?.rows_affected() == 1
    }))
}

/// A concluded application goes back to its unit for a new round.
pub async fn reopen(t: &mut Tx, number: &str, round: u32, now: i64) -> Result<bool, PlatformError> {
    Ok(tx!(t, c => {
        sqlx::query(
            "UPDATE routing_assignments SET status = $1, round = $2, concluded_ms = NULL, updated_ms = $3, \
             due_ms = $7, due_seq = 0 WHERE number = $4 AND status = $5 AND round = $6",
        )
        .bind(St::Reopened as i64).bind(i64::from(round)).bind(now).bind(number)
        .bind(St::Concluded as i64).bind(i64::from(round) - 1).bind(NO_DEADLINE)
        .execute(&mut **c).await?.rows_affected() == 1
    }))
}

/// What an announced deadline did to an assignment.
#[derive(Debug, PartialEq, Eq)]
pub enum DeadlineApplied {
    Applied,
    /// An older round's, or an announcement already superseded.
    Stale,
    /// The assignment or its round is not here yet.
    NotYet,
}

/// Keeps the deadline escalation announced for `number`'s `round` if its
/// `seq` is higher than the one kept (announcements may arrive in any
/// order).
pub async fn set_deadline(
    t: &mut Tx,
    number: &str,
    round: u32,
    deadline_ms: Option<i64>,
    seq: u64,
    now: i64,
) -> Result<DeadlineApplied, PlatformError> {
    let (updated, current): (u64, Option<i64>) = tx!(t, c => {
        let n = sqlx::query(
            "UPDATE routing_assignments SET due_ms = $1, due_seq = $2, updated_ms = $3 \
             WHERE number = $4 AND round = $5 AND due_seq < $2",
        )
        .bind(deadline_ms.unwrap_or(NO_DEADLINE)).bind(seq as i64).bind(now).bind(number).bind(i64::from(round))
        .execute(&mut **c).await?.rows_affected();
        let current = if n == 0 {
            sqlx::query_scalar("SELECT round FROM routing_assignments WHERE number = $1")
                .bind(number).fetch_optional(&mut **c).await?
        } else {
            None
        };
        (n, current)
    });
    Ok(match (updated, current) {
        (1.., _) => DeadlineApplied::Applied,
        (0, Some(r)) if r >= i64::from(round) => DeadlineApplied::Stale,
        _ => DeadlineApplied::NotYet,
    })
}

pub struct Hop<'a> {
    pub number: &'a str,
    pub at_ms: i64,
    pub kind: &'a str,
    pub from_unit: &'a str,
    pub to_unit: &'a str,
    pub rule_id: &'a str,
    pub reason: &'a str,
    pub actor: &'a str,
    pub round: u32,
}

pub async fn insert_hop(t: &mut Tx, h: &Hop<'_>) -> Result<(), PlatformError> {
    tx!(t, c => {
        sqlx::query(
            "INSERT INTO routing_hops (number, at_ms, kind, from_unit, to_unit, rule_id, reason, actor, round) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(h.number).bind(h.at_ms).bind(h.kind).bind(h.from_unit).bind(h.to_unit)
        .bind(h.rule_id).bind(h.reason).bind(h.actor).bind(i64::from(h.round))
        .execute(&mut **c).await?;
    });
    Ok(())
}

/// Records hops in their order, one statement a chunk.
pub async fn insert_hops(t: &mut Tx, hops: &[Hop<'_>]) -> Result<(), PlatformError> {
    // 9 parameters a row.
    for chunk in hops.chunks(1000) {
        tx!(t, c => {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO routing_hops (number, at_ms, kind, from_unit, to_unit, rule_id, reason, actor, round) ",
            );
            qb.push_values(chunk, |mut b, h| {
                b.push_bind(h.number).push_bind(h.at_ms).push_bind(h.kind).push_bind(h.from_unit).push_bind(h.to_unit)
                    .push_bind(h.rule_id).push_bind(h.reason).push_bind(h.actor).push_bind(i64::from(h.round));
            });
            qb.build().execute(&mut **c).await?;
        });
    }
    Ok(())
}

/// (kind, from, to, rule, round) of every hop, oldest first.
pub async fn hops(
    db: &Db,
    number: &str,
) -> Result<Vec<(String, String, String, String, i64)>, PlatformError> {
    Ok(db!(db, p => {
        sqlx::query_as("SELECT kind, from_unit, to_unit, rule_id, round FROM routing_hops WHERE number = $1 ORDER BY id")
            .bind(number).fetch_all(p).await?
    }))
}

/// Where an inbox page ends, in the inbox's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxKey {
    pub due_ms: i64,
    pub received_ms: i64,
    pub number: String,
}

impl InboxKey {
    pub fn of(a: &Assignment) -> Self {
        InboxKey {
            due_ms: a.deadline_ms.unwrap_or(NO_DEADLINE),
            received_ms: a.received_ms,
            number: a.number.clone(),
        }
    }

    /// The page token: `due_ms:received_ms:number`.
    pub fn token(&self) -> String {
        format!("{}:{}:{}", self.due_ms, self.received_ms, self.number)
    }

    pub fn parse(token: &str) -> Result<Option<Self>, &'static str> {
        if token.is_empty() {
            return Ok(None);
        }
        const NOT_OURS: &str = "is not a token this service issued";
        let mut parts = token.splitn(3, ':');
        let mut ms = || -> Result<i64, &'static str> {
            parts.next().and_then(|p| p.parse().ok()).ok_or(NOT_OURS)
        };
        let (due_ms, received_ms) = (ms()?, ms()?);
        let number = parts.next().filter(|n| !n.is_empty()).ok_or(NOT_OURS)?;
        Ok(Some(InboxKey {
            due_ms,
            received_ms,
            number: number.to_owned(),
        }))
    }
}

/// Open applications at `unit`, oldest first.
/// A unit's open applications, nearest deadline first (those without a
/// known deadline last), then oldest; `after` is the last one of the page
/// before.
pub async fn inbox(
    db: &Db,
    unit: &str,
    after: Option<InboxKey>,
    limit: i64,
) -> Result<Vec<Assignment>, PlatformError> {
    Ok(db!(db, p => {
        let mut qb = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM routing_assignments WHERE unit_id = "));
        qb.push_bind(unit.to_owned())
            .push(" AND status IN (")
            .push_bind(St::Routed as i64)
            .push(", ")
            .push_bind(St::Reopened as i64)
            .push(")");
        if let Some(k) = after.clone() {
            qb.push(" AND (due_ms > ")
                .push_bind(k.due_ms)
                .push(" OR (due_ms = ")
                .push_bind(k.due_ms)
                .push(" AND (received_ms > ")
                .push_bind(k.received_ms)
                .push(" OR (received_ms = ")
                .push_bind(k.received_ms)
                .push(" AND number > ")
                .push_bind(k.number)
                .push("))))");
        }
        qb.push(" ORDER BY due_ms, received_ms, number LIMIT ").push_bind(limit);
        qb.build().fetch_all(p).await?.iter().map(|r| Ok(row!(r))).collect::<Result<Vec<_>, sqlx::Error>>()?
    }))
}
