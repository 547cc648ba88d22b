//! Layered configuration: built-in laptop defaults, then an optional TOML
//! file, then `ACIKKAPI__SECTION__KEY` environment variables. `validate()`
//! gathers every problem into one message.

use crate::PlatformError;
use crate::service::Service;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Empty means every service. An unknown name fails at parsing.
    pub services: Vec<Service>,
    pub data_dir: PathBuf,
    pub server: ServerSettings,
    pub store: StoreSettings,
    pub bus: BusSettings,
    pub cache: CacheSettings,
    pub relay: RelaySettings,
    pub telemetry: TelemetrySettings,
    pub intake: IntakeSettings,
    pub auth: AuthSettings,
    pub privacy: PrivacySettings,
    pub limits: LimitSettings,
    pub retention: RetentionSettings,
    pub routing: RoutingSettings,
    pub notification: NotificationSettings,
    pub escalation: EscalationSettings,
    pub reporting: ReportingSettings,
    pub portal: PortalSettings,
}

/// The citizen portal (vatandaş portalı): the web channel, a server-rendered
/// HTML front that calls intake and notification over gRPC.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortalSettings {
    /// Where the portal listens for browsers (plain HTTP; TLS ends at the ingress).
    pub addr: String,
    /// The gRPC address of intake (applications, tracking, the catalogue).
    /// Empty: this node's own.
    pub grpc_url: String,
    /// The gRPC address of notification (the survey), when it runs apart
    /// from intake (one Deployment per service). Empty: `grpc_url`.
    pub notification_url: String,
    /// The gRPC address of routing (the console's unit inbox). Empty: `grpc_url`.
    pub routing_url: String,
    /// The gRPC address of reporting (the console's figures). Empty: `grpc_url`.
    pub reporting_url: String,
    /// The gRPC address of escalation (the governors' overdue view). Empty: `grpc_url`.
    pub escalation_url: String,
    /// The channel service's token the portal calls with. Empty: one issued
    /// from `auth.keys` for the subject `portal` (the portal runs in the
    /// platform's own binary, with its keys).
    pub token: Secret,
    /// `Secure` on the session cookie. Off only on the embedded default,
    /// which serves plain HTTP on loopback.
    pub cookie_secure: bool,
    /// A session (and any half-filled form) is erased after this long unused.
    pub session_idle_secs: u64,
    /// The same on a kiosk: the next person must not find the last one's answers.
    pub kiosk_idle_secs: u64,
    /// Ask the applicant to confirm the mobile number with a code sent by
    /// SMS before the application is submitted.
    pub phone_confirmation: bool,
    /// The portal's address as browsers reach it (for the staff console's
    /// sign-in redirect). Empty: `http://<portal.addr>`.
    pub public_url: String,
    /// The staff console's OpenID Connect client at `auth.oidc_issuer`.
    /// Empty: no sign-in through the identity provider.
    pub console_client_id: String,
    pub console_client_secret: Secret,
    /// A staff session unused this long is signed out.
    pub console_idle_secs: u64,
}

impl Default for PortalSettings {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8080".into(),
            grpc_url: String::new(),
            notification_url: String::new(),
            routing_url: String::new(),
            reporting_url: String::new(),
            escalation_url: String::new(),
            token: Secret::default(),
            cookie_secure: false,
            session_idle_secs: 1_800,
            kiosk_idle_secs: 120,
            phone_confirmation: false,
            public_url: String::new(),
            console_client_id: String::new(),
            console_client_secret: Secret::default(),
            console_idle_secs: 900,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacySettings {
    /// AES-256 keys sealing personal data, `kid:hex32bytes[,…]`: the first
    /// seals, all open (rotation). Empty: a key generated once in the data
    /// folder (embedded default only).
    pub keys: Secret,
    /// Hex key of the keyed hash used to look up identity numbers and phones.
    pub hash_key: Secret,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// `iss` of the tokens this platform accepts.
    pub issuer: String,
    /// HS256 keys as `kid:hexsecret[,kid:hexsecret…]`; the first signs, all
    /// verify (rotation). Empty: a key generated once in `<data_dir>/auth.key`
    /// (embedded default only), which `acikkapi token` may sign with.
    pub keys: Secret,
    /// The identity provider (OpenID Connect issuer URL) whose RS256/ES256
    /// tokens every service accepts, by its published keys. Empty: none.
    pub oidc_issuer: String,
    /// The audience the provider's tokens must name.
    pub oidc_audience: String,
    /// Its key set's URL. Empty: the discovery document's `jwks_uri`.
    pub oidc_jwks_url: String,
    /// The provider's claims that carry the platform's role (by the
    /// platform's names, e.g. `desk-officer`) and scope codes.
    pub oidc_role_claim: String,
    pub oidc_province_claim: String,
    pub oidc_district_claim: String,
    pub oidc_unit_claim: String,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            issuer: "acikkapi".into(),
            keys: Secret::default(),
            oidc_issuer: String::new(),
            oidc_audience: "acikkapi".into(),
            oidc_jwks_url: String::new(),
            oidc_role_claim: "acikkapi_role".into(),
            oidc_province_claim: "acikkapi_province".into(),
            oidc_district_claim: "acikkapi_district".into(),
            oidc_unit_claim: "acikkapi_unit".into(),
        }
    }
}

impl AuthSettings {
    /// `(kid, secret)` pairs, or a message naming what is wrong.
    pub fn key_pairs(&self) -> Result<Vec<(String, Vec<u8>)>, String> {
        parse_key_list("auth.keys", self.keys.expose())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    pub grpc_addr: String,
    /// `/metrics`, `/livez`, `/readyz`. Empty disables it.
    pub http_addr: String,
    /// Calls in flight beyond this are answered RESOURCE_EXHAUSTED at once.
    pub max_concurrent_requests: usize,
    pub request_timeout_ms: u64,
    /// On SIGTERM: readiness goes false, then this delay, then draining.
    pub shutdown_delay_ms: u64,
    /// A header set by the ingress in front of the server that carries the
    /// client's address (e.g. `x-forwarded-for`; its last entry is used,
    /// the one the ingress appended). Empty: the TCP peer's address. Only
    /// set it behind an ingress that overwrites or appends it, or clients
    /// choose their own address for rate limits and the audit trail.
    pub client_ip_header: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// `sqlite://path` or `postgres://…`. Empty: `sqlite://<data_dir>/acikkapi.db`.
    pub url: Secret,
    /// PostgreSQL schema to use (created if missing). Empty: the default search path.
    pub schema: String,
    pub max_connections: u32,
    /// Group-commit writer tasks. 0: the backend's default (1 on SQLite, 2 on PostgreSQL).
    pub writers: usize,
    /// Most submissions one writer commits in one transaction.
    pub batch_max: usize,
    /// Submissions waiting for a writer beyond this are refused RESOURCE_EXHAUSTED.
    pub queue_capacity: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusSettings {
    /// `memory://` or `amqp://user:pass@host:5672/vhost`.
    pub url: Secret,
    /// Exchange and queue names start with this.
    pub prefix: String,
    /// Unused queues expire after this (tests only). 0: never.
    pub queue_expires_ms: u32,
    pub prefetch: u16,
    /// Most deliveries a consumer applies in one transaction (at most
    /// `prefetch` on RabbitMQ, which never has more unacknowledged).
    pub batch: usize,
    /// How long a consumer waits for more deliveries to fill a batch once
    /// it has one; what is ready already is taken without waiting.
    pub batch_wait_ms: u64,
    /// RabbitMQ queue type of the consumers' queues and their dead-letter
    /// queues: `quorum` (the default: replicated across the broker cluster,
    /// see the README's "Deployment") or `classic`. A queue keeps the type
    /// it was declared with: the broker refuses the other one for it.
    pub queue_type: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSettings {
    /// `memory://` or `redis://host:6379/db`.
    pub url: Secret,
    pub prefix: String,
    pub ttl_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelaySettings {
    pub enabled: bool,
    /// Most outbox rows published (with confirms in flight) per round.
    pub batch: i64,
    /// Safety-net poll for rows left by a crashed process.
    pub poll_interval_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySettings {
    /// OTLP/gRPC collector, e.g. `http://otel-collector:4317`. Empty: no export.
    pub otlp_endpoint: String,
    pub service_name: String,
    /// `text` or `json`.
    pub log_format: String,
    /// An `EnvFilter` directive; `RUST_LOG` wins when set.
    pub log_filter: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntakeSettings {
    /// Hex key (≥ 32 bytes) from which tracking codes are derived. Empty: a
    /// key generated once in `<data_dir>/tracking.key` (embedded default only).
    pub tracking_key: Secret,
    /// Competing loops per replica following routing's events. Routing
    /// numbers its events per application and one that arrives before its
    /// predecessor waits, so the order holds across loops as it does
    /// across replicas.
    pub follow_consumers: usize,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        Self {
            tracking_key: Secret::default(),
            follow_consumers: 2,
        }
    }
}

/// Rate limits against abuse, counted in the cache (Redis in production,
/// so every replica counts together) in fixed windows. 0 turns one off.
/// Over a limit the answer is RESOURCE_EXHAUSTED with the time to wait.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// Tracking look-ups per client address per minute (public, anonymous).
    pub track_per_client_per_minute: u32,
    /// Tracking look-ups of one application number per minute, from anyone:
    /// bounds guessing of a tracking code from many addresses.
    pub track_per_number_per_minute: u32,
    /// Submissions per caller (token subject) per minute.
    pub submit_per_client_per_minute: u32,
    /// Submissions per applicant identity number per day.
    pub submit_per_national_id_per_day: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            track_per_client_per_minute: 60,
            track_per_number_per_minute: 20,
            // A channel's service account carries a whole portal: generous.
            submit_per_client_per_minute: 6_000,
            submit_per_national_id_per_day: 20,
        }
    }
}

/// How long personal data is kept (KVKK art. 7: erased once no longer needed).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// `acikkapi retention run` erases the personal data of applications
    /// concluded more than this many days ago. Figures stay.
    pub personal_data_days: u32,
    /// Applications erased per transaction.
    pub batch: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            personal_data_days: 730,
            batch: 500,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingSettings {
    /// The desk can reopen an application this many days after conclusion.
    pub reopen_window_days: u32,
    /// Competing consumer loops per replica for routing's events. Each applies
    /// batches (`bus.batch`); two keep the queue moving while one commits,
    /// and more only contend for the same rows and cores.
    pub consumers: usize,
}

impl Default for RoutingSettings {
    fn default() -> Self {
        Self {
            reopen_window_days: 30,
            consumers: 2,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationSettings {
    /// `file` (embedded default: each SMS a line of `<data_dir>/sms.jsonl`)
    /// or `http` (a Verimor-style bulk-SMS gateway).
    pub provider: String,
    /// The gateway, e.g. `https://sms.verimor.com.tr`.
    pub http_url: String,
    pub http_username: String,
    pub http_password: Secret,
    /// How long one gateway call may take before it counts as failed.
    pub http_timeout_ms: u64,
    /// The registered originator (başlık) the SMS come from.
    pub originator: String,
    /// Where the applicant follows the application, put into the SMS.
    pub tracking_url: String,
    /// The tariff: micro-lira per SMS segment.
    pub segment_price_micros: u64,
    /// Messages a second for the whole provider account, shared by every
    /// replica through the cache. 0: no limit (benchmarks only).
    pub rate_per_second: u32,
    /// Sends in flight per replica.
    pub senders: usize,
    /// Attempts before a message is dead-lettered.
    pub max_attempts: u32,
    /// Back-off before attempt n+1: up to `retry_base_ms` × 2^(n-1), at most
    /// `retry_max_ms`, with jitter.
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// How long a claimed message is held before another sender may try it
    /// (after a crash); longer than two gateway calls.
    pub lease_ms: u64,
    /// How often senders look for due messages when nothing woke them.
    pub poll_ms: u64,
    /// Secret in the delivery-report callback's path,
    /// `/notification/v1/delivery-reports/<token>`. Empty: no callback.
    pub callback_token: Secret,
    /// Competing consumer loops per replica for notification's events. Each applies
    /// batches (`bus.batch`); two keep the queue moving while one commits,
    /// and more only contend for the same rows and cores.
    pub consumers: usize,
    /// The satisfaction survey after conclusion: `reply` (answered by an
    /// SMS reply, `<code> <1-5>`), `link` (a page under `tracking_url`) or
    /// `off`.
    pub survey: String,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        Self {
            provider: "file".into(),
            http_url: String::new(),
            http_username: String::new(),
            http_password: Secret::default(),
            http_timeout_ms: 10_000,
            originator: "ACIKKAPI".into(),
            tracking_url: "acikkapi.gov.tr/takip".into(),
            segment_price_micros: 20_000,
            rate_per_second: 100,
            senders: 16,
            // 5 s, 10 s, … doubling to 15 min: 11 waits, 33 to 66 minutes
            // in all, so a gateway outage of half an hour dead-letters nothing.
            max_attempts: 12,
            retry_base_ms: 5_000,
            retry_max_ms: 900_000,
            lease_ms: 30_000,
            poll_ms: 250,
            callback_token: Secret::default(),
            consumers: 2,
            survey: "reply".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EscalationSettings {
    /// Competing consumer loops per replica for escalation's events. Each applies
    /// batches (`bus.batch`); two keep the queue moving while one commits,
    /// and more only contend for the same rows and cores.
    pub consumers: usize,
    /// How often each replica looks for due rungs; 0 runs no sweeper.
    pub sweep_interval_ms: u64,
    /// Clocks one sweep transaction claims.
    pub sweep_batch: u32,
    /// How often each replica counts open and overdue applications by
    /// province for the `acikkapi_applications_open`/`_overdue` gauges; 0
    /// counts never.
    pub census_interval_ms: u64,
    /// Whether the morning of a half-day eve (arife) counts as working
    /// time (`morning`, the decree's rule) or the whole eve is off (`off`).
    pub arife: String,
}

impl Default for EscalationSettings {
    fn default() -> Self {
        Self {
            consumers: 2,
            sweep_interval_ms: 5_000,
            sweep_batch: 500,
            census_interval_ms: 15_000,
            arife: "morning".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportingSettings {
    /// Competing consumer loops per replica for reporting's events. Each applies
    /// batches (`bus.batch`); two keep the queue moving while one commits,
    /// and more only contend for the same rows and cores.
    pub consumers: usize,
    /// How long a dashboard answer stays cached at most; new events of its
    /// province invalidate it before that.
    pub cache_ttl_ms: u64,
    /// How long an answer computed before the latest events of its scope
    /// may still be served while a fresh one is computed in the background
    /// (stale-while-revalidate); 0: never, every answer reflects every
    /// committed event. Busy national dashboards want a few tens of seconds.
    pub stale_ms: u64,
    /// Rows of one export page (one query, one chunk of the stream).
    pub export_page_rows: u32,
}

impl Default for ReportingSettings {
    fn default() -> Self {
        Self {
            consumers: 2,
            cache_ttl_ms: 60_000,
            stale_ms: 0,
            export_page_rows: 5_000,
        }
    }
}

/// A configuration value that must not be printed: it shows as `***`.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            services: Vec::new(),
            data_dir: PathBuf::from("./data"),
            server: ServerSettings::default(),
            store: StoreSettings::default(),
            bus: BusSettings::default(),
            cache: CacheSettings::default(),
            relay: RelaySettings::default(),
            telemetry: TelemetrySettings::default(),
            intake: IntakeSettings::default(),
            auth: AuthSettings::default(),
            privacy: PrivacySettings::default(),
            limits: LimitSettings::default(),
            retention: RetentionSettings::default(),
            routing: RoutingSettings::default(),
            notification: NotificationSettings::default(),
            escalation: EscalationSettings::default(),
            reporting: ReportingSettings::default(),
            portal: PortalSettings::default(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            grpc_addr: "127.0.0.1:50051".into(),
            http_addr: "127.0.0.1:9464".into(),
            max_concurrent_requests: 2048,
            request_timeout_ms: 10_000,
            shutdown_delay_ms: 0,
            client_ip_header: String::new(),
        }
    }
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            url: Secret::default(),
            schema: String::new(),
            max_connections: 16,
            writers: 0,
            batch_max: 256,
            queue_capacity: 8192,
        }
    }
}

impl Default for BusSettings {
    fn default() -> Self {
        Self {
            url: Secret::new("memory://"),
            prefix: "acikkapi".into(),
            queue_expires_ms: 0,
            prefetch: 256,
            batch: 128,
            batch_wait_ms: 2,
            queue_type: "quorum".into(),
        }
    }
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            url: Secret::new("memory://"),
            prefix: "acikkapi".into(),
            ttl_ms: 30_000,
        }
    }
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            enabled: true,
            batch: 1000,
            poll_interval_ms: 250,
        }
    }
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            otlp_endpoint: String::new(),
            service_name: "acikkapi".into(),
            log_format: "text".into(),
            log_filter: "info".into(),
        }
    }
}

/// Which store backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

impl Settings {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, PlatformError> {
        let mut b = Self::defaults()?;
        if let Some(f) = file {
            b = b.add_source(::config::File::from(f).required(true));
        }
        b = b.add_source(
            ::config::Environment::with_prefix("ACIKKAPI")
                .prefix_separator("__")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("services")
                .try_parsing(true),
        );
        Self::finish(b)
    }

    /// Defaults, then a configuration file's text (TOML), without the
    /// environment: what `load` does with a file, for tests and the fuzzer.
    pub fn from_toml(text: &str) -> Result<Self, PlatformError> {
        Self::finish(
            Self::defaults()?
                .add_source(::config::File::from_str(text, ::config::FileFormat::Toml)),
        )
    }

    fn defaults() -> Result<::config::ConfigBuilder<::config::builder::DefaultState>, PlatformError>
    {
        let defaults = ::config::Config::try_from(&Settings::default())
            .map_err(|e| PlatformError::Config(e.to_string()))?;
        Ok(::config::Config::builder().add_source(defaults))
    }

    fn finish(
        b: ::config::ConfigBuilder<::config::builder::DefaultState>,
    ) -> Result<Self, PlatformError> {
        let s: Settings = b
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| PlatformError::Config(e.to_string()))?;
        s.validate()?;
        Ok(s)
    }

    /// The store URL, with the embedded default filled in.
    pub fn store_url(&self) -> String {
        if self.store.url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("acikkapi.db").display()
            )
        } else {
            self.store.url.expose().to_owned()
        }
    }

    pub fn store_kind(&self) -> StoreKind {
        if self.store_url().starts_with("postgres") {
            StoreKind::Postgres
        } else {
            StoreKind::Sqlite
        }
    }

    /// The services to run: the configured list, or all of them.
    pub fn enabled_services(&self) -> Vec<Service> {
        if self.services.is_empty() {
            Service::ALL.to_vec()
        } else {
            let mut s = self.services.clone();
            s.sort();
            s.dedup();
            s
        }
    }

    /// Whether this process runs `service`.
    pub fn runs(&self, service: Service) -> bool {
        self.services.is_empty() || self.services.contains(&service)
    }

    pub fn writers(&self) -> usize {
        match (self.store.writers, self.store_kind()) {
            (0, StoreKind::Sqlite) => 1,
            (0, StoreKind::Postgres) => 2,
            (n, _) => n,
        }
    }

    /// Every problem at once, so an operator fixes them in one round.
    pub fn validate(&self) -> Result<(), PlatformError> {
        let mut problems = Vec::new();
        if self
            .server
            .grpc_addr
            .parse::<std::net::SocketAddr>()
            .is_err()
        {
            problems.push(format!(
                "server.grpc_addr: {:?} is not host:port",
                self.server.grpc_addr
            ));
        }
        if !self.server.http_addr.is_empty()
            && self
                .server
                .http_addr
                .parse::<std::net::SocketAddr>()
                .is_err()
        {
            problems.push(format!(
                "server.http_addr: {:?} is not host:port",
                self.server.http_addr
            ));
        }
        let store = self.store_url();
        if !(store.starts_with("sqlite:")
            || store.starts_with("postgres://")
            || store.starts_with("postgresql://"))
        {
            problems.push("store.url: must start with sqlite: or postgres://".into());
        }
        if !self.store.schema.is_empty()
            && !self
                .store
                .schema
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            problems.push("store.schema: letters, digits and _ only".into());
        }
        let bus = self.bus.url.expose();
        if !(bus == "memory://" || bus.starts_with("amqp://") || bus.starts_with("amqps://")) {
            problems.push("bus.url: must be memory:// or amqp://…".into());
        }
        let cache = self.cache.url.expose();
        if !(cache == "memory://" || cache.starts_with("redis://")) {
            problems.push("cache.url: must be memory:// or redis://…".into());
        }
        if self.store.batch_max == 0
            || self.store.queue_capacity == 0
            || self.store.max_connections == 0
        {
            problems.push(
                "store: batch_max, queue_capacity and max_connections must be positive".into(),
            );
        }
        // Prefetch 0 is RabbitMQ's "no limit".
        let prefetch = usize::from(self.bus.prefetch);
        if self.bus.batch == 0 || (prefetch > 0 && self.bus.batch > prefetch) {
            problems.push("bus.batch: between 1 and bus.prefetch".into());
        }
        if self.bus.batch_wait_ms > 1000 {
            problems.push("bus.batch_wait_ms: at most 1000".into());
        }
        if self.relay.batch <= 0 {
            problems.push("relay.batch: must be positive".into());
        }
        if self.retention.personal_data_days == 0 {
            problems.push("retention.personal_data_days: must be at least 1 (a conclusion must be readable by its applicant first)".into());
        }
        if self.intake.follow_consumers == 0 || self.intake.follow_consumers > 64 {
            problems.push("intake.follow_consumers: between 1 and 64".into());
        }
        if self.routing.consumers == 0 || self.routing.consumers > 64 {
            problems.push("routing.consumers: between 1 and 64".into());
        }
        let n = &self.notification;
        match n.provider.as_str() {
            "file" => {}
            "http" => {
                if !(n.http_url.starts_with("http://") || n.http_url.starts_with("https://")) {
                    problems.push(
                        "notification.http_url: http://… or https://… with the http provider"
                            .into(),
                    );
                }
                if n.http_username.is_empty() || n.http_password.is_empty() {
                    problems.push("notification.http_username and http_password: required with the http provider".into());
                }
            }
            other => problems.push(format!(
                "notification.provider: file or http, not {other:?}"
            )),
        }
        if n.originator.len() < 3 || n.originator.len() > 11 || !n.originator.is_ascii() {
            problems.push("notification.originator: 3 to 11 characters, no Turkish letters".into());
        }
        if n.senders == 0 || n.senders > 256 {
            problems.push("notification.senders: between 1 and 256".into());
        }
        if n.consumers == 0 || n.consumers > 64 {
            problems.push("notification.consumers: between 1 and 64".into());
        }
        if self.escalation.consumers == 0 || self.escalation.consumers > 64 {
            problems.push("escalation.consumers: between 1 and 64".into());
        }
        if self.escalation.sweep_batch == 0 || self.escalation.sweep_batch > 10_000 {
            problems.push("escalation.sweep_batch: between 1 and 10000".into());
        }
        if !["morning", "off"].contains(&self.escalation.arife.as_str()) {
            problems.push("escalation.arife: morning or off".into());
        }
        if n.max_attempts == 0 {
            problems.push("notification.max_attempts: at least 1".into());
        }
        if n.retry_base_ms == 0 || n.retry_max_ms < n.retry_base_ms {
            problems
                .push("notification.retry_base_ms: positive, and not above retry_max_ms".into());
        }
        if n.lease_ms <= 2 * n.http_timeout_ms {
            problems.push(
                "notification.lease_ms: longer than two gateway calls (2 × http_timeout_ms)".into(),
            );
        }
        if n.poll_ms == 0 {
            problems.push("notification.poll_ms: positive".into());
        }
        if self.retention.batch == 0 || self.retention.batch > 5_000 {
            problems.push("retention.batch: between 1 and 5000".into());
        }
        let issuer = &self.auth.oidc_issuer;
        if !(issuer.is_empty() || issuer.starts_with("https://") || issuer.starts_with("http://")) {
            problems.push("auth.oidc_issuer: the provider's https:// issuer URL, or empty".into());
        }
        let portal = &self.portal;
        if portal.addr.parse::<std::net::SocketAddr>().is_err() {
            problems.push(format!("portal.addr: {:?} is not host:port", portal.addr));
        }
        for (key, url) in [
            ("grpc_url", &portal.grpc_url),
            ("notification_url", &portal.notification_url),
            ("routing_url", &portal.routing_url),
            ("reporting_url", &portal.reporting_url),
            ("escalation_url", &portal.escalation_url),
        ] {
            if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
                problems.push(format!("portal.{key}: http://… or https://…, or empty"));
            }
        }
        if !portal.cookie_secure && self.store_kind() == StoreKind::Postgres {
            problems.push(
                "portal.cookie_secure: must be true in production (the portal is served over HTTPS)"
                    .into(),
            );
        }
        if !portal.console_client_id.is_empty() && self.auth.oidc_issuer.is_empty() {
            problems.push("portal.console_client_id: needs auth.oidc_issuer".into());
        }
        if portal.session_idle_secs == 0
            || portal.kiosk_idle_secs == 0
            || portal.console_idle_secs == 0
        {
            problems.push(
                "portal.session_idle_secs, kiosk_idle_secs and console_idle_secs: positive".into(),
            );
        }
        let header = &self.server.client_ip_header;
        if !header.is_empty() && http::HeaderName::from_bytes(header.as_bytes()).is_err() {
            problems.push(format!(
                "server.client_ip_header: {header:?} is not a header name"
            ));
        }
        if !matches!(self.bus.queue_type.as_str(), "quorum" | "classic") {
            problems.push("bus.queue_type: quorum or classic".into());
        }
        if !matches!(self.telemetry.log_format.as_str(), "text" | "json") {
            problems.push("telemetry.log_format: text or json".into());
        }
        let key = self.intake.tracking_key.expose();
        if !key.is_empty() && (key.len() < 64 || hex_decode(key).is_none()) {
            problems.push("intake.tracking_key: at least 32 bytes, hex-encoded".into());
        }
        if key.is_empty() && self.store_kind() == StoreKind::Postgres {
            problems.push("intake.tracking_key: required with a PostgreSQL store (every replica must derive the same codes)".into());
        }
        match self.auth.key_pairs() {
            Err(e) => problems.push(e),
            Ok(k) if k.is_empty() && self.store_kind() == StoreKind::Postgres => problems.push(
                "auth.keys: required with a PostgreSQL store (the local issuer is for the embedded default only)".into(),
            ),
            Ok(_) => {}
        }
        match parse_key_list("privacy.keys", self.privacy.keys.expose()) {
            Err(e) => problems.push(e),
            Ok(k) if k.iter().any(|(_, s)| s.len() != 32) => {
                problems.push("privacy.keys: each AES-256 key is exactly 32 bytes".into())
            }
            Ok(k)
                if (k.is_empty() || self.privacy.hash_key.is_empty())
                    && self.store_kind() == StoreKind::Postgres =>
            {
                problems.push(
                    "privacy.keys and privacy.hash_key: required with a PostgreSQL store".into(),
                )
            }
            Ok(_) => {}
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(PlatformError::Config(problems.join("; ")))
        }
    }
}

/// Parses `kid:hexsecret[,kid:hexsecret…]` (each secret at least 32 bytes).
pub fn parse_key_list(setting: &str, raw: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    if raw.trim().is_empty() {
        return Ok(Vec::new());
    }
    raw.split(',')
        .map(|pair| {
            let (kid, hex) = pair
                .trim()
                .split_once(':')
                .ok_or(format!("{setting}: each key is kid:hexsecret"))?;
            if kid.is_empty() {
                return Err(format!("{setting}: a key id is empty"));
            }
            let secret = hex_decode(hex).filter(|s| s.len() >= 32).ok_or(format!(
                "{setting} {kid}: secret must be hex, at least 32 bytes"
            ))?;
            Ok((kid.to_owned(), secret))
        })
        .collect()
}

/// A 32-byte key kept in `path`, created (mode 0600) on first use: the
/// embedded default's keys live in its data folder.
pub fn local_key(path: &std::path::Path) -> Result<Vec<u8>, PlatformError> {
    let io = |e: std::io::Error| PlatformError::Config(format!("{}: {e}", path.display()));
    if let Ok(text) = std::fs::read_to_string(path) {
        return hex_decode(text.trim())
            .ok_or_else(|| PlatformError::Config(format!("{}: not hex", path.display())));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let key: [u8; 32] = rand::random();
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(path, hex).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(key.to_vec())
}

pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_embedded() {
        let s = Settings::default();
        s.validate().unwrap();
        assert_eq!(s.store_kind(), StoreKind::Sqlite);
        // The five gRPC services and the citizen portal.
        assert_eq!(s.enabled_services().len(), 6);
        assert!(s.enabled_services().contains(&Service::Portal));
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "***");
    }

    /// Defaults, then the file, then the environment, each overriding the last.
    #[test]
    #[allow(unsafe_code)] // set_var: this test is its own process under nextest
    fn file_then_environment_override_defaults() {
        let dir = std::env::temp_dir().join(format!("acikkapi-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("acikkapi.toml");
        std::fs::write(
            &file,
            "services = [\"intake\"]\n[server]\ngrpc_addr = \"127.0.0.1:6000\"\nhttp_addr = \"127.0.0.1:6001\"\n[store]\nbatch_max = 64\n",
        )
        .unwrap();
        // SAFETY: no other thread of this test reads the environment.
        unsafe { std::env::set_var("ACIKKAPI__SERVER__GRPC_ADDR", "127.0.0.1:7000") };
        let s = Settings::load(Some(&file)).unwrap();
        unsafe { std::env::remove_var("ACIKKAPI__SERVER__GRPC_ADDR") };
        assert_eq!(
            s.server.grpc_addr, "127.0.0.1:7000",
            "environment beats file"
        );
        assert_eq!(s.server.http_addr, "127.0.0.1:6001", "file beats defaults");
        assert_eq!(s.store.batch_max, 64);
        assert_eq!(s.store.queue_capacity, 8192, "defaults fill the rest");
        assert_eq!(s.services, vec![Service::Intake]);

        std::fs::write(&file, "[server]\ngrpc_adr = \"typo\"\n").unwrap();
        let err = Settings::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("grpc_adr"), "an unknown key is named: {err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_text_parses_like_a_file() {
        let s = Settings::from_toml(
            "[store]\nbatch_max = 32\n[limits]\ntrack_per_number_per_minute = 0\n",
        )
        .unwrap();
        assert_eq!(s.store.batch_max, 32);
        assert_eq!(s.limits.track_per_number_per_minute, 0);
        let err = Settings::from_toml("[retention]\npersonal_data_days = 0\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("retention.personal_data_days"), "{err}");
        assert!(Settings::from_toml("[store\n").is_err());
    }

    #[test]
    fn every_problem_is_listed() {
        let mut s = Settings::default();
        s.bus.url = Secret::new("kafka://x");
        s.server.grpc_addr = "nope".into();
        let msg = s.validate().unwrap_err().to_string();
        for needle in ["bus.url", "server.grpc_addr"] {
            assert!(msg.contains(needle), "{msg}");
        }
        // A service name is typed: an unknown one is refused as the file is
        // read, named, beside the known ones.
        let msg = Settings::from_toml("services = [\"intake\", \"billing\"]\n")
            .unwrap_err()
            .to_string();
        for needle in ["billing", "reporting"] {
            assert!(msg.contains(needle), "{msg}");
        }
    }
}
