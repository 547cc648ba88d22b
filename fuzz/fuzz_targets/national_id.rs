//! Identity numbers as typed by a citizen or a desk officer.
#![no_main]
use acikkapi_domain::national_id::NationalId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    if let Ok(id) = NationalId::parse(raw) {
        let digits = id.expose();
        assert_eq!(digits.len(), 11);
        assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        // What was accepted is accepted again, unchanged.
        assert_eq!(NationalId::parse(digits).unwrap().expose(), digits);
        // Debug and Display never show it.
        assert!(!format!("{id:?}{id}").contains(digits));
    }
});
