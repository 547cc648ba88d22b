//! Time series by day, week or month (Türkiye time) and the satisfaction survey's figures.

use super::*;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_on_their_first_day() {
        let d = Date::parse("2026-12-03").unwrap(); // a Thursday
        assert_eq!(Granularity::Day.start(d), d);
        assert_eq!(Granularity::Week.start(d).to_string(), "2026-11-30");
        assert_eq!(Granularity::Month.start(d).to_string(), "2026-12-01");
        let monday = Date::parse("2026-11-30").unwrap();
        assert_eq!(Granularity::Week.start(monday), monday);
    }
}
