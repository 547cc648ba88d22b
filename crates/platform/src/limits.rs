//! Rate limits against abuse: fixed-window counters in the cache (Redis in
//! production, so all replicas count together; memory on the embedded
//! default). Over a limit the call answers RESOURCE_EXHAUSTED with the
//! wait, before it costs any other work.
//!
//! When the cache cannot be reached the call is let through and counted
//! as `unavailable`: a cache outage must not close the door on citizens,
//! and load shedding still bounds the work in flight.

use crate::PlatformError;
use crate::cache::Cache;
use crate::metrics::Metrics;
use crate::store::now_ms;
use std::sync::Arc;
use std::time::Duration;

pub const MINUTE: Duration = Duration::from_secs(60);
pub const DAY: Duration = Duration::from_secs(86_400);

/// One limit on one key: at most `max` calls per `window`. `max` 0 = off.
pub struct Limit {
    /// Names the limit in the answer and the metrics, e.g. `submit_per_national_id`.
    pub name: &'static str,
    /// Whose calls are counted: an address, a token subject, a keyed hash.
    /// Never personal data in clear (the key lands in Redis).
    pub key: String,
    pub max: u32,
    pub window: Duration,
}

#[derive(Clone)]
pub struct Limiter {
    cache: Cache,
    metrics: Arc<Metrics>,
}

impl Limiter {
    pub fn new(cache: Cache, metrics: Arc<Metrics>) -> Self {
        Self { cache, metrics }
    }

    /// Counts this call against every limit; the first one exceeded refuses it.
    pub async fn check(&self, limits: &[Limit]) -> Result<(), PlatformError> {
        let now = now_ms();
        let active: Vec<&Limit> = limits.iter().filter(|l| l.max > 0).collect();
        if active.is_empty() {
            return Ok(());
        }
        let keys: Vec<(String, Duration)> = active
            .iter()
            .map(|l| {
                let window_ms = l.window.as_millis().max(1) as i64;
                let slot = now.div_euclid(window_ms);
                (format!("rl:{}:{}:{slot}", l.name, l.key), l.window)
            })
            .collect();
        let counts = match self.cache.incr_many(&keys).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "rate limits unavailable; letting the call through");
                for l in &active {
                    self.metrics.rate_limit(l.name, "unavailable");
                }
                return Ok(());
            }
        };
        for (l, n) in active.iter().zip(counts) {
            if n > u64::from(l.max) {
                self.metrics.rate_limit(l.name, "limited");
                let window_ms = l.window.as_millis().max(1) as i64;
                let wait_s = (window_ms - now.rem_euclid(window_ms) + 999) / 1000;
                return Err(PlatformError::Overloaded(format!(
                    "rate limit {}: at most {} per {}; try again in {wait_s} s",
                    l.name,
                    l.max,
                    describe(l.window)
                )));
            }
        }
        Ok(())
    }
}

fn describe(window: Duration) -> String {
    match window.as_secs() {
        60 => "minute".into(),
        86_400 => "day".into(),
        s => format!("{s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CacheSettings;

    #[tokio::test]
    async fn refuses_past_the_limit_and_names_it() {
        let cache = Cache::connect(&CacheSettings::default()).await.unwrap();
        let l = Limiter::new(cache, Arc::new(Metrics::new()));
        let limit = |key: &str| Limit {
            name: "track_per_number",
            key: key.into(),
            max: 3,
            window: DAY,
        };
        for _ in 0..3 {
            l.check(&[limit("a")]).await.unwrap();
        }
        let e = l.check(&[limit("a")]).await.unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::ResourceExhausted);
        assert!(e.to_string().contains("track_per_number"), "{e}");
        // Another key has its own count; a limit of 0 is off.
        l.check(&[limit("b")]).await.unwrap();
        for _ in 0..10 {
            l.check(&[Limit {
                max: 0,
                ..limit("a")
            }])
            .await
            .unwrap();
        }
    }
}
