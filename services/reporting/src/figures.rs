//! Figures for a scope and a period, from the folded rows. The period is
//! of receipt: "applications received in March, and what became of them".
//! The same SQL runs on both backends, except the percentiles, which
//! PostgreSQL computes where the rows are (`percentile_disc`, nearest rank)
//! and SQLite in the process (the embedded default holds few rows).

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

/// One ranking entry of a group.
pub fn entry(by: Dimension, key: &str, c: &Counts, of: u64) -> pb::RankingEntry {
    pb::RankingEntry {
        key: key.to_owned(),
        label: by.label(key),
        received: c.received,
        open: c.open(),
        concluded: c.concluded,
        positive_rate: c.rate(c.positive),
        negative_rate: c.rate(c.negative),
        within_sla_rate: c.within_sla_rate(),
        share: share(c.received, of),
    }
}

/// How a ranking is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Received,
    PositiveRate,
    NegativeRate,
    WithinSlaRate,
}

impl Order {
    pub fn parse(s: &str) -> Option<Order> {
        Some(match s {
            "" | "received" => Order::Received,
            "positive_rate" => Order::PositiveRate,
            "negative_rate" => Order::NegativeRate,
            "within_sla_rate" => Order::WithinSlaRate,
            _ => return None,
        })
    }
}

/// Groups ordered (highest first unless `ascending`, ties by key) and cut
/// to `limit`; rate orders leave out groups with fewer than
/// `min_concluded` concluded applications.
pub fn rank(
    by: Dimension,
    mut groups: Vec<(String, Counts)>,
    order: Order,
    ascending: bool,
    min_concluded: u64,
    limit: usize,
) -> Vec<pb::RankingEntry> {
    let of: u64 = groups.iter().map(|(_, c)| c.received).sum();
    if order != Order::Received {
        groups.retain(|(_, c)| c.concluded >= min_concluded.max(1));
    }
    let value = |c: &Counts| match order {
        Order::Received => c.received as f64,
        Order::PositiveRate => c.rate(c.positive),
        Order::NegativeRate => c.rate(c.negative),
        Order::WithinSlaRate => c.within_sla_rate(),
    };
    groups.sort_by(|(ka, a), (kb, b)| {
        let o = value(a).total_cmp(&value(b));
        let o = if ascending { o } else { o.reverse() };
        o.then_with(|| ka.cmp(kb))
    });
    groups
        .iter()
        .take(limit)
        .map(|(k, c)| entry(by, k, c, of))
        .collect()
}

/// Problem areas: application types with the worst SLA compliance, then
/// the highest negative rate, among those with `min_concluded` concluded.
pub fn problem_areas(
    groups: Vec<(String, Counts)>,
    min_concluded: u64,
    limit: usize,
) -> Vec<pb::RankingEntry> {
    let of: u64 = groups.iter().map(|(_, c)| c.received).sum();
    let mut groups: Vec<_> = groups
        .into_iter()
        .filter(|(_, c)| c.concluded >= min_concluded.max(1))
        .collect();
    groups.sort_by(|(ka, a), (kb, b)| {
        a.within_sla_rate()
            .total_cmp(&b.within_sla_rate())
            .then_with(|| b.rate(b.negative).total_cmp(&a.rate(a.negative)))
            .then_with(|| ka.cmp(kb))
    });
    groups
        .iter()
        .take(limit)
        .map(|(k, c)| entry(Dimension::Type, k, c, of))
        .collect()
}

/// Granularity of a time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Day,
    Week,
    Month,
}

impl Granularity {
    /// The first day of the period holding `d`.
    pub fn start(self, d: Date) -> Date {
        match self {
            Granularity::Day => d,
            Granularity::Week => Date::from_days(d.days() - i64::from(d.weekday())),
            Granularity::Month => Date {
                year: d.year,
                month: d.month,
                day: 1,
            },
        }
    }
}

/// Local (UTC+3) day number of an instant column, in SQL both backends read
/// alike (integer division of non-negative BIGINTs).
fn local_day(column: &str) -> String {
    format!("(({column} + 10800000) / 86400000)")
}

/// Receipts, conclusions and conclusions within the SLA per period, in
/// period order; periods with nothing are left out.
pub async fn time_series(
    db: &Db,
    f: &Filter,
    g: Granularity,
) -> Result<Vec<pb::TimeSeriesPoint>, PlatformError> {
    let (cond, params) = clause(f, 1);
    let received_sql = format!(
        "SELECT {day}, COUNT(*) FROM rpt_applications a WHERE {cond} GROUP BY {day}",
        day = local_day("a.received_ms")
    );
    let concluded_sql = format!(
        "SELECT {day}, COUNT(*), COALESCE(SUM(CASE WHEN a.within_sla THEN 1 ELSE 0 END), 0) \
         FROM rpt_applications a WHERE {cond} AND a.status = {CONCLUDED} AND a.concluded_ms IS NOT NULL GROUP BY {day}",
        day = local_day("a.concluded_ms")
    );
    let (received, concluded) = db!(db, c => {
        let r: Vec<(i64, i64)> = bound!(sqlx::query_as(&received_sql), &params).fetch_all(c).await?;
        let k: Vec<(i64, i64, i64)> = bound!(sqlx::query_as(&concluded_sql), &params).fetch_all(c).await?;
        (r, k)
    });
    let mut points: BTreeMap<Date, pb::TimeSeriesPoint> = BTreeMap::new();
    fn at(
        points: &mut BTreeMap<Date, pb::TimeSeriesPoint>,
        g: Granularity,
        day: i64,
    ) -> &mut pb::TimeSeriesPoint {
        let start = g.start(Date::from_days(day));
        points.entry(start).or_insert_with(|| pb::TimeSeriesPoint {
            period_start: start.to_string(),
            ..Default::default()
        })
    }
    for (day, n) in received {
        at(&mut points, g, day).received += n as u64;
    }
    for (day, n, within) in concluded {
        let p = at(&mut points, g, day);
        p.concluded += n as u64;
        p.concluded_within_sla += within as u64;
    }
    Ok(points.into_values().collect())
}

pub async fn satisfaction(db: &Db, f: &Filter) -> Result<pb::Satisfaction, PlatformError> {
    let (cond, params) = clause(f, 1);
    let sent_sql = format!(
        "SELECT COALESCE(SUM(CASE WHEN a.survey_sent THEN 1 ELSE 0 END), 0) FROM rpt_applications a WHERE {cond}"
    );
    let scores_sql = format!(
        "SELECT a.survey_score, COUNT(*) FROM rpt_applications a WHERE {cond} AND a.survey_score IS NOT NULL GROUP BY a.survey_score"
    );
    let (sent, scores) = db!(db, c => {
        let sent: i64 = bound!(sqlx::query_scalar(&sent_sql), &params).fetch_one(c).await?;
        let scores: Vec<(i64, i64)> = bound!(sqlx::query_as(&scores_sql), &params).fetch_all(c).await?;
        (sent, scores)
    });
    let answered: u64 = scores.iter().map(|(_, n)| *n as u64).sum();
    let satisfied: u64 = scores
        .iter()
        .filter(|(s, _)| *s >= 4)
        .map(|(_, n)| *n as u64)
        .sum();
    let points: u64 = scores.iter().map(|(s, n)| (*s * *n) as u64).sum();
    Ok(pb::Satisfaction {
        surveys_sent: sent as u64,
        answered,
        satisfied_rate: share(satisfied, answered),
        average_score: share(points, answered),
        answers_by_score: scores
            .into_iter()
            .map(|(s, n)| (s as u32, n as u64))
            .collect(),
    })
}

/// The export's columns: no personal data (reports hold none), and not the
/// vulnerability flag either (it can reveal health or disability).
pub const EXPORT_HEADER: &str = "application_number,received_at,province,district,topic,type,unit,channel,kind,status,outcome,round,concluded_at,resolution_hours,within_sla,max_escalation_level,survey_score\n";

/// One exported application, in the export's column order.
struct ExportRow {
    number: String,
    received_ms: i64,
    province: i64,
    district: i64,
    topic: String,
    type_code: String,
    unit: String,
    channel: i64,
    kind: i64,
    status: i64,
    outcome: i64,
    round: i64,
    concluded_ms: Option<i64>,
    resolution_ms: Option<i64>,
    within_sla: Option<bool>,
    max_level: i64,
    survey_score: Option<i64>,
}

macro_rules! export_row {
    ($r:expr) => {{
        use sqlx::Row as _;
        let r = &$r;
        ExportRow {
            number: r.try_get(0)?,
            received_ms: r.try_get(1)?,
            province: r.try_get(2)?,
            district: r.try_get(3)?,
            topic: r.try_get(4)?,
            type_code: r.try_get(5)?,
            unit: r.try_get(6)?,
            channel: r.try_get(7)?,
            kind: r.try_get(8)?,
            status: r.try_get(9)?,
            outcome: r.try_get(10)?,
            round: r.try_get(11)?,
            concluded_ms: r.try_get(12)?,
            resolution_ms: r.try_get(13)?,
            within_sla: r.try_get(14)?,
            max_level: r.try_get(15)?,
            survey_score: r.try_get(16)?,
        }
    }};
}

fn enum_name<E: TryFrom<i32>>(v: i64, name: impl Fn(E) -> &'static str, prefix: &str) -> String {
    E::try_from(v as i32)
        .map(|e| name(e).trim_start_matches(prefix).to_lowercase())
        .unwrap_or_default()
}

/// An instant as RFC 3339 in Türkiye's offset: `2026-03-02T09:15:00+03:00`.
fn local_time(ms: i64) -> String {
    let local = ms + 3 * 3_600_000;
    let d = Date::from_days(local.div_euclid(86_400_000));
    let s = local.rem_euclid(86_400_000) / 1000;
    format!("{d}T{:02}:{:02}:{:02}+03:00", s / 3600, s / 60 % 60, s % 60)
}

/// A CSV field: quoted when it holds a separator, quote or line break.
fn field(out: &mut String, v: &str) {
    if v.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

fn csv_line(out: &mut String, r: &ExportRow) {
    let cols = [
        r.number.clone(),
        local_time(r.received_ms),
        r.province.to_string(),
        r.district.to_string(),
        r.topic.clone(),
        r.type_code.clone(),
        r.unit.clone(),
        enum_name::<pb::Channel>(r.channel, |e| e.as_str_name(), "CHANNEL_"),
        enum_name::<pb::Kind>(r.kind, |e| e.as_str_name(), "KIND_"),
        enum_name::<pb::Status>(r.status, |e| e.as_str_name(), "STATUS_"),
        if r.outcome == 0 {
            String::new()
        } else {
            enum_name::<pb::Outcome>(r.outcome, |e| e.as_str_name(), "OUTCOME_")
        },
        r.round.to_string(),
        r.concluded_ms.map(local_time).unwrap_or_default(),
        r.resolution_ms
            .map(|ms| format!("{:.2}", ms as f64 / 3_600_000.0))
            .unwrap_or_default(),
        r.within_sla.map(|b| b.to_string()).unwrap_or_default(),
        r.max_level.to_string(),
        r.survey_score.map(|s| s.to_string()).unwrap_or_default(),
    ];
    for (i, c) in cols.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(out, c);
    }
    out.push('\n');
}

/// Where an export has got to: the last row's receipt time and number.
pub type Cursor = Option<(i64, String)>;

/// One page of the export after `cursor`, oldest first, as CSV lines
/// (without the header), and the cursor of its last row (None at the end).
pub async fn export_page(
    db: &Db,
    f: &Filter,
    cursor: &Cursor,
    rows: i64,
) -> Result<(String, Cursor), PlatformError> {
    let (cond, mut params) = clause(f, 1);
    let mut after = String::new();
    if let Some((ms, number)) = cursor {
        let n = params.len();
        after = format!(
            " AND (a.received_ms > ${} OR (a.received_ms = ${} AND a.number > ${}))",
            n + 1,
            n + 1,
            n + 2
        );
        params.push(Param::Int(*ms));
        params.push(Param::Text(number.clone()));
    }
    let sql = format!(
        "SELECT a.number, a.received_ms, a.province, a.district, a.topic, a.type_code, a.unit_id, a.channel, a.kind, \
         a.status, a.outcome, a.round, a.concluded_ms, a.resolution_ms, a.within_sla, a.max_level, a.survey_score \
         FROM rpt_applications a WHERE {cond}{after} ORDER BY a.received_ms, a.number LIMIT {rows}"
    );
    let page: Vec<ExportRow> = db!(db, c => {
        let rows = bound!(sqlx::query(&sql), &params).fetch_all(c).await?;
        rows.iter().map(|r| -> Result<ExportRow, sqlx::Error> { Ok(export_row!(r)) }).collect::<Result<Vec<_>, _>>()?
    });
    let mut out = String::with_capacity(page.len() * 160);
    for r in &page {
        csv_line(&mut out, r);
    }
    let next = if (page.len() as i64) < rows {
        None
    } else {
        page.last().map(|r| (r.received_ms, r.number.clone()))
    };
    Ok((out, next))
}

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

    #[test]
    fn periods_start_on_their_first_day() {
        let d = Date::parse("2026-12-03").unwrap(); // a Thursday
        assert_eq!(Granularity::Day.start(d), d);
        assert_eq!(Granularity::Week.start(d).to_string(), "2026-11-30");
        assert_eq!(Granularity::Month.start(d).to_string(), "2026-12-01");
        let monday = Date::parse("2026-11-30").unwrap();
        assert_eq!(Granularity::Week.start(monday), monday);
    }

    #[test]
    fn csv_fields_are_quoted_only_when_they_must_be() {
        let mut s = String::new();
        field(&mut s, "plain");
        field(&mut s, "a,b");
        field(&mut s, "say \"x\"");
        assert_eq!(s, "plain\"a,b\"\"say \"\"x\"\"\"");
        let midnight = Date::parse("2026-03-02").unwrap().at_minute(0);
        assert_eq!(local_time(midnight), "2026-03-02T00:00:00+03:00");
        assert_eq!(local_time(midnight - 1000), "2026-03-01T23:59:59+03:00");
    }

    #[test]
    fn rate_orders_leave_out_thin_groups_and_break_ties_by_key() {
        let c = |received, concluded, negative| Counts {
            received,
            concluded,
            negative,
            ..Default::default()
        };
        let groups = vec![
            ("b".to_owned(), c(10, 10, 5)),
            ("a".to_owned(), c(10, 10, 5)),
            ("thin".to_owned(), c(2, 1, 1)),
        ];
        let r = rank(Dimension::Unit, groups, Order::NegativeRate, false, 5, 10);
        let keys: Vec<&str> = r.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(r[0].share, 10.0 / 22.0);
    }
}
