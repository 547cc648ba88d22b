//! Application numbers as a citizen types them into the tracking page.
#![no_main]
use acikkapi_domain::application_number::ApplicationNumber;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    if let Ok(n) = ApplicationNumber::parse(raw) {
        let digits = n.digits();
        assert_eq!(digits.len(), 12);
        let again = ApplicationNumber::parse(&digits).unwrap();
        assert_eq!(again.digits(), digits);
        assert_eq!(
            ApplicationNumber::parse(&n.to_string()).unwrap().digits(),
            digits
        );
        assert!((1..=81).contains(&n.province()));
    }
});
