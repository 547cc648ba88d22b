//! The bearer token of every authenticated call.
#![no_main]
use acikkapi_platform::auth::Keys;
use acikkapi_platform::config::{Secret, Settings};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        let mut s = Settings::default();
        s.auth.keys = Secret::new(format!("k1:{}", "a1".repeat(32)));
        Keys::load(&s).expect("keys")
    })
}

fuzz_target!(|token: &str| {
    // Without the key no input verifies: a forgery would be a finding.
    assert!(keys().verify(token).is_err());
});
