//! The routing decision, in memory: given topic, type, province and
//! district, the responsible unit and the rule that chose it.
//!
//! A rule is keyed by (topic, type or every type, province or national,
//! district or not); the key is unique in the store, so two rules can never
//! tie. The most specific matching rule wins, place before type: a district
//! rule beats a provincial one, which beats a national one; at the same
//! place a rule for the type beats one for the whole topic. A rule names a
//! fixed unit or an institution, resolved to that institution's unit
//! serving the place (the district's own first, then the province's). When
//! nothing matches, or the rule's unit is closed or missing, the
//! application goes to its governorship's Açık Kapı desk for manual triage:
//! never nowhere.

use std::collections::HashMap;

/// The institution code of governorships: their unit is a province's desk.
pub const DESK_INSTITUTION: &str = "valilik";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub id: String,
    pub name: String,
    pub unit_type: i32,
    pub institution: String,
    pub province: u32,
    pub district: u32,
    pub contacts_json: String,
    pub closed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Unit(String),
    Institution(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    pub topic: String,
    /// Empty: every type of the topic.
    pub type_code: String,
    /// 0: national.
    pub province: u32,
    /// 0: not district-specific.
    pub district: u32,
    pub target: Target,
    pub version: i64,
    pub changed_by: String,
    pub changed_ms: i64,
}

impl Rule {
    fn key(&self) -> Key {
        (
            self.topic.clone(),
            self.type_code.clone(),
            self.province,
            self.district,
        )
    }

    /// "national", "province 6", "district 6010"; and the type or the topic.
    pub fn describe(&self) -> String {
        let place = match (self.province, self.district) {
            (0, _) => "national".to_owned(),
            (p, 0) => format!("province {p}"),
            (_, d) => format!("district {d}"),
        };
        let what = if self.type_code.is_empty() {
            format!("topic {}", self.topic)
        } else {
            format!("type {}", self.type_code)
        };
        let to = match &self.target {
            Target::Unit(u) => format!("unit {u}"),
            Target::Institution(i) => format!("institution {i} at the applicant's place"),
        };
        format!("rule {} ({place}, {what}) → {to}", self.id)
    }
}

type Key = (String, String, u32, u32);

/// Where an application goes, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'a> {
    pub unit: &'a Unit,
    /// None: the desk triages by hand.
    pub rule: Option<&'a Rule>,
    pub explanation: String,
}

/// Every unit and rule, indexed for decisions. Immutable: a change builds a new one.
#[derive(Debug, Default)]
pub struct RuleSet {
    pub version: i64,
    units: HashMap<String, Unit>,
    rules: HashMap<Key, Rule>,
    /// (institution, province, district) → open unit id.
    serving: HashMap<(String, u32, u32), String>,
}

impl RuleSet {
    pub fn new(version: i64, units: Vec<Unit>, rules: Vec<Rule>) -> Self {
        let mut serving = HashMap::new();
        for u in units.iter().filter(|u| !u.closed) {
            // Several open units of one institution at one place: the
            // smallest id serves, so the choice is stable across replicas.
            let key = (u.institution.clone(), u.province, u.district);
            match serving.get(&key) {
                Some(existing) if existing <= &u.id => {}
                _ => {
                    serving.insert(key, u.id.clone());
                }
            }
        }
        Self {
            version,
            units: units.into_iter().map(|u| (u.id.clone(), u)).collect(),
            rules: rules.into_iter().map(|r| (r.key(), r)).collect(),
            serving,
        }
    }

    pub fn unit(&self, id: &str) -> Option<&Unit> {
        self.units.get(id)
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    pub fn units(&self) -> impl Iterator<Item = &Unit> {
        self.units.values()
    }

    /// The rule stored under exactly this key, if any.
    pub fn rule_at(
        &self,
        topic: &str,
        type_code: &str,
        province: u32,
        district: u32,
    ) -> Option<&Rule> {
        self.rules
            .get(&(topic.to_owned(), type_code.to_owned(), province, district))
    }

    /// Open governorship desks of a province.
    pub fn desk_count(&self, province: u32) -> usize {
        self.units
            .values()
            .filter(|u| {
                !u.closed
                    && u.institution == DESK_INSTITUTION
                    && u.province == province
                    && u.district == 0
            })
            .count()
    }

    /// The open unit of `institution` serving the place: the district's own, else the province's.
    fn serving(&self, institution: &str, province: u32, district: u32) -> Option<&Unit> {
        let at = |d: u32| {
            self.serving
                .get(&(institution.to_owned(), province, d))
                .and_then(|id| self.units.get(id))
        };
        (district != 0)
            .then(|| at(district))
            .flatten()
            .or_else(|| at(0))
    }

    /// The province's Açık Kapı desk (its governorship).
    pub fn desk(&self, province: u32) -> Option<&Unit> {
        self.serving(DESK_INSTITUTION, province, 0)
    }

    /// The most specific matching rule, if any.
    pub fn matching_rule(
        &self,
        topic: &str,
        type_code: &str,
        province: u32,
        district: u32,
    ) -> Option<&Rule> {
        // Place before type; with no district the first place repeats the second.
        [(province, district), (province, 0), (0, 0)]
            .into_iter()
            .flat_map(|(p, d)| [(type_code, p, d), ("", p, d)])
            .find_map(|(t, p, d)| self.rules.get(&(topic.to_owned(), t.to_owned(), p, d)))
    }

    /// Where an application of `type_code` under `topic` in `province`/`district` goes.
    /// None only when the province has no desk at all (a registry error).
    pub fn decide(
        &self,
        topic: &str,
        type_code: &str,
        province: u32,
        district: u32,
    ) -> Option<Decision<'_>> {
        let to_desk = |why: String| {
            self.desk(province).map(|unit| Decision {
                unit,
                rule: None,
                explanation: format!("{why}; the governorship desk ({}) triages by hand", unit.id),
            })
        };
        let Some(rule) = self.matching_rule(topic, type_code, province, district) else {
            return to_desk(format!(
                "no rule for {type_code} ({topic}) in province {province}, district {district}"
            ));
        };
        let unit = match &rule.target {
            Target::Unit(id) => self.units.get(id).filter(|u| !u.closed),
            Target::Institution(i) => self.serving(i, province, district),
        };
        match unit {
            Some(unit) => Some(Decision {
                unit,
                rule: Some(rule),
                explanation: format!("{}: {} ({})", rule.describe(), unit.name, unit.id),
            }),
            None => to_desk(format!(
                "{} names no open unit for province {province}, district {district}",
                rule.describe()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(id: &str, institution: &str, province: u32, district: u32) -> Unit {
        Unit {
            id: id.into(),
            name: id.to_uppercase(),
            unit_type: 3,
            institution: institution.into(),
            province,
            district,
            contacts_json: "[]".into(),
            closed: false,
        }
    }

    fn rule(id: &str, type_code: &str, province: u32, district: u32, target: Target) -> Rule {
        Rule {
            id: id.into(),
            topic: "H05".into(),
            type_code: type_code.into(),
            province,
            district,
            target,
            version: 1,
            changed_by: "t".into(),
            changed_ms: 0,
        }
    }

    fn set(rules: Vec<Rule>) -> RuleSet {
        RuleSet::new(
            1,
            vec![
                unit("il06-valilik", "valilik", 6, 0),
                unit("il06-meb", "meb", 6, 0),
                unit("ilce6010-meb", "meb", 6, 6010),
                unit("il34-valilik", "valilik", 34, 0),
                unit("il34-meb", "meb", 34, 0),
                unit("special", "other", 6, 0),
            ],
            rules,
        )
    }

    fn inst(i: &str) -> Target {
        Target::Institution(i.into())
    }

    #[test]
    fn the_most_specific_rule_wins_place_before_type() {
        let s = set(vec![
            rule("national-topic", "", 0, 0, inst("meb")),
            rule(
                "national-type",
                "H05-01",
                0,
                0,
                Target::Unit("special".into()),
            ),
            rule("province-topic", "", 6, 0, Target::Unit("il06-meb".into())),
            rule(
                "district-topic",
                "",
                6,
                6011,
                Target::Unit("special".into()),
            ),
        ]);
        let chosen = |t: &str, p, d| s.decide("H05", t, p, d).unwrap().rule.unwrap().id.clone();
        // Ankara: the provincial rule beats both national ones, even the type's.
        assert_eq!(chosen("H05-01", 6, 6010), "province-topic");
        // District 6011 has its own.
        assert_eq!(chosen("H05-02", 6, 6011), "district-topic");
        // İstanbul: national; the type's rule beats the topic's.
        assert_eq!(chosen("H05-01", 34, 0), "national-type");
        assert_eq!(chosen("H05-02", 34, 0), "national-topic");
    }

    #[test]
    fn an_institution_resolves_to_the_unit_serving_the_place() {
        let s = set(vec![rule("n", "", 0, 0, inst("meb"))]);
        assert_eq!(
            s.decide("H05", "H05-01", 6, 6010).unwrap().unit.id,
            "ilce6010-meb"
        );
        assert_eq!(
            s.decide("H05", "H05-01", 6, 6020).unwrap().unit.id,
            "il06-meb"
        );
        assert_eq!(
            s.decide("H05", "H05-01", 34, 34035).unwrap().unit.id,
            "il34-meb"
        );
    }

    #[test]
    fn no_match_or_no_open_unit_goes_to_the_desk() {
        let s = set(vec![rule("n", "", 0, 0, inst("saglik"))]);
        let d = s.decide("H06", "H06-01", 6, 6010).unwrap();
        assert_eq!((d.unit.id.as_str(), d.rule), ("il06-valilik", None));
        assert!(
            d.explanation.starts_with("no rule for H06-01"),
            "{}",
            d.explanation
        );
        // A rule whose institution has no unit here.
        let d = s.decide("H05", "H05-01", 34, 0).unwrap();
        assert_eq!((d.unit.id.as_str(), d.rule), ("il34-valilik", None));
        assert!(
            d.explanation.contains("names no open unit"),
            "{}",
            d.explanation
        );
        // A rule naming a closed unit.
        let mut units = vec![
            unit("il06-valilik", "valilik", 6, 0),
            unit("x", "meb", 6, 0),
        ];
        units[1].closed = true;
        let s = RuleSet::new(
            1,
            units,
            vec![rule("n", "", 0, 0, Target::Unit("x".into()))],
        );
        assert_eq!(
            s.decide("H05", "H05-01", 6, 0).unwrap().unit.id,
            "il06-valilik"
        );
    }
}
