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

/// After events of `provinces` (0 if not known yet) committed: one round
/// trip for the country's generation and each province's.
pub async fn invalidate(cache: &Cache, provinces: &[u32]) -> Result<(), PlatformError> {
    let mut provinces: Vec<u32> = provinces.iter().copied().filter(|p| *p != 0).collect();
    provinces.sort_unstable();
    provinces.dedup();
    let keys: Vec<_> = std::iter::once(0)
        .chain(provinces)
        .map(|p| (generation_key(p), GENERATION_TTL))
        .collect();
    cache.incr_many(&keys).await.map(drop)
}

/// The cached answer of `query` for `province`'s data (0: the country),
/// or `compute`'s, then cached. A cache that fails is skipped: the store is
/// the truth, the cache only saves time.
///
/// With `reporting.stale_ms` set, an answer computed under an older
/// generation is served for up to that long after it was computed; once it
/// is a third of that old, one request (across replicas: a counter in the
/// cache) computes the fresh one in the background. A busy dashboard never
/// waits for a country-wide query and is never more than `stale_ms` behind
/// (an answer is stamped with the instant its computation began). With 0,
/// the default, no answer outlives a committed event of its scope.
pub async fn cached<M, F, Fut>(
    p: &Platform,
    province: u32,
    query: &str,
    compute: F,
) -> Result<M, PlatformError>
where
    M: Message + Default + 'static,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<M, PlatformError>> + Send + 'static,
{
    let ttl = Duration::from_millis(p.settings.reporting.cache_ttl_ms);
    if ttl.is_zero() {
        return compute().await;
    }
    let generation = match p.cache.counter(&generation_key(province)).await {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!(error = %e, "report cache unavailable; computing");
            return compute().await;
        }
    };
    let key = format!("rpt:{province}:{generation}:{query}");
    if let Ok(Some(hit)) = p.cache.get(&key).await
        && let Ok(m) = M::decode(hit.as_slice())
    {
        p.metrics.report_cache("hit");
        return Ok(m);
    }
    let stale_ms = p.settings.reporting.stale_ms;
    let latest = format!("rpt:latest:{province}:{query}");
    if stale_ms > 0
        && let Ok(Some(raw)) = p.cache.get(&latest).await
        && let Some((at, m)) = stamped::<M>(&raw)
        && acikkapi_platform::store::now_ms() - at <= stale_ms as i64
    {
        p.metrics.report_cache("stale");
        // A third of the way to `stale_ms`, one refresh at a time per query
        // (whichever request claims it first, on any replica): a steady
        // stream of events costs a query every stale_ms / 3, not one per
        // event.
        let age = acikkapi_platform::store::now_ms() - at;
        let claim = format!("rpt:refresh:{province}:{query}");
        if age >= (stale_ms / 3) as i64
            && let Ok(n) = p.cache.incr_many(&[(claim.clone(), ttl)]).await
            && n.first() == Some(&1)
        {
            let (p, began, work) = (p.clone(), acikkapi_platform::store::now_ms(), compute());
            tokio::spawn(async move {
                match work.await {
                    Ok(fresh) => keep(&p, &key, (&latest, began), &fresh).await,
                    Err(e) => tracing::warn!(error = %e, "report refresh failed"),
                }
                if let Err(e) = p.cache.delete(&claim).await {
                    tracing::warn!(error = %e, "report refresh claim stays until it expires");
                }
            });
        }
        return Ok(m);
    }
    p.metrics.report_cache("miss");
    let began = acikkapi_platform::store::now_ms();
    let m = compute().await?;
    keep(p, &key, (&latest, began), &m).await;
    Ok(m)
}

/// Stores `m` as the generation's answer and, stamped with the instant its
/// computation `began`, as the latest one (which `stale_ms` may serve).
async fn keep<M: Message>(p: &Platform, key: &str, (latest, began): (&str, i64), m: &M) {
    let ttl = Duration::from_millis(p.settings.reporting.cache_ttl_ms);
    let body = m.encode_to_vec();
    let mut result = p.cache.set(key, &body, ttl).await;
    let stale_ms = p.settings.reporting.stale_ms;
    if result.is_ok() && stale_ms > 0 {
        let mut raw = began.to_be_bytes().to_vec();
        raw.extend_from_slice(&body);
        result = p
            .cache
            .set(latest, &raw, Duration::from_millis(stale_ms))
            .await;
    }
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not cache a report");
    }
}

/// A latest answer: the instant it was computed, and the answer.
fn stamped<M: Message + Default>(raw: &[u8]) -> Option<(i64, M)> {
    let at = i64::from_be_bytes(raw.get(..8)?.try_into().ok()?);
    Some((at, M::decode(raw.get(8..)?).ok()?))
}
