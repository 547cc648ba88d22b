//! Logs and traces. `tracing` everywhere; OpenTelemetry OTLP export when an
//! endpoint is set; W3C trace context carried in gRPC metadata and in bus
//! envelope headers, so one application is one trace.
//!
//! Personal data never reaches a span or a log line in clear: the domain
//! types (`NationalId`, `MobilePhone`) print masked, and spans carry only
//! the application number, province, topic, unit and type.
//!
//! A monitoring team searches traces by application number, province,
//! unit and topic. The number is every span's own field; the other three
//! travel beside the trace context as W3C baggage ([`SEARCHABLE`]), set
//! by whoever learns them ([`application_headers`]: intake at submission,
//! routing when it assigns a unit, escalation from its clock), and every
//! span that continues an event's context ([`set_parent_from_headers`])
//! records them. Baggage from outside (a caller's) is neither recorded
//! nor passed on beyond these three keys, and those are set again from
//! the platform's own data wherever an application's event is made.

use crate::PlatformError;
use crate::config::TelemetrySettings;
use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::{Extractor, Injector, TextMapCompositePropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::collections::BTreeMap;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Flushes the exporter when dropped or shut down.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    pub fn shutdown(mut self) {
        if let Some(p) = self.provider.take() {
            let _ = p.shutdown();
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take() {
            let _ = p.shutdown();
        }
    }
}

/// Installs the global subscriber and propagator. Call once, from `main`.
pub fn init(s: &TelemetrySettings) -> Result<TelemetryGuard, PlatformError> {
    install_propagator();
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&s.log_filter));
    let fmt = match s.log_format.as_str() {
        "json" => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .boxed(),
        _ => tracing_subscriber::fmt::layer().with_target(false).boxed(),
    };
    let provider = if s.otlp_endpoint.is_empty() {
        None
    } else {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(s.otlp_endpoint.clone())
            .build()
            .map_err(|e| PlatformError::Config(format!("telemetry.otlp_endpoint: {e}")))?;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(s.service_name.clone())
            .build();
        Some(
            SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(resource)
                .build(),
        )
    };
    let otel = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("acikkapi")));
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()
        .map_err(|e| PlatformError::Config(format!("telemetry: {e}")))?;
    Ok(TelemetryGuard { provider })
}

/// The application's searchable attributes carried as baggage. Codes
/// only, never personal data.
pub const SEARCHABLE: [&str; 3] = ["province", "topic", "unit"];

/// W3C trace context (`traceparent`, `tracestate`) and W3C baggage
/// (`baggage`, the [`SEARCHABLE`] attributes) as the propagation format.
pub fn install_propagator() {
    opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(opentelemetry_sdk::propagation::TraceContextPropagator::new()),
        Box::new(opentelemetry_sdk::propagation::BaggagePropagator::new()),
    ]));
}

struct MapInjector<'a>(&'a mut BTreeMap<String, String>);

impl Injector for MapInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct MapExtractor<'a>(&'a BTreeMap<String, String>);

impl Extractor for MapExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// `cx` as headers, its baggage cut down to the [`SEARCHABLE`] attributes:
/// whatever else a caller put in its baggage goes no further.
fn inject(cx: &Context) -> BTreeMap<String, String> {
    let mut baggage = opentelemetry::baggage::Baggage::new();
    for (k, (v, meta)) in cx.baggage() {
        if SEARCHABLE.contains(&k.as_str()) {
            baggage.insert_with_metadata(k.clone(), v.clone(), meta.clone());
        }
    }
    let cx = cx.with_baggage(baggage);
    let mut headers = BTreeMap::new();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut MapInjector(&mut headers))
    });
    headers
}

fn extract(headers: &BTreeMap<String, String>) -> Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&MapExtractor(headers)))
}

/// The current span's trace context, for an envelope's headers.
pub fn current_context_headers() -> BTreeMap<String, String> {
    inject(&tracing::Span::current().context())
}

/// Headers for an event of one application: the trace context of `parent`
/// (the application's stored context; the current span's when `None` or
/// empty) with `attributes` (of [`SEARCHABLE`]; empty values left out)
/// set in its baggage over what it carried.
pub fn application_headers(
    parent: Option<&BTreeMap<String, String>>,
    attributes: &[(&'static str, &str)],
) -> BTreeMap<String, String> {
    let cx = match parent {
        Some(h) if h.contains_key("traceparent") => extract(h),
        _ => tracing::Span::current().context(),
    };
    let mut baggage = opentelemetry::baggage::Baggage::new();
    for (k, (v, meta)) in cx.baggage() {
        baggage.insert_with_metadata(k.clone(), v.clone(), meta.clone());
    }
    for (k, v) in attributes {
        debug_assert!(SEARCHABLE.contains(k), "{k} is not a searchable attribute");
        if !v.is_empty() {
            baggage.insert(*k, v.to_string());
        }
    }
    inject(&cx.with_baggage(baggage))
}

/// Records the [`SEARCHABLE`] attributes in `cx`'s baggage on `span`
/// (fields the span does not declare are ignored).
fn record_searchable(span: &tracing::Span, cx: &Context) {
    let baggage = cx.baggage();
    for k in SEARCHABLE {
        if let Some(v) = baggage.get(k) {
            span.record(k, v.as_str());
        }
    }
}

/// Makes `span` a child of the trace context in `headers` (if any), and
/// records the application's searchable attributes they carry.
pub fn set_parent_from_headers(span: &tracing::Span, headers: &BTreeMap<String, String>) {
    let cx = extract(headers);
    record_searchable(span, &cx);
    let _ = span.set_parent(cx);
}

struct HttpExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HttpExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// The server span of one gRPC call, continuing the caller's trace.
pub fn grpc_server_span(req: &http::Request<()>) -> tracing::Span {
    let path = req.uri().path();
    let (service, method) = path
        .trim_start_matches('/')
        .split_once('/')
        .unwrap_or(("", path));
    let span = tracing::info_span!(
        "grpc.server",
        otel.name = %path,
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
        application_number = tracing::field::Empty,
        province = tracing::field::Empty,
        topic = tracing::field::Empty,
        unit = tracing::field::Empty,
    );
    // A caller's baggage is not taken as the application's attributes:
    // the handler records what it knows (intake: the submission's own).
    let cx = opentelemetry::global::get_text_map_propagator(|p| {
        p.extract(&HttpExtractor(req.headers()))
    });
    let _ = span.set_parent(cx);
    span
}

/// A client interceptor that puts the current trace context into the call's
/// metadata, so the server's span joins the caller's trace.
#[derive(Clone, Copy, Default)]
pub struct TraceContextInterceptor;

impl tonic::service::Interceptor for TraceContextInterceptor {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        for (k, v) in current_context_headers() {
            if let (Ok(k), Ok(v)) = (
                tonic::metadata::MetadataKey::from_bytes(k.as_bytes()),
                tonic::metadata::MetadataValue::try_from(v.as_str()),
            ) {
                req.metadata_mut().insert(k, v);
            }
        }
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baggage_of(headers: &BTreeMap<String, String>) -> Vec<String> {
        let mut entries: Vec<String> = headers
            .get("baggage")
            .map(|b| b.split(',').map(|e| e.trim().to_owned()).collect())
            .unwrap_or_default();
        entries.sort();
        entries
    }

    #[test]
    fn application_headers_keep_the_trace_and_only_the_searchable_baggage() {
        install_propagator();
        let parent = BTreeMap::from([
            (
                "traceparent".to_owned(),
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
            ),
            (
                "baggage".to_owned(),
                "province=34,topic=H07,session=abc,user=someone".to_owned(),
            ),
        ]);
        let h = application_headers(Some(&parent), &[("topic", "H03"), ("unit", "u-1")]);
        assert!(h["traceparent"].contains("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert_eq!(baggage_of(&h), ["province=34", "topic=H03", "unit=u-1"]);
        // An empty value leaves what the context carried.
        let again = application_headers(Some(&h), &[("unit", "")]);
        assert_eq!(baggage_of(&again), ["province=34", "topic=H03", "unit=u-1"]);
    }
}
