//! The one gRPC server every enabled service is mounted on, with the standard
//! health service, reflection, an overload guard answering RESOURCE_EXHAUSTED,
//! per-method metrics, and the HTTP port for `/metrics`, `/livez`, `/readyz`.

use crate::Platform;
use crate::metrics::{MethodLabel, Metrics, RpcLabels};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tonic::service::Routes;
use tonic_health::ServingStatus;

/// Serves `routes` on `grpc` (and the HTTP port on `http`) until the
/// platform's shutdown token is cancelled, then drains.
pub async fn serve(
    p: Platform,
    routes: Routes,
    service_names: Vec<&'static str>,
    grpc: TcpListener,
    http: Option<(TcpListener, axum::Router)>,
    auth: crate::auth::AuthLayer,
) -> Result<(), crate::PlatformError> {
    let ready = Arc::new(AtomicBool::new(true));
    let (reporter, health) = tonic_health::server::health_reporter();
    for name in &service_names {
        reporter
            .set_service_status(*name, ServingStatus::Serving)
            .await;
    }
    // Reflection in both versions: v1, and v1alpha, which generic clients
    // still ask first or only (Python's grpcio-reflection, older grpcurl).
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(acikkapi_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection()
        .build_v1()
        .map_err(|e| crate::PlatformError::Internal(e.to_string()))?;
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .map_err(|e| crate::PlatformError::Internal(e.to_string()))?;
    let routes = routes
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);

    let http_task =
        http.map(|(l, extra)| tokio::spawn(serve_http(p.clone(), l, extra, ready.clone())));

    let shutdown = {
        let p = p.clone();
        let ready = ready.clone();
        async move {
            p.shutdown.cancelled().await;
            ready.store(false, Ordering::SeqCst);
            for name in &service_names {
                reporter
                    .set_service_status(*name, ServingStatus::NotServing)
                    .await;
            }
            // Let load balancers see NOT_SERVING before calls are refused.
            tokio::time::sleep(Duration::from_millis(p.settings.server.shutdown_delay_ms)).await;
        }
    };
    // TCP_NODELAY on every connection (tonic's own setting applies only to
    // the listeners it binds): HTTP/2 writes a response's HEADERS and DATA
    // frames apart, and with Nagle's algorithm the second waited for the
    // peer's delayed acknowledgement, 40 ms on Linux. The console bench
    // found it: every page that made a call with a larger answer took 48 ms.
    let incoming = {
        use tokio_stream::StreamExt as _;
        tokio_stream::wrappers::TcpListenerStream::new(grpc).map(|conn| {
            if let Ok(tcp) = &conn
                && let Err(e) = tcp.set_nodelay(true)
            {
                tracing::debug!(error = %e, "TCP_NODELAY not set");
            }
            conn
        })
    };
    let s = &p.settings.server;
    let result = tonic::transport::Server::builder()
        .timeout(Duration::from_millis(s.request_timeout_ms))
        .trace_fn(crate::telemetry::grpc_server_span)
        .layer(OverloadLayer::new(
            s.max_concurrent_requests,
            p.metrics.clone(),
        ))
        .layer(auth)
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|e| crate::PlatformError::Internal(format!("grpc server: {e}")));
    if let Some(t) = http_task {
        t.abort();
    }
    result
}

/// `/metrics`, `/livez`, `/readyz`, and the services' own routes (`extra`,
/// e.g. notification's delivery-report callback).
async fn serve_http(
    p: Platform,
    listener: TcpListener,
    extra: axum::Router,
    ready: Arc<AtomicBool>,
) {
    use axum::http::StatusCode;
    use axum::routing::get;
    let metrics = p.metrics.clone();
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = metrics.clone();
                async move { m.encode() }
            }),
        )
        .route("/livez", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let p = p.clone();
                let ready = ready.clone();
                async move {
                    if !ready.load(Ordering::SeqCst) {
                        return (StatusCode::SERVICE_UNAVAILABLE, "draining".to_owned());
                    }
                    let checks = tokio::time::timeout(Duration::from_secs(2), async {
                        p.db.ping().await?;
                        p.bus.ping().await?;
                        p.cache.ping().await
                    })
                    .await;
                    match checks {
                        Ok(Ok(())) => (StatusCode::OK, "ok".to_owned()),
                        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
                        Err(_) => (
                            StatusCode::SERVICE_UNAVAILABLE,
                            "dependency check timed out".to_owned(),
                        ),
                    }
                }
            }),
        )
        .merge(extra);
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "http server stopped");
    }
}

/// Refuses calls beyond `max` in flight with RESOURCE_EXHAUSTED at once,
/// instead of queueing them until memory or latency gives out. Also records
/// per-method counts and latency.
#[derive(Clone)]
pub struct OverloadLayer {
    permits: Arc<Semaphore>,
    metrics: Arc<Metrics>,
}

impl OverloadLayer {
    pub fn new(max: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max)),
            metrics,
        }
    }
}

impl<S> tower::Layer<S> for OverloadLayer {
    type Service = Overload<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Overload {
            inner,
            permits: self.permits.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Overload<S> {
    inner: S,
    permits: Arc<Semaphore>,
    metrics: Arc<Metrics>,
}

type BoxFut<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B> tower::Service<http::Request<B>> for Overload<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFut<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let method = req.uri().path().to_owned();
        let metrics = self.metrics.clone();
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            record(&metrics, &method, "RESOURCE_EXHAUSTED", None);
            let status =
                tonic::Status::resource_exhausted("the server is at capacity; retry with back-off");
            return Box::pin(async move { Ok(status.into_http()) });
        };
        // Standard tower idiom: use the instance that was polled ready.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let started = Instant::now();
            let mut res = inner.call(req).await;
            drop(permit);
            // Over the size limit: tonic refused it before any handler ran,
            // in its own words; integrators get the platform's.
            if let Ok(r) = &res
                && let Some(s) = tonic::Status::from_header_map(r.headers())
                && let Some(ours) = crate::error::request_too_large(&s)
            {
                res = Ok(ours.into_http());
            }
            if let Ok(r) = &res {
                let code = r
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map(|c| format!("{:?}", tonic::Code::from_i32(c)))
                    .unwrap_or_else(|| "Ok".to_owned());
                record(&metrics, &method, &code, Some(started.elapsed()));
            }
            res
        })
    }
}

fn record(m: &Metrics, method: &str, code: &str, took: Option<Duration>) {
    m.grpc_requests
        .get_or_create(&RpcLabels {
            method: method.to_owned(),
            code: code.to_owned(),
        })
        .inc();
    if let Some(t) = took {
        m.grpc_duration
            .get_or_create(&MethodLabel {
                method: method.to_owned(),
            })
            .observe(t.as_secs_f64());
    }
}
