//! The calendars deadlines are derived from: the official holidays, the
//! national one-off days operators add, and each province's closures.
//! The table is small; every derivation reads it afresh, so a replica
//! never derives with a calendar another replica has changed.

use acikkapi_domain::calendar::{Calendar, Date, DayOff};
use acikkapi_platform::store::{Db, Tx};
use acikkapi_platform::{PlatformError, db, tx};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraDay {
    pub date: Date,
    pub province: u32,
    pub name: String,
    pub half: bool,
}

pub fn official() -> &'static Calendar {
    static CAL: OnceLock<Calendar> = OnceLock::new();
    CAL.get_or_init(Calendar::builtin)
}

/// What a day is called in a deadline's explanation.
pub fn label(day: &ExtraDay) -> String {
    if day.province == 0 {
        day.name.clone()
    } else {
        format!("{} (province {} closure)", day.name, day.province)
    }
}

pub struct Calendars {
    national: Calendar,
    provinces: HashMap<u32, Calendar>,
}

impl Calendars {
    pub fn from_days(days: &[ExtraDay]) -> Calendars {
        let mut national = official().clone();
        for d in days.iter().filter(|d| d.province == 0) {
            national = national.with_day_off(
                d.date,
                DayOff {
                    name: label(d),
                    half: d.half,
                },
            );
        }
        let mut provinces: HashMap<u32, Calendar> = HashMap::new();
        for d in days.iter().filter(|d| d.province != 0) {
            let cal = provinces
                .remove(&d.province)
                .unwrap_or_else(|| national.clone());
            provinces.insert(
                d.province,
                cal.with_day_off(
                    d.date,
                    DayOff {
                        name: label(d),
                        half: d.half,
                    },
                ),
            );
        }
        Calendars {
            national,
            provinces,
        }
    }

    pub async fn load(db: &Db) -> Result<Calendars, PlatformError> {
        Ok(Calendars::from_days(&extra_days(db, None).await?))
    }

    /// As [`Calendars::load`], on the transaction's own connection (a
    /// consumer holding SQLite's write lock must not wait for another).
    pub async fn load_tx(t: &mut Tx) -> Result<Calendars, PlatformError> {
        let rows = tx!(t, c => {
            sqlx::query("SELECT day, province, name, half FROM sla_calendar_days ORDER BY day, province")
                .fetch_all(&mut **c).await?
                .into_iter()
                .map(|r| -> Result<_, sqlx::Error> {
                    Ok((r.try_get::<String, _>("day")?, r.try_get::<i64, _>("province")?, r.try_get::<String, _>("name")?, r.try_get::<bool, _>("half")?))
                })
                .collect::<Result<Vec<_>, _>>()?
        });
        Ok(Calendars::from_days(&days(rows)?))
    }

    pub fn for_province(&self, province: u32) -> &Calendar {
        self.provinces.get(&province).unwrap_or(&self.national)
    }
}

/// The one-off days and closures, all or those touching one province.
pub async fn extra_days(db: &Db, province: Option<u32>) -> Result<Vec<ExtraDay>, PlatformError> {
    let rows = db!(db, p => {
        sqlx::query("SELECT day, province, name, half FROM sla_calendar_days WHERE $1 < 0 OR province = 0 OR province = $1 ORDER BY day, province")
            .bind(province.map_or(-1, i64::from))
            .fetch_all(p).await?
            .into_iter()
            .map(|r| -> Result<_, sqlx::Error> {
                Ok((r.try_get::<String, _>("day")?, r.try_get::<i64, _>("province")?, r.try_get::<String, _>("name")?, r.try_get::<bool, _>("half")?))
            })
            .collect::<Result<Vec<_>, _>>()?
    });
    days(rows)
}

fn days(rows: Vec<(String, i64, String, bool)>) -> Result<Vec<ExtraDay>, PlatformError> {
    rows.into_iter()
        .map(|(day, province, name, half)| {
            Ok(ExtraDay {
                date: Date::parse(&day)
                    .ok_or_else(|| PlatformError::Internal(format!("sla_calendar_days: {day}")))?,
                province: province as u32,
                name,
                half,
            })
        })
        .collect()
}
