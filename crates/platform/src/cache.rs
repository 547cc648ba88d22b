//! A small byte cache with expiry: in-memory (embedded default) or Redis.
//! Always a cache: the store stays the truth, so a lost cache costs only time.

use crate::PlatformError;
use crate::config::CacheSettings;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Entries of the in-memory cache: value and expiry.
type MemoryMap = Arc<Mutex<HashMap<String, (Vec<u8>, Instant)>>>;

#[derive(Clone)]
pub enum Cache {
    Memory {
        prefix: String,
        map: MemoryMap,
    },
    Redis {
        prefix: String,
        conn: redis::aio::ConnectionManager,
    },
}

/// Entries the in-memory cache holds before it sweeps out expired ones.
const MEMORY_SWEEP_AT: usize = 100_000;

fn err(e: redis::RedisError) -> PlatformError {
    PlatformError::Cache(e.to_string())
}

impl Cache {
    pub async fn connect(s: &CacheSettings) -> Result<Self, PlatformError> {
        let url = s.url.expose();
        if url == "memory://" {
            return Ok(Self::Memory {
                prefix: s.prefix.clone(),
                map: Arc::default(),
            });
        }
        let client = redis::Client::open(url).map_err(err)?;
        // Bounded: an unreachable Redis is an error in seconds, not minutes
        // of silent back-off (readiness and tests must see it).
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_max_delay(1_000)
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_secs(2));
        let conn = redis::aio::ConnectionManager::new_with_config(client, config)
            .await
            .map_err(err)?;
        Ok(Self::Redis {
            prefix: s.prefix.clone(),
            conn,
        })
    }

    fn key(prefix: &str, key: &str) -> String {
        format!("{prefix}:{key}")
    }

    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PlatformError> {
        match self {
            Self::Memory { prefix, map } => {
                let map = map.lock().expect("cache lock");
                Ok(map
                    .get(&Self::key(prefix, key))
                    .filter(|(_, exp)| *exp > Instant::now())
                    .map(|(v, _)| v.clone()))
            }
            Self::Redis { prefix, conn } => {
                let mut c = conn.clone();
                redis::cmd("GET")
                    .arg(Self::key(prefix, key))
                    .query_async(&mut c)
                    .await
                    .map_err(err)
            }
        }
    }

    pub async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), PlatformError> {
        match self {
            Self::Memory { prefix, map } => {
                let mut map = map.lock().expect("cache lock");
                if map.len() >= MEMORY_SWEEP_AT {
                    let now = Instant::now();
                    map.retain(|_, (_, exp)| *exp > now);
                }
                map.insert(
                    Self::key(prefix, key),
                    (value.to_vec(), Instant::now() + ttl),
                );
                Ok(())
            }
            Self::Redis { prefix, conn } => {
                let mut c = conn.clone();
                let ms = ttl.as_millis().max(1) as u64;
                redis::cmd("SET")
                    .arg(Self::key(prefix, key))
                    .arg(value)
                    .arg("PX")
                    .arg(ms)
                    .query_async::<()>(&mut c)
                    .await
                    .map_err(err)
            }
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), PlatformError> {
        self.delete_many(&[key]).await
    }

    /// Deletes every key of `keys`: one round trip on Redis.
    pub async fn delete_many(&self, keys: &[&str]) -> Result<(), PlatformError> {
        if keys.is_empty() {
            return Ok(());
        }
        match self {
            Self::Memory { prefix, map } => {
                let mut map = map.lock().expect("cache lock");
                for key in keys {
                    map.remove(&Self::key(prefix, key));
                }
                Ok(())
            }
            Self::Redis { prefix, conn } => {
                let mut c = conn.clone();
                let mut cmd = redis::cmd("DEL");
                for key in keys {
                    cmd.arg(Self::key(prefix, key));
                }
                cmd.query_async::<()>(&mut c).await.map_err(err)
            }
        }
    }

    /// Adds one to each counter, created with its expiry when absent, and
    /// returns the new counts in order. One round trip, atomic across every
    /// replica on Redis.
    pub async fn incr_many(&self, keys: &[(String, Duration)]) -> Result<Vec<u64>, PlatformError> {
        match self {
            Self::Memory { prefix, map } => {
                let mut map = map.lock().expect("cache lock");
                let now = Instant::now();
                if map.len() >= MEMORY_SWEEP_AT {
                    map.retain(|_, (_, exp)| *exp > now);
                }
                let mut out = Vec::with_capacity(keys.len());
                for (key, ttl) in keys {
                    let entry = map
                        .entry(Self::key(prefix, key))
                        .or_insert_with(|| (Vec::new(), now + *ttl));
                    if entry.1 <= now {
                        *entry = (Vec::new(), now + *ttl);
                    }
                    let n = <[u8; 8]>::try_from(entry.0.as_slice())
                        .map(u64::from_le_bytes)
                        .unwrap_or(0)
                        + 1;
                    entry.0 = n.to_le_bytes().to_vec();
                    out.push(n);
                }
                Ok(out)
            }
            Self::Redis { prefix, conn } => {
                let mut c = conn.clone();
                let mut pipe = redis::pipe();
                pipe.atomic();
                for (key, ttl) in keys {
                    let k = Self::key(prefix, key);
                    // NX keeps the first expiry: the window does not slide
                    // while a client keeps calling.
                    pipe.cmd("INCR").arg(&k);
                    pipe.cmd("PEXPIRE")
                        .arg(&k)
                        .arg(ttl.as_millis().max(1) as u64)
                        .arg("NX")
                        .ignore();
                }
                pipe.query_async(&mut c).await.map_err(err)
            }
        }
    }

    /// The current value of a counter `incr_many` keeps; 0 when absent.
    pub async fn counter(&self, key: &str) -> Result<u64, PlatformError> {
        let raw = self.get(key).await?;
        Ok(match (self, raw) {
            (_, None) => 0,
            (Self::Memory { .. }, Some(v)) => <[u8; 8]>::try_from(v.as_slice())
                .map(u64::from_le_bytes)
                .unwrap_or(0),
            // Redis keeps INCR's counters as decimal text.
            (Self::Redis { .. }, Some(v)) => std::str::from_utf8(&v)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
        })
    }

    pub async fn ping(&self) -> Result<(), PlatformError> {
        match self {
            Self::Memory { .. } => Ok(()),
            Self::Redis { conn, .. } => {
                let mut c = conn.clone();
                redis::cmd("PING")
                    .query_async::<String>(&mut c)
                    .await
                    .map(|_| ())
                    .map_err(err)
            }
        }
    }
}
