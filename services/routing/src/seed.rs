//! The default registry: for every province its governorship (the Açık
//! Kapı desk) and the common provincial directorates, for every district
//! its district governorship; and one national rule per topic naming the
//! institution that answers it. Written once, when the registry is empty;
//! after that the registry is the operators' (UpsertUnit, UpsertRule).
//! Contacts are left for operators to fill: names and phones of officials
//! are not ours to invent.

use crate::rules::{Rule, Target, Unit};
use acikkapi_domain::catalog::Catalog;
use acikkapi_proto::v1::UnitType;

/// (institution, name suffix, unit type) of the units every province has.
const PROVINCIAL: &[(&str, &str, UnitType)] = &[
    (
        "valilik",
        "Valiliği Açık Kapı Bürosu",
        UnitType::Governorship,
    ),
    (
        "sydv",
        "Sosyal Yardımlaşma ve Dayanışma Vakfı",
        UnitType::Foundation,
    ),
    (
        "ashb",
        "Aile ve Sosyal Hizmetler İl Müdürlüğü",
        UnitType::ProvincialDirectorate,
    ),
    (
        "sgk",
        "Sosyal Güvenlik İl Müdürlüğü",
        UnitType::ProvincialDirectorate,
    ),
    (
        "meb",
        "İl Milli Eğitim Müdürlüğü",
        UnitType::ProvincialDirectorate,
    ),
    (
        "saglik",
        "İl Sağlık Müdürlüğü",
        UnitType::ProvincialDirectorate,
    ),
    ("belediye", "Belediyesi", UnitType::Municipality),
    ("emniyet", "İl Emniyet Müdürlüğü", UnitType::Police),
    ("jandarma", "İl Jandarma Komutanlığı", UnitType::Gendarmerie),
    (
        "csb",
        "Çevre, Şehircilik ve İklim Değişikliği İl Müdürlüğü",
        UnitType::ProvincialDirectorate,
    ),
    (
        "kgm",
        "Karayolları Şube Şefliği",
        UnitType::RegionalDirectorate,
    ),
    (
        "tarim",
        "İl Tarım ve Orman Müdürlüğü",
        UnitType::ProvincialDirectorate,
    ),
    ("dsi", "DSİ Şube Müdürlüğü", UnitType::RegionalDirectorate),
    ("tapu", "Tapu Müdürlüğü", UnitType::ProvincialDirectorate),
    ("muftuluk", "İl Müftülüğü", UnitType::ProvincialDirectorate),
    (
        "gsb",
        "Gençlik ve Spor İl Müdürlüğü",
        UnitType::ProvincialDirectorate,
    ),
    (
        "ticaret",
        "Ticaret İl Müdürlüğü",
        UnitType::ProvincialDirectorate,
    ),
];

/// Which institution answers each topic, nationally. H16 (energy: private
/// distribution companies) has none and goes to the desk.
pub const NATIONAL_RULES: &[(&str, &str)] = &[
    ("H01", "kaymakamlik"),
    ("H02", "sydv"),
    ("H03", "ashb"),
    ("H04", "sgk"),
    ("H05", "meb"),
    ("H06", "saglik"),
    ("H07", "belediye"),
    ("H08", "emniyet"),
    ("H09", "csb"),
    ("H10", "kgm"),
    ("H11", "tarim"),
    ("H12", "dsi"),
    ("H13", "tapu"),
    ("H14", "muftuluk"),
    ("H15", "gsb"),
    ("H17", "ticaret"),
];

pub fn province_unit_id(province: u32, institution: &str) -> String {
    format!("il{province:02}-{institution}")
}

pub fn district_unit_id(district: u32, institution: &str) -> String {
    format!("ilce{district}-{institution}")
}

pub fn units(catalog: &Catalog) -> Vec<Unit> {
    let mut out = Vec::new();
    for p in &catalog.provinces {
        for (institution, suffix, unit_type) in PROVINCIAL {
            out.push(Unit {
                id: province_unit_id(u32::from(p.code), institution),
                name: format!("{} {suffix}", p.name),
                unit_type: *unit_type as i32,
                institution: (*institution).into(),
                province: u32::from(p.code),
                district: 0,
                contacts_json: contacts(institution),
                closed: false,
            });
        }
    }
    for d in &catalog.districts {
        out.push(Unit {
            id: district_unit_id(d.code, "kaymakamlik"),
            name: format!("{} Kaymakamlığı", d.name),
            unit_type: UnitType::DistrictGovernorship as i32,
            institution: "kaymakamlik".into(),
            province: u32::from(d.province),
            district: d.code,
            contacts_json: contacts("kaymakamlik"),
            closed: false,
        });
    }
    out
}

/// The contact roles escalation and notification look for, to be filled in.
fn contacts(institution: &str) -> String {
    let roles: &[&str] = match institution {
        "valilik" => &["desk", "deputy_governor", "governor"],
        "kaymakamlik" => &["desk", "kaymakam"],
        _ => &["desk"],
    };
    let list: Vec<_> = roles
        .iter()
        .map(|r| serde_json::json!({"role": r, "name": "", "phone": "", "email": ""}))
        .collect();
    serde_json::Value::Array(list).to_string()
}

pub fn rules(now_ms: i64) -> Vec<Rule> {
    NATIONAL_RULES
        .iter()
        .map(|(topic, institution)| Rule {
            id: format!("national-{}", topic.to_lowercase()),
            topic: (*topic).into(),
            type_code: String::new(),
            province: 0,
            district: 0,
            target: Target::Institution((*institution).into()),
            version: 1,
            changed_by: "seed".into(),
            changed_ms: now_ms,
        })
        .collect()
}
