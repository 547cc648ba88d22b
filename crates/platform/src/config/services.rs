//! What each service is configured with: intake and its limits, personal
//! data retention, routing, notification, escalation and reporting.

use super::{Secret, hex_decode};
use serde::{Deserialize, Serialize};

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
    /// The SMS gateway account's user name (with `provider = "http"`).
    pub http_username: String,
    /// The SMS gateway account's password (with `provider = "http"`).
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
    /// The longest wait between two attempts of one SMS.
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

fn between(problems: &mut Vec<String>, key: &str, n: usize, low: usize, high: usize) {
    if n < low || n > high {
        problems.push(format!("{key}: between {low} and {high}"));
    }
}

impl IntakeSettings {
    pub(super) fn check(&self, production: bool, problems: &mut Vec<String>) {
        between(
            problems,
            "intake.follow_consumers",
            self.follow_consumers,
            1,
            64,
        );
        let key = self.tracking_key.expose();
        if !key.is_empty() && (key.len() < 64 || hex_decode(key).is_none()) {
            problems.push("intake.tracking_key: at least 32 bytes, hex-encoded".into());
        }
        if key.is_empty() && production {
            problems.push("intake.tracking_key: required with a PostgreSQL store (every replica must derive the same codes)".into());
        }
    }
}

impl RetentionSettings {
    pub(super) fn check(&self, problems: &mut Vec<String>) {
        if self.personal_data_days == 0 {
            problems.push("retention.personal_data_days: must be at least 1 (a conclusion must be readable by its applicant first)".into());
        }
        between(problems, "retention.batch", self.batch as usize, 1, 5_000);
    }
}

impl RoutingSettings {
    pub(super) fn check(&self, problems: &mut Vec<String>) {
        between(problems, "routing.consumers", self.consumers, 1, 64);
    }
}

impl NotificationSettings {
    pub(super) fn check(&self, problems: &mut Vec<String>) {
        match self.provider.as_str() {
            "file" => {}
            "http" => {
                if !(self.http_url.starts_with("http://") || self.http_url.starts_with("https://"))
                {
                    problems.push(
                        "notification.http_url: http://… or https://… with the http provider"
                            .into(),
                    );
                }
                if self.http_username.is_empty() || self.http_password.is_empty() {
                    problems.push("notification.http_username and http_password: required with the http provider".into());
                }
            }
            other => problems.push(format!(
                "notification.provider: file or http, not {other:?}"
            )),
        }
        let o = &self.originator;
        if o.len() < 3 || o.len() > 11 || !o.is_ascii() {
            problems.push("notification.originator: 3 to 11 characters, no Turkish letters".into());
        }
        between(problems, "notification.senders", self.senders, 1, 256);
        between(problems, "notification.consumers", self.consumers, 1, 64);
        if self.max_attempts == 0 {
            problems.push("notification.max_attempts: at least 1".into());
        }
        if self.retry_base_ms == 0 || self.retry_max_ms < self.retry_base_ms {
            problems
                .push("notification.retry_base_ms: positive, and not above retry_max_ms".into());
        }
        if self.lease_ms <= 2 * self.http_timeout_ms {
            problems.push(
                "notification.lease_ms: longer than two gateway calls (2 × http_timeout_ms)".into(),
            );
        }
        if self.poll_ms == 0 {
            problems.push("notification.poll_ms: positive".into());
        }
    }
}

impl EscalationSettings {
    pub(super) fn check(&self, problems: &mut Vec<String>) {
        between(problems, "escalation.consumers", self.consumers, 1, 64);
        between(
            problems,
            "escalation.sweep_batch",
            self.sweep_batch as usize,
            1,
            10_000,
        );
        if !["morning", "off"].contains(&self.arife.as_str()) {
            problems.push("escalation.arife: morning or off".into());
        }
    }
}
