//! A fake OpenTelemetry collector: a real gRPC server on 127.0.0.1:0
//! answering `opentelemetry.proto.collector.trace.v1.TraceService/Export`,
//! as Jaeger, Tempo or an OTLP collector would, and keeping what it was
//! sent. The monitoring stack lies outside the platform, like the SMS
//! gateway; the exporter that talks to it runs for real.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tonic::codegen::{Body, BoxFuture, Service, StdError, http};

/// `ExportTraceServiceRequest`, its resource spans kept as the bytes they
/// arrived as (an embedded message is length-delimited, as bytes are).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExportRequest {
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub resource_spans: Vec<Vec<u8>>,
}

/// `ExportTraceServiceResponse`: empty means everything was accepted.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExportResponse {}

pub struct FakeCollector {
    /// `http://127.0.0.1:<port>`, for `telemetry.otlp_endpoint`.
    pub url: String,
    received: Arc<Mutex<Vec<u8>>>,
    exports: Arc<Mutex<usize>>,
}

impl FakeCollector {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let svc = TraceService {
            received: Arc::default(),
            exports: Arc::default(),
        };
        let (received, exports) = (svc.received.clone(), svc.exports.clone());
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(svc)
                .serve_with_incoming(incoming),
        );
        Self {
            url,
            received,
            exports,
        }
    }

    /// Every resource span received so far, as bytes (strings in protobuf
    /// are their UTF-8 bytes, so a test can look for a value in them).
    pub fn received(&self) -> Vec<u8> {
        self.received.lock().expect("collector lock").clone()
    }

    /// Export calls answered so far.
    pub fn exports(&self) -> usize {
        *self.exports.lock().expect("collector lock")
    }
}

#[derive(Clone)]
struct TraceService {
    received: Arc<Mutex<Vec<u8>>>,
    exports: Arc<Mutex<usize>>,
}

impl tonic::server::NamedService for TraceService {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

struct Export(TraceService);

impl tonic::server::UnaryService<ExportRequest> for Export {
    type Response = ExportResponse;
    type Future = BoxFuture<tonic::Response<ExportResponse>, tonic::Status>;

    fn call(&mut self, r: tonic::Request<ExportRequest>) -> Self::Future {
        let s = self.0.clone();
        Box::pin(async move {
            let mut received = s.received.lock().expect("collector lock");
            for spans in r.into_inner().resource_spans {
                received.extend(spans);
            }
            *s.exports.lock().expect("collector lock") += 1;
            Ok(tonic::Response::new(ExportResponse {}))
        })
    }
}

impl<B> Service<http::Request<B>> for TraceService
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let me = self.clone();
        Box::pin(async move {
            if req.uri().path() != "/opentelemetry.proto.collector.trace.v1.TraceService/Export" {
                return Ok(tonic::Status::unimplemented(req.uri().path().to_owned()).into_http());
            }
            let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
            Ok(grpc.unary(Export(me), req).await)
        })
    }
}
