//! Errors of the platform and the small code every error maps to. The code
//! becomes a `tonic::Status` only at the gRPC edge.

use acikkapi_domain::FieldError;

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
            Self::InvalidArgument => tonic::Status::invalid_argument(m),
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
