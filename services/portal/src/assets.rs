//! Static assets, embedded in the binary and served under names that carry
//! a hash of their content: cached for a year, and a new build's file is a
//! new URL.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

struct Asset {
    /// `app.css` becomes `app.<hash>.css`.
    logical: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        logical: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../assets/app.css"),
    },
    Asset {
        logical: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/app.js"),
    },
    Asset {
        logical: "icon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../assets/icon.svg"),
    },
];

static HASHED: LazyLock<Vec<(String, &'static Asset)>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            let digest = hex::encode(&Sha256::digest(a.body)[..6]);
            let (stem, ext) = a
                .logical
                .rsplit_once('.')
                .expect("asset names have an extension");
            (format!("{stem}.{digest}.{ext}"), a)
        })
        .collect()
});

/// The URL of an asset by its logical name, for templates.
pub fn url(logical: &str) -> String {
    HASHED
        .iter()
        .find(|(_, a)| a.logical == logical)
        .map(|(name, _)| format!("/assets/{name}"))
        .unwrap_or_default()
}

pub async fn serve(Path(name): Path<String>) -> Response {
    match HASHED.iter().find(|(n, _)| *n == name) {
        Some((_, a)) => (
            [
                (header::CONTENT_TYPE, a.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            a.body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The web-app manifest: the portal installs on a phone's home screen and,
/// so launched, records its applications with the channel `mobile`.
pub async fn manifest() -> Response {
    let body = serde_json::json!({
        "name": "Açık Kapı",
        "short_name": "Açık Kapı",
        "description": "Valiliklere ve kaymakamlıklara talep, şikâyet ve önerilerinizi iletin",
        "lang": "tr",
        "start_url": "/?kaynak=uygulama",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#a4161a",
        "icons": [{ "src": url("icon.svg"), "sizes": "any", "type": "image/svg+xml", "purpose": "any" }],
    });
    (
        [(header::CONTENT_TYPE, "application/manifest+json")],
        body.to_string(),
    )
        .into_response()
}
