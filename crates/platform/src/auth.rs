//! Who is calling: signed JWTs (HS256, keys by key id for rotation) checked
//! once for every service by a tower layer, and the caller's role and scope
//! handed to the handlers. Methods are denied unless the policy table names
//! them; only tracking, the catalogue, health and reflection are public.

pub use crate::claims::{Area, Caller, Claims, Role, Scope, narrow};

use crate::PlatformError;
use crate::config::{Settings, StoreKind};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Which roles may call a method at all. Scope (which applications) is
/// checked by the handler against the data, in the query where it can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    Roles(&'static [Role]),
}

/// Signing and verifying keys, by key id. The first key signs; every key
/// verifies, so a new key can be added before the old one is retired.
#[derive(Clone)]
pub struct Keys {
    signing: (String, EncodingKey),
    verifying: Arc<HashMap<String, DecodingKey>>,
    issuer: String,
    /// Whether `acikkapi token` may issue with these keys (embedded default only).
    pub local_issuer: bool,
    /// The identity provider whose RS256/ES256 tokens are accepted too.
    idp: Option<Arc<crate::idp::Idp>>,
}

pub const AUDIENCE: &str = "acikkapi";

impl Keys {
    /// From `auth.keys`, or (embedded default) a key generated once in `<data_dir>/auth.key`.
    pub fn load(settings: &Settings) -> Result<Self, PlatformError> {
        let mut pairs = settings.auth.key_pairs().map_err(PlatformError::Config)?;
        let local = pairs.is_empty();
        if local {
            if settings.store_kind() == StoreKind::Postgres {
                return Err(PlatformError::Config(
                    "auth.keys: required with a PostgreSQL store".into(),
                ));
            }
            pairs.push((
                "local".into(),
                crate::config::local_key(&settings.data_dir.join("auth.key"))?,
            ));
        }
        let verifying = pairs
            .iter()
            .map(|(kid, s)| (kid.clone(), DecodingKey::from_secret(s)))
            .collect();
        let (kid, secret) = &pairs[0];
        Ok(Self {
            signing: (kid.clone(), EncodingKey::from_secret(secret)),
            verifying: Arc::new(verifying),
            issuer: settings.auth.issuer.clone(),
            local_issuer: local,
            idp: crate::idp::Idp::from_settings(&settings.auth).map(Arc::new),
        })
    }

    /// The identity provider, when one is configured.
    pub fn idp(&self) -> Option<&crate::idp::Idp> {
        self.idp.as_deref()
    }

    /// Verifies a token of the platform's own keys (HS256) or of the
    /// identity provider (RS256/ES256, fetching its keys when needed).
    pub async fn verify_any(&self, token: &str) -> Result<Claims, String> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| "malformed token".to_owned())?;
        match (&header.alg, &self.idp) {
            (Algorithm::HS256, _) => self.verify(token),
            (_, Some(idp)) => idp.verify(token, &header).await,
            (_, None) => Err("token algorithm not accepted".into()),
        }
    }

    /// Signs a token for `claims` (its iss/aud/iat/exp are set here).
    pub fn issue(&self, mut claims: Claims, ttl_secs: u64) -> Result<String, PlatformError> {
        let now = crate::store::now_ms() as u64 / 1000;
        claims.iss = self.issuer.clone();
        claims.aud = AUDIENCE.into();
        claims.iat = now;
        claims.exp = now + ttl_secs;
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.signing.0.clone());
        jsonwebtoken::encode(&header, &claims, &self.signing.1)
            .map_err(|e| PlatformError::Internal(format!("sign token: {e}")))
    }

    /// Checks signature, key id, algorithm, issuer, audience and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, String> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| "malformed token".to_owned())?;
        let kid = header.kid.ok_or("token has no key id")?;
        let key = self.verifying.get(&kid).ok_or("unknown key id")?;
        let mut v = Validation::new(Algorithm::HS256);
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[AUDIENCE]);
        v.leeway = 30;
        jsonwebtoken::decode::<Claims>(token, key, &v)
            .map(|d| d.claims)
            .map_err(|e| format!("invalid token: {e}"))
    }
}

/// The policy of every method, by gRPC path (`/package.Service/Method`).
pub type Policy = fn(&str) -> Option<Access>;

/// Authenticates every call once, for every service on the server.
#[derive(Clone)]
pub struct AuthLayer {
    keys: Keys,
    policy: Policy,
    client_ip_header: Option<http::HeaderName>,
}

impl AuthLayer {
    pub fn new(keys: Keys, policy: Policy) -> Self {
        Self {
            keys,
            policy,
            client_ip_header: None,
        }
    }

    /// Takes the client's address from this header (set by the ingress)
    /// instead of the TCP peer. See `server.client_ip_header`.
    pub fn client_ip_header(mut self, name: &str) -> Self {
        self.client_ip_header = http::HeaderName::from_bytes(name.as_bytes()).ok();
        self
    }
}

/// Where a call came from: the client's IP address, for rate limits and the
/// audit trail. In every request's extensions, public calls included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(pub String);

/// The client's address: the last entry of the configured header (what
/// the ingress itself appended), else the TCP peer.
fn origin_of<B>(req: &http::Request<B>, header: Option<&http::HeaderName>) -> Origin {
    let forwarded = header
        .and_then(|h| req.headers().get_all(h).iter().next_back())
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim)
        .filter(|v| v.parse::<std::net::IpAddr>().is_ok());
    if let Some(ip) = forwarded {
        return Origin(ip.to_owned());
    }
    let peer = req
        .extensions()
        .get::<tonic::transport::server::TcpConnectInfo>()
        .and_then(|i| i.remote_addr())
        .map(|a| a.ip().to_string());
    Origin(peer.unwrap_or_else(|| "unknown".into()))
}

/// Where the call came from (set by the layer).
pub fn origin<T>(req: &tonic::Request<T>) -> Origin {
    req.extensions()
        .get::<Origin>()
        .cloned()
        .unwrap_or_else(|| Origin("unknown".into()))
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = Auth<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Auth {
            inner,
            keys: self.keys.clone(),
            policy: self.policy,
            client_ip_header: self.client_ip_header.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Auth<S> {
    inner: S,
    keys: Keys,
    policy: Policy,
    client_ip_header: Option<http::HeaderName>,
}

type BoxFut<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B> tower::Service<http::Request<B>> for Auth<S>
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

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let path = req.uri().path().to_owned();
        let origin = origin_of(&req, self.client_ip_header.as_ref());
        let access = if is_infrastructure(&path) {
            Some(Access::Public)
        } else {
            (self.policy)(&path)
        };
        let keys = self.keys.clone();
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        // Verification may fetch the identity provider's keys (a rotation),
        // so it runs in the call's future.
        Box::pin(async move {
            let refuse = |s: tonic::Status| Ok(s.into_http());
            let claims = match bearer(&req) {
                Some(token) => Some(keys.verify_any(token).await),
                None => None,
            };
            // A channel service (the portal) speaks for its end user: the
            // address it vouches for is the one rate limits and the audit
            // count. Believed only from a verified channel-service token:
            // anyone else naming an address would choose their own limit.
            let vouched = match &claims {
                Some(Ok(c)) if c.role == Role::ChannelService => vouched_address(&req),
                _ => None,
            };
            req.extensions_mut().insert(vouched.unwrap_or(origin));
            match access {
                None => {
                    return refuse(tonic::Status::permission_denied(
                        "no access policy for this method",
                    ));
                }
                Some(Access::Public) => {}
                Some(Access::Roles(roles)) => {
                    let claims = match claims {
                        None => {
                            return refuse(tonic::Status::unauthenticated(
                                "a bearer token is required",
                            ));
                        }
                        Some(Err(e)) => return refuse(tonic::Status::unauthenticated(e)),
                        Some(Ok(c)) => c,
                    };
                    if !roles.contains(&claims.role) {
                        tracing::info!(role = claims.role.as_str(), method = %path, "role not allowed");
                        return refuse(tonic::Status::permission_denied(format!(
                            "role {} may not call this method",
                            claims.role.as_str()
                        )));
                    }
                    req.extensions_mut().insert::<Caller>(Arc::new(claims));
                }
            }
            inner.call(req).await
        })
    }
}

/// Metadata in which a channel service names its end user's address.
pub const CLIENT_ADDRESS_HEADER: &str = "x-acikkapi-client-address";

fn bearer<B>(req: &http::Request<B>) -> Option<&str> {
    req.headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// The end user's address a channel service names (its token is checked
/// by the caller of this).
fn vouched_address<B>(req: &http::Request<B>) -> Option<Origin> {
    let address = req
        .headers()
        .get(CLIENT_ADDRESS_HEADER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<std::net::IpAddr>()
        .ok()?;
    Some(Origin(address.to_string()))
}

/// Health and reflection are open on every server.
fn is_infrastructure(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.")
}

/// The caller a handler was given by the layer.
pub fn caller<T>(req: &tonic::Request<T>) -> Result<Caller, tonic::Status> {
    req.extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| tonic::Status::unauthenticated("no authenticated caller"))
}

/// A client interceptor that sends a bearer token (when it has one) and the
/// current trace context with every call.
#[derive(Clone, Default)]
pub struct ClientCredentials {
    bearer: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
}

impl ClientCredentials {
    pub fn new(token: Option<&str>) -> Result<Self, PlatformError> {
        let bearer = token
            .map(|t| format!("Bearer {}", t.trim()).parse())
            .transpose()
            .map_err(|_| PlatformError::Config("the token is not valid header text".into()))?;
        Ok(Self { bearer })
    }
}

impl tonic::service::Interceptor for ClientCredentials {
    fn call(&mut self, req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let mut req = crate::telemetry::TraceContextInterceptor.call(req)?;
        if let Some(b) = &self.bearer {
            req.metadata_mut().insert("authorization", b.clone());
        }
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(forwarded: &[&str]) -> http::Request<()> {
        let mut b = http::Request::builder();
        for v in forwarded {
            b = b.header("x-forwarded-for", *v);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn the_client_address_is_what_the_ingress_appended() {
        let h = http::HeaderName::from_static("x-forwarded-for");
        let origin = |r: &http::Request<()>, h| origin_of(r, h).0;
        // The last entry of the last header: a client can prepend, not replace.
        assert_eq!(
            origin(&request(&["1.1.1.1, 10.0.0.7"]), Some(&h)),
            "10.0.0.7"
        );
        assert_eq!(
            origin(&request(&["1.1.1.1", "2001:db8::1"]), Some(&h)),
            "2001:db8::1"
        );
        // Not an address, or no header configured: the TCP peer (none here).
        assert_eq!(origin(&request(&["evil"]), Some(&h)), "unknown");
        assert_eq!(origin(&request(&["10.0.0.7"]), None), "unknown");
    }
}
