//! What every response carries: a content security policy without inline
//! script, no framing, no sniffing, no referrer to other sites, and no
//! caching of pages (they may show a citizen's answers). And the client's
//! address, as the ingress gives it.

use crate::State;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use std::net::SocketAddr;
use tracing::Instrument;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

pub async fn headers(req: Request, next: Next) -> Response {
    let is_asset = req.uri().path().starts_with("/assets/");
    let span =
        tracing::info_span!("portal", method = %req.method(), route = route_of(req.uri().path()));
    let mut res = next.run(req).instrument(span).await;
    let h = res.headers_mut();
    let set = |h: &mut HeaderMap, k: header::HeaderName, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "same-origin");
    set(
        h,
        header::HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    );
    if !is_asset {
        set(h, header::CACHE_CONTROL, "no-store");
    }
    res
}

/// The route without what varies (a survey code is no one's business in a log).
fn route_of(path: &str) -> &'static str {
    match path {
        p if p.starts_with("/anket/") || p.starts_with("/takip/anket/") => "/anket/{code}",
        p if p.starts_with("/assets/") => "/assets/{name}",
        p if p.starts_with("/basvuru") => "/basvuru",
        p if p.starts_with("/takip") => "/takip",
        p if p.starts_with("/kiosk") => "/kiosk",
        "/" => "/",
        _ => "other",
    }
}

/// The browser's address: the last entry of `server.client_ip_header`
/// (what the ingress appended) when configured, else the TCP peer.
pub fn client_address(
    state: &State,
    headers: &HeaderMap,
    peer: &ConnectInfo<SocketAddr>,
) -> String {
    state
        .client_ip_header
        .as_ref()
        .and_then(|h| headers.get_all(h).iter().next_back())
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim)
        .filter(|v| v.parse::<std::net::IpAddr>().is_ok())
        .map(str::to_owned)
        .unwrap_or_else(|| peer.0.ip().to_string())
}
