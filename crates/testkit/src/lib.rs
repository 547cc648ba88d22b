//! The test harness. A test asks for a [`Backend`] and gets a running node
//! on 127.0.0.1:0 with its own database (a temporary SQLite file, or a fresh
//! PostgreSQL schema), its own bus prefix and its own cache prefix, so tests
//! run in parallel. The production backend needs PostgreSQL, RabbitMQ and
//! Redis on loopback; when they are missing the test fails, never skips.

pub mod collector;
pub mod gateway;
pub mod oidc;
pub mod proxy;
pub mod web;

use acikkapi::Node;
use acikkapi_domain::national_id;
use acikkapi_platform::auth::{Claims, ClientCredentials, Keys, Role};
use acikkapi_platform::bus::Envelope;
use acikkapi_platform::config::{Secret, Settings};
use acikkapi_platform::consumer::{self, Handler, HandlerError};
use acikkapi_platform::store::{Migration, Tx};
use acikkapi_platform::{Platform, db, tx};
use acikkapi_proto::v1 as pb;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub type IntakeClient =
    pb::intake_service_client::IntakeServiceClient<InterceptedService<Channel, ClientCredentials>>;

pub type RoutingClient = pb::routing_service_client::RoutingServiceClient<
    InterceptedService<Channel, ClientCredentials>,
>;

pub type AuditClient =
    pb::audit_service_client::AuditServiceClient<InterceptedService<Channel, ClientCredentials>>;

pub type NotificationClient = pb::notification_service_client::NotificationServiceClient<
    InterceptedService<Channel, ClientCredentials>,
>;

pub type EscalationClient = pb::escalation_service_client::EscalationServiceClient<
    InterceptedService<Channel, ClientCredentials>,
>;

pub type ReportingClient = pb::reporting_service_client::ReportingServiceClient<
    InterceptedService<Channel, ClientCredentials>,
>;

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

/// Reads a child `acikkapi serve`'s output until it announces its gRPC
/// address, returns it, and keeps draining the rest so the child never
/// blocks on a full pipe.
pub fn announced_addr(stdout: std::process::ChildStdout) -> String {
    announced(stdout, 0).0
}

/// As `announced_addr`, with the `more` lines printed after the address
/// (the portal's and the console's addresses).
pub fn announced(stdout: std::process::ChildStdout, more: usize) -> (String, Vec<String>) {
    use std::io::{BufRead, BufReader};
    let mut lines = BufReader::new(stdout).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split("serving gRPC on ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .map(str::to_owned)
        })
        .expect("the server announces its address");
    let after = lines.by_ref().take(more).map_while(Result::ok).collect();
    std::thread::spawn(move || lines.for_each(drop));
    (addr, after)
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

pub struct TestNode {
    pub node: Node,
    pub shutdown: CancellationToken,
}

impl TestNode {
    pub async fn start(settings: Settings) -> Self {
        init_logging();
        let shutdown = CancellationToken::new();
        let node = Node::start(settings, shutdown.clone())
            .await
            .unwrap_or_else(|e| panic!("node did not start (are PostgreSQL, RabbitMQ and Redis up? `make services`): {e}"));
        Self { node, shutdown }
    }

    pub fn platform(&self) -> &Platform {
        &self.node.platform
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.node.grpc_addr)
    }

    pub async fn channel(&self) -> Channel {
        tonic::transport::Endpoint::from_shared(self.url())
            .expect("url")
            .connect()
            .await
            .expect("connect to node")
    }

    /// A token signed with the node's keys.
    pub fn token(&self, role: Role, province: u32, district: u32, unit: &str) -> String {
        token_for(&self.node.platform.settings, role, province, district, unit)
    }

    /// An intake client calling with `token` (or none).
    pub async fn intake_as(&self, token: Option<&str>) -> IntakeClient {
        let creds = ClientCredentials::new(token).expect("token");
        pb::intake_service_client::IntakeServiceClient::with_interceptor(
            self.channel().await,
            creds,
        )
    }

    /// An intake client of the Ministry centre (country scope, staff view).
    pub async fn intake(&self) -> IntakeClient {
        self.intake_as(Some(&self.token(Role::MinistryOfficer, 0, 0, "")))
            .await
    }

    /// Submits `req` as the Ministry centre; the application number.
    pub async fn submit(&self, req: pb::SubmitApplicationRequest) -> String {
        self.intake()
            .await
            .submit_application(req)
            .await
            .expect("submit")
            .into_inner()
            .application_number
    }

    /// `number` as intake shows it to the Ministry centre.
    pub async fn application(&self, number: &str) -> pb::Application {
        self.intake()
            .await
            .get_application(pb::GetApplicationRequest {
                application_number: number.to_owned(),
            })
            .await
            .expect("the application")
            .into_inner()
    }

    /// Concludes `number` positively, as the Ministry centre.
    pub async fn conclude(&self, number: &str) {
        self.intake()
            .await
            .conclude_application(pb::ConcludeApplicationRequest {
                application_number: number.to_owned(),
                outcome: pb::Outcome::Positive as i32,
                explanation: "Talep karşılandı.".into(),
                alternatives: vec![],
            })
            .await
            .expect("conclude");
    }

    /// A routing client calling with `token` (or none).
    pub async fn routing_as(&self, token: Option<&str>) -> RoutingClient {
        let creds = ClientCredentials::new(token).expect("token");
        pb::routing_service_client::RoutingServiceClient::with_interceptor(
            self.channel().await,
            creds,
        )
    }

    /// A routing client of the Ministry centre (country scope).
    pub async fn routing(&self) -> RoutingClient {
        self.routing_as(Some(&self.token(Role::MinistryOfficer, 0, 0, "")))
            .await
    }

    /// Waits until routing has assigned `number` and intake shows the unit;
    /// returns the unit.
    pub async fn routed(&self, number: &str) -> String {
        let p = self.platform();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let unit: Option<Option<String>> = db!(&p.db, pool => {
                sqlx::query_scalar("SELECT unit_id FROM applications WHERE number = $1")
                    .bind(number).fetch_optional(pool).await.expect("read application")
            });
            if let Some(Some(u)) = unit {
                return u;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{number} was not routed"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// An audit-trail client calling with `token` (or none).
    pub async fn audit_as(&self, token: Option<&str>) -> AuditClient {
        let creds = ClientCredentials::new(token).expect("token");
        pb::audit_service_client::AuditServiceClient::with_interceptor(self.channel().await, creds)
    }

    /// An audit-trail client of a platform operator.
    pub async fn audit(&self) -> AuditClient {
        self.audit_as(Some(&self.token(Role::PlatformOperator, 0, 0, "")))
            .await
    }

    /// A notification client calling with `token` (or none).
    pub async fn notification_as(&self, token: Option<&str>) -> NotificationClient {
        let creds = ClientCredentials::new(token).expect("token");
        pb::notification_service_client::NotificationServiceClient::with_interceptor(
            self.channel().await,
            creds,
        )
    }

    /// A notification client of a platform operator (country scope, dead letters).
    pub async fn notification(&self) -> NotificationClient {
        self.notification_as(Some(&self.token(Role::PlatformOperator, 0, 0, "")))
            .await
    }

    pub async fn escalation_as(&self, token: Option<&str>) -> EscalationClient {
        let creds = ClientCredentials::new(token).expect("token");
        pb::escalation_service_client::EscalationServiceClient::with_interceptor(
            self.channel().await,
            creds,
        )
    }

    /// An escalation client of the Ministry centre (country scope, policies, calendar).
    pub async fn escalation(&self) -> EscalationClient {
        self.escalation_as(Some(&self.token(Role::MinistryOfficer, 0, 0, "")))
            .await
    }

    pub async fn reporting_as(&self, token: Option<&str>) -> ReportingClient {
        let creds = ClientCredentials::new(token).expect("token");
        pb::reporting_service_client::ReportingServiceClient::with_interceptor(
            self.channel().await,
            creds,
        )
    }

    /// A reporting client of the Ministry centre (the whole country).
    pub async fn reporting(&self) -> ReportingClient {
        self.reporting_as(Some(&self.token(Role::MinistryOfficer, 0, 0, "")))
            .await
    }

    /// Whether escalation has started a clock for `number` (routed or not)
    /// within 20 s.
    pub async fn clock_started(&self, number: &str) -> bool {
        eventually(20, || async {
            acikkapi_escalation::store::latest(&self.platform().db, number)
                .await
                .expect("read clock")
                .is_some()
        })
        .await
    }

    /// The SLA clock of application `number` (12 digits) once escalation
    /// has it, routed (its unit known).
    pub async fn clock(&self, number: &str) -> acikkapi_escalation::store::SlaClock {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(k) = acikkapi_escalation::store::latest(&self.platform().db, number)
                .await
                .expect("read clock")
                && !k.unit_id.is_empty()
            {
                return k;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no routed SLA clock for {number}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The SMS of application `number` (12 digits), oldest first.
    pub async fn sms_of(&self, number: &str) -> Vec<acikkapi_notification::messages::Message> {
        acikkapi_notification::messages::of_application(&self.platform().db, number)
            .await
            .expect("read sms_messages")
    }

    /// Waits until `number` has an SMS from `template` in `status`; returns it.
    pub async fn sms_in(
        &self,
        number: &str,
        template: &str,
        status: &str,
    ) -> acikkapi_notification::messages::Message {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let all = self.sms_of(number).await;
            if let Some(m) = all
                .iter()
                .find(|m| m.template == template && m.status == status)
            {
                return m.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {template} SMS {status} for {number}; have {:?}",
                all.iter()
                    .map(|m| (&m.template, &m.status, &m.last_error))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn catalog(&self) -> pb::catalog_service_client::CatalogServiceClient<Channel> {
        pb::catalog_service_client::CatalogServiceClient::new(self.channel().await)
    }

    /// Graceful stop: drains writers and runs the relay's last round.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.node.wait().await.expect("node stopped cleanly");
    }

    /// Stops, then removes this test's PostgreSQL schema and RabbitMQ
    /// exchanges and queues (nothing to remove on the embedded backend).
    pub async fn stop_and_clean(self) {
        let p = self.node.platform.clone();
        self.stop().await;
        p.bus.teardown().await.expect("bus teardown");
        let schema = p.settings.store.schema.clone();
        if !schema.is_empty() {
            db!(&p.db, pool => {
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).execute(pool).await.expect("drop schema");
            });
        }
    }
}

/// With `RUST_LOG` set, logs go to the test's output (captured per test).
fn init_logging() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// A valid synthetic identity number, different for each `n`.
pub fn national_id(n: u64) -> String {
    let mut prefix = [0u8; 9];
    let mut x = 100_000_000 + n % 800_000_000;
    for d in prefix.iter_mut().rev() {
        *d = (x % 10) as u8;
        x /= 10;
    }
    national_id::complete(prefix)
}

/// A valid submission; tests change what they test.
pub fn submission(n: u64) -> pb::SubmitApplicationRequest {
    pb::SubmitApplicationRequest {
        meeting_id: String::new(),
        applicant: Some(pb::Applicant {
            national_id: national_id(n),
            full_name: "Ayşe Yılmaz".into(),
            mobile_phone: "0532 123 45 67".into(),
            email: String::new(),
        }),
        province_code: 6,
        district_code: 6010,
        channel: pb::Channel::Web as i32,
        kind: pb::Kind::Complaint as i32,
        topic_code: "H07".into(),
        type_code: "H07-01".into(),
        subject: "Kaldırım bozuk".into(),
        text: "Sokağımızdaki kaldırım aylardır bozuk; yaşlılar düşüyor.".into(),
        vulnerability: None,
        idempotency_key: format!("key-{}", uuid::Uuid::new_v4()),
    }
}

/// A test table the [`RecordingConsumer`] writes its effects to. It has no
/// unique key on purpose: an event applied twice would show as two rows.
pub const TEST_MIGRATIONS: &[Migration] = &[Migration {
    component: "testkit",
    version: 1,
    sqlite: "CREATE TABLE testkit_effects (consumer TEXT NOT NULL, event_id TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, traceparent TEXT NOT NULL)",
    postgres: "CREATE TABLE testkit_effects (consumer TEXT NOT NULL, event_id TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, traceparent TEXT NOT NULL)",
}];

/// A consumer whose effect is one row per applied event. An event whose
/// payload is [`POISON`] can never be applied (it is dead-lettered); one
/// whose payload is [`AFTER`] and an event id waits until that event is
/// applied ([`HandlerError::Later`]).
pub struct RecordingConsumer {
    pub name: &'static str,
}

/// The payload the [`RecordingConsumer`] refuses for good.
pub const POISON: &[u8] = b"poison";

/// A payload `after:<event id>`: the [`RecordingConsumer`] applies it only
/// once it has applied that event.
pub const AFTER: &str = "after:";

#[async_trait::async_trait]
impl Handler for RecordingConsumer {
    async fn handle(&self, t: &mut Tx, e: &Envelope) -> Result<(), HandlerError> {
        if e.payload == POISON {
            return Err(HandlerError::Permanent(format!("event {} is poison", e.id)));
        }
        if let Some(first) = std::str::from_utf8(&e.payload)
            .ok()
            .and_then(|p| p.strip_prefix(AFTER))
        {
            let seen: i64 = tx!(t, c => {
                sqlx::query_scalar("SELECT COUNT(*) FROM testkit_effects WHERE consumer = $1 AND event_id = $2")
                    .bind(self.name).bind(first).fetch_one(&mut **c).await?
            });
            if seen == 0 {
                return Err(HandlerError::Later(format!(
                    "event {} waits for {first}",
                    e.id
                )));
            }
        }
        let tp = e.headers.get("traceparent").cloned().unwrap_or_default();
        tx!(t, c => {
            sqlx::query("INSERT INTO testkit_effects (consumer, event_id, kind, key, traceparent) VALUES ($1, $2, $3, $4, $5)")
                .bind(self.name).bind(&e.id).bind(&e.kind).bind(&e.key).bind(tp)
                .execute(&mut **c).await?;
        });
        Ok(())
    }
}

/// Starts a recording consumer of `ApplicationReceived` on `p`'s bus and
/// waits until its queue is bound (so no event published after this returns is missed).
pub async fn start_recording_consumer(p: &Platform, name: &'static str) {
    start_recording_consumer_of(p, name, &["ApplicationReceived"]).await
}

/// A recording consumer of the given event kinds.
pub async fn start_recording_consumer_of(
    p: &Platform,
    name: &'static str,
    kinds: &'static [&'static str],
) {
    p.db.migrate(&[TEST_MIGRATIONS])
        .await
        .expect("test migrations");
    // Declaring the queue first makes the binding exist before we return.
    p.bus.declare(name, kinds).await.expect("declare");
    tokio::spawn(consumer::run(
        p.clone(),
        name,
        kinds,
        1,
        Arc::new(RecordingConsumer { name }),
    ));
}

/// The kinds of the events the recording consumer applied for `key`.
pub async fn kinds_applied(p: &Platform, key: &str) -> Vec<String> {
    db!(&p.db, pool => {
        sqlx::query_scalar::<_, String>("SELECT kind FROM testkit_effects WHERE key = $1 ORDER BY event_id")
            .bind(key)
            .fetch_all(pool)
            .await
            .expect("read effects")
    })
}

/// Rows the recording consumer wrote for `key` (an application number), or all when empty.
pub async fn effects(p: &Platform, key: &str) -> Vec<(String, String, String)> {
    db!(&p.db, pool => {
        sqlx::query_as::<_, (String, String, String)>(
            "SELECT event_id, key, traceparent FROM testkit_effects WHERE key = $1 OR $1 = '' ORDER BY event_id",
        )
        .bind(key)
        .fetch_all(pool)
        .await
        .expect("read effects")
    })
}

/// Polls `check` until it holds or `secs` pass; returns whether it held.
/// (A bound on waiting, not a timing assertion: the test asserts the state.)
pub async fn eventually<F, Fut>(secs: u64, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls `get` until it gives a value or `secs` pass.
pub async fn eventually_some<T, F, Fut>(secs: u64, mut get: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = get().await {
            return Some(v);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// As [`http_get`], None when the port does not answer (a stopped server).
pub async fn http_get_checked(addr: std::net::SocketAddr, path: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).await.ok()?;
    Some(out)
}

/// A plain HTTP GET on loopback; returns the whole response, status line first.
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect http");
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    out
}

/// A plain HTTP POST of a JSON `body` on loopback; returns the whole response.
pub async fn http_post(addr: std::net::SocketAddr, path: &str, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect http");
    s.write_all(
        format!(
            "POST {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    out
}

/// The value of the first metric line starting with `name` and holding
/// every one of `labels` (`consumer="notification"`), or 0.
pub fn metric(p: &Platform, name: &str, labels: &[&str]) -> f64 {
    p.metrics
        .encode()
        .lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

/// How many rows `table` has (tests of "nothing half-written").
pub async fn count(p: &Platform, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    db!(&p.db, pool => sqlx::query_scalar::<_, i64>(&sql).fetch_one(pool).await.expect("count"))
}
