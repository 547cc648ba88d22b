//! An OpenID Connect provider for tests: a real HTTP server on
//! 127.0.0.1:0 with discovery, a key set (JWKS), the authorization endpoint
//! (it signs in whoever the test says, without a form) and the token
//! endpoint (authorization code with PKCE S256 and the client's secret).
//! Tokens are ES256 by default, RS256 on request, from fixed test keys
//! (`crates/testkit/keys/`); the test can rotate to a second key.

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

const ES256_A: &[u8] = include_bytes!("../keys/es256-a.der");
const ES256_B: &[u8] = include_bytes!("../keys/es256-b.der");
const RS256: &[u8] = include_bytes!("../keys/rs256.der");
const PUBLIC: &str = include_str!("../keys/public.json");

pub const CLIENT_ID: &str = "acikkapi-konsol";
pub const CLIENT_SECRET: &str = "test-client-secret";

/// Who the next sign-in is, as the provider's claims.
#[derive(Debug, Clone)]
pub struct Person {
    pub sub: String,
    pub role: String,
    pub province: u32,
    pub district: u32,
    pub unit: String,
}

impl Person {
    pub fn new(sub: &str, role: &str, province: u32) -> Self {
        Self {
            sub: sub.into(),
            role: role.into(),
            province,
            district: 0,
            unit: String::new(),
        }
    }
}

struct Grant {
    person: Person,
    challenge: String,
    redirect_uri: String,
    nonce: String,
}

#[derive(Default)]
struct Inner {
    next: Option<Person>,
    grants: HashMap<String, Grant>,
    /// Signing key: "es256-a" (default), "es256-b" (after rotation), "rs256".
    signing: String,
    /// Key ids published in the JWKS.
    published: Vec<String>,
    /// How many times the JWKS was fetched.
    jwks_fetches: u32,
}

#[derive(Clone)]
pub struct OidcProvider {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl OidcProvider {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            signing: "es256-a".into(),
            published: vec!["es256-a".into(), "rs256".into()],
            ..Default::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state((addr, inner.clone()));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, inner }
    }

    pub fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next authorization signs in `person`.
    pub fn sign_in_as(&self, person: Person) {
        self.inner.lock().unwrap().next = Some(person);
    }

    /// Publishes the second EC key and signs with it from now on (the old
    /// key stays published, as a provider does during a rotation).
    pub fn rotate(&self) {
        let mut i = self.inner.lock().unwrap();
        i.published.push("es256-b".into());
        i.signing = "es256-b".into();
    }

    /// Signs with the RSA key (RS256) from now on.
    pub fn use_rsa(&self) {
        self.inner.lock().unwrap().signing = "rs256".into();
    }

    pub fn jwks_fetches(&self) -> u32 {
        self.inner.lock().unwrap().jwks_fetches
    }

    /// An access token for `person` signed with the current key, as the
    /// token endpoint would give it (for calling the services directly).
    pub fn access_token(&self, person: &Person) -> String {
        let i = self.inner.lock().unwrap();
        sign(&i.signing, &self.issuer(), "acikkapi", person, None)
    }
}

type S = State<(SocketAddr, Arc<Mutex<Inner>>)>;

fn sign(kid: &str, issuer: &str, aud: &str, p: &Person, nonce: Option<&str>) -> String {
    let (alg, key) = match kid {
        "rs256" => (Algorithm::RS256, EncodingKey::from_rsa_der(RS256)),
        "es256-b" => (Algorithm::ES256, EncodingKey::from_ec_der(ES256_B)),
        _ => (Algorithm::ES256, EncodingKey::from_ec_der(ES256_A)),
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut claims = serde_json::json!({
        "iss": issuer, "aud": aud, "sub": p.sub, "iat": now, "exp": now + 600,
        "acikkapi_role": p.role, "acikkapi_province": p.province,
        "acikkapi_district": p.district.to_string(), "acikkapi_unit": p.unit,
    });
    if let Some(n) = nonce {
        claims["nonce"] = n.into();
    }
    jsonwebtoken::encode(&header, &claims, &key).expect("sign")
}

async fn discovery(State((addr, _)): S) -> Json<serde_json::Value> {
    let base = format!("http://{addr}");
    Json(serde_json::json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
    }))
}

async fn jwks(State((_, inner)): S) -> Json<serde_json::Value> {
    let public: serde_json::Value = serde_json::from_str(PUBLIC).unwrap();
    let mut i = inner.lock().unwrap();
    i.jwks_fetches += 1;
    let keys: Vec<serde_json::Value> = i
        .published
        .iter()
        .map(|kid| {
            let k = &public[kid];
            if kid == "rs256" {
                serde_json::json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": k["n"], "e": k["e"]})
            } else {
                serde_json::json!({"kty": "EC", "kid": kid, "use": "sig", "alg": "ES256", "crv": "P-256", "x": k["x"], "y": k["y"]})
            }
        })
        .collect();
    Json(serde_json::json!({ "keys": keys }))
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    response_type: String,
    client_id: String,
    redirect_uri: String,
    state: String,
    #[serde(default)]
    nonce: String,
    code_challenge: String,
    code_challenge_method: String,
}

async fn authorize(State((_, inner)): S, Query(q): Query<AuthorizeQuery>) -> Response {
    if q.response_type != "code" || q.client_id != CLIENT_ID || q.code_challenge_method != "S256" {
        return (StatusCode::BAD_REQUEST, "bad authorization request").into_response();
    }
    let mut i = inner.lock().unwrap();
    let Some(person) = i.next.clone() else {
        return (StatusCode::FORBIDDEN, "no one to sign in").into_response();
    };
    let code = uuid::Uuid::new_v4().simple().to_string();
    i.grants.insert(
        code.clone(),
        Grant {
            person,
            challenge: q.code_challenge,
            redirect_uri: q.redirect_uri.clone(),
            nonce: q.nonce,
        },
    );
    let sep = if q.redirect_uri.contains('?') {
        '&'
    } else {
        '?'
    };
    let state: String = form_urlencoded::byte_serialize(q.state.as_bytes()).collect();
    Redirect::to(&format!("{}{sep}code={code}&state={state}", q.redirect_uri)).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    code: String,
    redirect_uri: String,
    client_id: String,
    #[serde(default)]
    client_secret: String,
    code_verifier: String,
}

async fn token(State((addr, inner)): S, headers: HeaderMap, Form(f): Form<TokenForm>) -> Response {
    let refuse = |what: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": "invalid_grant", "error_description": what})),
        )
            .into_response()
    };
    let _ = headers.get(header::AUTHORIZATION);
    if f.grant_type != "authorization_code"
        || f.client_id != CLIENT_ID
        || f.client_secret != CLIENT_SECRET
    {
        return refuse("client");
    }
    let mut i = inner.lock().unwrap();
    // A code is good once.
    let Some(grant) = i.grants.remove(&f.code) else {
        return refuse("code");
    };
    let challenge = acikkapi_platform::idp::pkce_challenge(&f.code_verifier);
    if challenge != grant.challenge {
        return refuse("code_verifier");
    }
    if f.redirect_uri != grant.redirect_uri {
        return refuse("redirect_uri");
    }
    let issuer = format!("http://{addr}");
    let access = sign(&i.signing, &issuer, "acikkapi", &grant.person, None);
    let id = sign(
        &i.signing,
        &issuer,
        CLIENT_ID,
        &grant.person,
        Some(&grant.nonce),
    );
    Json(serde_json::json!({
        "access_token": access, "id_token": id, "token_type": "Bearer", "expires_in": 600,
    }))
    .into_response()
}
