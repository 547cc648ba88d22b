//! The public tracking call: a number and a code, both from anyone.
#![no_main]
use acikkapi_domain::application_number::ApplicationNumber;
use acikkapi_platform::privacy::TrackingKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &str)| {
    let (number, code) = input;
    let key = TrackingKey::from_bytes(&[0x5a; 32]);
    if let Ok(n) = ApplicationNumber::parse(number) {
        let digits = n.digits();
        let right = key.code(&digits);
        assert!(key.verify(&digits, &right));
        assert!(key.verify(&digits, &right.to_lowercase()));
        // A guess is accepted only if it is the code, up to case, spaces and dashes.
        if key.verify(&digits, code) {
            let normal: String = code
                .chars()
                .filter(|c| !matches!(c, ' ' | '-'))
                .collect::<String>()
                .to_ascii_uppercase();
            assert_eq!(normal, right);
        }
    }
});
