//! The Damm check digit: one decimal digit that catches every single-digit
//! error and every transposition of two adjacent digits.
//!
//! Chosen over Luhn (misses 09↔90 swaps) and Verhoeff (same guarantees, more
//! tables): Damm needs one 10×10 table of a totally anti-symmetric quasigroup.

const TABLE: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

fn interim(digits: &[u8]) -> u8 {
    digits
        .iter()
        .fold(0u8, |acc, &d| TABLE[acc as usize][d as usize])
}

/// The check digit to append to `digits` (each 0..=9).
pub fn check_digit(digits: &[u8]) -> u8 {
    interim(digits)
}

/// Whether `digits`, check digit last, is consistent.
pub fn is_valid(digits: &[u8]) -> bool {
    !digits.is_empty() && interim(digits) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_vector() {
        // The textbook example: 572 → check digit 4.
        assert_eq!(check_digit(&[5, 7, 2]), 4);
        assert!(is_valid(&[5, 7, 2, 4]));
        assert!(!is_valid(&[5, 7, 2, 5]));
    }

    fn with_check(body: &[u8]) -> Vec<u8> {
        let mut v = body.to_vec();
        v.push(check_digit(body));
        v
    }

    proptest! {
        #[test]
        fn every_single_digit_error_is_caught(
            body in proptest::collection::vec(0u8..10, 1..16),
            pos in any::<prop::sample::Index>(),
            delta in 1u8..10,
        ) {
            let mut full = with_check(&body);
            let i = pos.index(full.len());
            full[i] = (full[i] + delta) % 10;
            prop_assert!(!is_valid(&full));
        }

        #[test]
        fn every_adjacent_swap_is_caught(
            body in proptest::collection::vec(0u8..10, 1..16),
            pos in any::<prop::sample::Index>(),
        ) {
            let mut full = with_check(&body);
            let i = pos.index(full.len() - 1);
            prop_assume!(full[i] != full[i + 1]);
            full.swap(i, i + 1);
            prop_assert!(!is_valid(&full));
        }
    }

    /// Exhaustive over every pair of adjacent digits in every position of a
    /// short body: the property holds structurally, not just on samples.
    #[test]
    fn exhaustive_pairs() {
        for a in 0..10u8 {
            for b in 0..10u8 {
                for prefix in 0..10u8 {
                    let body = [prefix, a, b, 7];
                    let full = with_check(&body);
                    if a != b {
                        let mut swapped = full.clone();
                        swapped.swap(1, 2);
                        assert!(!is_valid(&swapped), "{full:?}");
                    }
                    for d in 1..10u8 {
                        let mut wrong = full.clone();
                        wrong[2] = (wrong[2] + d) % 10;
                        assert!(!is_valid(&wrong));
                    }
                }
            }
        }
    }
}
