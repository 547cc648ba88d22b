//! Isolated settings per test: a temporary SQLite file, or a fresh
//! PostgreSQL schema with its own bus and cache prefixes, so tests run in
//! parallel; the same as a child process's environment; tokens.

use acikkapi_platform::auth::{Claims, Keys, Role};
use acikkapi_platform::config::{Secret, Settings};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, in-process bus, in-memory cache.
    Embedded,
    /// PostgreSQL, RabbitMQ and Redis on loopback.
    Production,
}

pub const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
pub const REDIS_URL: &str = "redis://127.0.0.1:6379/";

/// Runs each named `async fn name(backend: Backend)` once per backend.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Embedded).await
                }
            )*
        }
        mod production {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Production).await
                }
            )*
        }
    };
}

/// Isolated settings for one test. Keep the returned directory alive.
pub fn settings(backend: Backend) -> (Settings, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut s = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    s.server.grpc_addr = "127.0.0.1:0".into();
    s.server.http_addr = "127.0.0.1:0".into();
    s.portal.addr = "127.0.0.1:0".into();
    s.relay.poll_interval_ms = 50;
    s.intake.tracking_key = Secret::new("5a".repeat(32));
    s.auth.keys = Secret::new(format!(
        "test-2:{},test-1:{}",
        "a1".repeat(32),
        "b2".repeat(32)
    ));
    s.privacy.keys = Secret::new(format!("p1:{}", "d4".repeat(32)));
    s.privacy.hash_key = Secret::new("e5".repeat(32));
    if backend == Backend::Production {
        s.store.url = Secret::new(
            std::env::var("ACIKKAPI_TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL.into()),
        );
        s.store.schema = format!("t_{id}");
        s.store.max_connections = 8;
        s.bus.url = Secret::new(
            std::env::var("ACIKKAPI_TEST_AMQP_URL").unwrap_or_else(|_| AMQP_URL.into()),
        );
        s.bus.prefix = format!("t.{id}");
        // Queues of finished tests disappear on their own.
        s.bus.queue_expires_ms = 60_000;
        s.cache.url = Secret::new(
            std::env::var("ACIKKAPI_TEST_REDIS_URL").unwrap_or_else(|_| REDIS_URL.into()),
        );
        s.cache.prefix = format!("t:{id}");
        // As in production: the portal's cookie is sent over HTTPS only.
        s.portal.cookie_secure = true;
    }
    (s, dir)
}

/// `s` as the environment of an `acikkapi serve` child process, so a test
/// can run the real binary on the test's own database, bus and cache.
pub fn env_of(s: &Settings) -> Vec<(String, String)> {
    let n = &s.notification;
    [
        ("DATA_DIR", s.data_dir.display().to_string()),
        ("SERVER__HTTP_ADDR", s.server.http_addr.clone()),
        ("PORTAL__ADDR", s.portal.addr.clone()),
        ("PORTAL__COOKIE_SECURE", s.portal.cookie_secure.to_string()),
        ("STORE__URL", s.store.url.expose().to_owned()),
        ("STORE__SCHEMA", s.store.schema.clone()),
        (
            "STORE__MAX_CONNECTIONS",
            s.store.max_connections.to_string(),
        ),
        ("BUS__URL", s.bus.url.expose().to_owned()),
        ("BUS__PREFIX", s.bus.prefix.clone()),
        ("BUS__QUEUE_TYPE", s.bus.queue_type.clone()),
        ("BUS__QUEUE_EXPIRES_MS", s.bus.queue_expires_ms.to_string()),
        ("CACHE__URL", s.cache.url.expose().to_owned()),
        ("CACHE__PREFIX", s.cache.prefix.clone()),
        (
            "RELAY__POLL_INTERVAL_MS",
            s.relay.poll_interval_ms.to_string(),
        ),
        (
            "INTAKE__TRACKING_KEY",
            s.intake.tracking_key.expose().to_owned(),
        ),
        ("AUTH__KEYS", s.auth.keys.expose().to_owned()),
        ("PRIVACY__KEYS", s.privacy.keys.expose().to_owned()),
        ("PRIVACY__HASH_KEY", s.privacy.hash_key.expose().to_owned()),
        ("NOTIFICATION__PROVIDER", n.provider.clone()),
        ("NOTIFICATION__HTTP_URL", n.http_url.clone()),
        ("NOTIFICATION__HTTP_USERNAME", n.http_username.clone()),
        (
            "NOTIFICATION__HTTP_PASSWORD",
            n.http_password.expose().to_owned(),
        ),
        (
            "NOTIFICATION__HTTP_TIMEOUT_MS",
            n.http_timeout_ms.to_string(),
        ),
        ("NOTIFICATION__LEASE_MS", n.lease_ms.to_string()),
        ("NOTIFICATION__POLL_MS", n.poll_ms.to_string()),
        ("NOTIFICATION__RETRY_BASE_MS", n.retry_base_ms.to_string()),
        (
            "NOTIFICATION__RATE_PER_SECOND",
            n.rate_per_second.to_string(),
        ),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| (format!("ACIKKAPI__{k}"), v))
    .collect()
}

/// A token signed with the keys of `settings`.
pub fn token_for(
    settings: &Settings,
    role: Role,
    province: u32,
    district: u32,
    unit: &str,
) -> String {
    let claims = Claims {
        sub: format!("test-{}", role.as_str()),
        role,
        province,
        district,
        unit: unit.into(),
        iss: String::new(),
        aud: String::new(),
        iat: 0,
        exp: 0,
    };
    Keys::load(settings)
        .expect("keys")
        .issue(claims, 3600)
        .expect("sign")
}

/// With `RUST_LOG` set, logs go to the test's output (captured per test).
pub fn init_logging() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}
