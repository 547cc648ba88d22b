//! The registry and rules in the store, and the in-memory copy decisions use.
//!
//! Every unit or rule change bumps `routing_state.rules_version` in its own
//! transaction. A replica compares that number with its copy's before each
//! decision (one primary-key read) and reloads when it differs, so a change
//! made through one replica is seen by every replica's next decision, with
//! no window in which a replica decides on rules it has not heard changed.

use crate::rules::{Rule, RuleSet, Target, Unit};
use acikkapi_platform::store::{Db, Tx, now_ms};
use acikkapi_platform::{PlatformError, db, tx};
use sqlx::Row;
use std::sync::{Arc, RwLock};

pub const UNIT_COLUMNS: &str = "id, name, type, institution, province, district, contacts, closed";
const RULE_COLUMNS: &str = "id, topic, type_code, province, district, unit_id, institution, version, changed_by, changed_ms";

macro_rules! unit_row {
    ($r:expr) => {
        Unit {
            id: $r.try_get("id")?,
            name: $r.try_get("name")?,
            unit_type: $r.try_get::<i64, _>("type")? as i32,
            institution: $r.try_get("institution")?,
            province: $r.try_get::<i64, _>("province")? as u32,
            district: $r.try_get::<i64, _>("district")? as u32,
            contacts_json: $r.try_get("contacts")?,
            closed: $r.try_get("closed")?,
        }
    };
}

macro_rules! rule_row {
    ($r:expr) => {{
        let unit_id: String = $r.try_get("unit_id")?;
        let institution: String = $r.try_get("institution")?;
        Rule {
            id: $r.try_get("id")?,
            topic: $r.try_get("topic")?,
            type_code: $r.try_get("type_code")?,
            province: $r.try_get::<i64, _>("province")? as u32,
            district: $r.try_get::<i64, _>("district")? as u32,
            target: if unit_id.is_empty() {
                Target::Institution(institution)
            } else {
                Target::Unit(unit_id)
            },
            version: $r.try_get("version")?,
            changed_by: $r.try_get("changed_by")?,
            changed_ms: $r.try_get("changed_ms")?,
        }
    }};
}

pub async fn version(db: &Db) -> Result<i64, PlatformError> {
    Ok(db!(db, p => {
        sqlx::query_scalar("SELECT value FROM routing_state WHERE key = 'rules_version'")
            .fetch_one(p).await?
    }))
}

pub async fn load(db: &Db) -> Result<RuleSet, PlatformError> {
    // Version first: a change committed while loading makes the copy look
    // older than it is, so the next decision reloads; never the reverse.
    let v = version(db).await?;
    let (units, rules) = db!(db, p => {
        let units = sqlx::query(&format!("SELECT {UNIT_COLUMNS} FROM routing_units"))
            .fetch_all(p).await?
            .iter()
            .map(|r| Ok(unit_row!(r)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let rules = sqlx::query(&format!("SELECT {RULE_COLUMNS} FROM routing_rules"))
            .fetch_all(p).await?
            .iter()
            .map(|r| Ok(rule_row!(r)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        (units, rules)
    });
    Ok(RuleSet::new(v, units, rules))
}

pub async fn fetch_unit(db: &Db, id: &str) -> Result<Option<Unit>, PlatformError> {
    Ok(db!(db, p => {
        match sqlx::query(&format!("SELECT {UNIT_COLUMNS} FROM routing_units WHERE id = $1"))
            .bind(id).fetch_optional(p).await? {
            Some(r) => Some(unit_row!(r)),
            None => None,
        }
    }))
}

pub async fn fetch_rule(t: &mut Tx, id: &str) -> Result<Option<Rule>, PlatformError> {
    Ok(tx!(t, c => {
        match sqlx::query(&format!("SELECT {RULE_COLUMNS} FROM routing_rules WHERE id = $1"))
            .bind(id).fetch_optional(&mut **c).await? {
            Some(r) => Some(rule_row!(r)),
            None => None,
        }
    }))
}

pub async fn list_rules(db: &Db) -> Result<Vec<Rule>, PlatformError> {
    Ok(db!(db, p => {
        sqlx::query(&format!("SELECT {RULE_COLUMNS} FROM routing_rules ORDER BY topic, type_code, province, district"))
            .fetch_all(p).await?
            .iter()
            .map(|r| Ok(rule_row!(r)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?
    }))
}

pub async fn bump_version(t: &mut Tx) -> Result<(), PlatformError> {
    tx!(t, c => {
        sqlx::query("UPDATE routing_state SET value = value + 1 WHERE key = 'rules_version'")
            .execute(&mut **c).await?;
    });
    Ok(())
}

pub async fn upsert_units(t: &mut Tx, units: &[Unit]) -> Result<(), PlatformError> {
    let now = now_ms();
    for chunk in units.chunks(500) {
        tx!(t, c => {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO routing_units (id, name, type, institution, province, district, contacts, closed, updated_ms) ",
            );
            qb.push_values(chunk, |mut b, u| {
                b.push_bind(u.id.clone())
                    .push_bind(u.name.clone())
                    .push_bind(i64::from(u.unit_type))
                    .push_bind(u.institution.clone())
                    .push_bind(i64::from(u.province))
                    .push_bind(i64::from(u.district))
                    .push_bind(u.contacts_json.clone())
                    .push_bind(u.closed)
                    .push_bind(now);
            });
            qb.push(
                " ON CONFLICT (id) DO UPDATE SET name = excluded.name, type = excluded.type, \
                 institution = excluded.institution, province = excluded.province, district = excluded.district, \
                 contacts = excluded.contacts, closed = excluded.closed, updated_ms = excluded.updated_ms",
            );
            qb.build().execute(&mut **c).await?;
        });
    }
    Ok(())
}

pub async fn insert_rules(t: &mut Tx, rules: &[Rule]) -> Result<(), PlatformError> {
    for chunk in rules.chunks(500) {
        tx!(t, c => {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO routing_rules (id, topic, type_code, province, district, unit_id, institution, version, changed_by, changed_ms) ",
            );
            qb.push_values(chunk, |mut b, r| {
                let (unit, inst) = target_columns(&r.target);
                b.push_bind(r.id.clone())
                    .push_bind(r.topic.clone())
                    .push_bind(r.type_code.clone())
                    .push_bind(i64::from(r.province))
                    .push_bind(i64::from(r.district))
                    .push_bind(unit)
                    .push_bind(inst)
                    .push_bind(r.version)
                    .push_bind(r.changed_by.clone())
                    .push_bind(r.changed_ms);
            });
            qb.build().execute(&mut **c).await?;
        });
    }
    Ok(())
}

pub fn target_columns(t: &Target) -> (String, String) {
    match t {
        Target::Unit(u) => (u.clone(), String::new()),
        Target::Institution(i) => (String::new(), i.clone()),
    }
}

/// Writes the default registry when the store has none (first start).
/// Concurrent first starts (the replicas of a Deployment): on PostgreSQL
/// they take turns on a transaction-scoped advisory lock, so one seeds and
/// the others find the units there; before it, the second one's insert of
/// the same rules failed on their key and the pod exited.
pub async fn seed_if_empty(
    db: &Db,
    catalog: &acikkapi_domain::catalog::Catalog,
) -> Result<bool, PlatformError> {
    let mut t = db.begin().await?;
    if let Tx::Postgres(c) = &mut t {
        sqlx::query("SELECT pg_advisory_xact_lock(727276)")
            .execute(&mut **c)
            .await?;
    }
    let n: i64 = tx!(&mut t, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM routing_units").fetch_one(&mut **c).await?
    });
    if n > 0 {
        return Ok(false);
    }
    upsert_units(&mut t, &crate::seed::units(catalog)).await?;
    insert_rules(&mut t, &crate::seed::rules(now_ms())).await?;
    bump_version(&mut t).await?;
    match t.commit().await {
        Ok(()) => Ok(true),
        // Another replica seeded first (the rules' unique key refused ours).
        Err(_) if version(db).await? > 0 => Ok(false),
        Err(e) => Err(e),
    }
}

/// The rules and units as of the store's current version.
#[derive(Clone)]
pub struct Rules {
    db: Db,
    current: Arc<RwLock<Arc<RuleSet>>>,
}

impl Rules {
    pub async fn load(db: Db) -> Result<Self, PlatformError> {
        let set = load(&db).await?;
        Ok(Self {
            db,
            current: Arc::new(RwLock::new(Arc::new(set))),
        })
    }

    /// The copy to decide with: reloaded first if the store has moved on.
    pub async fn get(&self) -> Result<Arc<RuleSet>, PlatformError> {
        let stored = version(&self.db).await?;
        let mine = self.current.read().expect("rules lock").clone();
        if mine.version == stored {
            return Ok(mine);
        }
        let fresh = Arc::new(load(&self.db).await?);
        let mut w = self.current.write().expect("rules lock");
        if fresh.version >= w.version {
            *w = fresh.clone();
        }
        Ok(fresh)
    }
}
