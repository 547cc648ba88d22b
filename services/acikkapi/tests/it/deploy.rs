//! The deployment's dashboards and alerts query only metrics that exist:
//! the ones this binary exports (read from its own registry) and the few
//! the broker's exporter provides, named below.

use acikkapi_platform::metrics::Metrics;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Series of RabbitMQ's Prometheus plugin the dashboards may read.
const EXTERNAL: &[&str] = &[
    "rabbitmq_queue_messages_ready",
    "rabbitmq_queue_messages_unacked",
];

/// Every series name the registry exposes: a counter as `_total`, a
/// histogram as `_bucket`, `_sum`, `_count`, a gauge as itself. A labelled
/// family shows only once it has a series, so each gets one here (a new
/// family a dashboard reads needs its line too, or this test fails).
fn exported() -> BTreeSet<String> {
    use acikkapi_platform::metrics::{LimitLabels, MethodLabel, ResultLabel, RpcLabels};
    let m = Metrics::new();
    let s = |v: &str| v.to_owned();
    m.grpc_requests
        .get_or_create(&RpcLabels {
            method: s("m"),
            code: s("Ok"),
        })
        .inc();
    m.grpc_duration
        .get_or_create(&MethodLabel { method: s("m") })
        .observe(0.001);
    m.submissions
        .get_or_create(&ResultLabel {
            result: s("created"),
        })
        .inc();
    m.rate_limits
        .get_or_create(&LimitLabels {
            limit: s("submit"),
            result: s("limited"),
        })
        .inc();
    m.consumed("routing", "applied");
    m.sms_attempt("receipt", "sent", 1, 20_000);
    m.escalation(1, false);
    m.report_cache("hit");
    m.census(34, "İstanbul", 2, 1);
    let mut names = BTreeSet::new();
    for line in m.encode().lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let mut it = rest.split_whitespace();
        let (Some(name), Some(kind)) = (it.next(), it.next()) else {
            continue;
        };
        match kind {
            "counter" => {
                names.insert(format!("{name}_total"));
            }
            "histogram" => {
                for s in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{s}"));
                }
            }
            _ => {
                names.insert(name.to_owned());
            }
        }
    }
    names
}

/// The metric names an expression reads (platform's and the broker's).
fn metrics_in(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|w| w.starts_with("acikkapi_") || w.starts_with("rabbitmq_"))
        .map(str::to_owned)
        .collect()
}

fn unknown(exprs: &[String], known: &BTreeSet<String>) -> Vec<String> {
    exprs
        .iter()
        .flat_map(|e| metrics_in(e))
        .filter(|m| !known.contains(m) && !EXTERNAL.contains(&m.as_str()))
        .collect()
}

fn dashboards() -> Vec<(PathBuf, serde_json::Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../helm/acikkapi/dashboards");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("the chart's dashboards") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let json = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push((path, json));
        }
    }
    assert!(!out.is_empty(), "no dashboards in {}", dir.display());
    out
}

#[test]
fn dashboards_query_only_exported_metrics() {
    let known = exported();
    assert!(known.contains("acikkapi_grpc_requests_total"), "{known:?}");
    for (path, d) in dashboards() {
        let panels = d["panels"].as_array().expect("panels");
        assert!(!panels.is_empty());
        for p in panels {
            let exprs: Vec<String> = p["targets"]
                .as_array()
                .expect("targets")
                .iter()
                .map(|t| t["expr"].as_str().expect("expr").to_owned())
                .collect();
            let title = p["title"].as_str().unwrap_or("?");
            assert!(
                exprs.iter().any(|e| !metrics_in(e).is_empty()),
                "{}: panel {title} reads no metric",
                path.display()
            );
            let bad = unknown(&exprs, &known);
            assert!(
                bad.is_empty(),
                "{}: panel {title} reads {bad:?}, which nothing exports",
                path.display()
            );
        }
    }
}

/// The alert rules (their expressions; `promtool test rules` in
/// `make deploy-check` checks what they fire on) read only exported metrics.
#[test]
fn alerts_read_only_exported_metrics() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../helm/acikkapi/alerts/acikkapi.rules.yaml");
    let rules = std::fs::read_to_string(&path).expect("the chart's alert rules");
    let exprs: Vec<String> = rules
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(str::to_owned)
        .collect();
    let read: Vec<String> = exprs.iter().flat_map(|e| metrics_in(e)).collect();
    assert!(read.len() >= 6, "the rules read {read:?}");
    let bad = unknown(&exprs, &exported());
    assert!(
        bad.is_empty(),
        "the alert rules read {bad:?}, which nothing exports"
    );
}

#[test]
fn the_check_refuses_a_metric_nobody_exports() {
    let known = exported();
    let exprs = vec!["sum(rate(acikkapi_applications_lost_total[5m]))".to_owned()];
    assert_eq!(
        unknown(&exprs, &known),
        ["acikkapi_applications_lost_total"]
    );
    assert!(unknown(&["rabbitmq_queue_messages_ready".to_owned()], &known).is_empty());
}
