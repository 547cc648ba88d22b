//! Who gets in and what is sealed: tokens and the identity provider,
//! personal-data keys, the portal and console, and the secrets and key
//! lists they are configured with.

use crate::PlatformError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The citizen portal (vatandaş portalı): the web channel, a server-rendered
/// HTML front that calls intake and notification over gRPC.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortalSettings {
    /// Where the portal listens for browsers (plain HTTP; TLS ends at the ingress).
    pub addr: String,
    /// The gRPC address of intake (applications, tracking, the catalogue).
    /// Empty: this node's own.
    pub grpc_url: String,
    /// The gRPC address of notification (the survey), when it runs apart
    /// from intake (one Deployment per service). Empty: `grpc_url`.
    pub notification_url: String,
    /// The gRPC address of routing (the console's unit inbox). Empty: `grpc_url`.
    pub routing_url: String,
    /// The gRPC address of reporting (the console's figures). Empty: `grpc_url`.
    pub reporting_url: String,
    /// The gRPC address of escalation (the governors' overdue view). Empty: `grpc_url`.
    pub escalation_url: String,
    /// The channel service's token the portal calls with. Empty: one issued
    /// from `auth.keys` for the subject `portal` (the portal runs in the
    /// platform's own binary, with its keys).
    pub token: Secret,
    /// `Secure` on the session cookie. Off only on the embedded default,
    /// which serves plain HTTP on loopback.
    pub cookie_secure: bool,
    /// A session (and any half-filled form) is erased after this long unused.
    pub session_idle_secs: u64,
    /// The same on a kiosk: the next person must not find the last one's answers.
    pub kiosk_idle_secs: u64,
    /// Ask the applicant to confirm the mobile number with a code sent by
    /// SMS before the application is submitted.
    pub phone_confirmation: bool,
    /// The portal's address as browsers reach it (for the staff console's
    /// sign-in redirect). Empty: `http://<portal.addr>`.
    pub public_url: String,
    /// The staff console's OpenID Connect client at `auth.oidc_issuer`.
    /// Empty: no sign-in through the identity provider.
    pub console_client_id: String,
    /// The console's OpenID Connect client secret.
    pub console_client_secret: Secret,
    /// A staff session unused this long is signed out.
    pub console_idle_secs: u64,
}

impl Default for PortalSettings {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8080".into(),
            grpc_url: String::new(),
            notification_url: String::new(),
            routing_url: String::new(),
            reporting_url: String::new(),
            escalation_url: String::new(),
            token: Secret::default(),
            cookie_secure: false,
            session_idle_secs: 1_800,
            kiosk_idle_secs: 120,
            phone_confirmation: false,
            public_url: String::new(),
            console_client_id: String::new(),
            console_client_secret: Secret::default(),
            console_idle_secs: 900,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacySettings {
    /// AES-256 keys sealing personal data, `kid:hex32bytes[,…]`: the first
    /// seals, all open (rotation). Empty: a key generated once in the data
    /// folder (embedded default only).
    pub keys: Secret,
    /// Hex key of the keyed hash used to look up identity numbers and phones.
    pub hash_key: Secret,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// `iss` of the tokens this platform accepts.
    pub issuer: String,
    /// HS256 keys as `kid:hexsecret[,kid:hexsecret…]`; the first signs, all
    /// verify (rotation). Empty: a key generated once in `<data_dir>/auth.key`
    /// (embedded default only), which `acikkapi token` may sign with.
    pub keys: Secret,
    /// The identity provider (OpenID Connect issuer URL) whose RS256/ES256
    /// tokens every service accepts, by its published keys. Empty: none.
    pub oidc_issuer: String,
    /// The audience the provider's tokens must name.
    pub oidc_audience: String,
    /// Its key set's URL. Empty: the discovery document's `jwks_uri`.
    pub oidc_jwks_url: String,
    /// The provider's claims that carry the platform's role (by the
    /// platform's names, e.g. `desk-officer`) and scope codes.
    pub oidc_role_claim: String,
    /// The token claim carrying the caller's province plate code.
    pub oidc_province_claim: String,
    /// The token claim carrying the caller's district code.
    pub oidc_district_claim: String,
    /// The token claim carrying the caller's unit id.
    pub oidc_unit_claim: String,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            issuer: "acikkapi".into(),
            keys: Secret::default(),
            oidc_issuer: String::new(),
            oidc_audience: "acikkapi".into(),
            oidc_jwks_url: String::new(),
            oidc_role_claim: "acikkapi_role".into(),
            oidc_province_claim: "acikkapi_province".into(),
            oidc_district_claim: "acikkapi_district".into(),
            oidc_unit_claim: "acikkapi_unit".into(),
        }
    }
}

impl AuthSettings {
    /// `(kid, secret)` pairs, or a message naming what is wrong.
    pub fn key_pairs(&self) -> Result<Vec<(String, Vec<u8>)>, String> {
        parse_key_list("auth.keys", self.keys.expose())
    }
}

impl AuthSettings {
    pub(super) fn check(&self, production: bool, problems: &mut Vec<String>) {
        let issuer = &self.oidc_issuer;
        if !(issuer.is_empty() || issuer.starts_with("https://") || issuer.starts_with("http://")) {
            problems.push("auth.oidc_issuer: the provider's https:// issuer URL, or empty".into());
        }
        match self.key_pairs() {
            Err(e) => problems.push(e),
            Ok(k) if k.is_empty() && production => problems.push(
                "auth.keys: required with a PostgreSQL store (the local issuer is for the embedded default only)".into(),
            ),
            Ok(_) => {}
        }
    }
}

impl PrivacySettings {
    pub(super) fn check(&self, production: bool, problems: &mut Vec<String>) {
        match parse_key_list("privacy.keys", self.keys.expose()) {
            Err(e) => problems.push(e),
            Ok(k) if k.iter().any(|(_, s)| s.len() != 32) => {
                problems.push("privacy.keys: each AES-256 key is exactly 32 bytes".into())
            }
            Ok(k) if (k.is_empty() || self.hash_key.is_empty()) && production => problems
                .push("privacy.keys and privacy.hash_key: required with a PostgreSQL store".into()),
            Ok(_) => {}
        }
    }
}

impl PortalSettings {
    pub(super) fn check(&self, production: bool, problems: &mut Vec<String>) {
        if self.addr.parse::<std::net::SocketAddr>().is_err() {
            problems.push(format!("portal.addr: {:?} is not host:port", self.addr));
        }
        for (key, url) in [
            ("grpc_url", &self.grpc_url),
            ("notification_url", &self.notification_url),
            ("routing_url", &self.routing_url),
            ("reporting_url", &self.reporting_url),
            ("escalation_url", &self.escalation_url),
        ] {
            if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
                problems.push(format!("portal.{key}: http://… or https://…, or empty"));
            }
        }
        if !self.cookie_secure && production {
            problems.push(
                "portal.cookie_secure: must be true in production (the portal is served over HTTPS)"
                    .into(),
            );
        }
        if self.session_idle_secs == 0 || self.kiosk_idle_secs == 0 || self.console_idle_secs == 0 {
            problems.push(
                "portal.session_idle_secs, kiosk_idle_secs and console_idle_secs: positive".into(),
            );
        }
    }
}

/// A configuration value that must not be printed: it shows as `***`.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Parses `kid:hexsecret[,kid:hexsecret…]` (each secret at least 32 bytes).
pub fn parse_key_list(setting: &str, raw: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    if raw.trim().is_empty() {
        return Ok(Vec::new());
    }
    raw.split(',')
        .map(|pair| {
            let (kid, hex) = pair
                .trim()
                .split_once(':')
                .ok_or(format!("{setting}: each key is kid:hexsecret"))?;
            if kid.is_empty() {
                return Err(format!("{setting}: a key id is empty"));
            }
            let secret = hex_decode(hex).filter(|s| s.len() >= 32).ok_or(format!(
                "{setting} {kid}: secret must be hex, at least 32 bytes"
            ))?;
            Ok((kid.to_owned(), secret))
        })
        .collect()
}

/// A 32-byte key kept in `path`, created (mode 0600) on first use: the
/// embedded default's keys live in its data folder.
pub fn local_key(path: &std::path::Path) -> Result<Vec<u8>, PlatformError> {
    let io = |e: std::io::Error| PlatformError::Config(format!("{}: {e}", path.display()));
    if let Ok(text) = std::fs::read_to_string(path) {
        return hex_decode(text.trim())
            .ok_or_else(|| PlatformError::Config(format!("{}: not hex", path.display())));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let key: [u8; 32] = rand::random();
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(path, hex).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(key.to_vec())
}

pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
