//! Turkish mobile numbers, normalised to E.164 (+905XXXXXXXXX).

use crate::{FieldError, mask};
use std::fmt;

const FIELD: &str = "applicant.mobile_phone";

/// A Turkish mobile number in E.164. `Debug`/`Display` mask it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MobilePhone(String);

impl MobilePhone {
    /// Accepts the spellings people write: `0532 123 45 67`, `+90 (532) 123-45-67`,
    /// `905321234567`, `00905321234567`, `5321234567`. Refuses landlines,
    /// non-Turkish numbers and anything with letters.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(FieldError::new(FIELD, "is required"));
        }
        let mut digits = String::with_capacity(14);
        for (i, c) in s.chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if i == 0 => {}
                ' ' | '-' | '(' | ')' | '.' => {}
                _ => {
                    return Err(FieldError::new(
                        FIELD,
                        "may contain only digits, spaces, dashes, dots, parentheses and a leading +",
                    ));
                }
            }
        }
        let national = if let Some(r) = digits.strip_prefix("0090") {
            r
        } else if let Some(r) = digits.strip_prefix("90").filter(|r| r.len() == 10) {
            r
        } else if let Some(r) = digits.strip_prefix('0').filter(|r| r.len() == 10) {
            r
        } else {
            &digits
        };
        if national.len() != 10 {
            return Err(FieldError::new(
                FIELD,
                "must be a Turkish mobile number (+90 5XX XXX XX XX)",
            ));
        }
        if !national.starts_with('5') {
            return Err(FieldError::new(
                FIELD,
                "must be a mobile number (5XX), not a landline",
            ));
        }
        Ok(Self(format!("+90{national}")))
    }

    pub fn e164(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MobilePhone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MobilePhone({})", mask::phone(&self.0))
    }
}

impl fmt::Display for MobilePhone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask::phone(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_common_spellings() {
        for raw in [
            "05321234567",
            "0532 123 45 67",
            "+90 (532) 123-45-67",
            "905321234567",
            "00905321234567",
            "5321234567",
            "+905321234567",
            "0532.123.45.67",
        ] {
            assert_eq!(
                MobilePhone::parse(raw).unwrap().e164(),
                "+905321234567",
                "{raw}"
            );
        }
    }

    #[test]
    fn refuses_others() {
        for raw in [
            "",
            "02121234567",
            "+902121234567",
            "+4915112345678",
            "532123456",
            "053212345678",
            "0532 abc 45 67",
            "0532+1234567",
            "+1 555 123 4567",
            "0850 123 45 67",
        ] {
            assert_eq!(MobilePhone::parse(raw).unwrap_err().field, FIELD, "{raw}");
        }
    }
}
