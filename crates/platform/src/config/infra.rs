//! The process and its backends: the servers, the store, the bus, the
//! cache, the outbox relay and telemetry.

use super::Secret;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Where the gRPC server listens (every service of this process).
    pub grpc_addr: String,
    /// `/metrics`, `/livez`, `/readyz`. Empty disables it.
    pub http_addr: String,
    /// Calls in flight beyond this are answered RESOURCE_EXHAUSTED at once.
    pub max_concurrent_requests: usize,
    /// A call not answered in this time is cancelled with DEADLINE_EXCEEDED.
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// `sqlite://path` or `postgres://…`. Empty: `sqlite://<data_dir>/acikkapi.db`.
    pub url: Secret,
    /// PostgreSQL schema to use (created if missing). Empty: the default search path.
    pub schema: String,
    /// The most PostgreSQL connections this process opens (see the chart's connection budget).
    pub max_connections: u32,
    /// Group-commit writer tasks. 0: the backend's default (1 on SQLite, 2 on PostgreSQL).
    pub writers: usize,
    /// Most submissions one writer commits in one transaction.
    pub batch_max: usize,
    /// Submissions waiting for a writer beyond this are refused RESOURCE_EXHAUSTED.
    pub queue_capacity: usize,
    /// SQLite only: `full` (a commit is on disk before it is acknowledged,
    /// so a power cut loses no application whose number was given) or
    /// `normal` (survives a process crash, but a power cut may lose the
    /// last commits; faster on slow disks).
    pub sqlite_synchronous: String,
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
            sqlite_synchronous: "full".into(),
        }
    }
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
    /// Deliveries a consumer loop holds unacknowledged (0: no limit).
    pub prefetch: u16,
    /// Most deliveries a consumer applies in one transaction (at most
    /// `prefetch` on RabbitMQ, which never has more unacknowledged).
    pub batch: usize,
    /// How long a consumer waits for more deliveries to fill a batch once
    /// it has one; what is ready already is taken without waiting.
    pub batch_wait_ms: u64,
    /// RabbitMQ queue type of the consumers' queues and their dead-letter
    /// queues: `quorum` (the default: replicated across the broker cluster,
    /// see docs/operations.md) or `classic`. A queue keeps the type
    /// it was declared with: the broker refuses the other one for it.
    pub queue_type: String,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSettings {
    /// `memory://` or `redis://host:6379/db`.
    pub url: Secret,
    /// Prefix of every cache key (several installations can share one Redis).
    pub prefix: String,
    /// How long a cached entry lives unless its owner says otherwise.
    pub ttl_ms: u64,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelaySettings {
    /// Whether this process publishes outbox rows (every service process should).
    pub enabled: bool,
    /// Most outbox rows published (with confirms in flight) per round.
    pub batch: i64,
    /// Safety-net poll for rows left by a crashed process.
    pub poll_interval_ms: u64,
    /// How long a published event is kept (`outbox_sent`) to be replayed
    /// into a store restored to an earlier moment (`acikkapi outbox
    /// replay`; on the in-process bus at every start). It must cover the
    /// longest a consumer may lag behind; 0 forgets them within a minute.
    pub keep_sent_hours: u64,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            enabled: true,
            batch: 1000,
            poll_interval_ms: 250,
            keep_sent_hours: 24,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySettings {
    /// OTLP/gRPC collector, e.g. `http://otel-collector:4317`. Empty: no export.
    pub otlp_endpoint: String,
    /// The OpenTelemetry `service.name` of this process's spans.
    pub service_name: String,
    /// `text` or `json`.
    pub log_format: String,
    /// An `EnvFilter` directive; `RUST_LOG` wins when set.
    pub log_filter: String,
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

impl ServerSettings {
    pub(super) fn check(&self, problems: &mut Vec<String>) {
        if self.grpc_addr.parse::<std::net::SocketAddr>().is_err() {
            problems.push(format!(
                "server.grpc_addr: {:?} is not host:port",
                self.grpc_addr
            ));
        }
        if !self.http_addr.is_empty() && self.http_addr.parse::<std::net::SocketAddr>().is_err() {
            problems.push(format!(
                "server.http_addr: {:?} is not host:port",
                self.http_addr
            ));
        }
        let header = &self.client_ip_header;
        if !header.is_empty() && http::HeaderName::from_bytes(header.as_bytes()).is_err() {
            problems.push(format!(
                "server.client_ip_header: {header:?} is not a header name"
            ));
        }
    }
}

impl StoreSettings {
    /// `url`: the store URL with the embedded default filled in.
    pub(super) fn check(&self, url: &str, problems: &mut Vec<String>) {
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            problems.push("store.url: must start with sqlite: or postgres://".into());
        }
        if !self.schema.is_empty()
            && !self
                .schema
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            problems.push("store.schema: letters, digits and _ only".into());
        }
        if self.batch_max == 0 || self.queue_capacity == 0 || self.max_connections == 0 {
            problems.push(
                "store: batch_max, queue_capacity and max_connections must be positive".into(),
            );
        }
        if !matches!(self.sqlite_synchronous.as_str(), "full" | "normal") {
            problems.push(format!(
                "store.sqlite_synchronous: {:?} is not full or normal",
                self.sqlite_synchronous
            ));
        }
    }
}

impl BusSettings {
    pub(super) fn check(&self, problems: &mut Vec<String>) {
        let bus = self.url.expose();
        if !(bus == "memory://" || bus.starts_with("amqp://") || bus.starts_with("amqps://")) {
            problems.push("bus.url: must be memory:// or amqp://…".into());
        }
        // Prefetch 0 is RabbitMQ's "no limit".
        let prefetch = usize::from(self.prefetch);
        if self.batch == 0 || (prefetch > 0 && self.batch > prefetch) {
            problems.push("bus.batch: between 1 and bus.prefetch".into());
        }
        if self.batch_wait_ms > 1000 {
            problems.push("bus.batch_wait_ms: at most 1000".into());
        }
        if !matches!(self.queue_type.as_str(), "quorum" | "classic") {
            problems.push("bus.queue_type: quorum or classic".into());
        }
    }
}

impl CacheSettings {
    pub(super) fn check(&self, problems: &mut Vec<String>) {
        let cache = self.url.expose();
        if !(cache == "memory://" || cache.starts_with("redis://")) {
            problems.push("cache.url: must be memory:// or redis://…".into());
        }
    }
}

impl RelaySettings {
    pub(super) fn check(&self, problems: &mut Vec<String>) {
        if self.batch <= 0 {
            problems.push("relay.batch: must be positive".into());
        }
    }
}

impl TelemetrySettings {
    pub(super) fn check(&self, problems: &mut Vec<String>) {
        if !matches!(self.log_format.as_str(), "text" | "json") {
            problems.push("telemetry.log_format: text or json".into());
        }
    }
}
