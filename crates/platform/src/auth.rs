//! Who is calling: signed JWTs (HS256, keys by key id for rotation) checked
//! once for every service by a tower layer, and the caller's role and scope
//! handed to the handlers. Methods are denied unless the policy table names
//! them; only tracking, the catalogue, health and reflection are public.

use crate::PlatformError;
use crate::config::{Settings, StoreKind};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// What a caller is. Names are the kebab-case strings in tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Açık Kapı desk of a governorship (province) or district governorship (district).
    DeskOfficer,
    /// An officer of one unit: sees what was routed to the unit.
    UnitOfficer,
    /// Vali yardımcısı: the province.
    DeputyGovernor,
    /// Vali: the province.
    Governor,
    /// Kaymakam: the district.
    Kaymakam,
    /// Ministry centre (Bakanlık merkezi): the whole country, the staff view.
    MinistryOfficer,
    /// Ministry analyst: the whole country, reports only, no personal data.
    MinistryAnalyst,
    /// Platform operator: configuration and operations, no personal data.
    PlatformOperator,
    /// Service account of one province's own instance.
    ProvincialInstance,
    /// Service account of a channel (web portal, mobile app, kiosk, call centre): submits anywhere.
    ChannelService,
}

impl Role {
    pub const ALL: [Role; 10] = [
        Role::DeskOfficer,
        Role::UnitOfficer,
        Role::DeputyGovernor,
        Role::Governor,
        Role::Kaymakam,
        Role::MinistryOfficer,
        Role::MinistryAnalyst,
        Role::PlatformOperator,
        Role::ProvincialInstance,
        Role::ChannelService,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::DeskOfficer => "desk-officer",
            Role::UnitOfficer => "unit-officer",
            Role::DeputyGovernor => "deputy-governor",
            Role::Governor => "governor",
            Role::Kaymakam => "kaymakam",
            Role::MinistryOfficer => "ministry-officer",
            Role::MinistryAnalyst => "ministry-analyst",
            Role::PlatformOperator => "platform-operator",
            Role::ProvincialInstance => "provincial-instance",
            Role::ChannelService => "channel-service",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The claims of an Açık Kapı token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Who: a staff id or a service account name (never a national id).
    pub sub: String,
    pub role: Role,
    /// Plate code the caller is bound to; 0 = none.
    #[serde(default)]
    pub province: u32,
    /// District code the caller is bound to; 0 = none.
    #[serde(default)]
    pub district: u32,
    /// Unit the caller belongs to; empty = none.
    #[serde(default)]
    pub unit: String,
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
}

/// The authenticated caller of one request, in the request's extensions.
pub type Caller = Arc<Claims>;

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

/// The applications (and units, rules) a caller's binding covers. Every
/// service checks it against its data, in the SQL for lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Country,
    Province(u32),
    District(u32),
    Unit(String),
    /// A token missing the binding its role needs: covers nothing.
    Nothing,
}

impl Scope {
    pub fn of(c: &Claims) -> Scope {
        use Role::*;
        match c.role {
            MinistryOfficer | ChannelService | PlatformOperator | MinistryAnalyst => Scope::Country,
            DeskOfficer if c.district != 0 => Scope::District(c.district),
            DeskOfficer | DeputyGovernor | Governor | ProvincialInstance if c.province != 0 => {
                Scope::Province(c.province)
            }
            Kaymakam if c.district != 0 => Scope::District(c.district),
            UnitOfficer if !c.unit.is_empty() => Scope::Unit(c.unit.clone()),
            _ => Scope::Nothing,
        }
    }

    /// Whether an application in `province`/`district`, routed to `unit`, is covered.
    pub fn covers(&self, province: u32, district: u32, unit: Option<&str>) -> bool {
        match self {
            Scope::Country => true,
            Scope::Province(p) => *p == province,
            Scope::District(d) => *d == district,
            Scope::Unit(u) => unit == Some(u.as_str()),
            Scope::Nothing => false,
        }
    }
}

/// A query's place: the request's scope narrowed to the caller's own.
/// Zero / empty means "all" at that level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Area {
    pub province: u32,
    pub district: u32,
    pub unit: String,
}

/// The area a caller of `caller`'s scope may ask for with `asked`:
/// INVALID_ARGUMENT naming the field for a place that does not exist,
/// PERMISSION_DENIED for one outside the caller's scope; an empty request
/// means the caller's whole scope.
pub fn narrow(
    caller: &Scope,
    asked: Option<&acikkapi_proto::v1::Scope>,
) -> Result<Area, tonic::Status> {
    let asked = asked.cloned().unwrap_or_default();
    let invalid = |field: &str, m: &str| tonic::Status::invalid_argument(format!("{field}: {m}"));
    if asked.province_code > 81 {
        return Err(invalid("scope.province_code", "a plate code 1..81, or 0"));
    }
    if asked.district_code != 0
        && asked.province_code != 0
        && asked.district_code / 1000 != asked.province_code
    {
        return Err(invalid(
            "scope.district_code",
            "a district of scope.province_code",
        ));
    }
    let mut a = Area {
        province: asked.province_code,
        district: asked.district_code,
        unit: asked.unit_id,
    };
    let outside = || tonic::Status::permission_denied("scope: outside the caller's own");
    match caller {
        Scope::Country => {}
        Scope::Province(p) => {
            let in_p = (a.province == 0 || a.province == *p)
                && (a.district == 0 || a.district / 1000 == *p);
            if !in_p {
                return Err(outside());
            }
            a.province = *p;
        }
        Scope::District(d) => {
            if a.district != 0 && a.district != *d || a.province != 0 && a.province != d / 1000 {
                return Err(outside());
            }
            a.district = *d;
        }
        Scope::Unit(u) => {
            if !a.unit.is_empty() && a.unit != *u {
                return Err(outside());
            }
            a.unit = u.clone();
        }
        Scope::Nothing => return Err(outside()),
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_area_stays_within_the_callers_scope() {
        use acikkapi_proto::v1 as pb;
        let ask = |p: u32, d: u32, u: &str| pb::Scope {
            province_code: p,
            district_code: d,
            unit_id: u.into(),
        };
        let code = |r: Result<Area, tonic::Status>| r.map_err(|s| s.code());
        // An empty request is the caller's whole scope.
        assert_eq!(code(narrow(&Scope::Province(6), None)).unwrap().province, 6);
        assert_eq!(
            code(narrow(&Scope::District(6012), None)).unwrap().district,
            6012
        );
        assert_eq!(
            code(narrow(&Scope::Unit("u1".into()), None)).unwrap().unit,
            "u1"
        );
        // Within: narrowed further; outside: denied.
        let a = code(narrow(&Scope::Province(6), Some(&ask(0, 6012, "")))).unwrap();
        assert_eq!((a.province, a.district), (6, 6012));
        for (scope, asked) in [
            (Scope::Province(6), ask(34, 0, "")),
            (Scope::Province(6), ask(0, 34001, "")),
            (Scope::District(6012), ask(0, 6001, "")),
            (Scope::District(6012), ask(34, 0, "")),
            (Scope::Unit("u1".into()), ask(0, 0, "u2")),
            (Scope::Nothing, ask(0, 0, "")),
        ] {
            assert_eq!(
                code(narrow(&scope, Some(&asked))),
                Err(tonic::Code::PermissionDenied),
                "{scope:?} asking {asked:?}"
            );
        }
        // Places that do not exist name their field.
        let e = narrow(&Scope::Country, Some(&ask(82, 0, ""))).unwrap_err();
        assert!(
            e.message().starts_with("scope.province_code"),
            "{}",
            e.message()
        );
        let e = narrow(&Scope::Country, Some(&ask(6, 34001, ""))).unwrap_err();
        assert!(
            e.message().starts_with("scope.district_code"),
            "{}",
            e.message()
        );
    }

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
