//! Escalation policies: the budget and the ladder, per topic where needed.

use acikkapi_platform::store::{Db, Tx};
use acikkapi_platform::{PlatformError, db, tx};
use acikkapi_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rung {
    /// Working hours from the deadline; negative = before it.
    pub offset_working_hours: i32,
    pub target_role: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// '' = the default policy.
    pub topic: String,
    pub budget_days: u32,
    /// 0: the same budget as everyone.
    pub vulnerable_budget_days: u32,
    pub rungs: Vec<Rung>,
}

/// The roles a rung may name.
pub const ROLES: &[&str] = &[
    "unit",
    "kaymakam",
    "deputy_governor",
    "governor",
    "ministry",
    "desk",
];

impl Policy {
    /// The default: 7 working days (5 for vulnerable applicants, who get
    /// priority); a reminder to the unit 2 working days before the
    /// deadline; at the deadline the kaymakam (for a province-level
    /// application the deputy governor), 2 working days later the deputy
    /// governor, 5 the governor, 10 the Ministry centre.
    pub fn default_policy() -> Policy {
        let r = |h: i32, role: &str| Rung {
            offset_working_hours: h,
            target_role: role.into(),
        };
        Policy {
            topic: String::new(),
            budget_days: 7,
            vulnerable_budget_days: 5,
            rungs: vec![
                r(-16, "unit"),
                r(0, "kaymakam"),
                r(16, "deputy_governor"),
                r(40, "governor"),
                r(80, "ministry"),
            ],
        }
    }

    pub fn budget_days(&self, vulnerable: bool) -> u32 {
        if vulnerable && self.vulnerable_budget_days > 0 {
            self.vulnerable_budget_days
        } else {
            self.budget_days
        }
    }

    pub fn to_proto(&self) -> pb::EscalationPolicy {
        pb::EscalationPolicy {
            topic_code: self.topic.clone(),
            budget_working_days: self.budget_days,
            vulnerable_budget_working_days: self.vulnerable_budget_days,
            rungs: self
                .rungs
                .iter()
                .map(|r| pb::Rung {
                    offset_working_hours: r.offset_working_hours,
                    target_role: r.target_role.clone(),
                })
                .collect(),
        }
    }

    /// A policy from a request, or the field that is wrong.
    pub fn from_proto(p: &pb::EscalationPolicy) -> Result<Policy, (String, String)> {
        let bad = |f: &str, m: &str| Err((f.to_owned(), m.to_owned()));
        if !(1..=60).contains(&p.budget_working_days) {
            return bad("policy.budget_working_days", "between 1 and 60");
        }
        if p.vulnerable_budget_working_days > p.budget_working_days {
            return bad(
                "policy.vulnerable_budget_working_days",
                "at most the budget (0: the same)",
            );
        }
        if p.rungs.is_empty() || p.rungs.len() > 10 {
            return bad("policy.rungs", "between 1 and 10 rungs");
        }
        let budget_hours = p.budget_working_days as i32 * 8;
        for (i, r) in p.rungs.iter().enumerate() {
            if !ROLES.contains(&r.target_role.as_str()) {
                return bad(
                    &format!("policy.rungs[{i}].target_role"),
                    &format!("one of {}", ROLES.join(", ")),
                );
            }
            if r.offset_working_hours <= -budget_hours || r.offset_working_hours > 60 * 8 {
                return bad(
                    &format!("policy.rungs[{i}].offset_working_hours"),
                    "after the clock starts and within 60 working days of the deadline",
                );
            }
            if i > 0 && r.offset_working_hours <= p.rungs[i - 1].offset_working_hours {
                return bad(
                    &format!("policy.rungs[{i}].offset_working_hours"),
                    "rungs go up in time: each later than the one before",
                );
            }
        }
        if p.topic_code.len() > 16 {
            return bad("policy.topic_code", "at most 16 characters");
        }
        Ok(Policy {
            topic: p.topic_code.clone(),
            budget_days: p.budget_working_days,
            vulnerable_budget_days: p.vulnerable_budget_working_days,
            rungs: p
                .rungs
                .iter()
                .map(|r| Rung {
                    offset_working_hours: r.offset_working_hours,
                    target_role: r.target_role.clone(),
                })
                .collect(),
        })
    }
}

macro_rules! policy_row {
    ($r:expr) => {
        (|| -> Result<Policy, sqlx::Error> {
            let rungs: String = $r.try_get("rungs")?;
            Ok(Policy {
                topic: $r.try_get("topic")?,
                budget_days: $r.try_get::<i64, _>("budget_days")? as u32,
                vulnerable_budget_days: $r.try_get::<i64, _>("vulnerable_budget_days")? as u32,
                rungs: serde_json::from_str(&rungs)
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            })
        })()
    };
}

/// Every policy, the default under ''.
#[derive(Debug, Clone)]
pub struct Policies(HashMap<String, Policy>);

impl Policies {
    pub fn for_topic(&self, topic: &str) -> &Policy {
        self.0
            .get(topic)
            .or_else(|| self.0.get(""))
            .expect("the default policy is seeded")
    }

    /// Policies from a list (benchmarks, tests); the default if none is ''.
    pub fn from_list(list: Vec<Policy>) -> Policies {
        let mut map: HashMap<String, Policy> =
            list.into_iter().map(|p| (p.topic.clone(), p)).collect();
        map.entry(String::new())
            .or_insert_with(Policy::default_policy);
        Policies(map)
    }

    pub fn all(&self) -> Vec<&Policy> {
        let mut v: Vec<_> = self.0.values().collect();
        v.sort_by(|a, b| a.topic.cmp(&b.topic));
        v
    }

    pub async fn load(db: &Db) -> Result<Policies, PlatformError> {
        let rows = db!(db, p => {
            sqlx::query(SELECT).fetch_all(p).await?.into_iter().map(|r| policy_row!(r)).collect::<Result<Vec<_>, _>>()?
        });
        Ok(Policies::from_list(rows))
    }

    /// As [`Policies::load`], on the transaction's own connection.
    pub async fn load_tx(t: &mut Tx) -> Result<Policies, PlatformError> {
        let rows = tx!(t, c => {
            sqlx::query(SELECT).fetch_all(&mut **c).await?.into_iter().map(|r| policy_row!(r)).collect::<Result<Vec<_>, _>>()?
        });
        Ok(Policies::from_list(rows))
    }
}

const SELECT: &str = "SELECT topic, budget_days, vulnerable_budget_days, rungs FROM sla_policies";

pub async fn seed_default(db: &Db, now: i64) -> Result<(), PlatformError> {
    let p = Policy::default_policy();
    let rungs = serde_json::to_string(&p.rungs).expect("rungs serialise");
    db!(db, c => {
        sqlx::query(
            "INSERT INTO sla_policies (topic, budget_days, vulnerable_budget_days, rungs, updated_by, updated_ms) \
             VALUES ('', $1, $2, $3, 'seed', $4) ON CONFLICT (topic) DO NOTHING",
        )
        .bind(i64::from(p.budget_days)).bind(i64::from(p.vulnerable_budget_days)).bind(rungs).bind(now)
        .execute(c).await?;
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_names_the_field_that_is_wrong() {
        let mut p = Policy::default_policy().to_proto();
        assert_eq!(Policy::from_proto(&p).unwrap(), Policy::default_policy());
        p.rungs[2].target_role = "mayor".into();
        assert_eq!(
            Policy::from_proto(&p).unwrap_err().0,
            "policy.rungs[2].target_role"
        );
        let mut p = Policy::default_policy().to_proto();
        p.rungs[3].offset_working_hours = 0;
        assert_eq!(
            Policy::from_proto(&p).unwrap_err().0,
            "policy.rungs[3].offset_working_hours"
        );
        p = Policy::default_policy().to_proto();
        p.budget_working_days = 0;
        assert_eq!(
            Policy::from_proto(&p).unwrap_err().0,
            "policy.budget_working_days"
        );
    }
}
