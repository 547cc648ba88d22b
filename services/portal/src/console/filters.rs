//! The monitoring view's filters: read from the query string (months,
//! province, district, topic, channel, month or week), checked with errors
//! at their fields, narrowed to the person's own place, and written back as
//! a query string for bookmarks and the CSV link.

use super::*;
use crate::fields::{Field, Problem, Problems};
use acikkapi_domain::calendar::Date;
use std::fmt::Write as _;

/// The view's filters as the query string has them (all optional).
#[derive(Debug, Default, Deserialize)]
pub(super) struct Filters {
    #[serde(default)]
    baslangic: String,
    #[serde(default)]
    bitis: String,
    #[serde(default)]
    il: String,
    #[serde(default)]
    ilce: String,
    #[serde(default)]
    konu: String,
    #[serde(default)]
    kanal: String,
    /// `hafta`: the series week by week; otherwise month by month.
    #[serde(default)]
    aralik: String,
}

/// The filters once read: months `[from, to)`, place, topic, channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Chosen {
    pub from: Date,
    /// The first day of the month after the last one shown.
    pub to: Date,
    pub province: u32,
    pub district: u32,
    pub topic: String,
    pub channel: i32,
    /// The series by week (Monday first) rather than by month.
    pub weekly: bool,
}

pub const CHANNELS: &[(pb::Channel, &str, &str)] = &[
    (pb::Channel::Desk, "buro", "Açık Kapı bürosu"),
    (pb::Channel::Web, "web", "İnternet"),
    (pb::Channel::Mobile, "mobil", "Mobil uygulama"),
    (pb::Channel::Kiosk, "kiosk", "Kiosk"),
    (pb::Channel::CallCentre, "alo150", "ALO 150 çağrı merkezi"),
    (pb::Channel::PublicDay, "halk-gunu", "Halk günü toplantısı"),
    (pb::Channel::WrittenPetition, "dilekce", "Dilekçe"),
];

pub(super) fn channel_label(value: i32) -> &'static str {
    CHANNELS
        .iter()
        .find(|(c, _, _)| *c as i32 == value)
        .map_or("Belirtilmemiş", |(_, _, label)| label)
}

pub(super) fn month(d: Date) -> String {
    format!("{:04}-{:02}", d.year, d.month)
}

fn parse_month(s: &str) -> Option<Date> {
    let (y, m) = s.trim().split_once('-')?;
    let (year, month) = (y.parse::<i32>().ok()?, m.parse::<u32>().ok()?);
    ((2000..=2100).contains(&year) && (1..=12).contains(&month)).then_some(Date {
        year,
        month,
        day: 1,
    })
}

pub(super) fn add_months(d: Date, n: i32) -> Date {
    let index = d.year * 12 + d.month as i32 - 1 + n;
    Date {
        year: index.div_euclid(12),
        month: index.rem_euclid(12) as u32 + 1,
        day: 1,
    }
}

fn months_between(from: Date, to: Date) -> i32 {
    (to.year * 12 + to.month as i32) - (from.year * 12 + from.month as i32)
}

impl Chosen {
    /// Reads `q` for a person whose scope is `(province, district)`: the
    /// place only narrows (the services refuse wider anyway), and by default
    /// the last twelve months, this one included. Errors name their field.
    pub fn read(q: &Filters, s_province: u32, s_district: u32, today: Date) -> (Self, Problems) {
        let mut problems = Problems::default();
        let mut problem = |id: &'static str, message: &str| {
            problems.add(Problem {
                field: Field::Console(id),
                message: message.into(),
            })
        };
        let this_month = Date { day: 1, ..today };
        let to_default = add_months(this_month, 1);
        let mut to = to_default;
        if !q.bitis.trim().is_empty() {
            match parse_month(&q.bitis) {
                Some(d) => to = add_months(d, 1),
                None => problem(
                    "bitis",
                    "Bitiş ayını yyyy-aa biçiminde yazın, örneğin 2026-11",
                ),
            }
        }
        let mut from = add_months(to, -12);
        if !q.baslangic.trim().is_empty() {
            match parse_month(&q.baslangic) {
                Some(d) => from = d,
                None => problem(
                    "baslangic",
                    "Başlangıç ayını yyyy-aa biçiminde yazın, örneğin 2026-01",
                ),
            }
        }
        if months_between(from, to) < 1 {
            problem("bitis", "Bitiş ayı başlangıç ayından önce olamaz");
            from = add_months(to_default, -12);
            to = to_default;
        } else if months_between(from, to) > 120 {
            problem("baslangic", "En çok 10 yıllık dönem seçebilirsiniz");
            from = add_months(to, -120);
        }
        let c = Catalog::builtin();
        let mut province = s_province;
        if s_province == 0 && !q.il.trim().is_empty() {
            match q
                .il
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|p| c.province(*p).is_some())
            {
                Some(p) => province = p,
                None => problem("il", "Listeden bir il seçin"),
            }
        }
        let mut district = s_district;
        if s_district == 0 && province != 0 && !q.ilce.trim().is_empty() {
            match q
                .ilce
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|d| c.district(*d).is_some() && d / 1000 == province)
            {
                Some(d) => district = d,
                None => problem("ilce", "Listeden seçili ilin bir ilçesini seçin"),
            }
        }
        let mut topic = String::new();
        if !q.konu.trim().is_empty() {
            match c.topic(q.konu.trim()) {
                Some(t) => topic = t.code.clone(),
                None => problem("konu", "Listeden bir konu başlığı seçin"),
            }
        }
        let mut channel = 0;
        if !q.kanal.trim().is_empty() {
            match CHANNELS.iter().find(|(_, v, _)| *v == q.kanal.trim()) {
                Some((ch, _, _)) => channel = *ch as i32,
                None => problem("kanal", "Listeden bir başvuru kanalı seçin"),
            }
        }
        let weekly = match q.aralik.trim() {
            "" | "ay" => false,
            "hafta" => true,
            _ => {
                problem("aralik", "Ay ya da hafta seçin");
                false
            }
        };
        (
            Self {
                from,
                to,
                province,
                district,
                topic,
                channel,
                weekly,
            },
            problems,
        )
    }

    /// The filters as a query string (for the CSV link and the bookmarks).
    pub fn query(&self) -> String {
        let mut q = format!(
            "baslangic={}&bitis={}",
            month(self.from),
            month(add_months(self.to, -1))
        );
        if self.province != 0 {
            let _ = write!(q, "&il={}", self.province);
        }
        if self.district != 0 {
            let _ = write!(q, "&ilce={}", self.district);
        }
        if !self.topic.is_empty() {
            let _ = write!(q, "&konu={}", self.topic);
        }
        if let Some((_, v, _)) = CHANNELS.iter().find(|(c, _, _)| *c as i32 == self.channel) {
            let _ = write!(q, "&kanal={v}");
        }
        if self.weekly {
            q.push_str("&aralik=hafta");
        }
        q
    }

    /// The default view of `s`'s scope.
    pub fn default_for(s: &Staff) -> Self {
        Self::read(&Filters::default(), s.province, s.district, today()).0
    }

    pub fn request(&self, limit: u32) -> pb::ReportRequest {
        let at = |d: Date| prost_types::Timestamp {
            seconds: d.at_minute(0).div_euclid(1000),
            nanos: 0,
        };
        pb::ReportRequest {
            scope: Some(pb::Scope {
                province_code: self.province,
                district_code: self.district,
                unit_id: String::new(),
            }),
            period: Some(pb::TimeRange {
                from: Some(at(self.from)),
                to: Some(at(self.to)),
            }),
            limit,
            topic_code: self.topic.clone(),
            channel: self.channel,
        }
    }

    pub(super) fn place(&self) -> String {
        let c = Catalog::builtin();
        match (c.province(self.province), c.district(self.district)) {
            (Some(p), Some(d)) => format!("{} / {}", p.name, d.name),
            (Some(p), None) => p.name.clone(),
            _ => "Türkiye".into(),
        }
    }

    /// The dimension places are compared by: provinces of the country,
    /// districts of a province, none below a district.
    pub(super) fn places_by(&self) -> Option<(&'static str, &'static str)> {
        match (self.province, self.district) {
            (0, 0) => Some(("province", "İl")),
            (_, 0) => Some(("district", "İlçe")),
            _ => None,
        }
    }
}

/// Today in Türkiye.
pub(super) fn today() -> Date {
    Date::of_instant(acikkapi_platform::store::now_ms())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(from: &str, to: &str) -> Filters {
        Filters {
            baslangic: from.into(),
            bitis: to.into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_default_is_the_last_twelve_whole_months() {
        let today = Date::parse("2026-12-03").unwrap();
        let (c, p) = Chosen::read(&Filters::default(), 0, 0, today);
        assert!(p.is_empty());
        assert_eq!(c.from, Date::parse("2026-01-01").unwrap());
        assert_eq!(c.to, Date::parse("2027-01-01").unwrap());
        assert_eq!(c.query(), "baslangic=2026-01&bitis=2026-12");
        // The query string reads back to the same filters.
        let again = Filters {
            baslangic: "2026-01".into(),
            bitis: "2026-12".into(),
            ..Default::default()
        };
        assert_eq!(Chosen::read(&again, 0, 0, today).0, c);
    }

    #[test]
    fn bad_filters_name_their_field_and_the_place_only_narrows() {
        let today = Date::parse("2026-12-03").unwrap();
        let (_, p) = Chosen::read(&q("2026-13", "x"), 0, 0, today);
        assert!(!p.at("baslangic").is_empty());
        assert!(!p.at("bitis").is_empty());
        let (_, p) = Chosen::read(&q("2026-06", "2026-01"), 0, 0, today);
        assert!(!p.at("bitis").is_empty());
        let (_, p) = Chosen::read(&q("2001-01", "2026-01"), 0, 0, today);
        assert!(!p.at("baslangic").is_empty());
        // A governor of Ankara asking for İstanbul still sees Ankara.
        let wider = Filters {
            il: "34".into(),
            ..Default::default()
        };
        let (c, p) = Chosen::read(&wider, 6, 0, today);
        assert!(p.is_empty());
        assert_eq!(c.province, 6);
        // A district of another province is an error at its field.
        let wrong = Filters {
            il: "6".into(),
            ilce: "34001".into(),
            ..Default::default()
        };
        let (c, p) = Chosen::read(&wrong, 0, 0, today);
        assert!(!p.at("ilce").is_empty());
        assert_eq!((c.province, c.district), (6, 0));
        let odd = Filters {
            konu: "X99".into(),
            kanal: "guvercin".into(),
            ..Default::default()
        };
        let (_, p) = Chosen::read(&odd, 0, 0, today);
        assert!(!p.at("konu").is_empty() && !p.at("kanal").is_empty());
        let weekly = Filters {
            aralik: "hafta".into(),
            ..Default::default()
        };
        let (c, p) = Chosen::read(&weekly, 0, 0, today);
        assert!(p.is_empty() && c.weekly);
        assert!(c.query().ends_with("&aralik=hafta"));
        let odd = Filters {
            aralik: "yil".into(),
            ..Default::default()
        };
        assert!(!Chosen::read(&odd, 0, 0, today).1.at("aralik").is_empty());
    }
}
