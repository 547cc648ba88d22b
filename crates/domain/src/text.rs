//! Limits for free text. Control characters are refused (they break CSV
//! exports, SMS encoding and terminals), and so are bidirectional overrides,
//! which can make a text read differently from what it contains.

use crate::FieldError;

/// Subject: one line, 3..=200 characters.
pub const SUBJECT: Limit = Limit {
    min: 3,
    max: 200,
    multiline: false,
};
/// The application's text: 10..=5,000 characters, line breaks allowed.
pub const TEXT: Limit = Limit {
    min: 10,
    max: 5_000,
    multiline: true,
};
/// Applicant's full name: 2..=100 characters.
pub const FULL_NAME: Limit = Limit {
    min: 2,
    max: 100,
    multiline: false,
};
/// A staff note: 1..=2,000 characters.
pub const NOTE: Limit = Limit {
    min: 1,
    max: 2_000,
    multiline: true,
};
/// An idempotency key: 1..=128 characters.
pub const IDEMPOTENCY_KEY: Limit = Limit {
    min: 1,
    max: 128,
    multiline: false,
};

#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub min: usize,
    pub max: usize,
    pub multiline: bool,
}

/// Trims `raw` and checks it against `limit`; returns the trimmed text.
pub fn check(field: &'static str, raw: &str, limit: Limit) -> Result<String, FieldError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    for c in s.chars() {
        let allowed_break = limit.multiline && (c == '\n' || c == '\r' || c == '\t');
        if (c.is_control() && !allowed_break) || is_bidi_control(c) {
            return Err(FieldError::new(
                field,
                format!("contains a control character (U+{:04X})", c as u32),
            ));
        }
    }
    let n = s.chars().count();
    if n < limit.min {
        return Err(FieldError::new(
            field,
            format!("is too short ({n} characters, at least {})", limit.min),
        ));
    }
    if n > limit.max {
        return Err(FieldError::new(
            field,
            format!("is too long ({n} characters, at most {})", limit.max),
        ));
    }
    Ok(s.to_owned())
}

/// A name: letters (any script), spaces, apostrophes, dots and dashes.
pub fn check_name(field: &'static str, raw: &str) -> Result<String, FieldError> {
    let s = check(field, raw, FULL_NAME)?;
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_alphabetic() || matches!(c, ' ' | '\'' | '.' | '-' | '’')))
    {
        return Err(FieldError::new(
            field,
            format!("may contain only letters, spaces, apostrophes, dots and dashes, not {c:?}"),
        ));
    }
    Ok(s.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// An optional e-mail address: empty is fine; otherwise `local@domain.tld`, at most 254 characters.
pub fn check_email(field: &'static str, raw: &str) -> Result<Option<String>, FieldError> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let valid = s.len() <= 254
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(s.split_once('@'), Some((l, d)) if !l.is_empty() && !d.contains('@') && d.contains('.') && !d.starts_with('.') && !d.ends_with('.'));
    if valid {
        Ok(Some(s.to_owned()))
    } else {
        Err(FieldError::new(field, "is not an e-mail address"))
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(
            check("subject", "  Yol çalışması  ", SUBJECT).unwrap(),
            "Yol çalışması"
        );
        assert!(check("subject", "", SUBJECT).is_err());
        assert!(check("subject", "ab", SUBJECT).is_err());
        assert!(check("subject", &"ş".repeat(201), SUBJECT).is_err());
        assert!(check("subject", &"ş".repeat(200), SUBJECT).is_ok());
        assert!(check("subject", "iki\nsatır", SUBJECT).is_err());
        assert!(check("text", "iki satır\nolabilir metinde", TEXT).is_ok());
        assert!(check("text", "zil sesi \u{7} burada", TEXT).is_err());
        assert!(check("text", "ters \u{202E} yazı burada", TEXT).is_err());
        assert!(check("text", "null \u{0} bayt burada", TEXT).is_err());
    }

    #[test]
    fn names_and_emails() {
        assert_eq!(
            check_name("n", " Ayşe   Nur  Yılmaz ").unwrap(),
            "Ayşe Nur Yılmaz"
        );
        assert!(check_name("n", "R2D2 Robot").is_err());
        assert!(check_name("n", "O'Neil-Öztürk").is_ok());
        assert_eq!(check_email("e", "").unwrap(), None);
        assert!(check_email("e", "ayse@example.com.tr").unwrap().is_some());
        for bad in ["ayse", "@x.tr", "a@b", "a b@c.tr", "a@@b.tr", "a@.tr"] {
            assert!(check_email("e", bad).is_err(), "{bad}");
        }
    }
}
