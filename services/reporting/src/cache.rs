//! Dashboard answers cached (in memory on the embedded default, Redis in
//! production) under a generation per province: every event applied bumps
//! the country's generation and its province's, so an answer is never
//! served after an event of its scope committed. Country-wide answers are
//! invalidated by every event; a province's or a district's only by that
//! province's; a unit's (a unit is not tied to one province here) by every
//! event, as the country's.

use acikkapi_platform::cache::Cache;
use acikkapi_platform::{Platform, PlatformError};
use prost::Message;
use std::time::Duration;

/// Generations live long (a reset to 0 is harmless once the answers under
/// the old values expired, after `cache_ttl_ms`).
const GENERATION_TTL: Duration = Duration::from_secs(400 * 24 * 3600);

fn generation_key(province: u32) -> String {
    format!("rpt:gen:{province}")
}

/// After an event of `province` (0 if not known yet) committed.
pub async fn invalidate(cache: &Cache, province: u32) -> Result<(), PlatformError> {
    let mut keys = vec![(generation_key(0), GENERATION_TTL)];
    if province != 0 {
        keys.push((generation_key(province), GENERATION_TTL));
    }
    cache.incr_many(&keys).await.map(drop)
}

/// The cached answer of `query` for `province`'s data (0: the country),
/// or `compute`'s, then cached. A cache that fails is skipped: the store is
/// the truth, the cache only saves time.
pub async fn cached<M, F>(
    p: &Platform,
    province: u32,
    query: &str,
    compute: F,
) -> Result<M, PlatformError>
where
    M: Message + Default,
    F: Future<Output = Result<M, PlatformError>>,
{
    let ttl = Duration::from_millis(p.settings.reporting.cache_ttl_ms);
    if ttl.is_zero() {
        return compute.await;
    }
    let generation = match p.cache.counter(&generation_key(province)).await {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!(error = %e, "report cache unavailable; computing");
            return compute.await;
        }
    };
    let key = format!("rpt:{province}:{generation}:{query}");
    if let Ok(Some(hit)) = p.cache.get(&key).await
        && let Ok(m) = M::decode(hit.as_slice())
    {
        p.metrics.report_cache(true);
        return Ok(m);
    }
    p.metrics.report_cache(false);
    let m = compute.await?;
    if let Err(e) = p.cache.set(&key, &m.encode_to_vec(), ttl).await {
        tracing::warn!(error = %e, "could not cache a report");
    }
    Ok(m)
}
