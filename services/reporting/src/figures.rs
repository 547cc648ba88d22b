//! Figures for a scope and a period, from the folded rows. The period is
//! of receipt: "applications received in March, and what became of them".

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
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub received: u64,
    pub open: u64,
    pub concluded: u64,
    pub positive: u64,
    pub negative: u64,
    pub partial: u64,
    pub unanswerable: u64,
    pub median_resolution_hours: f64,
    pub p90_resolution_hours: f64,
    pub escalations_by_level: BTreeMap<u32, u64>,
}

impl Totals {
    /// positive / concluded, 0 when nothing is concluded.
    pub fn rate(&self, n: u64) -> f64 {
        if self.concluded == 0 {
            0.0
        } else {
            n as f64 / self.concluded as f64
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
    (sql, params)
}

enum Param {
    Int(i64),
    Text(String),
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 3_600_000.0
}

pub async fn totals(db: &Db, f: &Filter) -> Result<Totals, PlatformError> {
    let (cond, params) = clause(f, 1);
    let concluded = pb::Status::Concluded as i64;
    let counts_sql = format!(
        "SELECT COUNT(*), \
         COALESCE(SUM(CASE WHEN a.status = {concluded} THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN a.status = {concluded} AND a.outcome = 1 THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN a.status = {concluded} AND a.outcome = 2 THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN a.status = {concluded} AND a.outcome = 3 THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN a.status = {concluded} AND a.outcome = 4 THEN 1 ELSE 0 END), 0) \
         FROM rpt_applications a WHERE {cond}"
    );
    let resolution_sql = format!(
        "SELECT a.resolution_ms FROM rpt_applications a WHERE {cond} AND a.status = {concluded} AND a.resolution_ms IS NOT NULL ORDER BY a.resolution_ms"
    );
    let escalation_sql = format!(
        "SELECT e.level, COUNT(*) FROM rpt_escalations e JOIN rpt_applications a ON a.number = e.number WHERE {cond} GROUP BY e.level ORDER BY e.level"
    );
    macro_rules! bound {
        ($q:expr) => {{
            let mut q = $q;
            for p in &params {
                q = match p {
                    Param::Int(v) => q.bind(*v),
                    Param::Text(v) => q.bind(v.clone()),
                };
            }
            q
        }};
    }
    let (counts, resolutions, levels) = db!(db, c => {
        let counts: (i64, i64, i64, i64, i64, i64) = bound!(sqlx::query_as(&counts_sql)).fetch_one(c).await?;
        let resolutions: Vec<i64> = bound!(sqlx::query_scalar(&resolution_sql)).fetch_all(c).await?;
        let levels: Vec<(i64, i64)> = bound!(sqlx::query_as(&escalation_sql)).fetch_all(c).await?;
        (counts, resolutions, levels)
    });
    let (received, concluded, positive, negative, partial, unanswerable) = counts;
    Ok(Totals {
        received: received as u64,
        open: (received - concluded) as u64,
        concluded: concluded as u64,
        positive: positive as u64,
        negative: negative as u64,
        partial: partial as u64,
        unanswerable: unanswerable as u64,
        median_resolution_hours: percentile(&resolutions, 0.5),
        p90_resolution_hours: percentile(&resolutions, 0.9),
        escalations_by_level: levels
            .into_iter()
            .map(|(l, n)| (l as u32, n as u64))
            .collect(),
    })
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
}
