//! The census: how many applications are open, and how many of them
//! overdue, in each province, for the monitoring teams' dashboard
//! (`acikkapi_applications_open`, `acikkapi_applications_overdue`). Open
//! means the application's current SLA clock has not concluded; overdue,
//! that its deadline has passed (a paused clock has none). One query on the
//! partial index of open clocks; every replica counts, each exports the
//! same figures.

use acikkapi_domain::catalog::Catalog;
use acikkapi_platform::{Platform, PlatformError, db};
use sqlx::Row;
use std::collections::HashMap;
use std::time::Duration;

/// Open and overdue applications of one province.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    pub open: i64,
    pub overdue: i64,
}

/// Counts open and overdue applications by province at `now`.
pub async fn count(p: &Platform, now: i64) -> Result<HashMap<u8, Count>, PlatformError> {
    const SQL: &str = "SELECT province, COUNT(*) AS open, \
         CAST(SUM(CASE WHEN deadline_ms < $1 THEN 1 ELSE 0 END) AS BIGINT) AS overdue \
         FROM sla_clocks WHERE concluded_ms IS NULL GROUP BY province";
    let rows: Vec<(i64, i64, i64)> = db!(&p.db, c => {
        sqlx::query(SQL).bind(now).fetch_all(c).await?
            .into_iter()
            .map(|r| Ok((r.try_get("province")?, r.try_get("open")?, r.try_get("overdue")?)))
            .collect::<Result<_, sqlx::Error>>()?
    });
    Ok(rows
        .into_iter()
        .filter_map(|(province, open, overdue)| {
            Some((u8::try_from(province).ok()?, Count { open, overdue }))
        })
        .collect())
}

/// Sets every province's gauges (zero where nothing is open).
pub async fn publish(p: &Platform, now: i64) -> Result<(), PlatformError> {
    let counts = count(p, now).await?;
    for province in &Catalog::builtin().provinces {
        let c = counts.get(&province.code).copied().unwrap_or_default();
        p.metrics
            .census(province.code, &province.name, c.open, c.overdue);
    }
    Ok(())
}

/// Counts every `escalation.census_interval_ms` until shutdown.
pub async fn run(p: Platform) {
    let every = Duration::from_millis(p.settings.escalation.census_interval_ms.max(100));
    loop {
        if let Err(e) = publish(&p, p.clock.now_ms()).await {
            tracing::warn!(error = %e, "census failed; counting again at the next interval");
        }
        tokio::select! {
            _ = p.shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
