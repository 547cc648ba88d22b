//! Tokens of the platform's identity provider (OpenID Connect): RS256 or
//! ES256 signatures, verified with the key set (JWKS) the provider
//! publishes. The set is fetched at first use and again whenever a token
//! names a key not seen yet, which is how a provider's key rotation
//! arrives; a fetch happens at most once per [`REFRESH_GAP`], so a stream
//! of tokens with made-up key ids cannot turn the platform into a flood of
//! requests at the provider.
//!
//! The provider's claims are mapped to the platform's [`Claims`]: `sub`,
//! and the role and scope from the claims `auth.oidc_*_claim` name (the
//! role by the platform's own names, e.g. `desk-officer`).

use crate::claims::{Claims, Role};
use crate::config::AuthSettings;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// The least time between two fetches of the key set.
pub const REFRESH_GAP: Duration = Duration::from_secs(10);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Idp {
    issuer: String,
    audience: String,
    /// Configured, or empty: the discovery document's `jwks_uri`.
    jwks_url: String,
    role_claim: String,
    province_claim: String,
    district_claim: String,
    unit_claim: String,
    keys: RwLock<HashMap<String, DecodingKey>>,
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    endpoints: tokio::sync::OnceCell<Endpoints>,
}

/// Where a browser signs in and where its code is exchanged, from the
/// provider's discovery document.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
}

impl Idp {
    /// The provider `settings` name, if any.
    pub fn from_settings(settings: &AuthSettings) -> Option<Self> {
        if settings.oidc_issuer.is_empty() {
            return None;
        }
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(FETCH_TIMEOUT));
        http.enforce_http(false);
        // Mozilla's roots, compiled in; plain http:// for a provider inside
        // the cluster and for the tests' provider.
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Some(Self {
            issuer: settings.oidc_issuer.trim_end_matches('/').to_owned(),
            audience: settings.oidc_audience.clone(),
            jwks_url: settings.oidc_jwks_url.clone(),
            role_claim: settings.oidc_role_claim.clone(),
            province_claim: settings.oidc_province_claim.clone(),
            district_claim: settings.oidc_district_claim.clone(),
            unit_claim: settings.oidc_unit_claim.clone(),
            keys: RwLock::new(HashMap::new()),
            last_fetch: tokio::sync::Mutex::new(None),
            client: Client::builder(TokioExecutor::new()).build(connector),
            endpoints: tokio::sync::OnceCell::new(),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Checks a token of the provider: algorithm (RS256 or ES256 only),
    /// key, signature, issuer, audience and expiry; then maps its claims.
    pub async fn verify(&self, token: &str, header: &Header) -> Result<Claims, String> {
        let claims = self.decode(token, header, &self.audience).await?;
        self.claims(&claims)
    }

    /// The claims of a token of the provider for `audience` (an ID token's
    /// is the client's id), checked as [`Idp::verify`] checks.
    pub async fn decode(
        &self,
        token: &str,
        header: &Header,
        audience: &str,
    ) -> Result<serde_json::Value, String> {
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err("token algorithm not accepted".into());
        }
        let kid = header.kid.as_deref().ok_or("token has no key id")?;
        let key = match self.key(kid) {
            Some(k) => k,
            None => {
                self.fetch_if_due().await?;
                self.key(kid).ok_or("unknown key id")?
            }
        };
        let mut v = Validation::new(header.alg);
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = 30;
        jsonwebtoken::decode::<serde_json::Value>(token, &key, &v)
            .map(|d| d.claims)
            .map_err(|e| format!("invalid token: {e}"))
    }

    /// The authorization and token endpoints (discovery, fetched once).
    pub async fn endpoints(&self) -> Result<Endpoints, String> {
        self.endpoints
            .get_or_try_init(|| async {
                let d = self
                    .get_json(&format!("{}/.well-known/openid-configuration", self.issuer))
                    .await?;
                let field = |name: &str| {
                    d[name]
                        .as_str()
                        .map(str::to_owned)
                        .ok_or(format!("the provider's discovery document has no {name}"))
                };
                Ok(Endpoints {
                    authorization: field("authorization_endpoint")?,
                    token: field("token_endpoint")?,
                })
            })
            .await
            .cloned()
    }

    /// Posts `form` to the token endpoint; the provider's JSON answer.
    pub async fn exchange(&self, form: &[(&str, &str)]) -> Result<serde_json::Value, String> {
        let url = self.endpoints().await?.token;
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let req = http::Request::post(&url)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("{url}: {e}"))?;
        self.send_json(&url, req).await
    }

    fn key(&self, kid: &str) -> Option<DecodingKey> {
        self.keys.read().expect("jwks lock").get(kid).cloned()
    }

    /// Fetches the key set unless another fetch happened within
    /// [`REFRESH_GAP`] (concurrent callers wait for the one in flight).
    async fn fetch_if_due(&self) -> Result<(), String> {
        let mut last = self.last_fetch.lock().await;
        if last.is_some_and(|at| at.elapsed() < REFRESH_GAP) {
            return Ok(());
        }
        *last = Some(Instant::now());
        self.fetch().await
    }

    /// Fetches the key set now and replaces the known keys with it.
    pub async fn fetch(&self) -> Result<(), String> {
        let url = if self.jwks_url.is_empty() {
            let discovery = self
                .get_json(&format!("{}/.well-known/openid-configuration", self.issuer))
                .await?;
            discovery["jwks_uri"]
                .as_str()
                .ok_or("the provider's discovery document has no jwks_uri")?
                .to_owned()
        } else {
            self.jwks_url.clone()
        };
        let set: JwkSet = serde_json::from_value(self.get_json(&url).await?)
            .map_err(|e| format!("the provider's key set: {e}"))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            match DecodingKey::from_jwk(jwk) {
                Ok(k) => {
                    keys.insert(kid, k);
                }
                Err(e) => tracing::warn!(%kid, error = %e, "identity provider key skipped"),
            }
        }
        tracing::info!(keys = keys.len(), "identity provider keys fetched");
        *self.keys.write().expect("jwks lock") = keys;
        Ok(())
    }

    async fn get_json(&self, url: &str) -> Result<serde_json::Value, String> {
        let req = http::Request::get(url)
            .header(http::header::ACCEPT, "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|e| format!("{url}: {e}"))?;
        self.send_json(url, req).await
    }

    async fn send_json(
        &self,
        url: &str,
        req: http::Request<Full<Bytes>>,
    ) -> Result<serde_json::Value, String> {
        let res = tokio::time::timeout(FETCH_TIMEOUT, self.client.request(req))
            .await
            .map_err(|_| format!("{url}: timed out"))?
            .map_err(|e| format!("{url}: {e}"))?;
        if !res.status().is_success() {
            return Err(format!("{url}: {}", res.status()));
        }
        let body = tokio::time::timeout(FETCH_TIMEOUT, res.into_body().collect())
            .await
            .map_err(|_| format!("{url}: timed out"))?
            .map_err(|e| format!("{url}: {e}"))?
            .to_bytes();
        serde_json::from_slice(&body).map_err(|e| format!("{url}: {e}"))
    }

    /// The platform's claims from the provider's.
    fn claims(&self, c: &serde_json::Value) -> Result<Claims, String> {
        let text = |name: &str| {
            c.get(name)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_owned()
        };
        // Scope codes may come as numbers or as text.
        let code = |name: &str| -> Result<u32, String> {
            match c.get(name) {
                None | Some(serde_json::Value::Null) => Ok(0),
                Some(serde_json::Value::Number(n)) => n
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or(format!("claim {name}: not a code")),
                Some(serde_json::Value::String(s)) if s.is_empty() => Ok(0),
                Some(serde_json::Value::String(s)) => {
                    s.parse().map_err(|_| format!("claim {name}: not a code"))
                }
                Some(_) => Err(format!("claim {name}: not a code")),
            }
        };
        let role_name = text(&self.role_claim);
        let role = Role::parse(&role_name)
            .ok_or_else(|| format!("claim {}: no platform role {role_name:?}", self.role_claim))?;
        let aud = match &c["aud"] {
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str())
                .find(|a| *a == self.audience)
                .unwrap_or_default()
                .to_owned(),
            v => v.as_str().unwrap_or_default().to_owned(),
        };
        Ok(Claims {
            sub: text("sub"),
            role,
            province: code(&self.province_claim)?,
            district: code(&self.district_claim)?,
            unit: text(&self.unit_claim),
            iss: text("iss"),
            aud,
            iat: c["iat"].as_u64().unwrap_or(0),
            exp: c["exp"].as_u64().unwrap_or(0),
        })
    }
}

/// PKCE's S256 code challenge of `verifier` (RFC 7636): SHA-256, then
/// base64url without padding.
pub fn pkce_challenge(verifier: &str) -> String {
    use sha2::{Digest, Sha256};
    base64url(&Sha256::digest(verifier.as_bytes()))
}

/// base64url without padding (RFC 4648 §5), as JOSE and PKCE write it.
pub fn base64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for k in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * k)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_challenge_is_unpadded_base64url_of_sha256() {
        // Expected values from Python's base64.urlsafe_b64encode(sha256(v)),
        // padding removed: an implementation other than this one.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mJ92K7qfHk9P1xcnbsTsKXrAjsLplk"),
            "nJiRD8K5Uuj-y3KzjCqDqUhtPZGYAizRV2j-EtTTq6w"
        );
        assert_eq!(base64url(b"\xfb\xff"), "-_8");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b""), "");
    }
}
