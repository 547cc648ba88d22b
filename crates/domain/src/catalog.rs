//! The reference catalogue: 81 provinces (il), their districts (ilçe), the 17
//! topic headings (hizmet başlığı) and their application types (başvuru türü).
//! Compiled in from `data/`, whose README names the sources.

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Province {
    /// Plate code, 1..=81.
    pub code: u8,
    pub name: String,
    pub region: String,
    /// Büyükşehir: no İl Özel İdaresi, rural services go to the metropolitan municipality.
    pub metropolitan: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct District {
    /// plate × 1000 + alphabetical index (derived, not official).
    pub code: u32,
    pub province: u8,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub code: String,
    pub name: String,
    pub name_en: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationType {
    pub code: String,
    pub topic: String,
    pub name: String,
}

#[derive(Debug)]
pub struct Catalog {
    pub provinces: Vec<Province>,
    pub districts: Vec<District>,
    pub topics: Vec<Topic>,
    pub types: Vec<ApplicationType>,
    district_index: HashMap<u32, usize>,
    type_index: HashMap<String, usize>,
}

impl Catalog {
    /// The built-in catalogue, parsed once.
    pub fn builtin() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            Catalog::parse(
                include_str!("../data/provinces.csv"),
                include_str!("../data/districts.csv"),
                include_str!("../data/taxonomy.csv"),
            )
            .expect("the built-in reference data is valid (checked by tests)")
        })
    }

    pub fn parse(provinces: &str, districts: &str, taxonomy: &str) -> Result<Self, String> {
        let provinces = rows(provinces)
            .map(|r| {
                Ok(Province {
                    code: r
                        .first()
                        .ok_or("plate_code")?
                        .parse()
                        .map_err(|e| format!("plate_code: {e}"))?,
                    name: r.get(1).ok_or("name")?.clone(),
                    region: r.get(2).ok_or("region")?.clone(),
                    metropolitan: r.get(3).map(String::as_str) == Some("true"),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let districts = rows(districts)
            .map(|r| {
                Ok(District {
                    province: r
                        .first()
                        .ok_or("province")?
                        .parse()
                        .map_err(|e| format!("province: {e}"))?,
                    name: r.get(1).ok_or("district_name")?.clone(),
                    code: r
                        .get(2)
                        .ok_or("district_code")?
                        .parse()
                        .map_err(|e| format!("district_code: {e}"))?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let mut topics: Vec<Topic> = Vec::new();
        let mut types = Vec::new();
        for r in rows(taxonomy) {
            let [tc, tn, te, yc, yn] =
                <[String; 5]>::try_from(r).map_err(|r| format!("taxonomy row {r:?}"))?;
            if topics.last().map(|t| &t.code) != Some(&tc) {
                topics.push(Topic {
                    code: tc.clone(),
                    name: tn,
                    name_en: te,
                });
            }
            types.push(ApplicationType {
                code: yc,
                topic: tc,
                name: yn,
            });
        }
        let district_index = districts
            .iter()
            .enumerate()
            .map(|(i, d)| (d.code, i))
            .collect();
        let type_index = types
            .iter()
            .enumerate()
            .map(|(i, t)| (t.code.clone(), i))
            .collect();
        Ok(Self {
            provinces,
            districts,
            topics,
            types,
            district_index,
            type_index,
        })
    }

    pub fn province(&self, code: u32) -> Option<&Province> {
        self.provinces.iter().find(|p| u32::from(p.code) == code)
    }

    pub fn district(&self, code: u32) -> Option<&District> {
        self.district_index.get(&code).map(|&i| &self.districts[i])
    }

    pub fn districts_of(&self, province: u8) -> impl Iterator<Item = &District> {
        self.districts
            .iter()
            .filter(move |d| d.province == province)
    }

    pub fn topic(&self, code: &str) -> Option<&Topic> {
        self.topics.iter().find(|t| t.code == code)
    }

    pub fn application_type(&self, code: &str) -> Option<&ApplicationType> {
        self.type_index.get(code).map(|&i| &self.types[i])
    }
}

/// Data rows of a small CSV file (header skipped), with `"` quoting.
fn rows(text: &str) -> impl Iterator<Item = Vec<String>> + '_ {
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(split_csv_line)
}

fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (c, _) => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_counts() {
        let c = Catalog::builtin();
        assert_eq!(c.provinces.len(), 81);
        assert_eq!(c.districts.len(), 973);
        assert_eq!(c.topics.len(), 17);
        assert!(c.types.len() >= 100);
        assert_eq!(c.provinces.iter().filter(|p| p.metropolitan).count(), 30);
        for p in &c.provinces {
            assert!(c.districts_of(p.code).count() > 0, "{}", p.name);
        }
        // Every topic has an "other" type, so nothing is unclassifiable.
        for t in &c.topics {
            assert!(
                c.application_type(&format!("{}-99", t.code)).is_some(),
                "{}",
                t.code
            );
        }
    }

    #[test]
    fn lookups() {
        let c = Catalog::builtin();
        assert_eq!(c.province(34).unwrap().name, "İstanbul");
        assert_eq!(c.district(34035).unwrap().name, "Şişli");
        assert_eq!(c.district(1001).unwrap().province, 1);
        assert_eq!(c.topic("H11").unwrap().name, "Gıda, Tarım ve Hayvancılık");
        assert_eq!(c.application_type("H04-01").unwrap().topic, "H04");
        assert!(c.province(82).is_none());
    }
}
