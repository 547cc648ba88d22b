//! Pure types and rules of Açık Kapı: identity numbers, phones, application
//! numbers, text limits and the reference catalogue. No I/O, no async.

pub mod application_number;
pub mod calendar;
pub mod catalog;
pub mod damm;
pub mod mask;
pub mod national_id;
pub mod phone;
pub mod sms;
pub mod templates;
pub mod text;

/// A refused input: which field, and why. `field` uses the API's field path
/// (`applicant.national_id`), so a client can point at it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
