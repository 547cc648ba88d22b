//! The configuration file, and the key lists inside it.
#![no_main]
use acikkapi_platform::config::{Settings, parse_key_list};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(s) = Settings::from_toml(text) {
        // What loads has passed validation; validating again agrees.
        assert!(s.validate().is_ok());
    }
    let _ = parse_key_list("auth.keys", text);
});
