//! Errors of the platform and the small code every error maps to. The code
//! becomes a `tonic::Status` only at the gRPC edge.

use acikkapi_domain::FieldError;
use tonic_types::{ErrorDetails, StatusExt};

/// `INVALID_ARGUMENT` naming `field` (its path in the request, e.g.
/// `applicant.mobile_phone`) twice: in the readable message, `field: why`,
/// and as a `google.rpc.BadRequest` field violation in the status details,
/// for clients that read errors as data rather than parse text.
pub fn invalid_field(field: &str, why: impl Into<String>) -> tonic::Status {
    let why = why.into();
    tonic::Status::with_error_details(
        tonic::Code::InvalidArgument,
        format!("{field}: {why}"),
        ErrorDetails::with_bad_request_violation(field, why),
    )
}

/// tonic's refusal of a request over a service's size limit (`OUT_OF_RANGE`,
/// "Error, decoded message length too large: found N bytes, the limit is:
/// M bytes"), said in the platform's own convention: `INVALID_ARGUMENT`
/// at the field `request`, with its `BadRequest` violation. `None` for
/// every other status.
pub fn request_too_large(s: &tonic::Status) -> Option<tonic::Status> {
    const TONIC: &str = "decoded message length too large";
    if s.code() != tonic::Code::OutOfRange || !s.message().contains(TONIC) {
        return None;
    }
    let numbers: Vec<&str> = s
        .message()
        .split(|c: char| !c.is_ascii_digit())
        .filter(|n| !n.is_empty())
        .collect();
    let why = match numbers[..] {
        [found, limit] => format!("is {found} bytes, more than the {limit} this service takes"),
        _ => "is larger than this service takes".to_owned(),
    };
    Some(invalid_field("request", why))
}

/// As [`invalid_field`], from a message already in the `field: why` form.
pub fn invalid_message(message: impl Into<String>) -> tonic::Status {
    let message = message.into();
    match message.split_once(": ") {
        Some((field, why)) if !field.is_empty() && !field.contains(' ') => {
            invalid_field(field, why)
        }
        _ => tonic::Status::invalid_argument(message),
    }
}

/// The field violations of an `INVALID_ARGUMENT`, as `(field, why)`.
pub fn field_violations(status: &tonic::Status) -> Vec<(String, String)> {
    status
        .get_details_bad_request()
        .map(|b| {
            b.field_violations
                .into_iter()
                .map(|v| (v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidArgument,
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    Unauthenticated,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
    DeadlineExceeded,
    Internal,
}

impl ErrorCode {
    pub fn status(self, message: impl Into<String>) -> tonic::Status {
        let m = message.into();
        match self {
            Self::InvalidArgument => invalid_message(m),
            Self::NotFound => tonic::Status::not_found(m),
            Self::AlreadyExists => tonic::Status::already_exists(m),
            Self::FailedPrecondition => tonic::Status::failed_precondition(m),
            Self::Unauthenticated => tonic::Status::unauthenticated(m),
            Self::PermissionDenied => tonic::Status::permission_denied(m),
            Self::ResourceExhausted => tonic::Status::resource_exhausted(m),
            Self::Unavailable => tonic::Status::unavailable(m),
            Self::DeadlineExceeded => tonic::Status::deadline_exceeded(m),
            Self::Internal => tonic::Status::internal(m),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("message bus: {0}")]
    Bus(String),
    #[error("cache: {0}")]
    Cache(String),
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Overloaded(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl PlatformError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::InvalidArgument,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Overloaded(_) => ErrorCode::ResourceExhausted,
            Self::Database(sqlx::Error::PoolTimedOut) => ErrorCode::Unavailable,
            Self::Database(_) | Self::Bus(_) | Self::Cache(_) | Self::Unavailable(_) => {
                ErrorCode::Unavailable
            }
            Self::Config(_) | Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

/// Errors become statuses only here. Internal details (SQL, broker) are
/// logged, not sent to the caller.
impl From<PlatformError> for tonic::Status {
    fn from(e: PlatformError) -> Self {
        let code = e.code();
        match code {
            ErrorCode::InvalidArgument | ErrorCode::NotFound | ErrorCode::ResourceExhausted => {
                code.status(e.to_string())
            }
            _ => {
                tracing::error!(error = %e, "request failed");
                code.status("the service could not complete the request; try again")
            }
        }
    }
}
