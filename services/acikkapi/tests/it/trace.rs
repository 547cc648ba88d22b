//! One application, one trace: the client's span, the SubmitApplication
//! server span and the consumer's span share a trace id, across gRPC
//! metadata and the bus (RabbitMQ on the production backend). No span
//! carries personal data.

use acikkapi::testing::TestNode;
use acikkapi_proto::v1 as pb;
use acikkapi_testkit::{
    Backend, backend_tests, effects, eventually, settings, start_recording_consumer, submission,
};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use std::sync::OnceLock;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

struct Telemetry {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
}

/// One global subscriber for this test binary (both backends share it; each
/// test finds its own spans by trace id).
fn telemetry() -> &'static Telemetry {
    static T: OnceLock<Telemetry> = OnceLock::new();
    T.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new("info"))
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        acikkapi_platform::telemetry::install_propagator();
        Telemetry { exporter, provider }
    })
}

/// Submits application `i` inside a citizen-portal span: its number, the
/// applicant's identity number and the trace id.
async fn submit_from_portal(
    n: &TestNode,
    i: u64,
) -> (String, String, opentelemetry::trace::TraceId) {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let req = submission(i);
    let national_id = req.applicant.as_ref().unwrap().national_id.clone();
    let root = tracing::info_span!("citizen.portal.submit");
    let trace_id = root.context().span().span_context().trace_id();
    let number = n
        .intake()
        .await
        .submit_application(req)
        .instrument(root)
        .await
        .unwrap()
        .into_inner()
        .application_number;
    (number, national_id, trace_id)
}

/// No span carries the applicant's identity number, phone or name.
fn assert_no_personal_data(spans: &[SpanData], national_id: &str) {
    for s in spans {
        let text = format!("{:?} {:?}", s.attributes, s.events);
        for secret in [national_id, "5321234567", "Ayşe", "Yılmaz"] {
            assert!(!text.contains(secret), "span {} carries {secret:?}", s.name);
        }
    }
}

fn spans_of(trace_id: opentelemetry::trace::TraceId) -> Vec<SpanData> {
    let t = telemetry();
    let _ = t.provider.force_flush();
    t.exporter
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .filter(|s| s.span_context.trace_id() == trace_id)
        .collect()
}

async fn one_trace_spans_submission_and_its_consumer(backend: Backend) {
    telemetry();
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s).await;
    let p = n.platform().clone();
    start_recording_consumer(&p, "trace-recorder").await;
    let (number, national_id, trace_id) = submit_from_portal(&n, 11).await;

    // The recording consumer's span (routing consumes the same event, in
    // its own span of the same trace); it ends after the effect commits.
    // The relay's span ends when the broker confirms, which can come after
    // the consumer is done: both are waited for.
    let consumed = eventually(20, || async {
        let spans = spans_of(trace_id);
        spans.iter().any(|s| {
            s.name == "consume ApplicationReceived"
                && s.attributes.iter().any(|kv| {
                    kv.key.as_str() == "consumer" && kv.value.as_str() == "trace-recorder"
                })
        }) && spans.iter().any(|s| s.name == "outbox.publish")
    })
    .await;
    let spans = spans_of(trace_id);
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    assert!(
        consumed,
        "consumer or relay span not in the trace; spans of the trace: {names:?}"
    );
    assert!(
        names.contains(&"/acikkapi.v1.IntakeService/SubmitApplication"),
        "{names:?}"
    );
    assert!(names.contains(&"outbox.publish"), "{names:?}");

    // The consumer's effect carries the same trace in the header it received.
    let rows = effects(&p, &number).await;
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0].2.contains(&trace_id.to_string()),
        "traceparent {:?} lacks {trace_id}",
        rows[0].2
    );

    // Spans are searchable by application number, and carry no personal data.
    let server = spans
        .iter()
        .find(|s| s.name == "/acikkapi.v1.IntakeService/SubmitApplication")
        .unwrap();
    assert!(
        server
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "application_number" && kv.value.as_str() == number)
    );
    assert_no_personal_data(&spans, &national_id);
    n.stop_and_clean().await;
}

fn attr(s: &SpanData, key: &str) -> Option<String> {
    s.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

/// What a monitoring team sees: the application's whole life is one
/// trace (submission, routing, SMS, the SLA ladder, a conclusion made
/// later by a desk in a call of its own, reports), and every span of it
/// is searchable by number, province, topic and, once routed, unit.
async fn the_application_is_one_searchable_trace(backend: Backend) {
    telemetry();
    let (mut s, _dir) = settings(backend);
    s.escalation.sweep_interval_ms = 0;
    s.escalation.census_interval_ms = 0;
    let n = TestNode::start(s).await;
    let p = n.platform().clone();

    let (number, national_id, trace_id) = submit_from_portal(&n, 12).await;
    let unit = n.routed(&number).await;
    let clock = n.clock(&number).await;
    // The unit's reminder is due: the sweep fires it.
    let sla = n
        .escalation()
        .await
        .get_sla(pb::GetSlaRequest {
            application_number: number.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let due = sla.steps[0].due.as_ref().unwrap();
    let due_ms = due.seconds * 1000 + i64::from(due.nanos) / 1_000_000;
    acikkapi_escalation::sweep::sweep(&p, due_ms).await.unwrap();
    // A desk concludes it later, in a call of its own trace.
    let desk = tracing::info_span!("desk.conclude");
    n.conclude(&number).instrument(desk).await;

    // (span, attribute, value): the steps the application's trace must hold.
    let expected = [
        ("consume ApplicationReceived", "consumer", "routing"),
        ("consume ApplicationReceived", "consumer", "escalation"),
        ("consume ApplicationReceived", "consumer", "reporting"),
        ("consume ApplicationRouted", "consumer", "intake-follow"),
        ("consume ApplicationRouted", "consumer", "escalation"),
        ("consume ApplicationEscalated", "consumer", "reporting"),
        ("consume ApplicationConcluded", "consumer", "notification"),
        ("consume ApplicationConcluded", "consumer", "escalation"),
        ("consume ApplicationConcluded", "consumer", "reporting"),
        ("sla.escalate", "rung", "1"),
        ("sms.send", "template", "receipt"),
        ("sms.send", "template", "concluded_positive"),
    ];
    let holds = |spans: &[SpanData], (name, key, value): (&str, &str, &str)| {
        spans
            .iter()
            .any(|s| s.name == name && attr(s, key).as_deref() == Some(value))
    };
    let all_there = eventually(30, || async {
        let spans = spans_of(trace_id);
        expected.iter().all(|e| holds(&spans, *e))
    })
    .await;
    let spans = spans_of(trace_id);
    let missing: Vec<_> = expected.iter().filter(|e| !holds(&spans, **e)).collect();
    assert!(
        all_there,
        "not in the application's trace: {missing:?}; spans: {:?}",
        spans.iter().map(|s| s.name.as_ref()).collect::<Vec<_>>()
    );

    // Searchable: every span about the application names it, its province
    // and topic; every span of what follows the routing names the unit.
    let about: Vec<&SpanData> = spans
        .iter()
        .filter(|s| attr(s, "application_number").is_some())
        .collect();
    assert!(about.len() >= expected.len());
    for s in &about {
        assert_eq!(
            attr(s, "application_number").as_deref(),
            Some(number.as_str()),
            "{}",
            s.name
        );
        assert_eq!(attr(s, "province").as_deref(), Some("6"), "{}", s.name);
        assert_eq!(attr(s, "topic").as_deref(), Some("H07"), "{}", s.name);
        // (The receipt's path runs beside the routing and knows no unit.)
        let after_routing = [
            "consume ApplicationRouted",
            "consume ApplicationEscalated",
            "consume ApplicationConcluded",
            "consume SlaConcluded",
            "sla.escalate",
        ]
        .contains(&s.name.as_ref())
            || (s.name == "sms.send"
                && attr(s, "template").as_deref() == Some("concluded_positive"));
        if after_routing {
            assert_eq!(
                attr(s, "unit").as_deref(),
                Some(unit.as_str()),
                "{}",
                s.name
            );
        }
    }
    assert_eq!(clock.unit_id, unit);
    assert_no_personal_data(&spans, &national_id);
    n.stop_and_clean().await;
}

backend_tests!(
    one_trace_spans_submission_and_its_consumer,
    the_application_is_one_searchable_trace
);
