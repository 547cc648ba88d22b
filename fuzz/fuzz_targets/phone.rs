//! Mobile phone numbers in every spelling people use.
#![no_main]
use acikkapi_domain::phone::MobilePhone;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    if let Ok(p) = MobilePhone::parse(raw) {
        let e164 = p.e164();
        assert!(e164.starts_with("+905") && e164.len() == 13, "{e164}");
        assert_eq!(MobilePhone::parse(e164).unwrap().e164(), e164);
    }
});
