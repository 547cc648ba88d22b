//! T.C. Kimlik No (citizens) and Yabancı Kimlik No (foreigners, prefix 99).
//! Rules: shared/data/id_numbers.md. The checksum catches typing mistakes; it
//! does not prove the number was issued.

use crate::{FieldError, mask};
use std::fmt;

const FIELD: &str = "applicant.national_id";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// T.C. Kimlik Numarası
    Citizen,
    /// Yabancı Kimlik Numarası (begins with 99)
    Foreigner,
}

/// A checked identity number. `Debug` and `Display` mask it, so it cannot
/// reach a log by accident; `expose()` is the one way to the digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NationalId(String);

impl NationalId {
    /// Parses an identity number. Surrounding whitespace is ignored; inner
    /// spaces or dashes are refused rather than guessed at.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(FieldError::new(FIELD, "is required"));
        }
        if s.len() != 11 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new(FIELD, "must be exactly 11 digits"));
        }
        let d: Vec<u32> = s.bytes().map(|b| u32::from(b - b'0')).collect();
        if d[0] == 0 {
            return Err(FieldError::new(FIELD, "must not start with 0"));
        }
        if [d[9], d[10]] != check_digits(&d[..9]) {
            return Err(FieldError::new(
                FIELD,
                "checksum does not match; check for a typing mistake",
            ));
        }
        if d[1..10].iter().all(|&x| x == d[0]) {
            return Err(FieldError::new(
                FIELD,
                "is a placeholder pattern, not an identity number",
            ));
        }
        // A 98… number passing the checksum is accepted as a citizen number:
        // the reference vectors include the valid T.C. number 98765432150,
        // so the temporary-protection "personal number" cannot be told apart
        // by its digits alone (see shared/data/id_numbers.md).
        Ok(Self(s.to_owned()))
    }

    pub fn kind(&self) -> IdKind {
        if self.0.starts_with("99") {
            IdKind::Foreigner
        } else {
            IdKind::Citizen
        }
    }

    /// The digits, for storage and for the applicant's own view only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NationalId({})", mask::national_id(&self.0))
    }
}

impl fmt::Display for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask::national_id(&self.0))
    }
}

/// Builds a valid number from a 9-digit prefix (for tests and load generation).
pub fn complete(prefix: [u8; 9]) -> String {
    let d: Vec<u32> = prefix.iter().map(|&x| u32::from(x)).collect();
    let checks = check_digits(&d);
    d.iter()
        .chain(&checks)
        .map(|&x| char::from(b'0' + x as u8))
        .collect()
}

/// The 10th and 11th digits for the first nine:
/// d10 = (7 × (d1+d3+d5+d7+d9) − (d2+d4+d6+d8)) mod 10, d11 = (d1+…+d10) mod 10.
fn check_digits(d: &[u32]) -> [u32; 2] {
    let odd = d[0] + d[2] + d[4] + d[6] + d[8];
    let even = d[1] + d[3] + d[5] + d[7];
    let d10 = (odd * 7 + 100 - even) % 10; // +100 keeps it non-negative
    let d11 = (d.iter().sum::<u32>() + d10) % 10;
    [d10, d11]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn valid_examples_from_reference() {
        for n in [
            "12345678950",
            "98765432150",
            "24681357994",
            "50000000128",
            "31415926562",
        ] {
            let id = NationalId::parse(n).unwrap();
            assert_eq!(id.kind(), IdKind::Citizen, "{n}");
        }
        for n in [
            "99123456740",
            "99000000110",
            "99876543292",
            "99555555592",
            "99012345698",
        ] {
            assert_eq!(
                NationalId::parse(n).unwrap().kind(),
                IdKind::Foreigner,
                "{n}"
            );
        }
        assert_eq!(
            NationalId::parse(" 12345678950\n").unwrap().expose(),
            "12345678950"
        );
    }

    #[test]
    fn invalid_examples_from_reference() {
        for n in [
            "12345678960",
            "12345678951",
            "02345678950",
            "1234567895",
            "1234567895A",
            "99123456741",
            "99123456750",
            "9912345674",
            "99 123 456 740",
            "",
            "   ",
            "123456789501",
            "11111111110",
            "１2345678950",
        ] {
            let err = NationalId::parse(n).unwrap_err();
            assert_eq!(err.field, "applicant.national_id", "{n}");
        }
    }

    #[test]
    fn debug_and_display_mask() {
        let id = NationalId::parse("12345678950").unwrap();
        assert_eq!(format!("{id}"), "*********50");
        assert!(!format!("{id:?}").contains("123456789"));
    }

    proptest! {
        #[test]
        fn completed_prefixes_parse(p in proptest::array::uniform9(0u8..10)) {
            prop_assume!(p[0] != 0);
            prop_assume!(!p.iter().all(|&x| x == p[0]));
            let n = complete(p);
            prop_assert!(NationalId::parse(&n).is_ok(), "{}", n);
        }

        #[test]
        fn one_changed_check_digit_is_refused(p in proptest::array::uniform9(1u8..10), d in 1u8..10, which in 9usize..11) {
            let mut n: Vec<u8> = complete(p).into_bytes();
            n[which] = b'0' + (n[which] - b'0' + d) % 10;
            prop_assert!(NationalId::parse(std::str::from_utf8(&n).unwrap()).is_err());
        }
    }
}
