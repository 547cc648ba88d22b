//! The application number (başvuru numarası): 12 digits, read out as
//! `YY-PP-NNNNNNN-C`.
//!
//! - `YY` the year of receipt (Türkiye time), `PP` the province plate code,
//! - `NNNNNNN` a per-province, per-year sequence (10 million a province a year;
//!   the 2020 national surge was 4.8 million in all),
//! - `C` a Damm check digit over the first 11, which catches every single-digit
//!   error and every swap of two adjacent digits.
//!
//! Digits only, so it can be typed on a phone keypad; the dashes are for
//! reading aloud and are optional on input.

use crate::{FieldError, damm};
use std::fmt;

const FIELD: &str = "application_number";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApplicationNumber {
    year: u8,
    province: u8,
    sequence: u32,
}

pub const MAX_SEQUENCE: u32 = 9_999_999;

impl ApplicationNumber {
    /// `year` is the full year (2026), `province` 1..=81, `sequence` 1..=9,999,999.
    pub fn new(year: i32, province: u8, sequence: u32) -> Option<Self> {
        let ok = (2000..2100).contains(&year)
            && (1..=81).contains(&province)
            && (1..=MAX_SEQUENCE).contains(&sequence);
        ok.then(|| Self {
            year: (year - 2000) as u8,
            province,
            sequence,
        })
    }

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(FieldError::new(FIELD, "is required"));
        }
        let mut digits = Vec::with_capacity(12);
        for c in s.chars() {
            match c {
                '0'..='9' => digits.push(c as u8 - b'0'),
                '-' | ' ' => {}
                _ => return Err(FieldError::new(FIELD, "may contain only digits and dashes")),
            }
        }
        if digits.len() != 12 {
            return Err(FieldError::new(FIELD, "must have 12 digits"));
        }
        if !damm::is_valid(&digits) {
            return Err(FieldError::new(
                FIELD,
                "check digit does not match; check for a typing mistake",
            ));
        }
        let num =
            |r: std::ops::Range<usize>| digits[r].iter().fold(0u32, |a, &d| a * 10 + u32::from(d));
        let (year, province, sequence) = (num(0..2), num(2..4), num(4..11));
        Self::new(2000 + year as i32, province as u8, sequence)
            .ok_or_else(|| FieldError::new(FIELD, "names no province or sequence"))
    }

    pub fn year(&self) -> i32 {
        2000 + i32::from(self.year)
    }

    pub fn province(&self) -> u8 {
        self.province
    }

    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    fn body(&self) -> String {
        format!("{:02}{:02}{:07}", self.year, self.province, self.sequence)
    }

    /// The 12 digits without separators: the stored and canonical form.
    pub fn digits(&self) -> String {
        let body = self.body();
        let d: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
        format!("{body}{}", damm::check_digit(&d))
    }
}

/// `26-34-0001234-7`: the form for SMS and for reading aloud.
impl fmt::Display for ApplicationNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.digits();
        write!(f, "{}-{}-{}-{}", &d[0..2], &d[2..4], &d[4..11], &d[11..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_format() {
        let n = ApplicationNumber::new(2026, 34, 1234).unwrap();
        let shown = n.to_string();
        assert_eq!(&shown[..14], "26-34-0001234-");
        assert_eq!(ApplicationNumber::parse(&shown).unwrap(), n);
        assert_eq!(ApplicationNumber::parse(&n.digits()).unwrap(), n);
        assert_eq!(n.year(), 2026);
        assert_eq!(n.province(), 34);
    }

    #[test]
    fn refuses_bad_input() {
        assert!(ApplicationNumber::new(2026, 0, 1).is_none());
        assert!(ApplicationNumber::new(2026, 82, 1).is_none());
        assert!(ApplicationNumber::new(2026, 6, 0).is_none());
        for raw in ["", "abc", "26-34-0001234", "2634000123470"] {
            assert!(ApplicationNumber::parse(raw).is_err(), "{raw}");
        }
    }

    proptest! {
        /// The Done-when property: every single-digit error and every adjacent
        /// swap of a real application number is refused.
        #[test]
        fn typing_errors_are_caught(year in 2018i32..2100, p in 1u8..=81, seq in 1u32..=MAX_SEQUENCE,
                                     pos in 0usize..12, delta in 1u8..10, swap in 0usize..11) {
            let n = ApplicationNumber::new(year, p, seq).unwrap();
            let good: Vec<u8> = n.digits().into_bytes();
            let mut wrong = good.clone();
            wrong[pos] = b'0' + (wrong[pos] - b'0' + delta) % 10;
            prop_assert!(ApplicationNumber::parse(std::str::from_utf8(&wrong).unwrap()).is_err());
            let mut swapped = good.clone();
            swapped.swap(swap, swap + 1);
            if swapped != good {
                prop_assert!(ApplicationNumber::parse(std::str::from_utf8(&swapped).unwrap()).is_err());
            }
        }
    }
}
