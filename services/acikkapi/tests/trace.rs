//! One application, one trace: the client's span, the SubmitApplication
//! server span and the consumer's span share a trace id, across gRPC
//! metadata and the bus (RabbitMQ on the production backend). No span
//! carries personal data.

use acikkapi_testkit::{
    Backend, TestNode, backend_tests, effects, eventually, settings, start_recording_consumer,
    submission,
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
    let mut c = n.intake().await;

    let req = submission(11);
    let national_id = req.applicant.as_ref().unwrap().national_id.clone();
    let root = tracing::info_span!("citizen.portal.submit");
    let trace_id = {
        use opentelemetry::trace::TraceContextExt;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        root.context().span().span_context().trace_id()
    };
    let number = c
        .submit_application(req)
        .instrument(root)
        .await
        .unwrap()
        .into_inner()
        .application_number;

    // The recording consumer's span (routing consumes the same event, in
    // its own span of the same trace); it ends after the effect commits.
    let consumed = eventually(20, || async {
        spans_of(trace_id).iter().any(|s| {
            s.name == "consume ApplicationReceived"
                && s.attributes.iter().any(|kv| {
                    kv.key.as_str() == "consumer" && kv.value.as_str() == "trace-recorder"
                })
        })
    })
    .await;
    let spans = spans_of(trace_id);
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    assert!(
        consumed,
        "consumer span not in the trace; spans of the trace: {names:?}"
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
    for s in &spans {
        let text = format!("{:?} {:?}", s.attributes, s.events);
        for secret in [national_id.as_str(), "5321234567", "Ayşe", "Yılmaz"] {
            assert!(!text.contains(secret), "span {} carries {secret:?}", s.name);
        }
    }
    n.stop_and_clean().await;
}

backend_tests!(one_trace_spans_submission_and_its_consumer);
