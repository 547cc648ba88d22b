//! Prometheus metrics, served on the HTTP port with `/livez` and `/readyz`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Mutex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    pub method: String,
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabel {
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConsumerLabels {
    pub consumer: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    pub limit: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SmsLabels {
    pub template: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EscalationLabels {
    pub level: String,
    /// `ladder` or `statutory` (Law 3071).
    pub clock: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProvinceLabels {
    /// Plate code, `1`…`81`.
    pub province: String,
    pub name: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub grpc_requests: Family<RpcLabels, Counter>,
    pub grpc_duration: Family<MethodLabel, Histogram>,
    pub submissions: Family<ResultLabel, Counter>,
    pub commit_batch_size: Histogram,
    pub outbox_published: Counter,
    pub outbox_backlog: Gauge,
    pub events_consumed: Family<ConsumerLabels, Counter>,
    /// Consumer batches by outcome: committed whole, split around an
    /// event that failed, or requeued whole (the store failed).
    pub consumer_batches: Family<ConsumerLabels, Counter>,
    pub consumer_batch_size: Histogram,
    pub rate_limits: Family<LimitLabels, Counter>,
    /// SMS attempts by template and result (sent, retried, dead).
    pub sms: Family<SmsLabels, Counter>,
    pub sms_segments: Family<SmsLabels, Counter>,
    pub sms_cost_micros: Family<SmsLabels, Counter>,
    /// SLA rungs fired, by level and clock.
    pub escalations: Family<EscalationLabels, Counter>,
    /// Report answers served from the cache (hit) or computed (miss).
    pub report_cache: Family<ResultLabel, Counter>,
    /// Applications whose SLA clock runs (not concluded), by province, at
    /// escalation's last census. Every escalation replica reports the same
    /// figures: dashboards take `max by (province)`.
    pub applications_open: Family<ProvinceLabels, Gauge>,
    /// Of those, the ones past their deadline.
    pub applications_overdue: Family<ProvinceLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("acikkapi");
        let grpc_requests = Family::<RpcLabels, Counter>::default();
        r.register(
            "grpc_requests",
            "gRPC calls by method and status code",
            grpc_requests.clone(),
        );
        let grpc_duration = Family::<MethodLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        r.register(
            "grpc_request_duration_seconds",
            "gRPC call latency",
            grpc_duration.clone(),
        );
        let submissions = Family::<ResultLabel, Counter>::default();
        r.register(
            "submissions",
            "SubmitApplication outcomes (created, replayed, invalid, overloaded)",
            submissions.clone(),
        );
        let commit_batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        r.register(
            "group_commit_batch_size",
            "Submissions committed together in one transaction",
            commit_batch_size.clone(),
        );
        let outbox_published = Counter::default();
        r.register(
            "outbox_published",
            "Outbox events confirmed by the bus",
            outbox_published.clone(),
        );
        let outbox_backlog = Gauge::default();
        r.register(
            "outbox_backlog",
            "Outbox events seen waiting at the relay's last round",
            outbox_backlog.clone(),
        );
        let events_consumed = Family::<ConsumerLabels, Counter>::default();
        r.register(
            "events_consumed",
            "Events handled by consumers: applied, duplicate, dead (each a delivery settled), retried (tried again, in its loop or from the broker), requeued (given back to the broker: a delivery more)",
            events_consumed.clone(),
        );
        let consumer_batches = Family::<ConsumerLabels, Counter>::default();
        r.register(
            "consumer_batches",
            "Consumer batches (one transaction each) by outcome: committed, split, requeued",
            consumer_batches.clone(),
        );
        let consumer_batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        r.register(
            "consumer_batch_size",
            "Deliveries a consumer took together into one transaction",
            consumer_batch_size.clone(),
        );
        let rate_limits = Family::<LimitLabels, Counter>::default();
        r.register(
            "rate_limits",
            "Calls refused by a rate limit (limited) or let through without one (unavailable)",
            rate_limits.clone(),
        );
        let sms = Family::<SmsLabels, Counter>::default();
        r.register(
            "sms_attempts",
            "SMS attempts by template and result (sent, retried, dead)",
            sms.clone(),
        );
        let sms_segments = Family::<SmsLabels, Counter>::default();
        r.register(
            "sms_segments",
            "SMS segments handed to the gateway, by template",
            sms_segments.clone(),
        );
        let sms_cost_micros = Family::<SmsLabels, Counter>::default();
        r.register(
            "sms_cost_micros",
            "What the SMS handed to the gateway cost, micro-lira, by template",
            sms_cost_micros.clone(),
        );
        let escalations = Family::<EscalationLabels, Counter>::default();
        r.register(
            "escalations",
            "SLA rungs fired, by level (1 reminder to the unit … 5 Ministry) and clock",
            escalations.clone(),
        );
        let report_cache = Family::<ResultLabel, Counter>::default();
        r.register(
            "report_cache",
            "Report answers served from the cache (hit) or computed (miss)",
            report_cache.clone(),
        );
        let applications_open = Family::<ProvinceLabels, Gauge>::default();
        r.register(
            "applications_open",
            "Applications not concluded, by province, at the last census (escalation)",
            applications_open.clone(),
        );
        let applications_overdue = Family::<ProvinceLabels, Gauge>::default();
        r.register(
            "applications_overdue",
            "Applications not concluded and past their deadline, by province, at the last census",
            applications_overdue.clone(),
        );
        Self {
            registry: Mutex::new(r),
            grpc_requests,
            grpc_duration,
            submissions,
            commit_batch_size,
            outbox_published,
            outbox_backlog,
            events_consumed,
            consumer_batches,
            consumer_batch_size,
            rate_limits,
            sms,
            sms_segments,
            sms_cost_micros,
            escalations,
            report_cache,
            applications_open,
            applications_overdue,
        }
    }

    /// One province's census figures.
    pub fn census(&self, province: u8, name: &str, open: i64, overdue: i64) {
        let l = ProvinceLabels {
            province: province.to_string(),
            name: name.to_owned(),
        };
        self.applications_open.get_or_create(&l).set(open);
        self.applications_overdue.get_or_create(&l).set(overdue);
    }

    /// A dashboard answer: `hit`, `stale` (served while a fresh one is
    /// computed) or `miss`.
    pub fn report_cache(&self, result: &'static str) {
        self.report_cache
            .get_or_create(&ResultLabel {
                result: result.into(),
            })
            .inc();
    }

    pub fn escalation(&self, level: u32, statutory: bool) {
        self.escalations
            .get_or_create(&EscalationLabels {
                level: level.to_string(),
                clock: if statutory { "statutory" } else { "ladder" }.into(),
            })
            .inc();
    }

    /// One SMS attempt; a sent one adds its segments and cost.
    pub fn sms_attempt(&self, template: &str, result: &str, segments: u64, cost_micros: u64) {
        let l = SmsLabels {
            template: template.to_owned(),
            result: result.to_owned(),
        };
        self.sms.get_or_create(&l).inc();
        if result == "sent" {
            self.sms_segments.get_or_create(&l).inc_by(segments);
            self.sms_cost_micros.get_or_create(&l).inc_by(cost_micros);
        }
    }

    pub fn rate_limit(&self, limit: &str, result: &str) {
        self.rate_limits
            .get_or_create(&LimitLabels {
                limit: limit.to_owned(),
                result: result.to_owned(),
            })
            .inc();
    }

    pub fn submission(&self, result: &str) {
        self.submissions
            .get_or_create(&ResultLabel {
                result: result.to_owned(),
            })
            .inc();
    }

    pub fn consumed(&self, consumer: &str, result: &str) {
        self.consumed_n(consumer, result, 1);
    }

    pub fn consumed_n(&self, consumer: &str, result: &str, n: u64) {
        if n == 0 {
            return;
        }
        self.events_consumed
            .get_or_create(&ConsumerLabels {
                consumer: consumer.to_owned(),
                result: result.to_owned(),
            })
            .inc_by(n);
    }

    pub fn consumer_batch(&self, consumer: &str, result: &str, size: usize) {
        self.consumer_batches
            .get_or_create(&ConsumerLabels {
                consumer: consumer.to_owned(),
                result: result.to_owned(),
            })
            .inc();
        self.consumer_batch_size.observe(size as f64);
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let r = self.registry.lock().expect("metrics lock");
        let _ = prometheus_client::encoding::text::encode(&mut out, &r);
        out
    }
}
