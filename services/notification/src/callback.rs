//! Delivery reports pushed by the gateway (Verimor: a JSON array POSTed to
//! the URL set in its panel) to `POST /notification/v1/delivery-reports/<token>`
//! on the HTTP port. The token is `notification.callback_token`; a wrong one
//! answers 404 as if the path did not exist. Put the gateway's addresses on
//! the ingress allow-list as well: the token is a shared secret in a URL.
//!
//! A report moves a `sent` (or still `sending`) message to `delivered` or
//! `failed`; anything else (unknown ids, intermediate states, a repeated
//! report) changes nothing, so the gateway's retries are harmless.

use acikkapi_platform::Platform;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::post;

/// Largest report body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most reports in one body.
pub const MAX_REPORTS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// Final, not delivered: the gateway's status word.
    Failed(String),
    /// Not final yet (SENDING, WAITING, SENT): nothing to record.
    Pending,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Ours (`message_custom_id`).
    pub id: String,
    pub state: Delivery,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("not a JSON array of reports: {0}")]
    Shape(String),
    #[error("more than {MAX_REPORTS} reports")]
    TooMany,
    #[error("report {0}: message_custom_id missing or not an id")]
    Id(usize),
    #[error("report {0}: status missing")]
    Status(usize),
}

/// Final states that mean the message did not arrive.
const FAILED: &[&str] = &[
    "NOT_DELIVERED",
    "EXPIRED",
    "INVALID_DESTINATION_ADDRESS",
    "REJECTED",
    "BLACKLISTED_DESTINATION_ADDRESS",
    "MISSING_TARIFF",
    "ROUTE_NOT_AVAILABLE",
    "NETWORK_NOTCOVERED",
    "SEND_ERROR",
    "INTERNATIONAL_DENIED",
];

/// Parses a Verimor delivery-report body. Never panics, whatever the bytes
/// (fuzzed: `fuzz/fuzz_targets/delivery_report.rs`).
pub fn parse(body: &[u8]) -> Result<Vec<Report>, ReportError> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ReportError::Shape(e.to_string()))?;
    let items = v
        .as_array()
        .ok_or_else(|| ReportError::Shape("not an array".into()))?;
    if items.len() > MAX_REPORTS {
        return Err(ReportError::TooMany);
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let id = item
                .get("message_custom_id")
                .and_then(|v| v.as_str())
                .filter(|s| {
                    !s.is_empty()
                        && s.len() <= 64
                        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
                .ok_or(ReportError::Id(i))?;
            let status = item
                .get("status")
                .and_then(|v| v.as_str())
                .ok_or(ReportError::Status(i))?;
            let state = match status {
                "DELIVERED" => Delivery::Delivered,
                s if FAILED.contains(&s) => Delivery::Failed(s.to_owned()),
                _ => Delivery::Pending,
            };
            Ok(Report {
                id: id.to_owned(),
                state,
            })
        })
        .collect()
}

/// Constant-time comparison of the path token with the configured one.
fn token_matches(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The HTTP routes notification adds to the node's HTTP port.
pub fn routes(p: Platform) -> axum::Router {
    axum::Router::new()
        .route("/notification/v1/delivery-reports/{token}", post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(p)
}

async fn receive(
    State(p): State<Platform>,
    Path(token): Path<String>,
    body: axum::body::Bytes,
) -> (StatusCode, String) {
    let expected = p.settings.notification.callback_token.expose();
    if expected.is_empty() || !token_matches(&token, expected) {
        return (StatusCode::NOT_FOUND, String::new());
    }
    let reports = match parse(&body) {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()),
    };
    let mut applied = 0;
    for r in &reports {
        let delivered = match &r.state {
            Delivery::Delivered => true,
            Delivery::Failed(_) => false,
            Delivery::Pending => continue,
        };
        match crate::messages::apply_report(&p.db, &r.id, delivered).await {
            Ok(true) => applied += 1,
            Ok(false) => {}
            // Verimor retries a report three times: answer so it does.
            Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        }
    }
    tracing::info!(
        reports = reports.len(),
        applied,
        "delivery reports received"
    );
    (StatusCode::OK, format!("OK {applied}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verimor_reports_parse_into_final_states() {
        let body = br#"[
            {"campaign_id": 1, "message_id": 9, "message_custom_id": "0190-ab", "dest": "905321234567", "status": "DELIVERED", "gsm_error": 0},
            {"message_custom_id": "0190-ac", "status": "EXPIRED", "gsm_error": 6},
            {"message_custom_id": "0190-ad", "status": "WAITING"}
        ]"#;
        assert_eq!(
            parse(body).unwrap(),
            vec![
                Report {
                    id: "0190-ab".into(),
                    state: Delivery::Delivered
                },
                Report {
                    id: "0190-ac".into(),
                    state: Delivery::Failed("EXPIRED".into())
                },
                Report {
                    id: "0190-ad".into(),
                    state: Delivery::Pending
                },
            ]
        );
    }

    #[test]
    fn malformed_reports_are_refused_with_the_reason() {
        assert!(matches!(parse(b"{}"), Err(ReportError::Shape(_))));
        assert!(matches!(parse(b"[1"), Err(ReportError::Shape(_))));
        assert_eq!(
            parse(br#"[{"status": "DELIVERED"}]"#),
            Err(ReportError::Id(0))
        );
        assert_eq!(
            parse(br#"[{"message_custom_id": "x'; DROP", "status": "DELIVERED"}]"#),
            Err(ReportError::Id(0))
        );
        assert_eq!(
            parse(br#"[{"message_custom_id": "a"}]"#),
            Err(ReportError::Status(0))
        );
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abd", "abc"));
        assert!(!token_matches("ab", "abc"));
    }
}
