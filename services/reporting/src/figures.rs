//! Figures for a scope and a period, from the folded rows. The period is
//! of receipt: "applications received in March, and what became of them".
//! The same SQL runs on both backends, except the percentiles, which
//! PostgreSQL computes where the rows are (`percentile_disc`, nearest rank)
//! and SQLite in the process (the embedded default holds few rows).

pub use export::{Cursor, EXPORT_HEADER, export_page};
pub use ranking::{Order, entry, problem_areas, rank};
pub use series::{Granularity, satisfaction, time_series};

use acikkapi_domain::calendar::Date;
use acikkapi_domain::catalog::Catalog;
use acikkapi_platform::store::Db;
use acikkapi_platform::{PlatformError, db};
use acikkapi_proto::v1 as pb;
use std::collections::BTreeMap;

/// Where and when; zero / empty / None means "all".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub province: u32,
    pub district: u32,
    pub unit: String,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// A topic's code; empty: every topic.
    pub topic: String,
    /// An `acikkapi.v1.Channel`; 0: every channel.
    pub channel: i32,
}

/// The escalation levels reports count: 1 (the unit's reminder) … 5 (the
/// Ministry), and 100 (Law 3071's period ran out).
pub const LEVELS: [u32; 6] = [1, 2, 3, 4, 5, 100];

/// Counts of a group of applications.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub received: u64,
    pub concluded: u64,
    pub positive: u64,
    pub negative: u64,
    pub partial: u64,
    pub unanswerable: u64,
    /// Concluded with an SLA verdict, and of those, within the SLA.
    pub verdicts: u64,
    pub within_sla: u64,
}

fn share(n: u64, of: u64) -> f64 {
    if of == 0 { 0.0 } else { n as f64 / of as f64 }
}

impl Counts {
    pub fn open(&self) -> u64 {
        self.received - self.concluded
    }

    /// `n` of the concluded; 0 when nothing is concluded.
    pub fn rate(&self, n: u64) -> f64 {
        share(n, self.concluded)
    }

    pub fn within_sla_rate(&self) -> f64 {
        share(self.within_sla, self.verdicts)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub counts: Counts,
    pub median_resolution_hours: f64,
    pub p90_resolution_hours: f64,
    pub escalations_by_level: BTreeMap<u32, u64>,
}

impl Totals {
    pub fn to_proto(&self) -> pb::Totals {
        let c = &self.counts;
        pb::Totals {
            received: c.received,
            open: c.open(),
            concluded: c.concluded,
            positive: c.positive,
            negative: c.negative,
            partial: c.partial,
            unanswerable: c.unanswerable,
            concluded_within_sla_rate: c.within_sla_rate(),
            median_resolution_hours: self.median_resolution_hours,
            p90_resolution_hours: self.p90_resolution_hours,
            escalations_by_level: self.escalations_by_level.clone().into_iter().collect(),
            positive_rate: c.rate(c.positive),
            negative_rate: c.rate(c.negative),
            partial_rate: c.rate(c.partial),
            unanswerable_rate: c.rate(c.unanswerable),
            concluded_rate: share(c.concluded, c.received),
        }
    }
}

/// The WHERE clause of a filter over `rpt_applications` aliased `a`, with
/// its parameters from `$first`.
fn clause(f: &Filter, first: usize) -> (String, Vec<Param>) {
    let mut sql = String::from("1 = 1");
    let mut params = Vec::new();
    let mut n = first;
    let mut add = |sql: &mut String, cond: &str, p: Param| {
        sql.push_str(&format!(" AND {cond} ${n}"));
        n += 1;
        params.push(p);
    };
    if f.province != 0 {
        add(&mut sql, "a.province =", Param::Int(i64::from(f.province)));
    }
    if f.district != 0 {
        add(&mut sql, "a.district =", Param::Int(i64::from(f.district)));
    }
    if !f.unit.is_empty() {
        add(&mut sql, "a.unit_id =", Param::Text(f.unit.clone()));
    }
    if let Some(from) = f.from_ms {
        add(&mut sql, "a.received_ms >=", Param::Int(from));
    }
    if let Some(to) = f.to_ms {
        add(&mut sql, "a.received_ms <", Param::Int(to));
    }
    if !f.topic.is_empty() {
        add(&mut sql, "a.topic =", Param::Text(f.topic.clone()));
    }
    if f.channel != 0 {
        add(&mut sql, "a.channel =", Param::Int(i64::from(f.channel)));
    }
    (sql, params)
}

#[derive(Debug, Clone)]
enum Param {
    Int(i64),
    Text(String),
}

/// Binds a filter's parameters to a query, in order.
macro_rules! bound {
    ($q:expr, $params:expr) => {{
        let mut q = $q;
        for p in $params {
            q = match p {
                Param::Int(v) => q.bind(*v),
                Param::Text(v) => q.bind(v.clone()),
            };
        }
        q
    }};
}

/// The nearest-rank percentile of sorted values, in hours.
fn percentile(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 3_600_000.0
}

const CONCLUDED: i64 = pb::Status::Concluded as i64;

/// The aggregate columns of [`Counts`], in its order.
fn count_columns() -> String {
    let when = |cond: &str| format!("COALESCE(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END), 0)");
    let done = format!("a.status = {CONCLUDED}");
    [
        "COUNT(*)".to_owned(),
        when(&done),
        when(&format!(
            "{done} AND a.outcome = {}",
            pb::Outcome::Positive as i32
        )),
        when(&format!(
            "{done} AND a.outcome = {}",
            pb::Outcome::Negative as i32
        )),
        when(&format!(
            "{done} AND a.outcome = {}",
            pb::Outcome::Partial as i32
        )),
        when(&format!(
            "{done} AND a.outcome = {}",
            pb::Outcome::Unanswerable as i32
        )),
        when(&format!("{done} AND a.within_sla IS NOT NULL")),
        when(&format!("{done} AND a.within_sla")),
    ]
    .join(", ")
}

type CountRow = (String, i64, i64, i64, i64, i64, i64, i64, i64);

fn counts_of(r: &CountRow) -> Counts {
    Counts {
        received: r.1 as u64,
        concluded: r.2 as u64,
        positive: r.3 as u64,
        negative: r.4 as u64,
        partial: r.5 as u64,
        unanswerable: r.6 as u64,
        verdicts: r.7 as u64,
        within_sla: r.8 as u64,
    }
}

/// What a ranking groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Province,
    District,
    Unit,
    Topic,
    Type,
    Channel,
}

impl Dimension {
    pub fn parse(s: &str) -> Option<Dimension> {
        Some(match s {
            "province" => Dimension::Province,
            "district" => Dimension::District,
            "unit" => Dimension::Unit,
            "topic" => Dimension::Topic,
            "type" => Dimension::Type,
            "channel" => Dimension::Channel,
            _ => return None,
        })
    }

    fn column(self) -> &'static str {
        match self {
            Dimension::Province => "CAST(a.province AS TEXT)",
            Dimension::District => "CAST(a.district AS TEXT)",
            Dimension::Unit => "a.unit_id",
            Dimension::Topic => "a.topic",
            Dimension::Type => "a.type_code",
            Dimension::Channel => "CAST(a.channel AS TEXT)",
        }
    }

    /// A key's name, for people: the province, district, topic or type
    /// from the catalogue, the channel's; units are named by routing, so
    /// their id is their label here.
    pub fn label(self, key: &str) -> String {
        let c = Catalog::builtin();
        let code = || key.parse::<u32>().ok();
        let name = match self {
            Dimension::Province => code().and_then(|n| c.province(n)).map(|p| p.name.clone()),
            Dimension::District => code().and_then(|n| c.district(n)).map(|d| d.name.clone()),
            Dimension::Topic => c.topic(key).map(|t| t.name.clone()),
            Dimension::Type => c.application_type(key).map(|t| t.name.clone()),
            Dimension::Channel => code()
                .and_then(|n| pb::Channel::try_from(n as i32).ok())
                .map(|ch| {
                    ch.as_str_name()
                        .trim_start_matches("CHANNEL_")
                        .to_lowercase()
                }),
            Dimension::Unit => None,
        };
        name.unwrap_or_else(|| key.to_owned())
    }
}

/// The month of receipt of an instant, in Türkiye's time: `yyyymm`.
pub fn month_of(ms: i64) -> i64 {
    let d = Date::of_instant(ms);
    i64::from(d.year) * 100 + i64::from(d.month)
}

/// Whether `ms` is the first instant of a month in Türkiye's time.
fn month_start(ms: i64) -> bool {
    let d = Date::of_instant(ms);
    d.day == 1 && d.at_minute(0) == ms
}

/// The monthly counts answer a filter grouped by `by` when it names no
/// unit, topic or channel, its period is whole months, and it groups by
/// place (or not at all).
fn monthly_answers(f: &Filter, by: Option<Dimension>) -> bool {
    f.unit.is_empty()
        && f.topic.is_empty()
        && f.channel == 0
        && f.from_ms.is_none_or(month_start)
        && f.to_ms.is_none_or(month_start)
        && matches!(by, None | Some(Dimension::Province | Dimension::District))
}

/// Counts of a filter, grouped by `by` (one group "" when None), largest
/// first; from the monthly counts when they can answer.
pub async fn counts_by(
    db: &Db,
    f: &Filter,
    by: Option<Dimension>,
) -> Result<Vec<(String, Counts)>, PlatformError> {
    if monthly_answers(f, by) {
        return monthly_counts_by(db, f, by).await;
    }
    let (cond, params) = clause(f, 1);
    let (key, group) = match by {
        Some(d) => (d.column(), format!(" GROUP BY {}", d.column())),
        None => ("''", String::new()),
    };
    let sql = format!(
        "SELECT {key}, {} FROM rpt_applications a WHERE {cond}{group} ORDER BY 2 DESC, 1",
        count_columns()
    );
    let rows: Vec<CountRow> =
        db!(db, c => bound!(sqlx::query_as(&sql), &params).fetch_all(c).await?);
    Ok(rows.iter().map(|r| (r.0.clone(), counts_of(r))).collect())
}

/// The WHERE clause of a whole-months filter over `rpt_monthly` aliased `m`.
fn monthly_clause(f: &Filter) -> (String, Vec<Param>) {
    let mut cond = String::from("1 = 1");
    let mut params = Vec::new();
    let mut add = |c: &str, v: i64| {
        params.push(Param::Int(v));
        cond.push_str(&format!(" AND {c} ${}", params.len()));
    };
    if f.province != 0 {
        add("m.province =", i64::from(f.province));
    }
    if f.district != 0 {
        add("m.district =", i64::from(f.district));
    }
    if let Some(from) = f.from_ms {
        add("m.month >=", month_of(from));
    }
    if let Some(to) = f.to_ms {
        add("m.month <", month_of(to));
    }
    (cond, params)
}

async fn monthly_counts_by(
    db: &Db,
    f: &Filter,
    by: Option<Dimension>,
) -> Result<Vec<(String, Counts)>, PlatformError> {
    let (cond, params) = monthly_clause(f);
    let sum = |c: &str| format!("CAST(COALESCE(SUM(m.{c}), 0) AS BIGINT)");
    let columns = [
        "received",
        "concluded",
        "positive",
        "negative",
        "partial",
        "unanswerable",
        "verdicts",
        "within_sla",
    ]
    .map(sum)
    .join(", ");
    let (key, group) = match by {
        Some(Dimension::District) => (
            "CAST(m.district AS TEXT)",
            " GROUP BY m.district HAVING SUM(m.received) > 0",
        ),
        Some(_) => (
            "CAST(m.province AS TEXT)",
            " GROUP BY m.province HAVING SUM(m.received) > 0",
        ),
        None => ("''", ""),
    };
    let sql = format!(
        "SELECT {key}, {columns} FROM rpt_monthly m WHERE {cond}{group} ORDER BY 2 DESC, 1"
    );
    let rows: Vec<CountRow> =
        db!(db, c => bound!(sqlx::query_as(&sql), &params).fetch_all(c).await?);
    Ok(rows.iter().map(|r| (r.0.clone(), counts_of(r))).collect())
}

/// Resolution time of the filter's concluded applications: median, p90 (hours).
async fn resolution(db: &Db, f: &Filter) -> Result<(f64, f64), PlatformError> {
    let (cond, params) = clause(f, 1);
    let only = format!("{cond} AND a.status = {CONCLUDED} AND a.resolution_ms IS NOT NULL");
    Ok(match db {
        Db::Postgres(c) => {
            let sql = format!(
                "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY a.resolution_ms), \
                 percentile_disc(0.9) WITHIN GROUP (ORDER BY a.resolution_ms) \
                 FROM rpt_applications a WHERE {only}"
            );
            let (m, p): (Option<i64>, Option<i64>) =
                bound!(sqlx::query_as(&sql), &params).fetch_one(c).await?;
            let hours = |v: Option<i64>| v.map_or(0.0, |v| v as f64 / 3_600_000.0);
            (hours(m), hours(p))
        }
        Db::Sqlite(c) => {
            let sql = format!(
                "SELECT a.resolution_ms FROM rpt_applications a WHERE {only} ORDER BY a.resolution_ms"
            );
            let v: Vec<i64> = bound!(sqlx::query_scalar(&sql), &params)
                .fetch_all(c)
                .await?;
            (percentile(&v, 0.5), percentile(&v, 0.9))
        }
    })
}

pub async fn totals(db: &Db, f: &Filter) -> Result<Totals, PlatformError> {
    let counts = counts_by(db, f, None)
        .await?
        .first()
        .map(|(_, c)| *c)
        .unwrap_or_default();
    let (median, p90) = resolution(db, f).await?;
    let escalations_by_level = if monthly_answers(f, None) {
        monthly_levels(db, f).await?
    } else {
        levels(db, f).await?
    };
    Ok(Totals {
        counts,
        median_resolution_hours: median,
        p90_resolution_hours: p90,
        escalations_by_level,
    })
}

/// Applications that reached each escalation level (an application
/// escalated to a level in two rounds counts once), from the rows.
async fn levels(db: &Db, f: &Filter) -> Result<BTreeMap<u32, u64>, PlatformError> {
    let (cond, params) = clause(f, 1);
    let sql = format!(
        "SELECT e.level, COUNT(DISTINCT e.number) FROM rpt_escalations e JOIN rpt_applications a ON a.number = e.number \
         WHERE {cond} GROUP BY e.level ORDER BY e.level"
    );
    let levels: Vec<(i64, i64)> =
        db!(db, c => bound!(sqlx::query_as(&sql), &params).fetch_all(c).await?);
    Ok(levels
        .into_iter()
        .map(|(l, n)| (l as u32, n as u64))
        .collect())
}

/// The same from the monthly counts.
async fn monthly_levels(db: &Db, f: &Filter) -> Result<BTreeMap<u32, u64>, PlatformError> {
    let (cond, params) = monthly_clause(f);
    let columns = LEVELS
        .map(|l| format!("CAST(COALESCE(SUM(m.level{l}), 0) AS BIGINT)"))
        .join(", ");
    let sql = format!("SELECT {columns} FROM rpt_monthly m WHERE {cond}");
    let n: (i64, i64, i64, i64, i64, i64) =
        db!(db, c => bound!(sqlx::query_as(&sql), &params).fetch_one(c).await?);
    Ok(LEVELS
        .into_iter()
        .zip([n.0, n.1, n.2, n.3, n.4, n.5])
        .filter(|(_, n)| *n > 0)
        .map(|(l, n)| (l, n as u64))
        .collect())
}

// After `bound!`, which they use (a macro is seen from where it is defined).
mod export;
mod ranking;
mod series;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let h = 3_600_000;
        let v: Vec<i64> = (1..=10).map(|i| i * h).collect();
        assert_eq!(percentile(&v, 0.5), 5.0);
        assert_eq!(percentile(&v, 0.9), 9.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
        assert_eq!(percentile(&v[..1], 0.9), 1.0);
    }

    #[test]
    fn a_filter_binds_only_what_it_names() {
        let (sql, params) = clause(
            &Filter {
                province: 6,
                from_ms: Some(1),
                ..Default::default()
            },
            1,
        );
        assert_eq!(sql, "1 = 1 AND a.province = $1 AND a.received_ms >= $2");
        assert_eq!(params.len(), 2);
    }

    #[test]
    fn only_whole_months_of_places_read_the_monthly_counts() {
        let dec = Date::parse("2026-12-01").unwrap().at_minute(0);
        let jan = Date::parse("2027-01-01").unwrap().at_minute(0);
        let whole = Filter {
            province: 6,
            from_ms: Some(dec),
            to_ms: Some(jan),
            ..Default::default()
        };
        assert_eq!(month_of(dec), 202612);
        assert_eq!(month_of(dec - 1), 202611, "the last instant of November");
        assert!(monthly_answers(&whole, None));
        assert!(monthly_answers(&whole, Some(Dimension::District)));
        assert!(!monthly_answers(&whole, Some(Dimension::Unit)));
        assert!(!monthly_answers(&whole, Some(Dimension::Type)));
        let mid = Filter {
            from_ms: Some(dec + 1),
            ..whole.clone()
        };
        assert!(!monthly_answers(&mid, None));
        let unit = Filter {
            unit: "il06-belediye".into(),
            ..whole.clone()
        };
        assert!(!monthly_answers(&unit, None));
        let topic = Filter {
            topic: "T01".into(),
            ..whole.clone()
        };
        assert!(!monthly_answers(&topic, None));
        let channel = Filter {
            channel: 2,
            ..whole.clone()
        };
        assert!(!monthly_answers(&channel, None));
        assert!(monthly_answers(
            &Filter::default(),
            Some(Dimension::Province)
        ));
    }
}
